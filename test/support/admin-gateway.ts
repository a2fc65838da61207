/**
 * A Kafka listener serving ApiVersions, Metadata (with auto-creation), DescribeCluster and the
 * topic admin APIs over a KinesisTopicManager on in-process kinesalite + dynalite: what admin
 * clients need, without the data path.
 */
import { pino } from 'pino';
import { apiVersionsFallback, apiVersionsHandler } from '../../src/apis/api-versions.js';
import { describeClusterHandler } from '../../src/apis/describe-cluster.js';
import { ApiRegistry, registerApi } from '../../src/apis/handler.js';
import { metadataHandler } from '../../src/apis/metadata.js';
import { metadataAutoCreate, registerTopicAdminApis } from '../../src/apis/topic-admin.js';
import { SingleNodeCluster } from '../../src/cluster/cluster.js';
import { DynamoTopicStore } from '../../src/log/topic-store.js';
import { KinesisTopicManager, type TopicManagerOptions } from '../../src/log/topic-manager.js';
import { KafkaServer } from '../../src/server/server.js';
import { startTestAws, type TestAws } from './aws.js';

export interface AdminGateway {
  readonly aws: TestAws;
  readonly topics: KinesisTopicManager;
  readonly port: number;
  readonly bootstrap: string;
  readonly clusterId: string;
  /** Topic ids handed to onTopicDeleted. */
  readonly deletedTopicIds: string[];
  stop(): Promise<void>;
}

export async function startAdminGateway(overrides: Partial<TopicManagerOptions> = {}): Promise<AdminGateway> {
  const aws = await startTestAws('admin');
  const log = pino({ level: process.env.KKG_TEST_LOG_LEVEL ?? 'silent' });
  const topics = new KinesisTopicManager(aws.kinesis, new DynamoTopicStore(aws.dynamo, aws.tables.topics), {
    streamPrefix: aws.prefix,
    defaultReplicationFactor: 1,
    defaultPartitions: 1,
    autoCreateTopics: true,
    defaultStreamMode: 'PROVISIONED',
    clusterDefaults: {},
    log,
    ...overrides,
  });
  const registry = new ApiRegistry();
  const kafka = new KafkaServer({
    host: '127.0.0.1',
    port: 0,
    registry,
    log,
    maxRequestBytes: 100 << 20,
    maxInFlightPerConnection: 100,
    apiVersionsFallback: apiVersionsFallback(registry),
  });
  const { port } = await kafka.listen();
  const clusterId = 'kkg-admin-test-cluster';
  const cluster = new SingleNodeCluster(clusterId, { nodeId: 0, host: '127.0.0.1', port, rack: null });
  const deletedTopicIds: string[] = [];
  registry
    .add(registerApi(apiVersionsHandler(registry)))
    .add(
      registerApi(
        metadataHandler({
          cluster,
          catalog: topics,
          streamPrefixLength: topics.streamPrefix.length,
          autoCreate: metadataAutoCreate(topics),
          topicBeingCreated: (name) => topics.isBeingCreated(name),
        }),
      ),
    )
    .add(registerApi(describeClusterHandler(cluster)));
  registerTopicAdminApis(registry, {
    topics,
    cluster,
    onTopicDeleted: (topic) => {
      deletedTopicIds.push(topic.topicId);
    },
    brokerSettings: { 'kinesis.region': 'us-east-1' },
  });
  return {
    aws,
    topics,
    port,
    bootstrap: `127.0.0.1:${port}`,
    clusterId,
    deletedTopicIds,
    async stop() {
      await kafka.close(1000);
      await aws.close();
    },
  };
}
