/**
 * Mapping between Kafka records and Kinesis records for the three topic formats of
 * `kinesis.record.format` (DESIGN.md section 2). Pure functions, no I/O.
 *
 * ## kpl (default)
 *
 * One Kinesis record per slice of a produced batch, in the KPL aggregated format (./kpl.ts),
 * split into as many aggregates as MaxRecordSize requires. The outer Kinesis record and every
 * sub-record carry ExplicitHashKey = explicitHashKeyFor(p, P), so KCL (which drops an aggregate
 * one of whose sub-records has an EHK outside the shard) keeps them all. The outer partition key
 * is the partition number as decimal text.
 *
 * A sub-record's partition key is the Kafka key when the key is valid UTF-8 that survives a
 * decode/encode round trip unchanged and is 1..256 UTF-16 code units long (Kinesis's limit).
 * Otherwise the partition key is the partition number as decimal text (a placeholder) and the
 * true key travels in the `kkg.k` tag.
 *
 * STORAGE FORMAT: tag names (UTF-8 strings; binary values are base64, standard alphabet, padded).
 * Gateway tags start with `kkg.`; header tags start with `h.`, so the two can never collide.
 *
 *   on the first sub-record of every aggregate:
 *     kkg.p    partition number, decimal. Its presence marks the aggregate as gateway-written.
 *     kkg.agg  "<i>/<n>": this aggregate is the i-th (0-based) of n aggregates the batch was
 *              split into.
 *     kkg.id   "<producerId>,<producerEpoch>,<baseSequence>,<attributes>", decimal: the Kafka
 *              batch identity. Omitted when the batch had no identity (identity == null).
 *   on every sub-record:
 *     kkg.ts   record timestamp, ms since the epoch, decimal (may be negative, e.g. -1).
 *     kkg.k    only when the partition key is a placeholder: without a value the Kafka key is
 *              null; with a value, the key is base64-decode(value) (empty value: empty key).
 *     kkg.nv   (no value) the Kafka value is null; the sub-record's data is then empty.
 *     h.<key>  one tag per Kafka header, in header order (duplicates kept): tag key "h." + header
 *              key, value = base64 of the header value, no value for a null header value.
 *   Tags with other names are ignored by the reader (room for later versions).
 *
 * ## kafka
 *
 * One Kinesis record = one Kafka RecordBatch, bytes verbatim (compression kept). Partition key
 * `kkg.kafka:<p>` tells the reader the partition; ExplicitHashKey = the slice key. The reader
 * recognises the record by that partition key AND the RecordBatch framing (batchLength field =
 * data length - 12, magic byte 2); anything else with such a key is read as a plain record.
 *
 * ## raw
 *
 * One Kinesis record per Kafka record: data = value (a null value is written as empty data and
 * reads back as an empty, non-null value), partition key = the key as UTF-8 text (null or empty
 * key: the partition number as decimal text; see rawPartitionKey for keys that are not lossless
 * 1..256-char strings), ExplicitHashKey = the slice key. Headers, timestamps and batch identity
 * are not stored. Raw records read back exactly like foreign records.
 *
 * ## Foreign records (written to the stream by something other than the gateway)
 *
 * Plain records: key = partition-key bytes (UTF-8), value = data, timestamp = arrival time,
 * no headers, partition = the slice holding MD5(partition key). A foreign writer may have used an
 * ExplicitHashKey, but GetRecords does not return it, so MD5(partition key) is all a reader can
 * compute. When the caller passes the shard's hash-key range and MD5(partition key) falls outside
 * it, the record must have been written with an ExplicitHashKey: it is then given to the slice
 * overlapping the shard that has its gateway write point in the shard (the right answer for raw
 * format records), or failing that to the lowest slice overlapping the shard (a guess).
 *
 * KPL aggregates by other producers (no `kkg.p` tag) are de-aggregated; each sub-record's
 * partition is the slice of its explicit hash key (or of MD5 of its partition key when it has
 * none); tags are ignored; key = sub-record partition key, timestamp = arrival time. Unlike KCL,
 * sub-records whose hash key lies outside the shard are NOT dropped.
 */
