import type { Logger } from 'pino';
import { isThrottle } from '../kinesis/client.js';
import type { KinesisRecordsClient } from '../kinesis/records-client.js';
import type { IndexAnchor, LogEnd, OffsetIndex } from './offset-index.js';
import { LogOrderConflictError, type PartitionLog } from './partition-log.js';
import { ExpiredPositionError, PartitionReader, partitionShards, startAfter, startAt, type PartitionSource, type ReadStart } from './partition-reader.js';
import type { StoredBatch } from './stored-batch.js';

/** How much longer the poll waits while this gateway's writes to the partition are under way. */
const POLL_SLOWDOWN_WHILE_WRITING = 4;

export interface TailerOptions {
  /** Pause between GetRecords calls once caught up (Kinesis allows 5 per second per shard). */
  readonly pollIntervalMs: number;
  /** Write an index anchor after this many bytes of records... */
  readonly indexIntervalBytes: number;
  /** ...or after this long while records flow; and record the log end at most this often. */
  readonly indexIntervalMs: number;
  /** Whether writes of this gateway to the partition are waiting or under way (each kicks a read when done). */
  readonly writesUnderWay?: () => boolean;
  /**
   * Called once the tailer found a record before one placed ahead (produce.ack.mode immediate):
   * the tailer has stopped, and the in-memory log no longer follows Kinesis order.
   */
  readonly onOrderConflict?: () => void;
  /**
   * produce.ack.mode immediate: resolves once this gateway's write of the partition now in
   * flight has been answered and placed its batches in the log. Records read meanwhile may be
   * that write's: waiting for it spares decoding them.
   */
  readonly ownWritesAnswered?: () => Promise<void>;
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
  private lastKickAtMs = 0;
  private bytesSinceAnchor = 0;
  private lastAnchorAt = 0;
  private lastAnchorOffset = -1n;
  /** The log end last recorded (found at start, or written since). */
  private recordedEnd: LogEnd | undefined;
  private lastEndAt = 0;
  private endWrite: Promise<void> | undefined;
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
   * resolves once the tail is rebuilt up to the tip of the stream. Reading forward from the
   * anchor fills the tail with the most recent records (consumers a little behind, and
   * idempotent producers retrying, are served from memory). When the anchor's record has
   * expired, the recorded log end says where the log goes on.
   */
  async start(): Promise<void> {
    const [anchor, end] = await Promise.all([
      this.index.last(this.topicId, this.source.partition),
      this.index.end(this.topicId, this.source.partition),
    ]);
    this.recordedEnd = end;
    let start: ReadStart | undefined;
    if (anchor !== undefined) start = startAt(anchor, { mustExist: true });
    else if (end !== undefined) start = startAfter(end);
    else start = await this.firstShardStart(0n);
    if (start === undefined) {
      this.markCaughtUp();
      return;
    }
    this.log.highWatermark = start.offset;
    this.lastAnchorOffset = anchor?.offset ?? -1n;
    this.maxTimestamp = BigInt(Math.max(anchor?.timestampMs ?? -1, end?.maxTimestampMs ?? -1));
    this.reader = this.readerFrom(start);
    this.running = true;
    this.loop = this.run();
    await this.caughtUpOnce;
  }

  private readerFrom(start: ReadStart): PartitionReader {
    return new PartitionReader(
      this.kinesis,
      this.source,
      start,
      this.leaderEpoch,
      (shardId, sequenceNumber) => this.log.takeOwnBatch(shardId, sequenceNumber),
      (shardId, sequenceNumber, offset) => this.log.placedAheadAt(shardId, sequenceNumber, offset),
      this.options.ownWritesAnswered,
    );
  }

  /**
   * The record the reader was to start at is gone from Kinesis (nothing was read yet). After
   * an anchor: the log goes on after the recorded log end, when that is further on. After a log
   * end whose shard expired whole: in the first shard still listed. Otherwise (no log end
   * recorded after the anchor, e.g. its leader was killed and none took over within the
   * retention period) the number of expired records is unknown, and offsets are counted on from
   * the anchor's at the oldest record left.
   */
  private async restartAfterExpiry(failed: ReadStart, err: ExpiredPositionError): Promise<void> {
    const end = this.recordedEnd;
    let start: ReadStart | undefined;
    if (failed.after !== true && end !== undefined && end.nextOffset > failed.offset) {
      start = startAfter(end);
    } else if ((await partitionShards(this.source)).some((s) => s.shardId === failed.shardId)) {
      start = { ...failed, mustExist: false };
    } else {
      start = await this.firstShardStart(failed.offset);
    }
    if (start?.offset === failed.offset && failed.after !== true && failed.sequenceNumber !== undefined) {
      this.logger.warn(
        { topic: this.log.topic, partition: this.log.partition, offset: failed.offset.toString(), reason: err.message },
        'the newest index anchor expired with no log end recorded after it: offsets continue from the anchor',
      );
    }
    this.log.highWatermark = start?.offset ?? failed.offset;
    this.reader = start === undefined ? undefined : this.readerFrom(start);
  }

  /** Reads again now instead of at the next poll: a write was just acknowledged. */
  kick(): void {
    this.kickPending = true;
    this.lastKickAtMs = Date.now();
    const wake = this.kicked;
    this.kicked = undefined;
    wake?.();
  }

  /** Stops reading. */
  async stop(): Promise<void> {
    this.running = false;
    this.kick();
    await this.loop;
  }

