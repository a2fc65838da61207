import type { _Record as KinesisRecord } from '@aws-sdk/client-kinesis';
import { awsErrorName } from '../aws/errors.js';
import type { KinesisRecordsClient } from '../kinesis/records-client.js';
import { fromKinesisRecord, type DecodedEntry } from '../kinesis/record-formats.js';
import { readOrderAcrossPartitionMaps, type ShardInfo } from '../kinesis/lineage.js';
import type { IndexAnchor, LogEnd } from './offset-index.js';
import { buildStoredBatches, ownStoredBatch, type OwnBatch, type StoredBatch } from './stored-batch.js';

/**
 * The record a reader was to start at is gone from Kinesis: its shard is no longer listed, or
 * reading at its sequence number returned later records (both happen once records are older
 * than the stream's retention period).
 */
export class ExpiredPositionError extends Error {
  override name = 'ExpiredPositionError';
}

/** Where a reader begins: a Kinesis record (and sub-record) whose offset is known. */
export interface ReadStart {
  readonly shardId: string;
  /** AT_SEQUENCE_NUMBER of this record; undefined reads the shard from its trim horizon. */
  readonly sequenceNumber?: string;
  /** Start after sequenceNumber (AFTER_SEQUENCE_NUMBER) instead of at it: a log end, not an anchor. */
  readonly after?: boolean;
  /** Sub-records of this partition to skip in the first record. */
  readonly skip: number;
  /** The offset of the first record read. */
  readonly offset: bigint;
  /**
   * Fail with ExpiredPositionError when the start record is gone, instead of counting offsets
   * from whatever Kinesis returns first (for reads below the tail; the tailer starts at the
   * newest anchor, whose record is expected to be there).
   */
  readonly mustExist?: boolean;
}

/** A reader's start at an offset index anchor. */
export function startAt(anchor: IndexAnchor, options: { mustExist?: boolean } = {}): ReadStart {
  return { shardId: anchor.shardId, sequenceNumber: anchor.sequenceNumber, skip: anchor.subIndex, offset: anchor.offset, ...options };
}

/** A reader's start at a recorded log end: after its record, at its next offset. */
export function startAfter(end: LogEnd): ReadStart {
  return end.afterSequenceNumber === undefined
    ? { shardId: end.shardId, skip: 0, offset: end.nextOffset }
    : { shardId: end.shardId, sequenceNumber: end.afterSequenceNumber, after: true, skip: 0, offset: end.nextOffset };
}

/** The stream a partition's records live in, as the reader needs it. */
export interface PartitionSource {
  readonly streamName: string;
  readonly partition: number;
  readonly partitionMaps: readonly { readonly partitionCount: number; readonly sinceMs: number }[];
  listShards(): Promise<readonly ShardInfo[]>;
}

/** The partition count in force when a record arrived: foreign records are placed by it. */
function partitionCountAt(source: PartitionSource, arrivalMs: number): number {
  let count = source.partitionMaps[0]?.partitionCount ?? 1;
  for (const map of source.partitionMaps) if (map.sinceMs <= arrivalMs) count = map.partitionCount;
  return count;
}

/** The partition's shards in read order, under every partition map that had the partition. */
export async function partitionShards(source: PartitionSource): Promise<ShardInfo[]> {
  const counts = [...new Set(source.partitionMaps.map((m) => m.partitionCount))].filter((n) => source.partition < n);
  return readOrderAcrossPartitionMaps(await source.listShards(), source.partition, counts);
}

type IteratorPosition =
  | { ShardIteratorType: 'TRIM_HORIZON' }
  | { ShardIteratorType: 'AT_SEQUENCE_NUMBER' | 'AFTER_SEQUENCE_NUMBER'; StartingSequenceNumber: string };

export interface ReadStep {
  readonly batches: StoredBatch[];
  /** Sequence numbers of every Kinesis record read, with or without records of this partition. */
  readonly sequenceNumbers: string[];
  /** The reader is at the tip of an open shard: nothing more to read for now. */
  readonly caughtUp: boolean;
  /**
   * Kinesis reported the read at the tip (MillisBehindLatest 0) and it was not cut short by the
   * limit: the next read would most likely come back empty. Implied by caughtUp.
   */
  readonly atTip: boolean;
}

/**
 * Reads one partition's log forward from a known position: its shards in lineage order
 * (parents before children), each record decoded and filtered to the partition, offsets
 * counted from the start position. Stateless about the cache; the tailer and cold fetches
 * both use it.
 */
export class PartitionReader {
  private shard: ShardInfo | undefined;
  private iterator: string | undefined;
  private lastSequence: string | undefined;
  private skip: number;
  private started = false;
  /** The first record read must be the start record (ReadStart.mustExist). */
  private checkStart: boolean;
  nextOffset: bigint;