import { isAscii } from 'node:buffer';
import { bufferView } from '../protocol/primitives.js';
import { decodeAggregate, AggregateBuilder, KplDecodeError, type KplRecord, type KplTag } from './kpl.js';
import {
  explicitHashKeyFor,
  hashKeyOfPartitionKey,
  parseHashKey,
  partitionOfHashKey,
  partitionsWrittenToShard,
  shardHoldsPoint,
  slicesOverlappingShard,
  type HashKeyRange,
} from './hash-slices.js';

export type RecordFormat = 'kpl' | 'kafka' | 'raw';
export const RECORD_FORMATS: readonly RecordFormat[] = ['kpl', 'kafka', 'raw'];

/** A Kafka record as the gateway stores it (timestamp absolute, not a delta). */
export interface GatewayRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: string; value: Buffer | null }[];
  /** ms since the epoch */
  timestamp: bigint;
}

/** The identity of a produced Kafka batch (for rebuilding batches and idempotence). */
export interface BatchIdentity {
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  attributes: number;
}

/** A kpl aggregate for PutRecords, with the Kafka records it holds. */
export interface KplPutEntry extends KinesisPutEntry {
  readonly records: readonly GatewayRecord[];
  /** Which of its batch's aggregates this is: only the first carries the batch identity. */
  readonly aggregateIndex: number;
}

/** One entry for PutRecords. */
export interface KinesisPutEntry {
  partitionKey: string;
  explicitHashKey: string;
  data: Buffer;
}

/** A Kinesis record as GetRecords returns it. */
export interface KinesisRecordInput {
  data: Uint8Array;
  partitionKey: string;
  /** GetRecords never returns it; give it when known (e.g. the writer's own entry). */
  explicitHashKey?: string;
  approximateArrivalTimestamp: Date;
  sequenceNumber: string;
}

/** A record larger than MaxRecordSize (maps to MESSAGE_TOO_LARGE). */
export class RecordTooLargeError extends Error {
  override name = 'RecordTooLargeError';
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`record of ${size} bytes exceeds the Kinesis record size limit of ${limit} bytes`);
  }
}

export const TAG_PARTITION = 'kkg.p';
export const TAG_AGGREGATE = 'kkg.agg';
export const TAG_IDENTITY = 'kkg.id';
export const TAG_TIMESTAMP = 'kkg.ts';
export const TAG_KEY = 'kkg.k';
export const TAG_NULL_VALUE = 'kkg.nv';
export const HEADER_TAG_PREFIX = 'h.';
export const KAFKA_FORMAT_KEY_PREFIX = 'kkg.kafka:';

const MAX_PARTITION_KEY_UNITS = 256;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The key as a Kinesis partition key, when that is lossless; null otherwise. */
export function losslessPartitionKey(key: Buffer | null): string | null {
  if (key === null || key.length === 0 || key.length > MAX_PARTITION_KEY_UNITS * 3) return null;
  // Most keys are ASCII: one byte per character, nothing to validate.
  if (isAscii(key)) return key.length <= MAX_PARTITION_KEY_UNITS ? key.toString('latin1') : null;
  let text: string;
  try {
    text = strictUtf8.decode(key);
  } catch {
    return null;
  }
  if (text.length > MAX_PARTITION_KEY_UNITS) return null;
  // A fatal decoder rejects every invalid sequence, so valid input re-encodes to the same bytes;
  // compare anyway, it is cheap and states the requirement.
  return Buffer.from(text, 'utf8').equals(key) ? text : null;
}

function placeholderKey(partition: number): string {
  return String(partition);
}

/** Byte size Kinesis counts against MaxRecordSize: data plus partition key (conservative). */
function entrySize(partitionKey: string, data: Buffer): number {
  return data.length + Buffer.byteLength(partitionKey, 'utf8');
}

function checkIdentity(identity: BatchIdentity): void {
  const ok =
    identity.producerId >= -(1n << 63n) &&
    identity.producerId < 1n << 63n &&
    Number.isInteger(identity.producerEpoch) &&
    Number.isInteger(identity.baseSequence) &&
    Number.isInteger(identity.attributes);
  if (!ok) throw new RangeError('invalid batch identity');
}