  /**
   * Records where the stopped tailer's log ends, so a later leader can continue after it once
   * the records expire. Called after the lease is given up: the write is a true fact whoever
   * makes it, and the next leader need not wait for it.
   */
  async recordFinalEnd(): Promise<void> {
    await this.endWrite;
    await this.recordEnd().catch((err: unknown) => {
      this.logger.warn({ err, topic: this.log.topic, partition: this.log.partition }, 'recording the log end failed');
    });
  }

  private async firstShardStart(offset: bigint): Promise<ReadStart | undefined> {
    const shards = await partitionShards(this.source);
    const first = shards[0];
    return first === undefined ? undefined : { shardId: first.shardId, skip: 0, offset };
  }

  private async run(): Promise<void> {
    let backoffMs = this.options.pollIntervalMs;
    while (this.running) {
      const reader = this.reader;
      if (reader === undefined) {
        this.markCaughtUp();
        return;
      }
      const stepStarted = Date.now();
      try {
        this.kickPending = false;
        const step = await reader.step();
        if (step.batches.length > 0) {
          try {
            this.log.append(step.batches);
          } catch (err) {
            if (err instanceof LogOrderConflictError) await this.giveUpAfterConflict(err, step.batches[0] as StoredBatch);
            throw err;
          }
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
        // within Kinesis's 5 reads per second per shard, kicked or not. While this gateway
        // writes the partition (writes under way, or one acknowledged within the longer poll
        // interval), each write kicks a read when done, which also brings any foreign records:
        // the poll between them waits longer.
        if (step.atTip) {
          if (step.batches.length === 0) this.maybeRecordEnd();
          const elapsedMs = Date.now() - stepStarted;
          if (this.kickPending) await this.sleep(Math.max(0, this.options.pollIntervalMs - elapsedMs), false);
          else {
            const writingPollMs = this.options.pollIntervalMs * POLL_SLOWDOWN_WHILE_WRITING;
            const writing = this.options.writesUnderWay?.() === true || Date.now() - this.lastKickAtMs < writingPollMs;
            const pollMs = writing ? writingPollMs : this.options.pollIntervalMs;
            await this.sleep(Math.max(0, pollMs - elapsedMs), true);
          }
        }
      } catch (caught) {
        if (!this.running) break;
        if (caught instanceof LogOrderConflictError) return;
        // Only a reader's first step fails so: the record it was to start at is gone.
        const err = caught instanceof ExpiredPositionError ? await this.restartAfterExpiry(reader.start, caught).catch((e: unknown) => e) : caught;
        if (err === undefined) continue;
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

  /**
   * The log this leader served no longer follows Kinesis order. Anchors the step's first batch
   * (its offset is Kinesis order's: the reader counts what it reads), so that the next leader
   * rebuilds the log from there, and has the partition given up.
   */
  private async giveUpAfterConflict(err: LogOrderConflictError, first: StoredBatch): Promise<void> {
    this.logger.error({ topic: this.log.topic, partition: this.log.partition, reason: err.message }, 'records of another writer; giving the partition up');
    this.running = false;
    this.markCaughtUp();
    await this.index.put(this.topicId, this.source.partition, this.anchorOf(first, this.maxTimestamp)).catch((putErr: unknown) => {
      this.logger.warn({ err: putErr, topic: this.log.topic, partition: this.log.partition }, 'writing an index anchor failed');
    });
    this.options.onOrderConflict?.();
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

  /**
   * At rest (a read at the tip found nothing new) after new records: record the log end, at most
   * once per index interval. While records flow the anchors follow them; a leader that dies
   * then is replaced within a lease TTL, long before anything expires.
   */
  private maybeRecordEnd(): void {
    if (this.endWrite !== undefined || Date.now() - this.lastEndAt < this.options.indexIntervalMs) return;
    if ((this.reader?.nextOffset ?? -1n) <= (this.recordedEnd?.nextOffset ?? -1n)) return;
    this.endWrite = this.recordEnd()
      .catch((err: unknown) => {
        // A missing log end only matters once the partition's records expire.
        this.logger.warn({ err, topic: this.log.topic, partition: this.log.partition }, 'recording the log end failed');
      })
      .finally(() => (this.endWrite = undefined));
  }

  private async recordEnd(): Promise<void> {
    const position = this.reader?.position();
    if (position === undefined || position.nextOffset <= (this.recordedEnd?.nextOffset ?? -1n)) return;
    this.lastEndAt = Date.now();
    const end: LogEnd = { ...position, maxTimestampMs: Number(this.maxTimestamp) };
    await this.index.putEnd(this.topicId, this.source.partition, end);
    this.recordedEnd = end;
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
    const anchor = this.anchorOf(first, timestampBefore);
    this.bytesSinceAnchor = 0;
    this.lastAnchorAt = now;
    this.lastAnchorOffset = anchor.offset;
    this.index.put(this.topicId, this.source.partition, anchor).catch((err: unknown) => {
      // A missing anchor only means a longer read forward after a restart.
      this.logger.warn({ err, topic: this.log.topic, partition: this.log.partition }, 'writing an index anchor failed');
    });
  }

  private anchorOf(first: StoredBatch, timestampBefore: bigint): IndexAnchor {
    return {
      offset: first.baseOffset,
      shardId: first.position.shardId,
      sequenceNumber: first.position.sequenceNumber,
      subIndex: first.position.subIndex,
      timestampMs: Number(first.maxTimestamp > timestampBefore ? first.maxTimestamp : timestampBefore),
    };
  }
}
