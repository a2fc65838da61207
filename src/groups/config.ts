/**
 * Settings of the group coordinator, named after the Kafka broker settings they mirror.
 * Defaults are Kafka's.
 */
export interface GroupCoordinatorConfig {
  /** group.initial.rebalance.delay.ms: how long a new (empty) group waits for more members before its first rebalance. */
  readonly initialRebalanceDelayMs: number;
  /** group.min.session.timeout.ms */
  readonly minSessionTimeoutMs: number;
  /** group.max.session.timeout.ms */
  readonly maxSessionTimeoutMs: number;
  /** group.max.size: members per group (Kafka's default is Integer.MAX_VALUE). */
  readonly maxGroupSize: number;
  /** offset.metadata.max.bytes: longest metadata string an OffsetCommit may carry. */
  readonly offsetMetadataMaxBytes: number;
  /** offsets.retention.minutes, in ms: how long offsets outlive an empty group (or their last commit). */
  readonly offsetsRetentionMs: number;
  /** offsets.retention.check.interval.ms: how often expired offsets and empty groups are cleaned up. */
  readonly offsetsRetentionCheckIntervalMs: number;
  /** How long a new member may wait in JoinGroup before it is dropped (Kafka: 5 minutes, fixed). */
  readonly newMemberJoinTimeoutMs: number;
  /** Pause between attempts to load committed offsets when the store is unreachable at start. */
  readonly loadRetryBackoffMs: number;
}

export const DEFAULT_GROUP_COORDINATOR_CONFIG: GroupCoordinatorConfig = {
  initialRebalanceDelayMs: 3000,
  minSessionTimeoutMs: 6000,
  maxSessionTimeoutMs: 1_800_000,
  maxGroupSize: 2_147_483_647,
  offsetMetadataMaxBytes: 4096,
  offsetsRetentionMs: 7 * 24 * 60 * 60 * 1000,
  offsetsRetentionCheckIntervalMs: 600_000,
  newMemberJoinTimeoutMs: 300_000,
  loadRetryBackoffMs: 1000,
};

export function groupCoordinatorConfig(overrides: Partial<GroupCoordinatorConfig> = {}): GroupCoordinatorConfig {
  const config = { ...DEFAULT_GROUP_COORDINATOR_CONFIG, ...overrides };
  for (const [key, value] of Object.entries(config)) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`group coordinator setting ${key} must be a non-negative number, got ${value}`);
  }
  if (config.minSessionTimeoutMs > config.maxSessionTimeoutMs) {
    throw new RangeError('group.min.session.timeout.ms is above group.max.session.timeout.ms');
  }
  if (config.maxGroupSize < 1) throw new RangeError('group.max.size must be at least 1');
  return config;
}
