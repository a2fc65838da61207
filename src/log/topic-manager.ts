/**
 * Topics as Kinesis streams (DESIGN.md sections 1, 2, 4 and 8): the TopicRegistry the data path
 * reads, and the admin operations behind CreateTopics, DeleteTopics, CreatePartitions and the
 * config APIs.
 *
 * A topic is the stream `${streamPrefix}${name}` plus its record in the topics table (topic id,
 * replication factor as requested, partition-map history, explicitly set configs). The stream
 * is the truth about existence; the record about everything Kafka knows that Kinesis does not.
 *
 * Creation: CreateStream (Kinesis decides which of two concurrent creators wins: the loser gets
 * ResourceInUse, reported as TOPIC_ALREADY_EXISTS), wait ACTIVE, apply the stream settings
 * (retention, record size), then write the record. A gateway that sees the stream before its
 * record exists adopts it (below); the creator then replaces that record with its own, so the
 * topic ends up with the creator's id and configs. A failure after CreateStream deletes the stream.
 *
 * Adoption: a stream under the prefix with no record, seen ACTIVE (or UPDATING) by a lookup or a
 * listing, becomes a topic with P = its open shard count, a new topic id and the stream's own
 * retention / mode / record size as its configs; the record is written then, so the id and P
 * stay fixed across restarts and later resharding.
 *
 * Deletion: DeleteStream, then the record (a crash in between leaves a record whose stream is
 * gone; listings and creation remove such records).
 *
 * CreatePartitions: a new partition-map epoch (records arriving from then on are cut into the
 * new slices), and for PROVISIONED streams an UpdateShardCount towards one shard per partition
 * (at most doubling per call, as Kinesis allows). Shards are capacity, not partitions: when the
 * service cannot reshard (kinesalite has no UpdateShardCount) the partitions still exist as
 * hash slices of the shards there are, and only throughput is unchanged.
 *
 * Records and listings are cached for `cacheTtlMs`; this gateway's own changes show at once,
 * other gateways' changes within that time.
 */
import { randomUUID } from 'node:crypto';
import {
  CreateStreamCommand,
  DecreaseStreamRetentionPeriodCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  IncreaseStreamRetentionPeriodCommand,
  ListShardsCommand,
  ListStreamsCommand,
  UpdateMaxRecordSizeCommand,
  UpdateShardCountCommand,
  UpdateStreamModeCommand,
  type KinesisClient,
  type ListShardsCommandOutput,
  type StreamDescriptionSummary,
} from '@aws-sdk/client-kinesis';
import { pino, type Logger } from 'pino';
import { awsErrorName } from '../aws/errors.js';
import { isNotFound, isThrottle } from '../kinesis/client.js';
import { isShardOpen, shardInfoFromSdk, type ShardInfo } from '../kinesis/lineage.js';
import type { RecordFormat } from '../kinesis/record-formats.js';
import { ErrorCode } from '../protocol/errors.js';
import { ZERO_UUID } from '../protocol/primitives.js';
import { invalidTopicNameReason } from './catalog.js';
import {
  ConfigSource,
  ConfigType,
  DEFAULT_MAX_RECORD_KIB,
  HOUR_MS,
  MAX_MESSAGE_BYTES_LIMIT,
  TopicConfigDefaults,
  describeTopicConfigs,
  isListConfig,
  isTopicConfigName,
  maxRecordKibFor,
  topicSettings,
  validateTopicConfigs,
  type ConfigEntry,
  type ProduceAckMode,
  type StreamMode,
  type TopicSettings,
} from './topic-configs.js';
import { TopicError } from './topic-error.js';
import type { NewTopicRecord, PartitionMap, TopicRecord, TopicStore } from './topic-store.js';
import type { Topic, TopicRegistry } from './topics.js';

export { TopicError } from './topic-error.js';

export interface TopicManagerOptions {
  /** Prepended to topic names to get stream names ('' for none). */
  readonly streamPrefix: string;
  /** For CreateTopics with replication_factor -1, auto-created and adopted topics (>= 1). */
  readonly defaultReplicationFactor: number;
  /** For CreateTopics with num_partitions -1 and auto-created topics (Kafka's num.partitions). */
  readonly defaultPartitions: number;
  /** Kafka's auto.create.topics.enable. */
  readonly autoCreateTopics: boolean;
  /** kinesis.stream.mode of topics that do not set it. */
  readonly defaultStreamMode: StreamMode;
  /** The operator's defaults for topic configs, by topic config name (e.g. {'retention.ms': '172800000'}). */
  readonly clusterDefaults: Readonly<Record<string, string>>;
  /** How long records, listings and misses are cached, ms (default 5000). */
  readonly cacheTtlMs?: number;
  /** Longest wait for a stream to become ACTIVE or to disappear, ms (default 300000). */
  readonly streamWaitTimeoutMs?: number;
  /** How long a throttled Kinesis call is retried, ms (default 30000). */
  readonly throttleRetryMs?: number;
  /** How long auto-creation may hold a Metadata or Produce request before LEADER_NOT_AVAILABLE, ms (default 5000). */
  readonly autoCreateWaitMs?: number;
  /** Resize PROVISIONED streams with UpdateShardCount on CreatePartitions (default true). */
  readonly updateShardCount?: boolean;
  /** Largest partition count accepted (default 100000, Kinesis' largest ShardCount). */
  readonly maxPartitions?: number;
  readonly log?: Logger;
  /** Clock, for tests. */
  readonly now?: () => number;
}

/** A topic as the data path and the admin APIs see it. */
export class KinesisTopic implements Topic {
  readonly name: string;
  readonly topicId: string;
  readonly partitionCount: number;
  readonly replicationFactor: number;
  readonly internal = false;
  readonly streamName: string;
  readonly recordFormat: RecordFormat;
  readonly produceAckMode: ProduceAckMode;
  readonly maxMessageBytes: number;
  /** The partition-map history, ascending; the last is in force. */
  readonly partitionMaps: readonly PartitionMap[];
  /** The configs set on the topic itself. */
  readonly configs: Readonly<Record<string, string>>;
  /** Every setting in force (topic value, else default). */
  readonly settings: TopicSettings;