function subRecordFor(partition: number, explicitHashKey: string, record: GatewayRecord, header: KplTag[]): KplRecord {
  const tags: KplTag[] = [...header, { key: TAG_TIMESTAMP, value: record.timestamp.toString(10) }];
  let partitionKey = losslessPartitionKey(record.key);
  if (partitionKey === null) {
    partitionKey = placeholderKey(partition);
    tags.push(record.key === null ? { key: TAG_KEY } : { key: TAG_KEY, value: record.key.toString('base64') });
  }
  if (record.value === null) tags.push({ key: TAG_NULL_VALUE });
  for (const h of record.headers) {
    const tagKey = HEADER_TAG_PREFIX + h.key;
    tags.push(h.value === null ? { key: tagKey } : { key: tagKey, value: h.value.toString('base64') });
  }
  return { partitionKey, explicitHashKey, data: record.value ?? Buffer.alloc(0), tags };
}

function aggregateHeader(partition: number, aggregate: string, identity: BatchIdentity | null): KplTag[] {
  const tags: KplTag[] = [
    { key: TAG_PARTITION, value: String(partition) },
    { key: TAG_AGGREGATE, value: aggregate },
  ];
  if (identity !== null) {
    tags.push({
      key: TAG_IDENTITY,
      value: `${identity.producerId},${identity.producerEpoch},${identity.baseSequence},${identity.attributes}`,
    });
  }
  return tags;
}

interface SplitGroup {
  /** Index of the group's first record in the batch. */
  readonly start: number;
  /** Its records, the first (whose tags carry the placeholder count) included. */
  readonly builder: AggregateBuilder;
  count: number;
}

/** Greedy split of a batch into aggregates of at most maxRecordSize (with the outer key). */
function splitForKpl(
  partition: number,
  explicitHashKey: string,
  records: readonly GatewayRecord[],
  identity: BatchIdentity | null,
  maxRecordSize: number,
  countPlaceholder: string,
): SplitGroup[] {
  const outerKeyBytes = Buffer.byteLength(placeholderKey(partition), 'utf8');
  const maxAggregate = maxRecordSize - outerKeyBytes;
  const groups: SplitGroup[] = [];
  let current: SplitGroup | null = null;
  records.forEach((record, index) => {
    if (current !== null && current.builder.tryAdd(subRecordFor(partition, explicitHashKey, record, []), maxAggregate)) {
      current.count++;
      return;
    }
    const header = aggregateHeader(partition, `${groups.length}/${countPlaceholder}`, identity);
    const first = subRecordFor(partition, explicitHashKey, record, header);
    const builder = new AggregateBuilder();
    if (!builder.tryAdd(first, maxAggregate)) {
      const alone = new AggregateBuilder();
      alone.add(first);
      throw new RecordTooLargeError(alone.size + outerKeyBytes, maxRecordSize);
    }
    current = { start: index, builder, count: 1 };
    groups.push(current);
  });
  return groups;
}

/**
 * kpl format: the Kinesis records for one produced batch of partition p of P, in order. Each
 * aggregate is filled up to maxRecordSize (aggregate bytes + outer partition key bytes).
 * Throws RecordTooLargeError when a single record does not fit alone.
 */
