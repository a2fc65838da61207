import { randomInt } from 'node:crypto';
import { hostname } from 'node:os';
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
import { DynamoLeaseStore } from './cluster/leases.js';
import { MultiNodeCluster } from './cluster/multi-node-cluster.js';
import {
  allocateNodeId,
  DynamoNodeRegistry,
  NodeIdConflictError,
  ordinalFromHostname,
  readStoredIncarnation,
  readStoredNodeId,
  registerNode,
  storeIncarnation,
  storeNodeId,
  type NodeRecord,
  type RegistrationTiming,
} from './cluster/node-registry.js';
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
import { brokerStateFrom, lagFromCoordinator, logStateFrom } from './metrics/providers.js';
import { dynamoTableCheck, kinesisCheck, leasesCheck, Readiness } from './metrics/readiness.js';
import { KafkaServer } from './server/server.js';
import { groupApis } from './apis/group-apis.js';
import { GroupCoordinator } from './groups/coordinator.js';
import { DynamoOffsetStore } from './groups/dynamo-offset-store.js';
import { MultiNodeGroupRouter } from './groups/router.js';
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
  readonly cluster: MultiNodeCluster;
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
    // Clients that connect while the node registers wait: an empty ApiVersions is fatal to them.
    const { port } = await kafka.listen({ holdConnections: true });
    const leaseStore = new DynamoLeaseStore(aws.dynamodb, aws.tables.leases);
    let cluster: MultiNodeCluster;
    try {
      cluster = await joinCluster(config, aws, leaseStore, port, options.env ?? process.env, log);
    } catch (err) {
      await kafka.close(0);
      await aws.close();
      throw err;
    }
    const clusterId = cluster.clusterId;
    const producerState = createProducerStateStore({
      ...(config.redisUrl !== undefined ? { redisUrl: config.redisUrl } : {}),
      expirationMs: config.producerIdExpirationMs,
    });
    if (producerState instanceof RedisProducerStateStore) observeRedis(producerState.redis, gatewayMetrics.redisObserver());
    const idempotence = new IdempotenceGuard(producerState, { log, settleMs: 30_000 + 15_000 });
    // A node taking a partition over holds its lease, so the previous leader's writer sends
    // nothing more for it (StreamWriter mayWrite): what that leader reserved is settled as soon
    // as anything it had already sent has landed, not after the settle time a live writer's
    // retries need. Until then, retries of those batches are answered REQUEST_TIMED_OUT.
    const takeoverGraceMs = Math.max(1000, Math.floor(config.leaseTtlMs / 2));
    const logSettled = (partitionKey: string, settled: { committed: number; removed: number; skipped: number }, message: string): void => {
      if (settled.committed + settled.removed + settled.skipped > 0) log.info({ partitionKey, ...settled }, message);
    };
    const settleTakeover = async (partitionKey: string): Promise<void> => {
      await new Promise((resolve) => setTimeout(resolve, takeoverGraceMs));
      try {
        const settled = await idempotence.recoverPartition(partitionKey, undefined, { ignoreSettle: true });
        logSettled(partitionKey, settled, 'reservations of the previous leader settled');
      } catch (err) {
        log.warn({ err, partitionKey }, 'settling reservations after a takeover failed; they settle later');
      }
    };
    const logs = new LogManager(
      aws.kinesisRecords,
      new DynamoOffsetIndex(aws.dynamodb, aws.tables.offsetIndex),
      leaseStore,
      {
        leaseOwner: cluster.incarnation,
        placement: cluster,
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
        const settled = await idempotence.recoverPartition(partitionKey, async (reservation) =>
          partitionLog.findProducerBatch({
            producerId: reservation.producerId,
            producerEpoch: reservation.producerEpoch,
            baseSequence: reservation.firstSequence,
          }),
        );
        logSettled(partitionKey, settled, 'reservations left by a previous leader, found in the tail');
        void settleTakeover(partitionKey);
      },
    );
    cluster.setLocalLeases((topicId, partition) => logs.ledLease(topicId, partition));
    idempotence.setLocator((reservation) =>
      logs.locateProducerBatch(reservation.partitionKey, {
        producerId: reservation.producerId,
        producerEpoch: reservation.producerEpoch,
        baseSequence: reservation.firstSequence,
        reservedAtMs: reservation.createdAtMs,
      }),
    );
    const topics = new KinesisTopicManager(aws.kinesis, new DynamoTopicStore(aws.dynamodb, aws.tables.topics), {
      streamPrefix: config.streamPrefix,
      defaultReplicationFactor: 1,
      defaultPartitions: config.numPartitions,
      autoCreateTopics: config.autoCreateTopics,
      defaultStreamMode: 'PROVISIONED',
      // Only what the operator changed: DescribeConfigs reports the rest as built-in defaults.
      clusterDefaults: config.produceAckMode === 'observed' ? {} : { 'produce.ack.mode': config.produceAckMode },
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
    const onTopicDeleted = async (topic: { name: string; topicId: string; partitionCount: number }): Promise<void> => {
      gatewayMetrics.forgetTopic(topic.name);
      await logs.forgetTopic(topic.topicId);
      // In the background: a topic of many partitions has many anchors, and DeleteTopics has answered.
      void logs.dropOffsetIndex(topic.topicId, topic.partitionCount);
    };
    const router = new MultiNodeGroupRouter(cluster);
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
      isSoleCoordinator: () => router.isSoleCoordinator(),
      log: log.child({ component: 'groups' }),
    });
    // A node joined or left: hand over partitions that belong elsewhere, drop groups that moved.
    cluster.onChange(() => {
      logs.rebalanceSoon();
      groups.ownershipChanged();
    });
    // Loads committed offsets; until then group requests get COORDINATOR_LOAD_IN_PROGRESS.
    void groups.start();
    gatewayMetrics.provide({ lag: lagFromCoordinator(groups) });
    for (const api of groupApis({ coordinator: groups, router, catalog: topics })) registry.add(api);
    for (const api of topicAdminApis({ topics, cluster, onTopicDeleted })) {
      registry.add(api);
    }

    const readiness = new Readiness([dynamoTableCheck(aws.dynamodb, aws.tables.leases), kinesisCheck(aws.kinesis), leasesCheck(logState)]);
    const metrics = new MetricsServer(metricsRegistry, { readiness, extra: [gatewayMetrics] });
    const metricsPort = await metrics.listen(config.host, config.metricsPort);
    kafka.serve();
    const addresses = { host: cluster.self.host, port, metricsPort };
    log.info({ ...addresses, clusterId, nodeId: cluster.self.nodeId, advertisedPort: cluster.self.port, rack: cluster.self.rack }, 'gateway listening');
    return new Gateway(kafka, metrics, { ...parts, groups }, addresses, clusterId);
  }

  /** The consumer-group coordinator this gateway serves (for tests and diagnostics). */
  get groups(): GroupCoordinator {
    return this.parts.groups;
  }

  /** The partitions this gateway leads (for tests and diagnostics). */
  get logs(): LogManager {
    return this.parts.logs;
  }

  /** The topics, streams and tables this gateway serves from (for tests and diagnostics). */
  get storage(): Pick<GatewayParts, 'topics' | 'aws'> {
    return { topics: this.parts.topics, aws: this.parts.aws };
  }

  /** Stops accepting, answers what was already read, gives leases up, then closes everything. */
  async stop(): Promise<void> {
    const { log, logs, aws, config, idempotence, groups, cluster } = this.parts;
    log.info('gateway stopping');
    // Members waiting in JoinGroup/SyncGroup get NOT_COORDINATOR; commits under way finish.
    await groups.close();
    // Out of the registry: the other nodes take this node's partitions and groups at their next
    // look, while the requests already read here are answered and its partitions handed over.
    await cluster.leave();
    await this.kafka.close(config.shutdownGraceMs);
    await logs.shutdown();
    await idempotence.close();
    await idempotence.store.close();
    await this.metrics.close();
    await aws.close();
    log.info('gateway stopped');
  }
}

