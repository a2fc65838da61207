import { isProducerBatch, ownStoredBatch, type KinesisRecordMeta, type OwnBatch, type ProducerBatchIdentity, type StoredBatch } from './stored-batch.js';

/**
 * The tailer read a record before one this leader had already placed in the log (produce.ack.mode
 * immediate): another writer's record, which the offsets answered did not count.
 */
export class LogOrderConflictError extends Error {
  override name = 'LogOrderConflictError';
}

/** The partition's leadership ended here before a write was read back: its offset is not known here. */
export class LeadershipLostError extends Error {
  override name = 'LeadershipLostError';
}

/** What a read from the in-memory tail returns. */
export type TailRead =
  | { readonly kind: 'batches'; readonly batches: readonly StoredBatch[] }
  /** The offset is older than the tail holds: read it from Kinesis through the index. */
  | { readonly kind: 'below-tail' };

/**
 * The leader's in-memory state of one partition: high watermark, log start offset and the
 * recent batches (bounded by bytes), fed in log order by the partition's tailer. Fetches of
 * the tail are served from here; waiters are woken as batches arrive.
 */
export class PartitionLog {
  private batches: StoredBatch[] = [];
  private cachedBytes = 0;
  private dataWaiters = new Set<() => void>();
  /** Offsets of recently seen Kinesis records by sequence number, for produce acknowledgements. */
  private readonly offsetsBySequence = new Map<string, bigint>();
  private sequenceWaiters = new Map<string, { resolve(offset: bigint): void; reject(err: LeadershipLostError): void }[]>();
  /** Batches this leader wrote, by shard and sequence number, until the tailer reads them. */
  private readonly ownBatches = new Map<string, OwnBatch>();
  private ownBatchBytes = 0;
  /**
   * Own batches placed in the log when Kinesis took them (produce.ack.mode immediate), which the
   * tailer has not read back yet, in log order. Each must be the next thing the tailer reads of
   * the partition; anything else in between is a conflict.
   */
  private readonly placedAhead: StoredBatch[] = [];
  private placedAheadBytes = 0;
  /** Set when the tailer found a conflict: nothing more is placed ahead. */
  private conflict: LogOrderConflictError | undefined;
  highWatermark: bigint;
  logStartOffset: bigint;

  constructor(
    readonly topic: string,
    readonly partition: number,
    startOffset: bigint,
    private readonly maxCachedBytes: number,
    private readonly maxRememberedSequences = 100_000,
  ) {
    this.highWatermark = startOffset;
    this.logStartOffset = 0n;
  }

  /** Oldest offset the tail still holds (the high watermark when it holds nothing). */
  get tailStartOffset(): bigint {
    return this.batches[0]?.baseOffset ?? this.highWatermark;
  }

  /** When the oldest batch the tail holds reached Kinesis (undefined: none held, or not known). */
  get tailStartArrivalMs(): bigint | undefined {
    return this.batches[0]?.arrivalMs;
  }

  get cachedBatchCount(): number {
    return this.batches.length;
  }

  /**
   * Appends batches read from Kinesis, in log order, and wakes whoever waits for them. A batch
   * placed ahead is passed over (the reader gives it back as the same object, or decoded when it
   * read the record before it was placed). Throws LogOrderConflictError when something else
   * comes first.
   */
  append(batches: readonly StoredBatch[]): void {
    let appended = false;
    for (const batch of batches) {
      const ahead = this.placedAhead[0];
      if (ahead !== undefined) {
        if (batch === ahead) {
          this.passPlacedAhead();
          continue;
        }
        const sameRecord =
          batch.position.shardId === ahead.position.shardId && batch.position.sequenceNumber === ahead.position.sequenceNumber;
        if (sameRecord && batch.baseOffset >= ahead.baseOffset && batch.lastOffset <= ahead.lastOffset) {
          // Read (and decoded) before it was placed, appended after: the placed batch stands for it.
          if (batch.lastOffset === ahead.lastOffset) this.passPlacedAhead();
          continue;
        }
        this.conflict = new LogOrderConflictError(
          `${this.topic}-${this.partition}: a record at offset ${batch.baseOffset} (shard ${batch.position.shardId}, sequence number ` +
            `${batch.position.sequenceNumber}) came before the record this leader answered with offset ${ahead.baseOffset}: another ` +
            'writer writes this partition\'s shards, which produce.ack.mode=immediate does not allow for',
        );
        throw this.conflict;
      }
      this.appendOne(batch);
      appended = true;
    }
    if (appended) this.wakeData();
  }