export function toKplRecords(
  partition: number,
  partitionCount: number,
  records: readonly GatewayRecord[],
  identity: BatchIdentity | null,
  maxRecordSize: number,
): KplPutEntry[] {
  const explicitHashKey = explicitHashKeyFor(partition, partitionCount);
  if (identity !== null) checkIdentity(identity);
  if (records.length === 0) return [];
  const outerKey = placeholderKey(partition);
  // The first sub-record's "i/n" tag depends on the aggregate count n, known only once the split
  // is done: split sizing n as `width` nines, and split again wider while n has more digits.
  // A wider placeholder never gives fewer aggregates, so the loop stops at width = digits(n):
  // the real tag is exactly as long as the sized one (aggregates filled to the byte). It stops
  // at the latest when width = digits(records.length).
  let groups: SplitGroup[] = [];
  for (let width = 1; ; width++) {
    groups = splitForKpl(partition, explicitHashKey, records, identity, maxRecordSize, '9'.repeat(width));
    if (String(groups.length).length <= width) break;
  }

  return groups.map((group, i) => {
    const header = aggregateHeader(partition, `${i}/${groups.length}`, identity);
    const first = subRecordFor(partition, explicitHashKey, records[group.start] as GatewayRecord, header);
    // The split's builder already holds every record; only the first one's tag changes.
    if (!group.builder.replaceFirst(first)) throw new Error('KPL split: the real aggregate tag differs in size from the sized one');
    const data = group.builder.build();
    if (entrySize(outerKey, data) > maxRecordSize) {
      throw new Error(`KPL aggregate of ${data.length} bytes overflows ${maxRecordSize}`);
    }
    return { partitionKey: outerKey, explicitHashKey, data, records: records.slice(group.start, group.start + group.count), aggregateIndex: i };
  });
}

/** kafka format: one Kinesis record holding the RecordBatch bytes verbatim. */
export function toKafkaFormatRecord(
  partition: number,
  partitionCount: number,
  batchBytes: Buffer,
  maxRecordSize = Infinity,
): KinesisPutEntry {
  const explicitHashKey = explicitHashKeyFor(partition, partitionCount);
  const partitionKey = KAFKA_FORMAT_KEY_PREFIX + String(partition);
  const size = entrySize(partitionKey, batchBytes);
  if (size > maxRecordSize) throw new RecordTooLargeError(size, maxRecordSize);
  return { partitionKey, explicitHashKey, data: batchBytes };
}

/**
 * raw format partition key for a Kafka key: the key itself when lossless (1..256 chars of valid
 * UTF-8); the partition number for a null or empty key; for a longer valid UTF-8 key its first
 * 256 UTF-16 code units (never splitting a surrogate pair); for a key that is not valid UTF-8 the
 * first 256 characters of its base64. Lossy in the last three cases; equal keys always give equal
 * partition keys.
 */
export function rawPartitionKey(partition: number, key: Buffer | null): string {
  const lossless = losslessPartitionKey(key);
  if (lossless !== null) return lossless;
  if (key === null || key.length === 0) return placeholderKey(partition);
  let text: string;
  try {
    text = strictUtf8.decode(key);
  } catch {
    return key.toString('base64').slice(0, MAX_PARTITION_KEY_UNITS);
  }
  let cut = MAX_PARTITION_KEY_UNITS;
  const last = text.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut--;
  return text.slice(0, cut);
}

/** raw format: one Kinesis record per Kafka record. Throws RecordTooLargeError. */
export function toRawRecords(
  partition: number,
  partitionCount: number,
  records: readonly GatewayRecord[],
  maxRecordSize: number,
): KinesisPutEntry[] {
  const explicitHashKey = explicitHashKeyFor(partition, partitionCount);
  return records.map((record) => {
    const partitionKey = rawPartitionKey(partition, record.key);
    const data = record.value ?? Buffer.alloc(0);
    const size = entrySize(partitionKey, data);
    if (size > maxRecordSize) throw new RecordTooLargeError(size, maxRecordSize);
    return { partitionKey, explicitHashKey, data };
  });
}

// ---------------------------------------------------------------------------------------------
// Reading

/** Where a decoded record came from. `plain` covers raw-format and foreign plain records alike. */
export type RecordOrigin = 'gateway-kpl' | 'foreign-kpl' | 'plain';

/** On the first sub-record of a gateway-written aggregate. */
export interface AggregateInfo {
  /** 0-based index of this aggregate among those its batch was split into. */
  aggregateIndex: number;
  aggregateCount: number;
  /** Number of sub-records in this aggregate. */
  recordCount: number;
  identity: BatchIdentity | null;
}

export interface DecodedRecord {
  kind: 'record';
  origin: RecordOrigin;
  partition: number;
  /** Index of the sub-record within the Kinesis record (KCL's sub-sequence number); 0 if plain. */
  subIndex: number;
  record: GatewayRecord;
  /** Present on subIndex 0 of gateway-written aggregates. */
  aggregate?: AggregateInfo;
}

