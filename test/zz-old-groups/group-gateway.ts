/**
 * A gateway for consumer-group end-to-end tests, assembled from the real parts: the Kafka
 * listener, ApiVersions/Metadata/DescribeCluster, the topic admin APIs, the data path
 * (Produce/Fetch/ListOffsets on kinesalite), and the group APIs with offsets in dynalite.
 *
 * The AWS stand-ins live in a GroupTestEnv that outlives gateways, so a test can stop a gateway
 * and start another on the same port against the same streams and tables: a gateway restart.
 */
import { pino } from 'pino';
import { apiVersionsFallback, apiVersionsHandler } from '../../src/apis/api-versions.js';
import type { DataPath } from '../../src/apis/data-path.js';
import { describeClusterHandler } from '../../src/apis/describe-cluster.js';
import { fetchHandler } from '../../src/apis/fetch.js';
import { groupApis } from '../../src/apis/group-apis.js';
import { ApiRegistry, registerApi } from '../../src/apis/handler.js';
import { listOffsetsHandler } from '../../src/apis/list-offsets.js';
import { metadataHandler } from '../../src/apis/metadata.js';
import { offsetForLeaderEpochHandler } from '../../src/apis/offset-for-leader-epoch.js';
import { produceHandler } from '../../src/apis/produce.js';
import { metadataAutoCreate, registerTopicAdminApis } from '../../src/apis/topic-admin.js';
import { SingleNodeCluster } from '../../src/cluster/cluster.js';
import { DynamoLeaseStore } from '../../src/cluster/leases.js';
import type { GroupCoordinatorConfig } from '../../src/groups/config.js';
import { GroupCoordinator } from '../../src/groups/coordinator.js';
import { DynamoOffsetStore } from '../../src/groups/dynamo-offset-store.js';
import { SingleNodeGroupRouter } from '../../src/groups/router.js';
import { LogManager } from '../../src/log/log-manager.js';
import { DynamoOffsetIndex } from '../../src/log/offset-index.js';
import { DynamoTopicStore } from '../../src/log/topic-store.js';
import { KinesisTopicManager } from '../../src/log/topic-manager.js';
import { KafkaServer } from '../../src/server/server.js';
import { startTestAws, type TestAws } from '../support/aws.js';

const log = pino({ level: process.env.KKG_TEST_LOG_LEVEL ?? 'silent' });

export interface GroupTestEnv {
  readonly aws: TestAws;
  /** Creates a topic (a Kinesis stream) and waits until it is usable. */
  createTopic(name: string, partitions: number): Promise<void>;
  close(): Promise<void>;
}

function topicManager(aws: TestAws): KinesisTopicManager {
  return new KinesisTopicManager(aws.kinesis, new DynamoTopicStore(aws.dynamo, aws.tables.topics), {
    streamPrefix: aws.prefix,
    defaultReplicationFactor: 1,
    defaultPartitions: 1,
    autoCreateTopics: false,
    defaultStreamMode: 'PROVISIONED',
    clusterDefaults: {},
    cacheTtlMs: 500,
    log,
  });
}

export async function startGroupTestEnv(label = 'groups'): Promise<GroupTestEnv> {
  const aws = await startTestAws(label);
  const admin = topicManager(aws);
  return {
    aws,
    async createTopic(name, partitions) {
      // Throws a TopicError when it cannot; waits until the stream is ACTIVE.
      await admin.createTopic({ name, partitions, replicationFactor: 1, configs: [] });
    },
    close: () => aws.close(),
  };
}

export interface GroupGatewayOptions {
  /** Listen here (a restart reuses the port clients know); 0 or absent: any free port. */
  readonly port?: number;
  readonly groups?: Partial<GroupCoordinatorConfig>;
}

export interface GroupGateway {
  readonly port: number;
  readonly bootstrap: string;
  readonly coordinator: GroupCoordinator;
  /** An orderly stop: connections drained, coordinator closed, leases released. */
  stop(): Promise<void>;
}

/** Settings that keep tests quick: a short initial delay and short sessions allowed. */
export const FAST_GROUPS: Partial<GroupCoordinatorConfig> = {
  initialRebalanceDelayMs: 300,
  minSessionTimeoutMs: 1000,
};

export async function startGroupGateway(env: GroupTestEnv, options: GroupGatewayOptions = {}): Promise<GroupGateway> {
  const { aws } = env;
  const registry = new ApiRegistry();
  const kafka = new KafkaServer({
    host: '127.0.0.1',
    port: options.port ?? 0,
    registry,
    log,
    maxRequestBytes: 100 << 20,
    maxInFlightPerConnection: 100,
    apiVersionsFallback: apiVersionsFallback(registry),
  });
  const { port } = await kafka.listen();
  const cluster = new SingleNodeCluster('kkg-groups-test-cluster', { nodeId: 0, host: '127.0.0.1', port, rack: null });
  const topics = topicManager(aws);
  const logs = new LogManager(
    aws.kinesis,
    new DynamoOffsetIndex(aws.dynamo, aws.tables.offsetIndex),
    new DynamoLeaseStore(aws.dynamo, aws.tables.leases),
    { tailCacheBytes: 16 << 20, leaseTtlMs: 10_000, pollIntervalMs: 20, indexIntervalBytes: 64 << 10, indexIntervalMs: 1000, writeTimeoutMs: 30_000 },
    log,
  );
  const dataPath: DataPath = { registry: topics, logs, cluster };
  const router = new SingleNodeGroupRouter(cluster);
  const coordinator = new GroupCoordinator({
    store: new DynamoOffsetStore(aws.dynamo, aws.tables.groupOffsets),
    config: { ...FAST_GROUPS, ...options.groups },
    isLocal: (groupId) => router.isLocal(groupId),
    log,
  });
  void coordinator.start();
  registry
    .add(registerApi(apiVersionsHandler(registry)))
    .add(registerApi(metadataHandler({ cluster, catalog: topics, streamPrefixLength: aws.prefix.length, autoCreate: metadataAutoCreate(topics) })))
    .add(registerApi(describeClusterHandler(cluster)))
    .add(registerApi(produceHandler(dataPath)))
    .add(registerApi(fetchHandler(dataPath)))
    .add(registerApi(listOffsetsHandler(dataPath)))
    .add(registerApi(offsetForLeaderEpochHandler(dataPath)));
  registerTopicAdminApis(registry, { topics, cluster });
  for (const api of groupApis({ coordinator, router, catalog: topics })) registry.add(api);
  return {
    port,
    bootstrap: `127.0.0.1:${port}`,
    coordinator,
    async stop() {
      // Waiting JoinGroup/SyncGroup requests are answered (NOT_COORDINATOR) before connections drain.
      await coordinator.close();
      await kafka.close(2000);
      await logs.shutdown();
    },
  };
}
