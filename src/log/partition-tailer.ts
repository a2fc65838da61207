import type { Logger } from 'pino';
import { isThrottle } from '../kinesis/client.js';
import type { KinesisRecordsClient } from '../kinesis/records-client.js';
import type { IndexAnchor, OffsetIndex } from './offset-index.js';
import type { PartitionLog } from './partition-log.js';
import { PartitionReader, partitionShards, startAt, type PartitionSource, type ReadStart } from './partition-reader.js';
import type { StoredBatch } from './stored-batch.js';

/** How much longer the poll waits while this gateway's writes to the partition are under way. */
const POLL_SLOWDOWN_WHILE_WRITING = 4;

export interface TailerOptions {
  /** Pause between GetRecords calls once caught up (Kinesis allows 5 per second per shard). */
  readonly pollIntervalMs: number;
  /** Write an index anchor after this many bytes of records... */
  readonly indexIntervalBytes: number;
  /** ...or after this long while records flow. */
  readonly indexIntervalMs: number;
  /** Whether writes of this gateway to the partition are waiting or under way (each kicks a read when done). */
  readonly writesUnderWay?: () => boolean;
}

/**
 * The leader's reader of one partition: follows the partition's shards to the tip, feeds the
 * PartitionLog (which assigns nothing: offsets come from the reader's count, so they are a
 * function of what Kinesis holds) and writes index anchors as it goes.
 */
export class PartitionTailer {
  private reader: PartitionReader | undefined;
  private running = false;
  private kicked: (() => void) | undefined;
  private kickPending = false;
  private bytesSinceAnchor = 0;
  private lastAnchorAt = 0;
  private lastAnchorOffset = -1n;
  /** Greatest record timestamp read so far: anchors carry it, so anchor times never decrease. */
  private maxTimestamp = -1n;
  private loop: Promise<void> | undefined;
  private caughtUpOnce: Promise<void>;
  private markCaughtUp: () => void = () => undefined;
  /**
   * When the last read that found the tip began (Date.now()): everything that reached Kinesis
   * before then is in the log. -1 until the first such read.
   */
  caughtUpAtMs = -1;

  constructor(
    private readonly kinesis: KinesisRecordsClient,
    private readonly source: PartitionSource,
    private readonly topicId: string,
    private readonly log: PartitionLog,
    private readonly index: OffsetIndex,
    private readonly options: TailerOptions,
    private readonly leaderEpoch: () => number,
    private readonly logger: Logger,
  ) {
    this.caughtUpOnce = new Promise((resolve) => (this.markCaughtUp = resolve));
  }

  /**
   * Starts reading at the partition's last index anchor (or the start of its first shard) and
   * resolves once the tail is rebuilt up to the tip of the stream.
   */
  async start(): Promise<void> {
    const anchor = await this.index.last(this.topicId, this.source.partition);
    const start = anchor === undefined ? await this.firstShardStart() : startAt(anchor);
    if (start === undefined) {
      this.markCaughtUp();
      return;
    }
    this.log.highWatermark = start.offset;
    this.lastAnchorOffset = anchor?.offset ?? -1n;
    this.maxTimestamp = BigInt(anchor?.timestampMs ?? -1);
    this.reader = new PartitionReader(this.kinesis, this.source, start, this.leaderEpoch, (shardId, sequenceNumber) =>
      this.log.takeOwnBatch(shardId, sequenceNumber),
    );
    this.running = true;
    this.loop = this.run();
    await this.caughtUpOnce;
  }

  /** Reads again now instead of at the next poll: a write was just acknowledged. */
  kick(): void {
    this.kickPending = true;
    const wake = this.kicked;
    this.kicked = undefined;
    wake?.();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
  }

  private async firstShardStart(): Promise<ReadStart | undefined> {
    const shards = await partitionShards(this.source);
    const first = shards[0];
    return first === undefined ? undefined : { shardId: first.shardId, skip: 0, offset: 0n };
  }

  private async run(): Promise<void> {
    const reader = this.reader as PartitionReader;
    let backoffMs = this.options.pollIntervalMs;
    while (this.running) {
      const stepStarted = Date.now();
      try {
        this.kickPending = false;
        const step = await reader.step();
        if (step.batches.length > 0) {
          this.log.append(step.batches);
          this.maybeAnchor(step.batches);
        }
        for (const sequenceNumber of step.sequenceNumbers) this.log.observeSequence(sequenceNumber);
        backoffMs = this.options.pollIntervalMs;
        if (step.caughtUp) {
          this.caughtUpAtMs = stepStarted;
          this.markCaughtUp();
        }
        // At the tip, wait for the next write (a kick) or poll: reading again at once would
        // mostly come back empty, a call that costs Kinesis's read budget and CPU here. Keep
        // within Kinesis's 5 reads per second per shard, kicked or not. While this gateway's
        // writes are under way each one kicks a read when done, which also brings any foreign
        // records: the poll between them waits longer.
        if (step.atTip) {
          const elapsedMs = Date.now() - stepStarted;
          if (this.kickPending) await this.sleep(Math.max(0, this.options.pollIntervalMs - elapsedMs), false);
          else {
            const writing = this.options.writesUnderWay?.() === true;
            const pollMs = writing ? this.options.pollIntervalMs * POLL_SLOWDOWN_WHILE_WRITING : this.options.pollIntervalMs;
            await this.sleep(Math.max(0, pollMs - elapsedMs), true);
          }
        }
      } catch (err) {
        if (!this.running) break;
        if (isThrottle(err)) {
          backoffMs = Math.min(backoffMs * 2, 5000);
        } else {
          this.logger.error({ err, topic: this.log.topic, partition: this.log.partition }, 'reading the partition failed');
          backoffMs = Math.min(Math.max(backoffMs * 2, 500), 10_000);
        }
        await this.sleep(backoffMs, false);
      }
    }
  }

  /** Sleeps for `ms`; when `interruptible`, a kick ends the sleep early. */
  private sleep(ms: number, interruptible: boolean): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.kicked = undefined;
        resolve();
      }, ms);
      if (interruptible) {
        this.kicked = () => {
          clearTimeout(timer);
          resolve();
        };
      }
    });
  }

  private maybeAnchor(batches: readonly StoredBatch[]): void {
    const timestampBefore = this.maxTimestamp;
    for (const batch of batches) {
      this.bytesSinceAnchor += batch.bytes.length;
      if (batch.maxTimestamp > this.maxTimestamp) this.maxTimestamp = batch.maxTimestamp;
    }
    const now = Date.now();
    const first = batches[0] as StoredBatch;
    const due =
      this.lastAnchorOffset < 0n ||
      this.bytesSinceAnchor >= this.options.indexIntervalBytes ||
      now - this.lastAnchorAt >= this.options.indexIntervalMs;
    if (!due) return;
    // Anchor the first batch of this step: every record from it on can be found from here.
    const anchor: IndexAnchor = {
      offset: first.baseOffset,
      shardId: first.position.shardId,
      sequenceNumber: first.position.sequenceNumber,
      subIndex: first.position.subIndex,
      timestampMs: Number(first.maxTimestamp > timestampBefore ? first.maxTimestamp : timestampBefore),
    };
    this.bytesSinceAnchor = 0;
    this.lastAnchorAt = now;
    this.lastAnchorOffset = anchor.offset;
    this.index.put(this.topicId, this.source.partition, anchor).catch((err: unknown) => {
      // A missing anchor only means a longer read forward after a restart.
      this.logger.warn({ err, topic: this.log.topic, partition: this.log.partition }, 'writing an index anchor failed');
    });
  }
}