/** A kafka-format record: the RecordBatch bytes for the caller to decode. */
export interface DecodedKafkaBatch {
  kind: 'kafka-batch';
  partition: number;
  subIndex: 0;
  batch: Buffer;
}

export type DecodedEntry = DecodedRecord | DecodedKafkaBatch;

export interface FromKinesisOptions {
  /** The hash-key range of the shard the record was read from (improves plain-record routing). */
  shardRange?: HashKeyRange;
}

const PARTITION_RE = /^(0|[1-9][0-9]{0,9})$/;
const MAX_PARTITION = 0x7fffffff;

function parsePartition(text: string | undefined): number | null {
  if (text === undefined || !PARTITION_RE.test(text)) return null;
  const p = Number(text);
  return p <= MAX_PARTITION ? p : null;
}

function parseIntIn(text: string | undefined, min: bigint, max: bigint): bigint | null {
  if (text === undefined || !/^-?[0-9]{1,20}$/.test(text)) return null;
  const n = BigInt(text);
  return n >= min && n <= max ? n : null;
}

function parseAggregateTag(text: string | undefined): { index: number; count: number } | null {
  const m = text === undefined ? null : /^([0-9]{1,9})\/([0-9]{1,9})$/.exec(text);
  if (m === null) return null;
  const index = Number(m[1]);
  const count = Number(m[2]);
  return index < count ? { index, count } : null;
}

function parseIdentityTag(text: string | undefined): BatchIdentity | null {
  if (text === undefined) return null;
  const parts = text.split(',');
  if (parts.length !== 4) return null;
  const producerId = parseIntIn(parts[0], -(1n << 63n), (1n << 63n) - 1n);
  const producerEpoch = parseIntIn(parts[1], -32768n, 32767n);
  const baseSequence = parseIntIn(parts[2], -(1n << 31n), (1n << 31n) - 1n);
  const attributes = parseIntIn(parts[3], -32768n, 32767n);
  if (producerId === null || producerEpoch === null || baseSequence === null || attributes === null) return null;
  return {
    producerId,
    producerEpoch: Number(producerEpoch),
    baseSequence: Number(baseSequence),
    attributes: Number(attributes),
  };
}

function tagValue(tags: readonly KplTag[], key: string): string | undefined {
  return tags.find((t) => t.key === key)?.value;
}

/** Routes a plain record whose writer's ExplicitHashKey is unknown (see the module comment). */
function plainPartition(
  partitionKey: string,
  explicitHashKey: string | undefined,
  partitionCount: number,
  shardRange: HashKeyRange | undefined,
): number {
  if (explicitHashKey !== undefined) return partitionOfHashKey(parseHashKey(explicitHashKey), partitionCount);
  const point = hashKeyOfPartitionKey(partitionKey);
  if (shardRange === undefined || shardHoldsPoint(shardRange, point)) return partitionOfHashKey(point, partitionCount);
  const written = partitionsWrittenToShard(shardRange, partitionCount);
  if (written.length > 0) return written[0] as number;
  return slicesOverlappingShard(shardRange, partitionCount)[0] as number;
}

/** A sub-record's hash key as KCL computes it: its EHK, else MD5 of its partition key (also for a bad EHK). */
function effectiveHashKey(partitionKey: string, explicitHashKey: string | undefined): bigint {
  if (explicitHashKey !== undefined) {
    try {
      return parseHashKey(explicitHashKey);
    } catch {
      // not a decimal key in range: fall back to the partition key
    }
  }
  return hashKeyOfPartitionKey(partitionKey);
}

function isRecordBatch(data: Buffer): boolean {
  // baseOffset(8) batchLength(4) partitionLeaderEpoch(4) magic(1) ... 61-byte header
  return data.length >= 61 && data.readInt32BE(8) === data.length - 12 && data[16] === 2;
}

