import {
  NO_PRODUCER_EPOCH,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  TimestampType,
  encodeBatchSync,
  readBatchHeader,
  setBaseOffset,
  setPartitionLeaderEpoch,
  type KafkaRecord,
} from '../protocol/records/record-batch.js';
import type { DecodedEntry, GatewayRecord } from '../kinesis/record-formats.js';

/** Where a record sits in Kinesis: the Kinesis record, and which of its sub-records for this partition. */
export interface KinesisPosition {
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** Index among this partition's sub-records of that Kinesis record. */
  readonly subIndex: number;
}

/**
 * A Kafka record batch of the partition's log, with its offsets assigned: what Fetch returns.
 * Built from one Kinesis record (an aggregate, a kafka-format batch, or plain records).
 */
export interface StoredBatch {
  readonly baseOffset: bigint;
  readonly lastOffset: bigint;
  readonly maxTimestamp: bigint;
  /** RecordBatch v2 bytes with baseOffset set. */
  readonly bytes: Buffer;
  readonly position: KinesisPosition;
  /** The Kinesis record's ApproximateArrivalTimestamp (Kinesis's clock), ms. */
  readonly arrivalMs?: bigint;
}

export interface KinesisRecordMeta {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly arrivalMs: bigint;
}

function toKafkaRecords(records: readonly GatewayRecord[], baseTimestamp: bigint): KafkaRecord[] {
  return records.map((r, i) => ({
    offsetDelta: i,
    timestampDelta: Number(r.timestamp - baseTimestamp),
    key: r.key,
    value: r.value,
    headers: r.headers,
  }));
}

type Identity = ProducerBatchIdentity | null;

/** One run of records as a RecordBatch: the one encoding of records decoded from Kinesis. */
function encodeRun(
  records: readonly GatewayRecord[],
  identity: Identity,
  logAppendTime: boolean,
  baseOffset: bigint,
  leaderEpoch: number,
): { bytes: Buffer; maxTimestamp: bigint } {
  const baseTimestamp = records.reduce((min, r) => (r.timestamp < min ? r.timestamp : min), (records[0] as GatewayRecord).timestamp);
  const maxTimestamp = records.reduce((max, r) => (r.timestamp > max ? r.timestamp : max), baseTimestamp);
  const bytes = encodeBatchSync({
    records: toKafkaRecords(records, baseTimestamp),
    baseOffset,
    baseTimestamp,
    maxTimestamp,
    partitionLeaderEpoch: leaderEpoch,
    timestampType: logAppendTime ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
    producerId: identity?.producerId ?? NO_PRODUCER_ID,
    producerEpoch: identity?.producerEpoch ?? NO_PRODUCER_EPOCH,
    baseSequence: identity?.baseSequence ?? NO_SEQUENCE,
  });
  return { bytes, maxTimestamp };
}

/**
 * The stored batch of a kpl aggregate this leader wrote, encoded from the records it wrote
 * before Kinesis placed them: byte for byte what decoding the aggregate gives (buildStoredBatches),
 * without decoding it. Offsets and leader epoch are set when the tailer reads it (ownStoredBatch).
 */
export interface OwnBatch {
  readonly bytes: Buffer;
  readonly recordCount: number;
  readonly maxTimestamp: bigint;
}

/** `identity` only for a batch's first aggregate, as its decoding keeps it. */
export function encodeOwnBatch(records: readonly GatewayRecord[], identity: ProducerBatchIdentity | null): OwnBatch {
  const { bytes, maxTimestamp } = encodeRun(records, identity, false, 0n, 0);
  return { bytes, recordCount: records.length, maxTimestamp };
}

/** The stored batch of an own aggregate read back at `meta`, its first record at `offset`. */
export function ownStoredBatch(own: OwnBatch, meta: KinesisRecordMeta, offset: bigint, leaderEpoch: number): StoredBatch {
  setBaseOffset(own.bytes, offset);
  setPartitionLeaderEpoch(own.bytes, leaderEpoch);
  return {
    baseOffset: offset,
    lastOffset: offset + BigInt(own.recordCount - 1),
    maxTimestamp: own.maxTimestamp,
    bytes: own.bytes,
    position: { shardId: meta.shardId, sequenceNumber: meta.sequenceNumber, subIndex: 0 },
    arrivalMs: meta.arrivalMs,
  };
}

/**
 * Turns one Kinesis record's entries for a partition (already filtered to it, in sub-record
 * order) into stored batches starting at `nextOffset`. Entries from `skip` on are kept: a
 * reader that starts at an index anchor skips the sub-records before the anchored one.
 */
export function buildStoredBatches(
  entries: readonly DecodedEntry[],
  meta: KinesisRecordMeta,
  nextOffset: bigint,
  leaderEpoch: number,
  skip = 0,
): StoredBatch[] {
  const batches: StoredBatch[] = [];
  let offset = nextOffset;
  let pending: GatewayRecord[] = [];
  let pendingStart = skip;
  let identity: Identity = null;
  let logAppendTime = false;

  const flush = (endIndex: number): void => {
    if (pending.length === 0) return;
    const { bytes, maxTimestamp } = encodeRun(pending, identity, logAppendTime, offset, leaderEpoch);
    const lastOffset = offset + BigInt(pending.length - 1);
    batches.push({
      baseOffset: offset,
      lastOffset,
      maxTimestamp,
      bytes,
      position: { shardId: meta.shardId, sequenceNumber: meta.sequenceNumber, subIndex: pendingStart },
      arrivalMs: meta.arrivalMs,
    });
    offset = lastOffset + 1n;
    pending = [];
    pendingStart = endIndex;
    identity = null;
  };

  for (let index = skip; index < entries.length; index++) {
    const entry = entries[index] as DecodedEntry;
    if (entry.kind === 'kafka-batch') {
      flush(index);
      const bytes = Buffer.from(entry.batch);
      const header = readBatchHeader(bytes);
      setBaseOffset(bytes, offset);
      setPartitionLeaderEpoch(bytes, leaderEpoch);
      const lastOffset = offset + BigInt(header.lastOffsetDelta);
      batches.push({
        baseOffset: offset,
        lastOffset,
        maxTimestamp: header.maxTimestamp,
        bytes,
        position: { shardId: meta.shardId, sequenceNumber: meta.sequenceNumber, subIndex: index },
        arrivalMs: meta.arrivalMs,
      });
      offset = lastOffset + 1n;
      pendingStart = index + 1;
      continue;
    }
    if (entry.aggregate !== undefined) {
      // A new producer batch starts here: keep batch identities apart.
      flush(index);
      const id = entry.aggregate.identity;
      if (id !== null && entry.aggregate.aggregateIndex === 0) {
        identity = { producerId: id.producerId, producerEpoch: id.producerEpoch, baseSequence: id.baseSequence };
      }
    }
    if (entry.origin === 'plain' || entry.origin === 'foreign-kpl') {
      // Records written straight to Kinesis: their time is the arrival time (LogAppendTime).
      logAppendTime = true;
      pending.push({ ...entry.record, timestamp: meta.arrivalMs });
    } else {
      pending.push(entry.record);
    }
  }
  flush(entries.length);
  return batches;
}

/** The identity an idempotent producer gives its batch (DESIGN.md section 6). */
export interface ProducerBatchIdentity {
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
}

/** Whether the stored batch is the one a producer wrote with this identity. */
export function isProducerBatch(batch: StoredBatch, identity: ProducerBatchIdentity): boolean {
  const header = readBatchHeader(batch.bytes);
  return header.producerId === identity.producerId && header.producerEpoch === identity.producerEpoch && header.baseSequence === identity.baseSequence;
}