  constructor(
    record: TopicRecord,
    settings: TopicSettings,
    private readonly shards: (streamName: string, refresh: boolean) => Promise<readonly ShardInfo[]>,
  ) {
    this.name = record.name;
    this.topicId = record.topicId;
    this.partitionMaps = record.partitionMaps;
    this.partitionCount = record.partitionMaps[record.partitionMaps.length - 1]?.partitionCount ?? 0;
    this.replicationFactor = record.replicationFactor;
    this.streamName = record.streamName;
    this.configs = record.configs;
    this.settings = settings;
    this.recordFormat = settings.recordFormat;
    this.produceAckMode = settings.produceAckMode;
    this.maxMessageBytes = settings.maxMessageBytes;
  }

  listShards(refresh = false): Promise<readonly ShardInfo[]> {
    return this.shards(this.streamName, refresh);
  }
}

export interface NewTopicSpec {
  readonly name: string;
  /** -1: the default. */
  readonly partitions: number;
  /** -1: the default. Any positive value is accepted: Kinesis replicates every stream itself. */
  readonly replicationFactor: number;
  readonly configs: Iterable<readonly [string, string | null]>;
}

export interface CreateTopicOptions {
  readonly validateOnly?: boolean;
  /**
   * How long to wait for the stream to be ready, ms. Undefined: until done. When it runs out
   * the answer has `pending: true` and creation goes on; <= 0 answers as soon as Kinesis has
   * accepted CreateStream.
   */
  readonly waitMs?: number;
}

export interface TopicCreation {
  readonly name: string;
  /** ZERO_UUID for validate-only requests. */
  readonly topicId: string;
  readonly partitionCount: number;
  readonly replicationFactor: number;
  readonly configs: readonly ConfigEntry[];
  /** The stream is still being set up; creation continues in the background. */
  readonly pending: boolean;
}

export interface TopicDeletion {
  readonly name: string;
  /** The deleted topic's id (for the log layer to drop its state), or null if only a stream was left. */
  readonly topicId: string | null;
  /** The most partitions the topic had (its offset index holds that many partitions); 0 without a topic id. */
  readonly partitionCount: number;
  /** The stream is still being deleted when the wait ran out. */
  readonly pending: boolean;
}

/** IncrementalAlterConfigs operations. */
export const AlterConfigOp = { SET: 0, DELETE: 1, APPEND: 2, SUBTRACT: 3 } as const;

export interface ConfigOperation {
  readonly name: string;
  readonly op: number;
  readonly value: string | null;
}

export type AutoCreateOutcome = { readonly topic: KinesisTopic } | { readonly errorCode: number; readonly message: string };

/** What the admin API handlers need; KinesisTopicManager implements it. */
export interface TopicAdmin extends TopicRegistry {
  readonly streamPrefix: string;
  getTopic(name: string): Promise<KinesisTopic | undefined>;
  getTopicById(topicId: string): Promise<KinesisTopic | undefined>;
  createTopic(spec: NewTopicSpec, options?: CreateTopicOptions): Promise<TopicCreation>;
  deleteTopic(name: string, options?: { waitMs?: number; topicId?: string }): Promise<TopicDeletion>;
  createPartitions(name: string, totalCount: number, validateOnly?: boolean): Promise<void>;
  describeTopicConfigs(name: string): Promise<ConfigEntry[]>;
  replaceTopicConfigs(name: string, configs: Iterable<readonly [string, string | null]>, validateOnly?: boolean): Promise<void>;
  incrementalAlterTopicConfigs(name: string, operations: readonly ConfigOperation[], validateOnly?: boolean): Promise<void>;
  /** The gateway settings that concern topics, as read-only broker configs. */
  brokerConfigs(): ConfigEntry[];
  autoCreateTopic(name: string): Promise<AutoCreateOutcome>;
  isBeingCreated(name: string): boolean;
}

interface Cached<T> {
  readonly value: T;
  readonly expiresAt: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The service does not implement the operation (kinesalite: UpdateShardCount, UpdateStreamMode, ...). */
function isUnsupportedOperation(err: unknown): boolean {
  const name = awsErrorName(err);
  return name === 'UnknownOperationException' || name === 'NotImplemented' || name === 'NotImplementedException';
}

function isInvalidArgument(err: unknown): boolean {
  const name = awsErrorName(err);
  return name === 'ValidationException' || name === 'InvalidArgumentException';
}

function isResourceInUse(err: unknown): boolean {
  return awsErrorName(err) === 'ResourceInUseException';
}

/** LimitExceeded for an account limit (shards, streams) rather than a call rate: no retry helps. */
function isAccountLimit(err: unknown): boolean {
  return awsErrorName(err) === 'LimitExceededException' && /shard limit|limit.*shards|stream limit/i.test(message(err));
}

function streamModeOf(summary: StreamDescriptionSummary): StreamMode {
  return summary.StreamModeDetails?.StreamMode === 'ON_DEMAND' ? 'ON_DEMAND' : 'PROVISIONED';
}

export class KinesisTopicManager implements TopicAdmin {
  readonly streamPrefix: string;
  readonly defaults: TopicConfigDefaults;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly cacheTtlMs: number;
  private readonly streamWaitMs: number;
  private readonly throttleRetryMs: number;
  private readonly autoCreateWaitMs: number;
  private readonly maxPartitions: number;

  /** Bumped by every local change: loads that started before one do not fill the cache. */
  private generation = 0;
  private readonly records = new Map<string, Cached<TopicRecord | undefined>>();
  private readonly loading = new Map<string, Promise<TopicRecord | undefined>>();
  private listing: Cached<TopicRecord[]> | undefined;
  private listingLoad: Promise<TopicRecord[]> | undefined;
  private readonly idToName = new Map<string, string>();
  private readonly shardLists = new Map<string, Promise<readonly ShardInfo[]>>();
  /** Creations under way in this process, by topic name. */
  private readonly creating = new Map<string, Promise<TopicRecord>>();