function gatewayRecordFromTags(partitionKey: string, data: Buffer, tags: readonly KplTag[], arrival: bigint): GatewayRecord {
  let key: Buffer | null = Buffer.from(partitionKey, 'utf8');
  let value: Buffer | null = data;
  let timestamp = arrival;
  const headers: GatewayRecord['headers'] = [];
  for (const tag of tags) {
    if (tag.key.startsWith(HEADER_TAG_PREFIX)) {
      headers.push({
        key: tag.key.slice(HEADER_TAG_PREFIX.length),
        value: tag.value === undefined ? null : Buffer.from(tag.value, 'base64'),
      });
    } else if (tag.key === TAG_TIMESTAMP) {
      const ts = parseIntIn(tag.value, -(1n << 63n), (1n << 63n) - 1n);
      if (ts !== null) timestamp = ts;
    } else if (tag.key === TAG_KEY) {
      key = tag.value === undefined ? null : Buffer.from(tag.value, 'base64');
    } else if (tag.key === TAG_NULL_VALUE) {
      value = null;
    }
  }
  return { key, value, headers, timestamp };
}

/**
 * The Kafka-level view of one Kinesis record: gateway kpl aggregates de-aggregated, kafka-format
 * batches handed back undecoded, everything else read as plain or foreign records (see the
 * module comment for the rules). partitionCount is P of the partition map in force when the
 * record arrived; gateway-written records carry their own partition and ignore it (their
 * partition may therefore be >= partitionCount if the caller's map is stale).
 */
export function fromKinesisRecord(
  kinesisRecord: KinesisRecordInput,
  partitionCount: number,
  options: FromKinesisOptions = {},
): DecodedEntry[] {
  const data = bufferView(kinesisRecord.data);
  const arrival = BigInt(kinesisRecord.approximateArrivalTimestamp.getTime());

  if (kinesisRecord.partitionKey.startsWith(KAFKA_FORMAT_KEY_PREFIX)) {
    const partition = parsePartition(kinesisRecord.partitionKey.slice(KAFKA_FORMAT_KEY_PREFIX.length));
    if (partition !== null && isRecordBatch(data)) return [{ kind: 'kafka-batch', partition, subIndex: 0, batch: data }];
  }

  let subRecords: ReturnType<typeof decodeAggregate> = null;
  try {
    subRecords = decodeAggregate(data);
  } catch (err) {
    // A key index outside the key table: not a usable aggregate; read it as one plain record.
    if (!(err instanceof KplDecodeError)) throw err;
  }

  if (subRecords !== null) {
    const firstTags = subRecords[0]?.tags ?? [];
    const partition = parsePartition(tagValue(firstTags, TAG_PARTITION));
    if (partition !== null) {
      const aggregateTag = parseAggregateTag(tagValue(firstTags, TAG_AGGREGATE));
      const identity = parseIdentityTag(tagValue(firstTags, TAG_IDENTITY));
      return subRecords.map((sub, subIndex) => {
        const entry: DecodedRecord = {
          kind: 'record',
          origin: 'gateway-kpl',
          partition,
          subIndex,
          record: gatewayRecordFromTags(sub.partitionKey, sub.data, sub.tags, arrival),
        };
        if (subIndex === 0) {
          entry.aggregate = {
            aggregateIndex: aggregateTag?.index ?? 0,
            aggregateCount: aggregateTag?.count ?? 1,
            recordCount: subRecords.length,
            identity,
          };
        }
        return entry;
      });
    }
    return subRecords.map((sub, subIndex) => ({
      kind: 'record',
      origin: 'foreign-kpl',
      partition: partitionOfHashKey(effectiveHashKey(sub.partitionKey, sub.explicitHashKey), partitionCount),
      subIndex,
      record: { key: Buffer.from(sub.partitionKey, 'utf8'), value: sub.data, headers: [], timestamp: arrival },
    }));
  }

  return [
    {
      kind: 'record',
      origin: 'plain',
      partition: plainPartition(kinesisRecord.partitionKey, kinesisRecord.explicitHashKey, partitionCount, options.shardRange),
      subIndex: 0,
      record: { key: Buffer.from(kinesisRecord.partitionKey, 'utf8'), value: data, headers: [], timestamp: arrival },
    },
  ];
}