  /**
   * Whether a write may be placed ahead now. Not after a conflict, nor while a write of the
   * partition waits to be read back (written in the kafka or raw format, or before the topic's
   * mode changed): that one comes first. Nor beyond the tail cache's size of batches not read
   * back yet (a tailer that cannot read): writes then wait for it, as in observed mode, instead
   * of piling up in memory.
   */
  get mayPlaceAhead(): boolean {
    return this.conflict === undefined && this.sequenceWaiters.size === 0 && this.placedAheadBytes < this.maxCachedBytes;
  }

  /**
   * Places an own batch that Kinesis has just taken at the end of the log, ahead of the tailer
   * (produce.ack.mode immediate; only when mayPlaceAhead): the offsets it gets are right as long
   * as nothing else writes the partition's shards, which the tailer checks when it reads the
   * batch back. Returns its base offset, or the offset the tailer gave it when it read it first.
   */
  placeAhead(own: OwnBatch, meta: KinesisRecordMeta, leaderEpoch: number): bigint {
    const read = this.offsetsBySequence.get(meta.sequenceNumber);
    if (read !== undefined) return read;
    const batch = ownStoredBatch(own, meta, this.highWatermark, leaderEpoch);
    this.placedAhead.push(batch);
    this.placedAheadBytes += batch.bytes.length;
    this.appendOne(batch);
    this.wakeData();
    return batch.baseOffset;
  }

  private passPlacedAhead(): void {
    const passed = this.placedAhead.shift();
    if (passed !== undefined) this.placedAheadBytes -= passed.bytes.length;
  }

  /**
   * The batch placed ahead for this Kinesis record at this offset, if any. A reader meets several
   * in one read, before the log has passed over the first.
   */
  placedAheadAt(shardId: string, sequenceNumber: string, offset: bigint): StoredBatch | undefined {
    const placed = this.placedAhead.find((batch) => batch.baseOffset === offset);
    return placed?.position.shardId === shardId && placed.position.sequenceNumber === sequenceNumber ? placed : undefined;
  }

  /** Whether the tailer found another writer's record before a batch placed ahead. */
  get orderConflictFound(): boolean {
    return this.conflict !== undefined;
  }

  private appendOne(batch: StoredBatch): void {
    if (batch.baseOffset !== this.highWatermark) {
      throw new Error(`${this.topic}-${this.partition}: batch at ${batch.baseOffset} does not follow the high watermark ${this.highWatermark}`);
    }
    this.batches.push(batch);
    this.cachedBytes += batch.bytes.length;
    this.highWatermark = batch.lastOffset + 1n;
    this.rememberSequence(batch.position.sequenceNumber, batch.baseOffset);
    while (this.cachedBytes > this.maxCachedBytes && this.batches.length > 1) {
      const dropped = this.batches.shift() as StoredBatch;
      this.cachedBytes -= dropped.bytes.length;
    }
  }

  /** Notes a Kinesis record that holds nothing of this partition but may be awaited. */
  observeSequence(sequenceNumber: string): void {
    this.rememberSequence(sequenceNumber, this.highWatermark);
  }

  /**
   * Whole batches from `offset` on, up to `maxBytes` (at least one batch when any is there,
   * as Kafka does so that a large batch never blocks a consumer).
   */
  read(offset: bigint, maxBytes: number): TailRead {
    if (offset >= this.highWatermark) return { kind: 'batches', batches: [] };
    if (offset < this.tailStartOffset) return { kind: 'below-tail' };
    let index = this.firstBatchEndingAtOrAfter(offset);
    const out: StoredBatch[] = [];
    let bytes = 0;
    for (; index < this.batches.length; index++) {
      const batch = this.batches[index] as StoredBatch;
      if (out.length > 0 && bytes + batch.bytes.length > maxBytes) break;
      out.push(batch);
      bytes += batch.bytes.length;
    }
    return { kind: 'batches', batches: out };
  }

  /** The first cached batch with a record whose timestamp is at least `timestampMs`. */
  firstBatchWithTimestamp(timestampMs: bigint): StoredBatch | undefined {
    return this.batches.find((b) => b.maxTimestamp >= timestampMs);
  }

  /**
   * The base offset of the batch a producer wrote with this identity: found, certainly not in
   * the log (null: the tail holds the whole log), or unknown (undefined: older records are
   * only in Kinesis).
   */
  findProducerBatch(identity: ProducerBatchIdentity): { baseOffset: bigint } | null | undefined {
    const found = this.batches.find((batch) => isProducerBatch(batch, identity));
    if (found !== undefined) return { baseOffset: found.baseOffset };
    return this.tailStartOffset <= this.logStartOffset ? null : undefined;
  }