  constructor(
    private readonly kinesis: KinesisClient,
    private readonly store: TopicStore,
    private readonly options: TopicManagerOptions,
  ) {
    this.streamPrefix = options.streamPrefix;
    if (invalidTopicNameReason('x', options.streamPrefix.length) !== null || !/^[a-zA-Z0-9_.-]*$/.test(options.streamPrefix)) {
      throw new RangeError(`stream prefix "${options.streamPrefix}" is not the start of a valid stream name`);
    }
    if (!Number.isSafeInteger(options.defaultReplicationFactor) || options.defaultReplicationFactor < 1) {
      throw new RangeError('default replication factor must be an integer >= 1');
    }
    this.maxPartitions = options.maxPartitions ?? 100_000;
    if (!Number.isSafeInteger(options.defaultPartitions) || options.defaultPartitions < 1 || options.defaultPartitions > this.maxPartitions) {
      throw new RangeError(`default partition count must be an integer from 1 to ${this.maxPartitions}`);
    }
    this.defaults = new TopicConfigDefaults(options.clusterDefaults, options.defaultStreamMode);
    this.log = options.log ?? pino({ level: 'silent' });
    this.now = options.now ?? Date.now;
    this.cacheTtlMs = options.cacheTtlMs ?? 5000;
    this.streamWaitMs = options.streamWaitTimeoutMs ?? 300_000;
    this.throttleRetryMs = options.throttleRetryMs ?? 30_000;
    this.autoCreateWaitMs = options.autoCreateWaitMs ?? 5000;
  }

  streamNameOf(topicName: string): string {
    return this.streamPrefix + topicName;
  }

  // -------------------------------------------------------------------------------------------
  // TopicRegistry

  async listTopics(): Promise<readonly KinesisTopic[]> {
    return (await this.listRecords()).map((r) => this.toTopic(r));
  }

  async getTopic(name: string): Promise<KinesisTopic | undefined> {
    if (invalidTopicNameReason(name, this.streamPrefix.length) !== null) return undefined;
    const record = await this.cachedRecord(name);
    return record === undefined ? undefined : this.toTopic(record);
  }

  async topic(name: string): Promise<KinesisTopic | undefined> {
    return this.getTopic(name);
  }

  async getTopicById(topicId: string): Promise<KinesisTopic | undefined> {
    if (topicId === ZERO_UUID) return undefined;
    const known = this.idToName.get(topicId);
    if (known !== undefined) {
      const topic = await this.getTopic(known);
      if (topic?.topicId === topicId) return topic;
    }
    const record = (await this.listRecords()).find((r) => r.topicId === topicId);
    return record === undefined ? undefined : this.toTopic(record);
  }

  // -------------------------------------------------------------------------------------------
  // Admin operations

  async createTopic(spec: NewTopicSpec, options: CreateTopicOptions = {}): Promise<TopicCreation> {
    const { name } = spec;
    const nameProblem = invalidTopicNameReason(name, this.streamPrefix.length);
    if (nameProblem !== null) throw new TopicError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Invalid topic name "${name}": ${nameProblem}`);
    const partitions = spec.partitions === -1 ? this.options.defaultPartitions : spec.partitions;
    if (!Number.isSafeInteger(partitions) || partitions < 1 || partitions > this.maxPartitions) {
      throw new TopicError(
        ErrorCode.INVALID_PARTITIONS,
        `Number of partitions must be -1 (the default, ${this.options.defaultPartitions}) or from 1 to ${this.maxPartitions}, got ${spec.partitions}`,
      );
    }
    const replicationFactor = spec.replicationFactor === -1 ? this.options.defaultReplicationFactor : spec.replicationFactor;
    if (!Number.isSafeInteger(replicationFactor) || replicationFactor < 1) {
      throw new TopicError(
        ErrorCode.INVALID_REPLICATION_FACTOR,
        `Replication factor must be -1 (the default) or at least 1, got ${spec.replicationFactor}`,
      );
    }
    const configs = validateTopicConfigs(spec.configs);
    const settings = topicSettings(configs, this.defaults);
    const streamName = this.streamNameOf(name);
    const validateOnly = options.validateOnly ?? false;

    const topicId = validateOnly ? ZERO_UUID : randomUUID();
    const outcome: TopicCreation = {
      name,
      topicId,
      partitionCount: partitions,
      replicationFactor,
      configs: describeTopicConfigs(configs, this.defaults),
      pending: false,
    };
    if (validateOnly) {
      await this.checkNameIsFree(name, streamName, false);
      return outcome;
    }

    const record: NewTopicRecord = {
      name,
      topicId,
      streamName,
      replicationFactor,
      partitionMaps: [{ epoch: 0, partitionCount: partitions, sinceMs: 0 }],
      configs,
      createdAtMs: this.now(),
    };
    // Registered before the first await, so that concurrent creations in this process see it.
    if (this.creating.has(name)) throw new TopicError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' is being created.`);
    let accept!: () => void;
    const accepted = new Promise<void>((resolve) => (accept = resolve));
    const work = this.checkNameIsFree(name, streamName, true).then(() => this.runCreate(record, settings, accept));
    this.creating.set(name, work);
    const settled = work.finally(() => {
      if (this.creating.get(name) === work) this.creating.delete(name);
    });
    settled.catch((err: unknown) => {
      if (!(err instanceof TopicError)) this.log.error({ err, topic: name }, 'topic creation failed');
    });

    await Promise.race([accepted, work]);
    const waitMs = options.waitMs;
    if (waitMs === undefined) {
      await work;
      return outcome;
    }
    if (waitMs <= 0) return { ...outcome, pending: true };
    return (await within(work, waitMs)) ? outcome : { ...outcome, pending: true };
  }