  constructor(
    private readonly kinesis: KinesisRecordsClient,
    private readonly source: PartitionSource,
    readonly start: ReadStart,
    private readonly leaderEpoch: () => number,
    /** The stored batch of a record this process wrote, already encoded (the tailer's reader). */
    private readonly ownBatch: (shardId: string, sequenceNumber: string) => OwnBatch | undefined = () => undefined,
    /** The batch the log holds already for a record this process wrote, at an offset (produce.ack.mode immediate). */
    private readonly placedAhead: (shardId: string, sequenceNumber: string, offset: bigint) => StoredBatch | undefined = () => undefined,
    /** Awaited before records read are decoded: lets this process's writes in flight place their batches first. */
    private readonly ownWritesAnswered: () => Promise<void> = () => Promise.resolve(),
  ) {
    this.nextOffset = start.offset;
    this.skip = start.skip;
    this.checkStart = start.mustExist === true && start.sequenceNumber !== undefined && start.after !== true;
  }

  /**
   * Where the reader is between steps, as a log end: the next record of the partition gets
   * nextOffset. Undefined before the first step and past the end of the lineage.
   */
  position(): Omit<LogEnd, 'maxTimestampMs'> | undefined {
    if (!this.started || this.shard === undefined) return undefined;
    const afterSequenceNumber = this.lastSequence ?? (this.start.after === true ? this.start.sequenceNumber : undefined);
    // Still before the start record (an anchor's, not yet read): nothing to record.
    if (afterSequenceNumber === undefined && this.start.sequenceNumber !== undefined && this.shard.shardId === this.start.shardId) return undefined;
    return { nextOffset: this.nextOffset, shardId: this.shard.shardId, ...(afterSequenceNumber !== undefined ? { afterSequenceNumber } : {}) };
  }

  /** One GetRecords call (or a move to the next shard). */
  async step(limit = 10_000): Promise<ReadStep> {
    if (!this.started) await this.open();
    if (this.shard === undefined || this.iterator === undefined) {
      return { batches: [], sequenceNumbers: [], caughtUp: true, atTip: true };
    }
    let response;
    try {
      response = await this.kinesis.getRecords({ ShardIterator: this.iterator, Limit: limit });
    } catch (err) {
      if (awsErrorName(err) === 'ExpiredIteratorException') {
        this.iterator = await this.iteratorAfterLast();
        return { batches: [], sequenceNumbers: [], caughtUp: false, atTip: false };
      }
      throw err;
    }
    const first = response.Records?.[0];
    if (this.checkStart) {
      // Reading at a record returns it first. Nothing at all, at the tip or the end of a closed
      // shard, means nothing is left at or after it (it expired too), once the shard's oldest
      // record confirms it: an empty page alone is not proof enough to give offsets up.
      const nothingLeft = first === undefined && ((response.MillisBehindLatest ?? 0) === 0 || !response.NextShardIterator);
      if ((nothingLeft && (await this.shardStartsAfterStart())) || (first !== undefined && first.SequenceNumber !== this.start.sequenceNumber)) {
        throw new ExpiredPositionError(`record ${this.start.sequenceNumber} of shard ${this.shard.shardId} is no longer in Kinesis`);
      }
      if (first !== undefined) this.checkStart = false;
    }
    const batches: StoredBatch[] = [];
    const sequenceNumbers: string[] = [];
    if (first !== undefined) await this.ownWritesAnswered();
    for (const record of response.Records ?? []) {
      sequenceNumbers.push(record.SequenceNumber as string);
      batches.push(...this.decode(record));
      this.lastSequence = record.SequenceNumber;
    }
    if (response.NextShardIterator === undefined || response.NextShardIterator === null) {
      // The shard is closed and read to its end: continue with the next shard of the lineage.
      await this.advanceShard();
      return { batches, sequenceNumbers, caughtUp: false, atTip: false };
    }
    this.iterator = response.NextShardIterator;
    const count = response.Records?.length ?? 0;
    const atTip = (response.MillisBehindLatest ?? 0) === 0 && count < limit;
    return { batches, sequenceNumbers, caughtUp: atTip && count === 0, atTip };
  }

  private decode(record: KinesisRecord): StoredBatch[] {
    const shard = this.shard as ShardInfo;
    const arrival = record.ApproximateArrivalTimestamp ?? new Date();
    const meta = { shardId: shard.shardId, sequenceNumber: record.SequenceNumber as string, arrivalMs: BigInt(arrival.getTime()) };
    // The same object: the log passes it over. Not there at this offset: decoded, and the log
    // finds any conflict.
    const placed = this.skip === 0 ? this.placedAhead(shard.shardId, meta.sequenceNumber, this.nextOffset) : undefined;
    if (placed !== undefined) {
      this.nextOffset = placed.lastOffset + 1n;
      return [placed];
    }
    const own = this.skip === 0 ? this.ownBatch(shard.shardId, meta.sequenceNumber) : undefined;
    if (own !== undefined) {
      const batch = ownStoredBatch(own, meta, this.nextOffset, this.leaderEpoch());
      this.nextOffset = batch.lastOffset + 1n;
      return [batch];
    }
    const entries: DecodedEntry[] = fromKinesisRecord(
      {
        data: record.Data ?? new Uint8Array(0),
        partitionKey: record.PartitionKey ?? '',
        approximateArrivalTimestamp: arrival,
        sequenceNumber: record.SequenceNumber as string,
      },
      partitionCountAt(this.source, arrival.getTime()),
      { shardRange: shard.hashKeyRange },
    ).filter((e) => e.partition === this.source.partition);
    const skip = this.skip;
    this.skip = 0;
    if (entries.length <= skip) return [];
    const batches = buildStoredBatches(entries, meta, this.nextOffset, this.leaderEpoch(), skip);
    const last = batches[batches.length - 1];
    if (last !== undefined) this.nextOffset = last.lastOffset + 1n;
    return batches;
  }

