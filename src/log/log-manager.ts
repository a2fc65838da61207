import { randomInt } from 'node:crypto';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { Logger } from 'pino';
import { partitionLeaseResource, type Lease, type LeaseStore } from '../cluster/leases.js';
import type { OffsetIndex } from './offset-index.js';
import { PartitionLog } from './partition-log.js';
import { PartitionReader, type PartitionSource } from './partition-reader.js';
import { PartitionTailer } from './partition-tailer.js';
import type { StoredBatch } from './stored-batch.js';
import { StreamWriter } from './stream-writer.js';
import type { Topic } from './topics.js';

export interface LogManagerOptions {
  /** Bytes of recent batches kept in memory per node, shared out per partition. */
  readonly tailCacheBytes: number;
  readonly leaseTtlMs: number;
  readonly pollIntervalMs: number;
  readonly indexIntervalBytes: number;
  readonly indexIntervalMs: number;
  readonly writeTimeoutMs: number;
}

/** A partition this node leads: its lease, in-memory log and tailer. */
export interface LedPartition {
  readonly topic: Topic;
  readonly partition: number;
  readonly log: PartitionLog;
  readonly tailer: PartitionTailer;
  lease: Lease;
}

/** Why this node cannot serve a partition. */
export type PartitionUnavailable = 'not-leader' | 'unknown-partition';

/** Cold readers kept for sequential consumers below the tail, per partition. */
const COLD_READERS_PER_PARTITION = 4;

/**
 * The partitions this node leads. A partition is opened on first use: its lease is taken
 * (conditional write, epoch + 1), then its tail is rebuilt from the last index anchor; while
 * open the lease is renewed, and a lost lease closes it.
 */
export class LogManager {
  private readonly partitions = new Map<string, Promise<LedPartition | PartitionUnavailable>>();
  private readonly writers = new Map<string, StreamWriter>();
  private readonly coldReaders = new Map<string, PartitionReader[]>();
  /** How many partition maps the topic had when each partition was opened. */
  private readonly openedWith = new Map<string, number>();
  private readonly renewTimer: NodeJS.Timeout;
  /** Lease owner id of this process: a second process with the same node id must not share leases. */
  readonly leaseOwner = randomInt(1, 2 ** 31 - 1);

  constructor(
    private readonly kinesis: KinesisClient,
    readonly index: OffsetIndex,
    private readonly leases: LeaseStore,
    private readonly options: LogManagerOptions,
    private readonly logger: Logger,
    /** Called once a partition's tail is rebuilt, before it serves requests. */
    private readonly onPartitionOpened: (partitionKey: string, log: PartitionLog) => Promise<void> = async () => undefined,
  ) {
    this.renewTimer = setInterval(() => void this.renewLeases(), Math.max(200, Math.floor(options.leaseTtlMs / 3)));
    this.renewTimer.unref();
  }

  /** The led partition, opening it on first use. */
  partition(topic: Topic, partition: number): Promise<LedPartition | PartitionUnavailable> {
    if (partition < 0 || partition >= topic.partitionCount) return Promise.resolve('unknown-partition');
    const key = partitionKey(topic, partition);
    let opening = this.partitions.get(key);
    const current = this.openedWith.get(key);
    if (opening !== undefined && current !== undefined && current !== topic.partitionMaps.length) {
      // CreatePartitions added a partition map: reopen under the new one.
      this.partitions.delete(key);
      void opening.then((led) => (typeof led === 'string' ? undefined : this.close(led)));
      opening = undefined;
    }
    if (opening === undefined) {
      this.openedWith.set(key, topic.partitionMaps.length);
      opening = this.open(topic, partition);
      this.partitions.set(key, opening);
      // A node that could not lead may be able to later (the other lease expires).
      void opening.then((result) => {
        if (typeof result === 'string') this.partitions.delete(key);
      }, () => this.partitions.delete(key));
    }
    return opening;
  }

  writer(topic: Topic): StreamWriter {
    let writer = this.writers.get(topic.topicId);
    if (writer === undefined) {
      writer = new StreamWriter(
        this.kinesis,
        topic.streamName,
        { maxConcurrentCalls: 4, retryTimeoutMs: this.options.writeTimeoutMs },
        this.logger,
      );
      this.writers.set(topic.topicId, writer);
    }
    return writer;
  }

  /**
   * Whole batches from `offset` on, read from Kinesis through the offset index: for offsets
   * older than the in-memory tail. Keeps the reader for the consumer's next fetch.
   */
  async readBelowTail(led: LedPartition, offset: bigint, maxBytes: number): Promise<StoredBatch[]> {
    const key = partitionKey(led.topic, led.partition);
    const readers = this.coldReaders.get(key) ?? [];
    let reader = readers.find((r) => r.nextOffset === offset);
    if (reader !== undefined) {
      readers.splice(readers.indexOf(reader), 1);
    } else {
      const anchor = await this.index.floor(led.topic.topicId, led.partition, offset);
      if (anchor === undefined) return [];
      reader = new PartitionReader(
        this.kinesis,
        this.source(led.topic, led.partition),
        { shardId: anchor.shardId, sequenceNumber: anchor.sequenceNumber, skip: anchor.subIndex, offset: anchor.offset },
        () => led.lease.epoch,
      );
    }
    const out: StoredBatch[] = [];
    let bytes = 0;
    const tailStart = led.log.tailStartOffset;
    while (bytes < maxBytes && reader.nextOffset < tailStart) {
      const step = await reader.step();
      for (const batch of step.batches) {
        if (batch.lastOffset < offset || (out.length > 0 && bytes + batch.bytes.length > maxBytes)) continue;
        out.push(batch);
        bytes += batch.bytes.length;
      }
      if (step.caughtUp) break;
    }
    const last = out[out.length - 1];
    if (last !== undefined && reader.nextOffset === last.lastOffset + 1n) {
      readers.push(reader);
      if (readers.length > COLD_READERS_PER_PARTITION) readers.shift();
      this.coldReaders.set(key, readers);
    }
    return out;
  }