  /** TOPIC_ALREADY_EXISTS when the stream exists; removes the record of a stream that is gone. */
  private async checkNameIsFree(name: string, streamName: string, removeStaleRecord: boolean): Promise<void> {
    const existing = await this.store.get(name);
    const stream = await this.describeStream(existing?.streamName ?? streamName, this.now() + this.throttleRetryMs);
    if (stream !== undefined) {
      const deleting = stream.StreamStatus === 'DELETING' ? ' (its stream is being deleted; try again shortly)' : '';
      throw new TopicError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists${deleting}.`);
    }
    if (existing !== undefined && removeStaleRecord) {
      // The stream is gone but its record is not (deleted outside the gateway, or a crash mid-delete).
      this.log.warn({ topic: name, topicId: existing.topicId }, 'removing the record of a topic whose stream no longer exists');
      await this.store.delete(name, existing.topicId);
      this.invalidate(name);
    }
  }

  private async runCreate(record: NewTopicRecord, settings: TopicSettings, accept: () => void): Promise<TopicRecord> {
    const { name, streamName } = record;
    const partitions = record.partitionMaps[0]!.partitionCount;
    const maxRecordKib = maxRecordKibFor(settings.maxMessageBytes);
    try {
      await this.call(
        'CreateStream',
        () =>
          this.kinesis.send(
            new CreateStreamCommand({
              StreamName: streamName,
              ...(settings.streamMode === 'PROVISIONED' ? { ShardCount: partitions } : {}),
              StreamModeDetails: { StreamMode: settings.streamMode },
              ...(maxRecordKib > DEFAULT_MAX_RECORD_KIB ? { MaxRecordSizeInKiB: maxRecordKib } : {}),
            }),
          ),
        this.now() + this.throttleRetryMs,
      );
    } catch (err) {
      throw this.createStreamError(err, name, streamName, partitions, settings.streamMode);
    }
    accept();
    this.log.info({ topic: name, stream: streamName, partitions, mode: settings.streamMode }, 'creating stream');

    let stored: TopicRecord | undefined;
    try {
      const deadline = this.now() + this.streamWaitMs;
      await this.waitForStream(streamName, (s) => s !== undefined && s.StreamStatus === 'ACTIVE', deadline);
      await this.applyStreamSettings(streamName, settings, deadline);
      stored = await this.writeCreatedRecord(record);
      this.invalidate(name);
      this.remember(stored);
      this.log.info({ topic: name, topicId: stored.topicId, stream: streamName }, 'topic created');
      return stored;
    } catch (err) {
      await this.rollbackCreate(name, streamName);
      throw err;
    }
  }

  private createStreamError(err: unknown, name: string, streamName: string, partitions: number, mode: StreamMode): unknown {
    if (err instanceof TopicError) return err;
    if (isResourceInUse(err)) return new TopicError(ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${name}' already exists.`);
    if (isAccountLimit(err)) {
      return new TopicError(
        ErrorCode.INVALID_PARTITIONS,
        `Kinesis refused ${partitions} shards for stream ${streamName}: ${message(err)}`,
      );
    }
    if (isInvalidArgument(err)) {
      if (mode === 'ON_DEMAND' && /shardCount/i.test(message(err))) {
        return new TopicError(
          ErrorCode.INVALID_CONFIG,
          'This Kinesis endpoint does not support ON_DEMAND streams (kinesalite does not); use kinesis.stream.mode=PROVISIONED',
        );
      }
      return new TopicError(ErrorCode.INVALID_REQUEST, `Kinesis refused to create stream ${streamName}: ${message(err)}`);
    }
    return err;
  }

  /**
   * Stores the new topic's record. CreateStream succeeded, so any record already there belongs
   * to a gateway that adopted this very stream meanwhile: ours replaces it.
   */
  private async writeCreatedRecord(record: NewTopicRecord): Promise<TopicRecord> {
    for (let attempt = 0; attempt < 5; attempt++) {
      if ((await this.store.create(record)) === 'created') return { ...record, version: 1 };
      const existing = await this.store.get(record.name);
      if (existing === undefined) continue;
      if (existing.topicId === record.topicId) return existing;
      this.log.info({ topic: record.name, adoptedAs: existing.topicId }, 'replacing the record of a stream adopted during its creation');
      await this.store.delete(record.name, existing.topicId);
    }
    throw new Error(`could not store the record of topic ${record.name}: it keeps being replaced`);
  }

  private async rollbackCreate(name: string, streamName: string): Promise<void> {
    try {
      await this.call(
        'DeleteStream',
        () => this.kinesis.send(new DeleteStreamCommand({ StreamName: streamName, EnforceConsumerDeletion: true })),
        this.now() + this.throttleRetryMs,
        { retryInUse: true },
      );
    } catch (err) {
      if (!isNotFound(err)) this.log.error({ err, topic: name, stream: streamName }, 'could not delete the stream of a failed topic creation');
    }
    try {
      const record = await this.store.get(name);
      if (record !== undefined && record.streamName === streamName) await this.store.delete(name, record.topicId);
    } catch (err) {
      this.log.error({ err, topic: name }, 'could not delete the record of a failed topic creation');
    }
    this.invalidate(name);
  }