  /** Whether the shard's oldest record is later than the start record, or the shard is empty. */
  private async shardStartsAfterStart(): Promise<boolean> {
    const shard = this.shard as ShardInfo;
    const iterator = await this.getIterator(shard.shardId, { ShardIteratorType: 'TRIM_HORIZON' });
    if (iterator === undefined) return true;
    const oldest = await this.kinesis.getRecords({ ShardIterator: iterator, Limit: 1 });
    const sequenceNumber = oldest.Records?.[0]?.SequenceNumber;
    if (sequenceNumber === undefined) return (oldest.MillisBehindLatest ?? 0) === 0 || !oldest.NextShardIterator;
    return BigInt(sequenceNumber) > BigInt(this.start.sequenceNumber as string);
  }

  private async open(): Promise<void> {
    this.started = true;
    const shards = await this.source.listShards();
    this.shard = shards.find((s) => s.shardId === this.start.shardId);
    if (this.shard === undefined) {
      this.started = false;
      throw new ExpiredPositionError(`shard ${this.start.shardId} of stream ${this.source.streamName} no longer exists`);
    }
    this.iterator = await this.getIterator(this.shard.shardId, this.startPosition());
  }

  private startPosition(): IteratorPosition {
    const sequenceNumber = this.start.sequenceNumber;
    if (sequenceNumber === undefined) return { ShardIteratorType: 'TRIM_HORIZON' };
    return { ShardIteratorType: this.start.after === true ? 'AFTER_SEQUENCE_NUMBER' : 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: sequenceNumber };
  }

  private async advanceShard(): Promise<void> {
    const current = this.shard as ShardInfo;
    const order = await partitionShards(this.source);
    const index = order.findIndex((s) => s.shardId === current.shardId);
    const next = order[index + 1];
    this.shard = next;
    this.lastSequence = undefined;
    this.iterator = next === undefined ? undefined : await this.getIterator(next.shardId, { ShardIteratorType: 'TRIM_HORIZON' });
  }

  private iteratorAfterLast(): Promise<string | undefined> {
    const shard = this.shard as ShardInfo;
    if (this.lastSequence !== undefined) {
      return this.getIterator(shard.shardId, { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: this.lastSequence });
    }
    return this.getIterator(shard.shardId, shard.shardId === this.start.shardId ? this.startPosition() : { ShardIteratorType: 'TRIM_HORIZON' });
  }

  private async getIterator(shardId: string, position: IteratorPosition): Promise<string | undefined> {
    const response = await this.kinesis.getShardIterator({ StreamName: this.source.streamName, ShardId: shardId, ...position });
    return response.ShardIterator;
  }
}

/**
 * A PartitionReader for fetches below the tail. One GetRecords call returns up to 10,000 Kinesis
 * records, usually more than one fetch may return: what a fetch leaves is kept for the next
 * fetch of the same consumer (which continues where this one ended) instead of being read again.
 */
export class ColdReader {
  private buffered: StoredBatch[] = [];

  constructor(private readonly reader: PartitionReader) {}

  /** Whether a fetch at `offset` continues here: within what is buffered, or right after it. */
  covers(offset: bigint): boolean {
    const first = this.buffered[0];
    if (first === undefined) return offset === this.reader.nextOffset;
    return offset >= first.baseOffset && offset < this.reader.nextOffset;
  }

  /**
   * Whole batches from `offset` up to `maxBytes` (at least one batch when there is one), below
   * `endOffset` (where the tail begins). Stops at the first batch that does not fit: a later,
   * smaller one would leave a gap the consumer skips over.
   */
  async read(offset: bigint, maxBytes: number, endOffset: bigint): Promise<StoredBatch[]> {
    const out: StoredBatch[] = [];
    let bytes = 0;
    for (;;) {
      while (this.buffered.length > 0) {
        const batch = this.buffered[0] as StoredBatch;
        if (batch.lastOffset < offset || batch.baseOffset >= endOffset) {
          this.buffered.shift();
          continue;
        }
        if (out.length > 0 && bytes + batch.bytes.length > maxBytes) return out;
        out.push(batch);
        bytes += batch.bytes.length;
        this.buffered.shift();
      }
      if (bytes >= maxBytes || this.reader.nextOffset >= endOffset) return out;
      const step = await this.reader.step();
      this.buffered = step.batches;
      if (step.caughtUp && this.buffered.length === 0) return out;
    }
  }
}
