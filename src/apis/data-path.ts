import type { ClusterView } from '../cluster/cluster.js';
import type { LedPartition, LogManager } from '../log/log-manager.js';
import type { Topic, TopicRegistry } from '../log/topics.js';
import type { DataPathMetrics } from '../metrics/broker-metrics.js';
import { ErrorCode } from '../protocol/errors.js';
import type { IdempotenceGuard } from '../producers/idempotence.js';

/** What the Produce, Fetch and ListOffsets handlers share. */
export interface DataPath {
  readonly registry: TopicRegistry;
  readonly logs: LogManager;
  readonly cluster: ClusterView;
  /** Broker metrics (src/metrics): produce/fetch counts and bytes, tail-cache hits. */
  readonly metrics?: DataPathMetrics;
  /** De-duplicates idempotent producers' batches (DESIGN.md section 6). */
  readonly idempotence?: IdempotenceGuard;
}

export type PartitionLookup =
  | { readonly ok: true; readonly topic: Topic; readonly led: LedPartition }
  | { readonly ok: false; readonly errorCode: number; readonly message: string };

/**
 * Finds a partition this node leads, or the Kafka error that explains why not. `receivedAtMs`:
 * when the request was read (see RequestContext).
 */
export async function lookupPartition(
  dataPath: DataPath,
  topic: Topic | undefined,
  partition: number,
  receivedAtMs: number,
): Promise<PartitionLookup> {
  if (topic === undefined) {
    return { ok: false, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: 'unknown topic' };
  }
  let led;
  try {
    led = await dataPath.logs.partition(topic, partition, receivedAtMs);
  } catch (err) {
    return {
      ok: false,
      errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
      message: `partition is not available: ${err instanceof Error ? err.message : String(err)}`,
    };
  }
  if (led === 'unknown-partition') {
    return { ok: false, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `no partition ${partition}` };
  }
  if (led === 'not-leader') {
    return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, message: 'another gateway leads this partition' };
  }
  return { ok: true, topic, led };
}

/**
 * KIP-320: a client that names the leader epoch it believes in gets FENCED_LEADER_EPOCH when
 * that epoch is older than the partition's and UNKNOWN_LEADER_EPOCH when it is newer.
 */
export function leaderEpochError(led: LedPartition, currentLeaderEpoch: number): number {
  if (currentLeaderEpoch < 0 || currentLeaderEpoch === led.lease.epoch) return ErrorCode.NONE;
  return currentLeaderEpoch < led.lease.epoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH;
}