  async deleteTopic(name: string, options: { waitMs?: number; topicId?: string } = {}): Promise<TopicDeletion> {
    if (invalidTopicNameReason(name, this.streamPrefix.length) !== null) {
      throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host topic '${name}'.`);
    }
    const deadline = this.now() + this.throttleRetryMs;
    const record = await this.store.get(name);
    if (options.topicId !== undefined && record?.topicId !== options.topicId) {
      throw new TopicError(ErrorCode.UNKNOWN_TOPIC_ID, `No topic with id ${options.topicId}.`);
    }
    const streamName = record?.streamName ?? this.streamNameOf(name);
    const stream = await this.describeStream(streamName, deadline);
    if (record === undefined && stream === undefined) {
      throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host topic '${name}'.`);
    }
    if (stream !== undefined && stream.StreamStatus !== 'DELETING') {
      try {
        await this.call(
          'DeleteStream',
          () => this.kinesis.send(new DeleteStreamCommand({ StreamName: streamName, EnforceConsumerDeletion: true })),
          deadline,
          { retryInUse: true },
        );
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (record !== undefined) await this.store.delete(name, record.topicId);
    this.invalidate(name);
    if (record !== undefined) this.idToName.delete(record.topicId);
    this.log.info({ topic: name, topicId: record?.topicId, stream: streamName }, 'topic deleted');

    const waitMs = options.waitMs ?? this.streamWaitMs;
    let pending = false;
    if (waitMs > 0) {
      try {
        await this.waitForStream(streamName, (s) => s === undefined, this.now() + waitMs);
      } catch (err) {
        if (!(err instanceof TopicError) || err.code !== ErrorCode.REQUEST_TIMED_OUT) throw err;
        pending = true;
      }
    } else {
      pending = true;
    }
    const partitionCount = Math.max(0, ...(record?.partitionMaps ?? []).map((m) => m.partitionCount));
    return { name, topicId: record?.topicId ?? null, partitionCount, pending };
  }

  async createPartitions(name: string, totalCount: number, validateOnly = false): Promise<void> {
    let record = await this.requireRecord(name);
    for (let attempt = 0; ; attempt++) {
      const last = record.partitionMaps[record.partitionMaps.length - 1]!;
      if (!Number.isSafeInteger(totalCount) || totalCount > this.maxPartitions) {
        throw new TopicError(ErrorCode.INVALID_PARTITIONS, `The partition count must be at most ${this.maxPartitions}, got ${totalCount}.`);
      }
      if (totalCount === last.partitionCount) {
        throw new TopicError(ErrorCode.INVALID_PARTITIONS, `Topic already has ${last.partitionCount} partitions.`);
      }
      if (totalCount < last.partitionCount) {
        throw new TopicError(
          ErrorCode.INVALID_PARTITIONS,
          `Topic currently has ${last.partitionCount} partitions, which is higher than the requested ${totalCount}.`,
        );
      }
      if (validateOnly) return;
      const map: PartitionMap = { epoch: last.epoch + 1, partitionCount: totalCount, sinceMs: Math.max(this.now(), last.sinceMs) };
      const result = await this.store.addPartitionMap(name, record.version, map);
      if (result === 'missing') throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host topic '${name}'.`);
      if (result !== 'conflict') {
        this.invalidate(name);
        this.remember(result);
        this.log.info({ topic: name, epoch: map.epoch, partitions: totalCount }, 'partitions added');
        await this.growShards(result, totalCount);
        return;
      }
      if (attempt >= 10) throw new TopicError(ErrorCode.REQUEST_TIMED_OUT, `Topic '${name}' keeps changing; try again.`);
      record = await this.requireRecord(name);
    }
  }

  /** Best effort: more shards for more partitions (PROVISIONED only); never fails the request. */
  private async growShards(record: TopicRecord, partitions: number): Promise<void> {
    if (this.options.updateShardCount === false) return;
    try {
      const summary = await this.describeStream(record.streamName, this.now() + this.throttleRetryMs);
      if (summary === undefined || streamModeOf(summary) !== 'PROVISIONED') return;
      const open = summary.OpenShardCount ?? 0;
      // UpdateShardCount may at most double the open shard count in one call.
      const target = Math.min(partitions, open * 2);
      if (open === 0 || target <= open) return;
      await this.call(
        'UpdateShardCount',
        () =>
          this.kinesis.send(
            new UpdateShardCountCommand({ StreamName: record.streamName, TargetShardCount: target, ScalingType: 'UNIFORM_SCALING' }),
          ),
        this.now() + this.throttleRetryMs,
        { retryInUse: true },
      );
      this.shardLists.delete(record.streamName);
      this.log.info({ topic: record.name, from: open, to: target }, 'resharding stream for the new partitions');
    } catch (err) {
      if (isUnsupportedOperation(err)) {
        this.log.info({ topic: record.name }, 'the Kinesis endpoint cannot reshard; the new partitions share the existing shards');
      } else {
        this.log.warn({ err, topic: record.name }, 'UpdateShardCount failed; the new partitions share the existing shards');
      }
    }
  }

  async describeTopicConfigs(name: string): Promise<ConfigEntry[]> {
    const record = await this.requireRecord(name);
    return describeTopicConfigs(record.configs, this.defaults);
  }

  async replaceTopicConfigs(
    name: string,
    configs: Iterable<readonly [string, string | null]>,
    validateOnly = false,
  ): Promise<void> {
    // Legacy AlterConfigs: the request's set replaces every topic-level value. A null value
    // means "not set" (the default applies).
    const given = [...configs].filter(([, value]) => value !== null);
    const next = validateTopicConfigs(given);
    await this.changeConfigs(name, () => next, validateOnly);
  }

  async incrementalAlterTopicConfigs(name: string, operations: readonly ConfigOperation[], validateOnly = false): Promise<void> {
    const seen = new Set<string>();
    for (const { name: key, op, value } of operations) {
      if (seen.has(key)) throw new TopicError(ErrorCode.INVALID_REQUEST, `Config ${key} appears more than once in the request`);
      seen.add(key);
      if (op !== AlterConfigOp.SET && op !== AlterConfigOp.DELETE && op !== AlterConfigOp.APPEND && op !== AlterConfigOp.SUBTRACT) {
        throw new TopicError(ErrorCode.INVALID_REQUEST, `Unknown config operation ${op} for ${key}`);
      }
      if (!isTopicConfigName(key)) validateTopicConfigs([[key, value]]); // throws INVALID_CONFIG
      if ((op === AlterConfigOp.APPEND || op === AlterConfigOp.SUBTRACT) && !isListConfig(key)) {
        throw new TopicError(ErrorCode.INVALID_REQUEST, `Config ${key} is not a list: APPEND and SUBTRACT do not apply to it`);
      }
      if (op !== AlterConfigOp.DELETE && value === null) {
        throw new TopicError(ErrorCode.INVALID_REQUEST, `Null value not supported for config ${key}`);
      }
    }
    await this.changeConfigs(
      name,
      (current) => {
        const next: Record<string, string | null> = { ...current };
        for (const { name: key, op, value } of operations) {
          if (op === AlterConfigOp.SET) next[key] = value;
          else if (op === AlterConfigOp.DELETE) delete next[key];
          else {
            // The only list config is cleanup.policy, whose current value is always "delete".
            const items = new Set((current[key] ?? this.defaults.value(key as 'cleanup.policy').value).split(',').filter((s) => s !== ''));
            for (const item of (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')) {
              if (op === AlterConfigOp.APPEND) items.add(item);
              else items.delete(item);
            }
            next[key] = [...items].join(',');
          }
        }
        return validateTopicConfigs(Object.entries(next));
      },
      validateOnly,
    );
  }

  /** Applies `edit` to the topic's explicit configs: the stream first, then the record (version-checked). */
  private async changeConfigs(
    name: string,
    edit: (current: Readonly<Record<string, string>>) => Record<string, string>,
    validateOnly: boolean,
  ): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      const record = await this.requireRecord(name);
      const next = edit(record.configs);
      if (validateOnly) return;
      await this.applyStreamSettings(record.streamName, topicSettings(next, this.defaults), this.now() + this.streamWaitMs);
      const result = await this.store.updateConfigs(name, record.version, next);
      if (result === 'missing') throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host topic '${name}'.`);
      if (result !== 'conflict') {
        this.invalidate(name);
        this.remember(result);
        this.log.info({ topic: name, configs: next }, 'topic configs changed');
        return;
      }
      if (attempt >= 10) throw new TopicError(ErrorCode.REQUEST_TIMED_OUT, `Topic '${name}' keeps changing; try again.`);
    }
  }

