import type { Logger } from 'pino';
import { apiVersionsFallback, apiVersionsHandler } from './apis/api-versions.js';
import type { DataPath } from './apis/data-path.js';
import { describeClusterHandler } from './apis/describe-cluster.js';
import { fetchHandler } from './apis/fetch.js';
import { ApiRegistry, registerApi } from './apis/handler.js';
import { listOffsetsHandler } from './apis/list-offsets.js';
import { metadataHandler } from './apis/metadata.js';
import { offsetForLeaderEpochHandler } from './apis/offset-for-leader-epoch.js';
import { produceHandler } from './apis/produce.js';
import { setUpAws, type AwsResources } from './aws-setup.js';
import { loadOrCreateClusterId } from './cluster/cluster-id.js';
import { SingleNodeCluster } from './cluster/cluster.js';
import { DynamoLeaseStore } from './cluster/leases.js';
import { advertisedHost, type GatewayConfig } from './config.js';
import { LogManager } from './log/log-manager.js';
import { DynamoOffsetIndex } from './log/offset-index.js';
import { DynamoTopicStore } from './log/topic-store.js';
import { KinesisTopicManager } from './log/topic-manager.js';
import { metadataAutoCreate, topicAdminApis } from './apis/topic-admin.js';
import { MetricsServer } from './metrics/http.js';
import { createMetricsRegistry } from './metrics/registry.js';
import { observeRedis } from './metrics/aws-observer.js';
import { GatewayMetrics } from './metrics/broker-metrics.js';
import { brokerStateFrom, logStateFrom } from './metrics/providers.js';
import { dynamoTableCheck, kinesisCheck, leasesCheck, Readiness } from './metrics/readiness.js';
import { KafkaServer } from './server/server.js';
import { groupApis } from './apis/group-apis.js';
import { GroupCoordinator } from './groups/coordinator.js';
import { DynamoOffsetStore } from './groups/dynamo-offset-store.js';
import { SingleNodeGroupRouter } from './groups/router.js';
import { initProducerIdHandler } from './apis/init-producer-id.js';
import { IdempotenceGuard } from './producers/idempotence.js';
import { createProducerStateStore, RedisProducerStateStore } from './producers/producer-state-store.js';
import { DynamoProducerIdAllocator } from './producers/producer-ids.js';

export interface GatewayAddresses {
  readonly host: string;
  readonly port: number;
  readonly metricsPort: number;
}

/** What the APIs are built from. */
export interface GatewayParts {
  readonly config: GatewayConfig;
  readonly aws: AwsResources;
  readonly cluster: SingleNodeCluster;
  readonly topics: KinesisTopicManager;
  readonly logs: LogManager;
  readonly idempotence: IdempotenceGuard;
  readonly groups: GroupCoordinator;
  readonly log: Logger;
}

export interface GatewayOptions {
  /** The environment AWS settings are read from (default: process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Wires the listener, the API handlers, the cluster view and storage together. */
export class Gateway {
  private constructor(
    private readonly kafka: KafkaServer,
    private readonly metrics: MetricsServer,
    private readonly parts: GatewayParts,
    readonly addresses: GatewayAddresses,
    readonly clusterId: string,
  ) {}