/**
 * Registers this node in the node registry and reads the cluster. The node id is --node-id; else,
 * in Kubernetes, the StatefulSet ordinal in the pod's host name; else the id this data folder was
 * given before; else the lowest free one (kept in the data folder for the next start). A node id
 * held by another live process is refused (NodeIdConflictError).
 */
async function joinCluster(
  config: GatewayConfig,
  aws: AwsResources,
  leases: DynamoLeaseStore,
  listenerPort: number,
  env: NodeJS.ProcessEnv,
  log: Logger,
): Promise<MultiNodeCluster> {
  const registry = new DynamoNodeRegistry(aws.dynamodb, aws.tables.nodes);
  // The first node stores its data folder's cluster id (so a single gateway keeps the one it had).
  const clusterId = await registry.clusterId(loadOrCreateClusterId(config.dataDir));
  // Several heartbeats per node timeout: one late or lost heartbeat does not make a node dead.
  const heartbeatIntervalMs = Math.max(100, Math.floor(config.leaseTtlMs / 4));
  const nodeTimeoutMs = config.leaseTtlMs;
  const timing: RegistrationTiming = {
    heartbeatIntervalMs,
    nodeTimeoutMs,
    onWaiting: (other) =>
      log.warn(
        { nodeId: other.nodeId, host: other.host, port: other.port, heartbeatAgoMs: Date.now() - other.heartbeatAtMs },
        'this node id is registered to another process: waiting to see whether it is still alive (a crashed predecessor ages out)',
      ),
  };
  const identity = {
    host: advertisedHost(config),
    port: config.advertisedPort ?? listenerPort,
    rack: config.rack ?? null,
    incarnation: randomInt(1, 2 ** 31 - 1),
    startedAtMs: Date.now(),
  };
  const fromPod = env.KUBERNETES_SERVICE_HOST !== undefined ? ordinalFromHostname(env.HOSTNAME ?? hostname()) : undefined;
  const configured = config.nodeId ?? fromPod;
  let self: NodeRecord;
  const ownPredecessor = (nodeId: number): RegistrationTiming => {
    const predecessorIncarnation = readStoredIncarnation(config.dataDir, nodeId);
    return predecessorIncarnation === undefined ? timing : { ...timing, predecessorIncarnation };
  };
  if (configured !== undefined) {
    self = await registerNode(registry, { ...identity, nodeId: configured }, ownPredecessor(configured));
  } else {
    const stored = readStoredNodeId(config.dataDir);
    let registered: NodeRecord | undefined;
    if (stored !== undefined) {
      try {
        registered = await registerNode(registry, { ...identity, nodeId: stored }, ownPredecessor(stored));
      } catch (err) {
        if (!(err instanceof NodeIdConflictError)) throw err;
        log.warn({ nodeId: stored }, 'the node id this data folder had is used by another live gateway; taking a free one');
      }
    }
    self = registered ?? (await allocateNodeId(registry, identity, timing));
    if (self.nodeId !== stored) storeNodeId(config.dataDir, self.nodeId);
  }
  storeIncarnation(config.dataDir, self.nodeId, self.incarnation);
  const cluster = new MultiNodeCluster({
    clusterId,
    registry,
    leases,
    self,
    heartbeatIntervalMs,
    nodeTimeoutMs,
    log: log.child({ component: 'cluster' }),
  });
  await cluster.start();
  log.info({ nodeId: self.nodeId, incarnation: self.incarnation, liveNodes: cluster.liveNodeIds() }, 'joined the gateway cluster');
  return cluster;
}