  brokerConfigs(): ConfigEntry[] {
    const gateway = (name: string, value: string, documentation: string): ConfigEntry => ({
      name,
      value,
      source: ConfigSource.STATIC_BROKER_CONFIG, // the gateway's own settings
      readOnly: true,
      sensitive: false,
      type: /^(true|false)$/.test(value) ? ConfigType.BOOLEAN : /^-?[0-9]+$/.test(value) ? ConfigType.INT : ConfigType.STRING,
      documentation,
      synonyms: [{ name, value, source: ConfigSource.STATIC_BROKER_CONFIG }],
    });
    return [
      gateway('auto.create.topics.enable', String(this.options.autoCreateTopics), 'Whether Metadata and Produce create missing topics.'),
      gateway('default.replication.factor', String(this.options.defaultReplicationFactor), 'Replication factor reported for topics created without one (Kinesis keeps three copies of every stream itself).'),
      gateway('delete.topic.enable', 'true', 'DeleteTopics deletes the stream.'),
      gateway('kinesis.stream.prefix', this.streamPrefix, 'Prepended to topic names to form stream names.'),
      gateway('num.partitions', String(this.options.defaultPartitions), 'Partition count of topics created without one.'),
      ...this.defaults.brokerEntries(),
    ].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async autoCreateTopic(name: string): Promise<AutoCreateOutcome> {
    const nameProblem = invalidTopicNameReason(name, this.streamPrefix.length);
    if (nameProblem !== null) return { errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION, message: `Invalid topic name "${name}": ${nameProblem}` };
    const existing = await this.getTopic(name);
    if (existing !== undefined) return { topic: existing };
    if (!this.options.autoCreateTopics) {
      return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `Topic '${name}' does not exist and auto.create.topics.enable is false.` };
    }
    const inFlight = this.creating.get(name);
    try {
      if (inFlight === undefined) {
        const created = await this.createTopic(
          { name, partitions: -1, replicationFactor: -1, configs: [] },
          { waitMs: this.autoCreateWaitMs },
        );
        if (created.pending) return this.leaderNotAvailable(name);
      } else {
        if (!(await within(inFlight, this.autoCreateWaitMs))) return this.leaderNotAvailable(name);
      }
    } catch (err) {
      if (!(err instanceof TopicError)) throw err;
      if (err.code !== ErrorCode.TOPIC_ALREADY_EXISTS) return { errorCode: err.code, message: err.message };
      // Created elsewhere meanwhile: forget the miss cached above.
      this.invalidate(name);
    }
    const topic = await this.getTopic(name);
    return topic === undefined ? this.leaderNotAvailable(name) : { topic };
  }

  /** Whether this gateway is creating the topic right now (Metadata answers LEADER_NOT_AVAILABLE meanwhile). */
  isBeingCreated(name: string): boolean {
    return this.creating.has(name);
  }

  private leaderNotAvailable(name: string): AutoCreateOutcome {
    return { errorCode: ErrorCode.LEADER_NOT_AVAILABLE, message: `Topic '${name}' is being created.` };
  }

  // -------------------------------------------------------------------------------------------
  // Records, caching and adoption

  private toTopic(record: TopicRecord): KinesisTopic {
    return new KinesisTopic(record, topicSettings(record.configs, this.defaults), (stream, refresh) => this.listShards(stream, refresh));
  }

  private invalidate(name: string): void {
    this.generation++;
    this.records.delete(name);
    this.listing = undefined;
  }

  private remember(record: TopicRecord): void {
    this.records.set(record.name, { value: record, expiresAt: this.now() + this.cacheTtlMs });
    this.idToName.set(record.topicId, record.name);
  }

  private async cachedRecord(name: string): Promise<TopicRecord | undefined> {
    const cached = this.records.get(name);
    if (cached !== undefined && cached.expiresAt > this.now()) return cached.value;
    let load = this.loading.get(name);
    if (load === undefined) {
      const generation = this.generation;
      load = this.loadRecord(name).then((record) => {
        if (this.generation === generation) {
          // Misses are kept briefly: a topic another gateway creates should show up soon.
          if (record === undefined) this.records.set(name, { value: undefined, expiresAt: this.now() + Math.min(this.cacheTtlMs, 1000) });
          else this.remember(record);
        }
        return record;
      });
      const settled = load.finally(() => {
        if (this.loading.get(name) === load) this.loading.delete(name);
      });
      settled.catch(() => undefined);
      this.loading.set(name, load);
    }
    return load;
  }

  /** The stored record, adopting the stream when there is none. */
  private async loadRecord(name: string): Promise<TopicRecord | undefined> {
    const record = await this.store.get(name);
    if (record !== undefined) return record;
    const streamName = this.streamNameOf(name);
    const summary = await this.describeStream(streamName, this.now() + this.throttleRetryMs);
    if (summary === undefined) return undefined;
    return this.adopt(name, summary);
  }

