/**
 * What the metrics read from the rest of the gateway at scrape time, through small interfaces
 * so that src/metrics depends on no implementation: the gateway wires them to the LogManager,
 * the topic catalog and cluster view, and the group coordinator (adapters below).
 */
import type { ClusterView } from '../cluster/cluster.js';
import type { TopicCatalog } from '../log/catalog.js';

/** One partition this node leads, as kafka.log:type=Log reports it. */
export interface PartitionLogState {
  readonly topic: string;
  readonly partition: number;
  /** The high watermark: the gateway has no uncommitted tail, so it is the log end offset too. */
  readonly logEndOffset: bigint;
  readonly logStartOffset: bigint;
  /** Wall-clock expiry of this node's lease on the partition (for /readyz), if known. */
  readonly leaseExpiresAtMs?: number;
  /**
   * Wall-clock ms when the record at `offset` was appended (or a close lower bound), if the
   * leader still knows: used for EstimatedTimeLag. undefined when unknown.
   */
  appendTimeMs?(offset: bigint): number | undefined;
}

export interface LogStateProvider {
  partitions(): readonly PartitionLogState[] | Promise<readonly PartitionLogState[]>;
}

/** A committed offset of a group this node coordinates. */
export interface CommittedOffsetState {
  readonly group: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
}

export interface LagProvider {
  committedOffsets(): readonly CommittedOffsetState[] | Promise<readonly CommittedOffsetState[]>;
}

/** Broker-level gauges: kafka.server:type=ReplicaManager and kafka.controller:type=KafkaController. */
export interface BrokerState {
  /** Partitions hosted by this node (leader or follower; the gateway has no followers). */
  readonly partitionCount: number;
  readonly leaderCount: number;
  /** Whether this node is the active controller (ActiveControllerCount 1). */
  readonly isController: boolean;
  /** Partitions without a live leader; reported by the controller only. */
  readonly offlinePartitionsCount: number;
  /** Cluster-wide counts; reported by the controller only. */
  readonly globalTopicCount: number;
  readonly globalPartitionCount: number;
}

export interface BrokerStateProvider {
  brokerState(): BrokerState | Promise<BrokerState>;
}

// ---------------------------------------------------------------------------------------------
// Adapters

/** The part of a led partition the adapter reads (LogManager's LedPartition has it). */
export interface LedPartitionView {
  readonly topic: { readonly name: string };
  readonly partition: number;
  readonly log: {
    readonly highWatermark: bigint;
    readonly logStartOffset: bigint;
    readonly tailStartOffset: bigint;
    read(offset: bigint, maxBytes: number): { readonly kind: string; readonly batches?: readonly { readonly maxTimestamp: bigint }[] };
  };
  readonly lease: { readonly expiresAtMs: number };
}

/** LogStateProvider over whatever lists the led, open partitions (LogManager.openPartitions). */
export function logStateFrom(openPartitions: () => Promise<readonly LedPartitionView[]> | readonly LedPartitionView[]): LogStateProvider {
  return {
    async partitions() {
      const led = await openPartitions();
      return led.map((p) => ({
        topic: p.topic.name,
        partition: p.partition,
        logEndOffset: p.log.highWatermark,
        logStartOffset: p.log.logStartOffset,
        leaseExpiresAtMs: p.lease.expiresAtMs,
        appendTimeMs(offset: bigint): number | undefined {
          if (offset >= p.log.highWatermark) return undefined;
          // The in-memory tail holds recent batches. An older record was appended before the
          // oldest of them, whose time is then the estimate (a lower bound on the lag).
          let read = p.log.read(offset, 1);
          if (read.kind !== 'batches') read = p.log.read(p.log.tailStartOffset, 1);
          const first = read.kind === 'batches' ? read.batches?.[0] : undefined;
          return first === undefined ? undefined : Number(first.maxTimestamp);
        },
      }));
    },
  };
}

/** The part of the GroupCoordinator the lag adapter reads. */
export interface CoordinatorView {
  listGroups(): { readonly errorCode: number; readonly groups: readonly { readonly groupId: string; readonly state: string }[] };
  fetchOffsets(
    groupId: string,
    topics: null,
  ): {
    readonly errorCode: number;
    readonly topics: readonly { readonly topic: string; readonly partitions: readonly { readonly partition: number; readonly offset: bigint }[] }[];
  };
}

/**
 * LagProvider over the group coordinator. As MSK does, only groups that are Stable or Empty
 * report lag (a rebalancing group's positions are in flux).
 */
export function lagFromCoordinator(coordinator: CoordinatorView): LagProvider {
  return {
    committedOffsets() {
      const listed = coordinator.listGroups();
      const out: CommittedOffsetState[] = [];
      for (const { groupId, state } of listed.groups) {
        if (state !== 'Stable' && state !== 'Empty') continue;
        const fetched = coordinator.fetchOffsets(groupId, null);
        if (fetched.errorCode !== 0) continue;
        for (const { topic, partitions } of fetched.topics) {
          for (const { partition, offset } of partitions) {
            if (offset >= 0n) out.push({ group: groupId, topic, partition, offset });
          }
        }
      }
      return out;
    },
  };
}

/**
 * BrokerStateProvider over the topic catalog and the cluster view: this node hosts (and leads)
 * the partitions the cluster view says it leads; the controller reports the cluster totals.
 * Offline partitions are those whose leader is not a live broker.
 */
export function brokerStateFrom(catalog: TopicCatalog, cluster: ClusterView): BrokerStateProvider {
  return {
    async brokerState() {
      const topics = await catalog.listTopics();
      const live = new Set(cluster.brokers().map((b) => b.nodeId));
      const self = cluster.self.nodeId;
      let led = 0;
      let offline = 0;
      let partitions = 0;
      for (const topic of topics) {
        for (let p = 0; p < topic.partitionCount; p++) {
          const { leaderId } = cluster.leadership(topic.name, p, topic.replicationFactor);
          if (leaderId === self) led++;
          if (!live.has(leaderId)) offline++;
        }
        partitions += topic.partitionCount;
      }
      const isController = cluster.controllerId === self;
      return {
        partitionCount: led,
        leaderCount: led,
        isController,
        offlinePartitionsCount: offline,
        globalTopicCount: topics.length,
        globalPartitionCount: partitions,
      };
    },
  };
}