  /**
   * Looks for a producer's batch in a led partition's log (idempotence crash recovery).
   * `partitionKey` is `${topicId}/${partition}`.
   */
  async locateProducerBatch(
    partitionKey: string,
    identity: { producerId: bigint; producerEpoch: number; baseSequence: number },
  ): Promise<{ baseOffset: bigint } | null | undefined> {
    const opening = this.partitions.get(partitionKey);
    const led = opening === undefined ? undefined : await opening.catch(() => undefined);
    if (led === undefined || typeof led === 'string') return undefined;
    const found = led.log.findProducerBatch(identity.producerId, identity.producerEpoch, identity.baseSequence);
    return found === null || found === undefined ? found : { baseOffset: found };
  }

  /** The partitions this node leads and has open (for metrics and /readyz); those still opening are left out. */
  async openPartitions(): Promise<LedPartition[]> {
    const pending = Symbol('pending');
    // A settled promise wins the race against the already-resolved marker; a pending one loses.
    const settled = await Promise.all([...this.partitions.values()].map((p) => Promise.race([p, pending]).catch(() => pending)));
    return settled.filter((led): led is LedPartition => typeof led === 'object');
  }

  /** Drops a deleted topic's state. */
  async forgetTopic(topicId: string): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, opening] of this.partitions) {
      if (!key.startsWith(`${topicId}/`)) continue;
      this.partitions.delete(key);
      closing.push(opening.then((led) => (typeof led === 'string' ? undefined : this.close(led))));
    }
    this.writers.get(topicId)?.close();
    this.writers.delete(topicId);
    await Promise.all(closing);
  }

  /** Stops tailers and gives leases up so another node can lead at once. */
  async shutdown(): Promise<void> {
    clearInterval(this.renewTimer);
    for (const writer of this.writers.values()) writer.close();
    const open = await Promise.all([...this.partitions.values()].map((p) => p.catch(() => undefined)));
    await Promise.all(open.map((led) => (led === undefined || typeof led === 'string' ? undefined : this.close(led))));
    this.partitions.clear();
  }

  private source(topic: Topic, partition: number): PartitionSource {
    return {
      streamName: topic.streamName,
      partition,
      partitionMaps: topic.partitionMaps,
      listShards: () => topic.listShards(true),
    };
  }

  private async open(topic: Topic, partition: number): Promise<LedPartition | PartitionUnavailable> {
    const lease = await this.leases.acquire(
      partitionLeaseResource(topic.topicId, partition),
      this.leaseOwner,
      this.options.leaseTtlMs,
    );
    if (lease === undefined) return 'not-leader';
    const perPartitionCache = Math.max(1 << 20, Math.floor(this.options.tailCacheBytes / Math.max(1, this.partitions.size)));
    const log = new PartitionLog(topic.name, partition, 0n, perPartitionCache);
    let current = lease;
    const tailer = new PartitionTailer(
      this.kinesis,
      this.source(topic, partition),
      topic.topicId,
      log,
      this.index,
      {
        pollIntervalMs: this.options.pollIntervalMs,
        indexIntervalBytes: this.options.indexIntervalBytes,
        indexIntervalMs: this.options.indexIntervalMs,
      },
      () => current.epoch,
      this.logger,
    );
    const led: LedPartition = {
      topic,
      partition,
      log,
      tailer,
      get lease() {
        return current;
      },
      set lease(renewed: Lease) {
        current = renewed;
      },
    };
    const first = await this.index.first(topic.topicId, partition);
    if (first !== undefined) log.logStartOffset = first.offset;
    await tailer.start();
    await this.onPartitionOpened(partitionKey(topic, partition), log);
    this.logger.info(
      { topic: topic.name, partition, leaderEpoch: lease.epoch, highWatermark: String(log.highWatermark) },
      'partition opened',
    );
    return led;
  }

  private async close(led: LedPartition): Promise<void> {
    await led.tailer.stop();
    led.log.wakeAll();
    await this.leases.release(led.lease).catch((err: unknown) => {
      this.logger.warn({ err, topic: led.topic.name, partition: led.partition }, 'releasing the lease failed');
    });
  }

  private async renewLeases(): Promise<void> {
    for (const [key, opening] of this.partitions) {
      const led = await opening.catch(() => undefined);
      if (led === undefined || typeof led === 'string') continue;
      try {
        const renewed = await this.leases.renew(led.lease, this.options.leaseTtlMs);
        if (renewed !== undefined) {
          led.lease = renewed;
          continue;
        }
        this.logger.warn({ topic: led.topic.name, partition: led.partition }, 'partition lease lost; no longer leading');
      } catch (err) {
        // Unsure whether it is still ours: stop serving before the lease could have expired.
        if (Date.now() < led.lease.expiresAtMs - this.options.leaseTtlMs / 3) continue;
        this.logger.warn({ err, topic: led.topic.name, partition: led.partition }, 'cannot renew the partition lease; no longer leading');
      }
      this.partitions.delete(key);
      await led.tailer.stop();
      led.log.wakeAll();
    }
  }
}

function partitionKey(topic: Topic, partition: number): string {
  return `${topic.topicId}/${partition}`;
}