  /** A fresh record (adopting if need be), or UNKNOWN_TOPIC_OR_PARTITION. */
  private async requireRecord(name: string): Promise<TopicRecord> {
    const nameProblem = invalidTopicNameReason(name, this.streamPrefix.length);
    if (nameProblem !== null) throw new TopicError(ErrorCode.INVALID_TOPIC_EXCEPTION, `Invalid topic name "${name}": ${nameProblem}`);
    const record = await this.loadRecord(name);
    if (record === undefined) throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `This server does not host topic '${name}'.`);
    return record;
  }

  /** Makes a topic of a stream created outside the gateway (DESIGN.md section 4). */
  private async adopt(name: string, summary: StreamDescriptionSummary): Promise<TopicRecord | undefined> {
    const status = summary.StreamStatus;
    // CREATING: someone (maybe a gateway) is creating it; DELETING: it is going away.
    if (status !== 'ACTIVE' && status !== 'UPDATING') return undefined;
    const streamName = summary.StreamName ?? this.streamNameOf(name);
    let open = summary.OpenShardCount ?? 0;
    if (open === 0) open = (await this.fetchShards(streamName)).filter(isShardOpen).length;
    const record: NewTopicRecord = {
      name,
      topicId: randomUUID(),
      streamName,
      replicationFactor: this.options.defaultReplicationFactor,
      partitionMaps: [{ epoch: 0, partitionCount: Math.max(1, open), sinceMs: 0 }],
      configs: this.configsOfStream(summary),
      createdAtMs: this.now(),
    };
    if ((await this.store.create(record)) === 'created') {
      this.log.info({ topic: name, topicId: record.topicId, stream: streamName, partitions: open }, 'adopted an existing stream');
      return { ...record, version: 1 };
    }
    return this.store.get(name);
  }

  /** The topic configs that describe an adopted stream where it differs from the defaults. */
  private configsOfStream(summary: StreamDescriptionSummary): Record<string, string> {
    const defaults = topicSettings({}, this.defaults);
    const configs: Record<string, string> = {};
    const hours = summary.RetentionPeriodHours ?? 24;
    if (hours !== defaults.retentionHours) configs['retention.ms'] = String(hours * HOUR_MS);
    // Something else wrote the stream before, and may still: offsets must follow Kinesis order.
    if (defaults.produceAckMode !== 'observed') configs['produce.ack.mode'] = 'observed';
    const mode = streamModeOf(summary);
    if (mode !== defaults.streamMode) configs['kinesis.stream.mode'] = mode;
    const recordBytes = Math.min((summary.MaxRecordSizeInKiB ?? DEFAULT_MAX_RECORD_KIB) * 1024, MAX_MESSAGE_BYTES_LIMIT);
    if (recordBytes !== defaults.maxMessageBytes && (recordBytes < defaults.maxMessageBytes || recordBytes > DEFAULT_MAX_RECORD_KIB * 1024)) {
      configs['max.message.bytes'] = String(recordBytes);
    }
    return configs;
  }

  private async listRecords(): Promise<TopicRecord[]> {
    if (this.listing !== undefined && this.listing.expiresAt > this.now()) return this.listing.value;
    if (this.listingLoad === undefined) {
      const generation = this.generation;
      const load = this.loadListing().then((records) => {
        if (this.generation === generation) this.listing = { value: records, expiresAt: this.now() + this.cacheTtlMs };
        for (const r of records) this.idToName.set(r.topicId, r.name);
        return records;
      });
      this.listingLoad = load;
      const settled = load.finally(() => {
        if (this.listingLoad === load) this.listingLoad = undefined;
      });
      settled.catch(() => undefined);
    }
    return this.listingLoad;
  }

  private async loadListing(): Promise<TopicRecord[]> {
    const [streams, records] = await Promise.all([this.listStreamNames(), this.store.list()]);
    const streamSet = new Set(streams);
    const byName = new Map(records.map((r) => [r.name, r]));
    const found: TopicRecord[] = [];
    const unlisted: TopicRecord[] = [];
    for (const record of records) (streamSet.has(record.streamName) ? found : unlisted).push(record);
    const orphans = streams
      .filter((s) => s.startsWith(this.streamPrefix))
      .map((s) => s.slice(this.streamPrefix.length))
      .filter((name) => !byName.has(name) && invalidTopicNameReason(name, this.streamPrefix.length) === null);

    const deadline = this.now() + this.throttleRetryMs;
    await forEachLimited(unlisted, 4, async (record) => {
      const summary = await this.describeStream(record.streamName, deadline);
      if (summary !== undefined) {
        found.push(record);
      } else if (await this.store.delete(record.name, record.topicId)) {
        this.log.warn({ topic: record.name, topicId: record.topicId, stream: record.streamName }, 'stream gone: removed its topic record');
      }
    });
    await forEachLimited(orphans, 4, async (name) => {
      const summary = await this.describeStream(this.streamNameOf(name), deadline);
      const adopted = summary === undefined ? undefined : await this.adopt(name, summary);
      if (adopted !== undefined) found.push(adopted);
    });
    return found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  // -------------------------------------------------------------------------------------------
  // Kinesis

  listShards(streamName: string, refresh = false): Promise<readonly ShardInfo[]> {
    let list = this.shardLists.get(streamName);
    if (list === undefined || refresh) {
      const load = this.fetchShards(streamName);
      list = load;
      this.shardLists.set(streamName, load);
      load.catch(() => {
        if (this.shardLists.get(streamName) === load) this.shardLists.delete(streamName);
      });
    }
    return list;
  }

  private async fetchShards(streamName: string): Promise<readonly ShardInfo[]> {
    const shards: ShardInfo[] = [];
    const deadline = this.now() + this.throttleRetryMs;
    let nextToken: string | undefined;
    do {
      let page: ListShardsCommandOutput;
      try {
        const token = nextToken;
        page = await this.call(
          'ListShards',
          () => this.kinesis.send(new ListShardsCommand(token === undefined ? { StreamName: streamName } : { NextToken: token })),
          deadline,
          { retryInUse: true },
        );
      } catch (err) {
        if (isNotFound(err)) throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Stream ${streamName} does not exist.`);
        throw err;
      }
      for (const shard of page.Shards ?? []) shards.push(shardInfoFromSdk(shard));
      nextToken = page.NextToken;
    } while (nextToken !== undefined);
    return shards;
  }

  private async listStreamNames(): Promise<string[]> {
    const names: string[] = [];
    const deadline = this.now() + this.throttleRetryMs;
    let more = true;
    while (more) {
      const start = names[names.length - 1];
      const page = await this.call(
        'ListStreams',
        () => this.kinesis.send(new ListStreamsCommand({ Limit: 1000, ...(start !== undefined ? { ExclusiveStartStreamName: start } : {}) })),
        deadline,
      );
      const pageNames = page.StreamNames ?? [];
      names.push(...pageNames);
      more = page.HasMoreStreams === true && pageNames.length > 0;
    }
    return names;
  }

  private async describeStream(streamName: string, deadline: number): Promise<StreamDescriptionSummary | undefined> {
    try {
      const out = await this.call(
        'DescribeStreamSummary',
        () => this.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: streamName })),
        deadline,
      );
      return out.StreamDescriptionSummary;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  /** Polls until `done(summary)`; REQUEST_TIMED_OUT at the deadline. */
  private async waitForStream(
    streamName: string,
    done: (summary: StreamDescriptionSummary | undefined) => boolean,
    deadline: number,
  ): Promise<StreamDescriptionSummary | undefined> {
    let delayMs = 25;
    for (;;) {
      const summary = await this.describeStream(streamName, deadline);
      if (done(summary)) return summary;
      if (this.now() + delayMs > deadline) {
        throw new TopicError(
          ErrorCode.REQUEST_TIMED_OUT,
          `Stream ${streamName} is still ${summary?.StreamStatus ?? 'present'}; the operation continues in Kinesis.`,
        );
      }
      await sleep(delayMs);
      delayMs = Math.min(delayMs * 2, 1000);
    }
  }

  /** Brings the stream's retention, mode and record size to `settings` (idempotent). */
  private async applyStreamSettings(streamName: string, settings: TopicSettings, deadline: number): Promise<void> {
    const ready = (s: StreamDescriptionSummary | undefined): boolean => s === undefined || s.StreamStatus === 'ACTIVE';
    let summary = await this.waitForStream(streamName, ready, deadline);
    if (summary === undefined) throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Stream ${streamName} does not exist.`);

    const hours = summary.RetentionPeriodHours ?? 24;
    if (hours !== settings.retentionHours) {
      const Command = settings.retentionHours > hours ? IncreaseStreamRetentionPeriodCommand : DecreaseStreamRetentionPeriodCommand;
      try {
        await this.call(
          'ChangeStreamRetentionPeriod',
          () => this.kinesis.send(new Command({ StreamName: streamName, RetentionPeriodHours: settings.retentionHours })),
          deadline,
          { retryInUse: true },
        );
      } catch (err) {
        if (isInvalidArgument(err)) {
          throw new TopicError(
            ErrorCode.INVALID_CONFIG,
            `Kinesis refused RetentionPeriodHours=${settings.retentionHours} (retention.ms=${settings.retentionMs}) for stream ${streamName}: ${message(err)}`,
          );
        }
        throw err;
      }
      summary = await this.waitForStream(streamName, ready, deadline);
      if (summary === undefined) throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Stream ${streamName} does not exist.`);
    }

    if (streamModeOf(summary) !== settings.streamMode) {
      const arn = summary.StreamARN;
      try {
        await this.call(
          'UpdateStreamMode',
          () => this.kinesis.send(new UpdateStreamModeCommand({ StreamARN: arn, StreamModeDetails: { StreamMode: settings.streamMode } })),
          deadline,
          { retryInUse: true },
        );
      } catch (err) {
        if (isUnsupportedOperation(err)) {
          throw new TopicError(ErrorCode.INVALID_CONFIG, `This Kinesis endpoint cannot change a stream's mode (no UpdateStreamMode), so kinesis.stream.mode stays ${streamModeOf(summary)}`);
        }
        if (isInvalidArgument(err) || isAccountLimit(err)) {
          throw new TopicError(ErrorCode.INVALID_CONFIG, `Kinesis refused to switch stream ${streamName} to ${settings.streamMode}: ${message(err)}`);
        }
        throw err;
      }
      summary = await this.waitForStream(streamName, ready, deadline);
      if (summary === undefined) throw new TopicError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `Stream ${streamName} does not exist.`);
    }

    const needKib = maxRecordKibFor(settings.maxMessageBytes);
    const haveKib = summary.MaxRecordSizeInKiB ?? DEFAULT_MAX_RECORD_KIB;
    if (needKib > haveKib) {
      const arn = summary.StreamARN;
      try {
        await this.call(
          'UpdateMaxRecordSize',
          () => this.kinesis.send(new UpdateMaxRecordSizeCommand({ StreamARN: arn, MaxRecordSizeInKiB: needKib })),
          deadline,
          { retryInUse: true },
        );
      } catch (err) {
        if (isUnsupportedOperation(err)) {
          throw new TopicError(
            ErrorCode.INVALID_CONFIG,
            `This Kinesis endpoint keeps records to ${haveKib} KiB (no UpdateMaxRecordSize), so max.message.bytes can be at most ${haveKib * 1024}`,
          );
        }
        if (isInvalidArgument(err)) {
          throw new TopicError(ErrorCode.INVALID_CONFIG, `Kinesis refused MaxRecordSizeInKiB=${needKib} for stream ${streamName}: ${message(err)}`);
        }
        throw err;
      }
      await this.waitForStream(streamName, ready, deadline);
    }
  }

  /**
   * One Kinesis call, retried while throttled (and, with retryInUse, while the stream is busy
   * CREATING or UPDATING) until the deadline; then REQUEST_TIMED_OUT.
   */
  private async call<T>(operation: string, send: () => Promise<T>, deadline: number, options: { retryInUse?: boolean } = {}): Promise<T> {
    let delayMs = 100;
    for (;;) {
      try {
        return await send();
      } catch (err) {
        const retriable = (isThrottle(err) && !isAccountLimit(err)) || (options.retryInUse === true && isResourceInUse(err));
        if (!retriable) throw err;
        if (this.now() + delayMs > deadline) {
          throw new TopicError(ErrorCode.REQUEST_TIMED_OUT, `Kinesis ${operation} did not succeed in time: ${message(err)}`);
        }
        this.log.debug({ operation, err: message(err), delayMs }, 'Kinesis call throttled or busy; retrying');
        await sleep(delayMs * (0.5 + Math.random()));
        delayMs = Math.min(delayMs * 2, 2000);
      }
    }
  }
}

/** Whether `work` settles within `ms` (rejections pass through). */
async function within(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([work.then(() => true), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

async function forEachLimited<T>(items: readonly T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await run(items[next++] as T);
  });
  await Promise.all(workers);
}