  static async start(config: GatewayConfig, log: Logger, options: GatewayOptions): Promise<Gateway> {
    const clusterId = loadOrCreateClusterId(config.dataDir);
    const metricsRegistry = createMetricsRegistry();
    const gatewayMetrics = new GatewayMetrics(metricsRegistry, { log });
    const aws = await setUpAws(config, options.env ?? process.env, log, {
      kinesis: gatewayMetrics.kinesisObserver(),
      dynamodb: gatewayMetrics.dynamodbObserver(),
    });
    const registry = new ApiRegistry();
    const kafka = new KafkaServer({
      host: config.host,
      port: config.port,
      registry,
      log,
      maxRequestBytes: config.socketRequestMaxBytes,
      maxInFlightPerConnection: 100,
      apiVersionsFallback: apiVersionsFallback(registry),
      onRequest: (api, apiVersion, totalTimeMs) => gatewayMetrics.requestCompleted(api, totalTimeMs, apiVersion),
      onConnection: (event) => (event === 'opened' ? gatewayMetrics.connectionOpened() : gatewayMetrics.connectionClosed()),
    });
    const { port } = await kafka.listen();
    const cluster = new SingleNodeCluster(clusterId, {
      nodeId: config.nodeId,
      host: advertisedHost(config),
      port,
      rack: null,
    });
    const producerState = createProducerStateStore({
      ...(config.redisUrl !== undefined ? { redisUrl: config.redisUrl } : {}),
      expirationMs: config.producerIdExpirationMs,
    });
    if (producerState instanceof RedisProducerStateStore) observeRedis(producerState.redis, gatewayMetrics.redisObserver());
    const idempotence = new IdempotenceGuard(producerState, { log, settleMs: 30_000 + 15_000 });
    const logs = new LogManager(
      aws.kinesis,
      new DynamoOffsetIndex(aws.dynamodb, aws.tables.offsetIndex),
      new DynamoLeaseStore(aws.dynamodb, aws.tables.leases),
      {
        tailCacheBytes: config.tailCacheBytes,
        leaseTtlMs: config.leaseTtlMs,
        pollIntervalMs: config.kinesisPollIntervalMs ?? (aws.embedded ? 20 : 200),
        indexIntervalBytes: config.indexIntervalBytes,
        indexIntervalMs: 5000,
        writeTimeoutMs: 30_000,
      },
      log,
      // A new leader settles reservations that a crashed one left, by looking in the log.
      async (partitionKey, partitionLog) => {
        await idempotence.recoverPartition(partitionKey, async (reservation) => {
          const found = partitionLog.findProducerBatch(
            reservation.producerId,
            reservation.producerEpoch,
            reservation.firstSequence,
          );
          return found === null || found === undefined ? found : { baseOffset: found };
        });
      },
    );
    idempotence.setLocator((reservation) =>
      logs.locateProducerBatch(reservation.partitionKey, {
        producerId: reservation.producerId,
        producerEpoch: reservation.producerEpoch,
        baseSequence: reservation.firstSequence,
      }),
    );
    const topics = new KinesisTopicManager(aws.kinesis, new DynamoTopicStore(aws.dynamodb, aws.tables.topics), {
      streamPrefix: config.streamPrefix,
      defaultReplicationFactor: 1,
      defaultPartitions: config.numPartitions,
      autoCreateTopics: config.autoCreateTopics,
      defaultStreamMode: 'PROVISIONED',
      clusterDefaults: {},
      log,
    });
    const parts: Omit<GatewayParts, 'groups'> = { config, aws, cluster, topics, logs, idempotence, log };
    const dataPath: DataPath = { registry: topics, logs, cluster, idempotence, metrics: gatewayMetrics };
    const logState = logStateFrom(() => logs.openPartitions());
    gatewayMetrics.provide({ logState, brokerState: brokerStateFrom(topics, cluster) });
    registry
      .add(registerApi(apiVersionsHandler(registry)))
      .add(
        registerApi(
          metadataHandler({
            cluster,
            catalog: topics,
            streamPrefixLength: config.streamPrefix.length,
            autoCreate: metadataAutoCreate(topics),
            topicBeingCreated: (name) => topics.isBeingCreated(name),
          }),
        ),
      )
      .add(registerApi(describeClusterHandler(cluster)))
      .add(registerApi(produceHandler(dataPath)))
      .add(registerApi(fetchHandler(dataPath)))
      .add(registerApi(listOffsetsHandler(dataPath)))
      .add(registerApi(offsetForLeaderEpochHandler(dataPath)))
      .add(registerApi(initProducerIdHandler(new DynamoProducerIdAllocator(aws.dynamodb, aws.tables.producerIds))));
    const onTopicDeleted = (topic: { name: string; topicId: string }): Promise<void> => {
      gatewayMetrics.forgetTopic(topic.name);
      return logs.forgetTopic(topic.topicId);
    };
    const router = new SingleNodeGroupRouter(cluster);
    const groups = new GroupCoordinator({
      store: new DynamoOffsetStore(aws.dynamodb, aws.tables.groupOffsets),
      config: {
        initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
        minSessionTimeoutMs: config.groupMinSessionTimeoutMs,
        maxSessionTimeoutMs: config.groupMaxSessionTimeoutMs,
        maxGroupSize: config.groupMaxSize,
        offsetsRetentionMs: config.offsetsRetentionMinutes * 60_000,
      },
      isLocal: (groupId) => router.isLocal(groupId),
      log: log.child({ component: 'groups' }),
    });
    // Loads committed offsets; until then group requests get COORDINATOR_LOAD_IN_PROGRESS.
    void groups.start();
    for (const api of groupApis({ coordinator: groups, router, catalog: topics })) registry.add(api);
    for (const api of topicAdminApis({ topics, cluster, onTopicDeleted })) {
      registry.add(api);
    }

    const readiness = new Readiness([dynamoTableCheck(aws.dynamodb, aws.tables.leases), kinesisCheck(aws.kinesis), leasesCheck(logState)]);
    const metrics = new MetricsServer(metricsRegistry, { readiness });
    const metricsPort = await metrics.listen(config.host, config.metricsPort);
    const addresses = { host: cluster.self.host, port, metricsPort };
    log.info({ ...addresses, clusterId, nodeId: config.nodeId }, 'gateway listening');
    return new Gateway(kafka, metrics, { ...parts, groups }, addresses, clusterId);
  }

  /** Stops accepting, answers what was already read, gives leases up, then closes everything. */
  async stop(): Promise<void> {
    const { log, logs, aws, config, idempotence, groups } = this.parts;
    log.info('gateway stopping');
    // Members waiting in JoinGroup/SyncGroup get NOT_COORDINATOR; commits under way finish.
    await groups.close();
    await this.kafka.close(config.shutdownGraceMs);
    await logs.shutdown();
    await idempotence.close();
    await idempotence.store.close();
    await this.metrics.close();
    await aws.close();
    log.info('gateway stopped');
  }
}