  /** Resolves when the high watermark moves past `offset`, or after `timeoutMs`. */
  waitForData(offset: bigint, timeoutMs: number): Promise<void> {
    if (offset < this.highWatermark || timeoutMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.dataWaiters.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, timeoutMs);
      this.dataWaiters.add(wake);
    });
  }

  /**
   * The offset of the first record of this partition at or after the Kinesis record with this
   * sequence number, once the tailer has read that far. Rejects with LeadershipLostError when
   * this node stops leading the partition first.
   */
  offsetOfSequence(sequenceNumber: string): Promise<bigint> {
    const known = this.offsetsBySequence.get(sequenceNumber);
    if (known !== undefined) return Promise.resolve(known);
    return new Promise((resolve, reject) => {
      const waiting = this.sequenceWaiters.get(sequenceNumber) ?? [];
      waiting.push({ resolve, reject });
      this.sequenceWaiters.set(sequenceNumber, waiting);
    });
  }

  /**
   * Notes the stored batch of a record this leader just wrote, so that the tailer reading it
   * back need not decode it. Held up to the tail cache's size (more means a tailer far behind,
   * which decodes instead): the oldest are dropped first.
   */
  expectOwnBatch(shardId: string, sequenceNumber: string, batch: OwnBatch): void {
    const key = `${shardId}/${sequenceNumber}`;
    if (this.ownBatches.has(key)) return;
    this.ownBatches.set(key, batch);
    this.ownBatchBytes += batch.bytes.length;
    for (const [oldest, dropped] of this.ownBatches) {
      if (this.ownBatchBytes <= this.maxCachedBytes) break;
      this.dropOwnBatch(oldest, dropped);
    }
  }

  /**
   * The own batch written as this Kinesis record, once: undefined when not noted (or dropped).
   * Batches noted before it are dropped: the tailer reads in write order, so it went past them
   * (read before they were noted, and decoded).
   */
  takeOwnBatch(shardId: string, sequenceNumber: string): OwnBatch | undefined {
    const key = `${shardId}/${sequenceNumber}`;
    const batch = this.ownBatches.get(key);
    if (batch === undefined) return undefined;
    for (const [older, dropped] of this.ownBatches) {
      this.dropOwnBatch(older, dropped);
      if (older === key) break;
    }
    return batch;
  }

  private dropOwnBatch(key: string, batch: OwnBatch): void {
    this.ownBatches.delete(key);
    this.ownBatchBytes -= batch.bytes.length;
  }

  /** How many written records are still waited for (produce requests that have not learnt their offsets). */
  get awaitedSequences(): number {
    return this.sequenceWaiters.size;
  }

  /**
   * This node no longer leads the partition (lease lost, handed over, shut down): fetches waiting
   * for data are woken, and writes still waiting to be read back will not be, here. Their
   * producers are told at once (as a Kafka leader answers the produce requests it still holds
   * when it loses leadership), instead of when their request times out.
   */
  leadershipEnded(): void {
    this.wakeData();
    const waiters = this.sequenceWaiters;
    this.sequenceWaiters = new Map();
    const lost = new LeadershipLostError(`${this.topic}-${this.partition}: this node no longer leads the partition`);
    for (const waiting of waiters.values()) for (const { reject } of waiting) reject(lost);
  }

  private rememberSequence(sequenceNumber: string, offset: bigint): void {
    if (!this.offsetsBySequence.has(sequenceNumber)) {
      this.offsetsBySequence.set(sequenceNumber, offset);
      if (this.offsetsBySequence.size > this.maxRememberedSequences) {
        const oldest = this.offsetsBySequence.keys().next().value as string;
        this.offsetsBySequence.delete(oldest);
      }
    }
    const waiting = this.sequenceWaiters.get(sequenceNumber);
    if (waiting !== undefined) {
      this.sequenceWaiters.delete(sequenceNumber);
      for (const { resolve } of waiting) resolve(offset);
    }
  }

  private firstBatchEndingAtOrAfter(offset: bigint): number {
    let low = 0;
    let high = this.batches.length - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      if ((this.batches[mid] as StoredBatch).lastOffset < offset) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  private wakeData(): void {
    const waiters = this.dataWaiters;
    this.dataWaiters = new Set();
    for (const wake of waiters) wake();
  }
}
