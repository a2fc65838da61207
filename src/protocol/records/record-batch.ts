/**
 * Kafka RecordBatch (magic 2) bytes: split, inspect, decode, encode, patch.
 *
 * Layout (big-endian; offsets from the start of the batch):
 *
 *   0  baseOffset            int64
 *   8  batchLength           int32   bytes after this field
 *  12  partitionLeaderEpoch  int32   \ not covered by the CRC
 *  16  magic                 int8    /
 *  17  crc                   uint32  CRC-32C of bytes 21..end
 *  21  attributes            int16   bits 0-2 compression, 3 timestampType, 4 isTransactional,
 *                                    5 isControl, 6 hasDeleteHorizonMs
 *  23  lastOffsetDelta       int32
 *  27  baseTimestamp         int64
 *  35  maxTimestamp          int64
 *  43  producerId            int64
 *  51  producerEpoch         int16
 *  53  baseSequence          int32
 *  57  recordCount           int32
 *  61  records               (compressed as a whole when compression != 0)
 *
 * Record: length varint (of what follows), attributes int8 (unused, written 0), timestampDelta
 * varlong, offsetDelta varint, key (varint length, -1 = null), value (likewise), header count
 * varint, headers (key: varint length + UTF-8, value: varint length, -1 = null).
 *
 * Decoded keys, values and header values are zero-copy views of the input (uncompressed batches)
 * or of the decompressed buffer: copy them if the input buffer is reused.
 *
 * `timestampDelta` is a JS number: exact for any |delta| up to 2^53-1 ms (285,000 years). A batch
 * whose delta does not fit is rejected as corrupt rather than rounded silently; Kafka clients
 * compute the delta from two real timestamps, so no client writes one.
 */
import { crc32c } from '@node-rs/crc32';
import {
  CompressionType,
  compress,
  compressSync,
  compressionTypeFromId,
  decompress,
  decompressSync,
  type DecompressOptions,
} from './compression.js';
import { CorruptRecordError, UnsupportedMessageFormatError } from './errors.js';

export { CorruptRecordError, UnsupportedMessageFormatError, UnsupportedCompressionTypeError, RecordError, RecordErrorCode } from './errors.js';
export { CompressionType } from './compression.js';

/** Bytes before batchLength's coverage begins (baseOffset + batchLength). */
export const LOG_OVERHEAD = 12;
/** Size of the fixed batch header, up to and including recordCount. */
export const BATCH_HEADER_SIZE = 61;
/** Smallest valid batchLength (a batch with no records). */
export const MIN_BATCH_LENGTH = BATCH_HEADER_SIZE - LOG_OVERHEAD;
export const MAGIC_OFFSET = 16;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
export const RECORDS_OFFSET = BATCH_HEADER_SIZE;
export const CURRENT_MAGIC = 2;

export const NO_PRODUCER_ID = -1n;
export const NO_PRODUCER_EPOCH = -1;
export const NO_SEQUENCE = -1;
export const NO_PARTITION_LEADER_EPOCH = -1;
export const NO_TIMESTAMP = -1n;

const COMPRESSION_MASK = 0x07;
const TIMESTAMP_TYPE_MASK = 0x08;
const TRANSACTIONAL_MASK = 0x10;
const CONTROL_MASK = 0x20;
const DELETE_HORIZON_MASK = 0x40;

/** The smallest encoded record: length, attributes, timestampDelta, offsetDelta, key, value, header count. */
const MIN_RECORD_SIZE = 7;

export const TimestampType = {
  CREATE_TIME: 0,
  LOG_APPEND_TIME: 1,
} as const;
export type TimestampType = (typeof TimestampType)[keyof typeof TimestampType];

/** Control record types (the key's second int16). Types other than these decode as their number. */
export const ControlRecordType = {
  ABORT: 0,
  COMMIT: 1,
  LEADER_CHANGE: 2,
  SNAPSHOT_HEADER: 3,
  SNAPSHOT_FOOTER: 4,
} as const;
export type ControlRecordType = (typeof ControlRecordType)[keyof typeof ControlRecordType];

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface KafkaRecord {
  offsetDelta: number;
  /** Milliseconds relative to the batch's baseTimestamp; see the module comment on the range. */
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
}

export interface RecordBatchHeader {
  baseOffset: bigint;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  /** The CRC-32C stored in the batch (unsigned). */
  crc: number;
  /** The raw attributes int16; the fields below are decoded from it. */
  attributes: number;
  compression: CompressionType;
  timestampType: TimestampType;
  isTransactional: boolean;
  isControl: boolean;
  hasDeleteHorizonMs: boolean;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

/** The key (and, for ABORT/COMMIT, the EndTxnMarker value) of a control record. */
export interface ControlRecord {
  version: number;
  /** A ControlRecordType value, or another number for types this code does not name. */
  type: number;
  /** ABORT/COMMIT markers: the transaction coordinator's epoch; null for other types or a short value. */
  coordinatorEpoch: number | null;
}

export interface DecodedBatch {
  header: RecordBatchHeader;
  records: KafkaRecord[];
  /** For control batches (header.isControl), the parsed key of each record, in order; otherwise null. */
  control: ControlRecord[] | null;
}

export interface DecodeOptions extends DecompressOptions {
  /** Check the CRC-32C (default true). */
  verifyCrc?: boolean;
}

/** The records' view of a split: complete batches and the bytes after the last complete one. */
export interface SplitBatches {
  /** Complete batches, each a zero-copy view of the input. Their CRCs are not checked. */
  batches: Buffer[];
  /**
   * The bytes after the last complete batch: empty when the input ends on a batch boundary. A Fetch
   * response may legitimately end in a partial batch; in a Produce request it is corrupt.
   */
  trailing: Buffer;
}

export interface EncodeBatchInput {
  records: readonly KafkaRecord[];
  /** Default 0n; rewrite later with setBaseOffset. */
  baseOffset?: bigint;
  /** Default -1 (what producers send); rewrite later with setPartitionLeaderEpoch. */
  partitionLeaderEpoch?: number;
  compression?: CompressionType;
  /** Codec level (gzip, zstd); see CompressOptions. */
  compressionLevel?: number;
  timestampType?: TimestampType;
  isTransactional?: boolean;
  isControl?: boolean;
  hasDeleteHorizonMs?: boolean;
  baseTimestamp: bigint;
  /** Default baseTimestamp + the largest timestampDelta (baseTimestamp if there are no records). */
  maxTimestamp?: bigint;
  /** Default the largest offsetDelta (0 if there are no records). */
  lastOffsetDelta?: number;
  /** Default -1n (not idempotent). */
  producerId?: bigint;
  /** Default -1. */
  producerEpoch?: number;
  /** Default -1. */
  baseSequence?: number;
}

function corrupt(message: string): CorruptRecordError {
  return new CorruptRecordError(message);
}

// ---------------------------------------------------------------------------------------------
// splitting and headers

/** Throws the typed error for a magic byte other than 2. */
function checkMagic(magic: number): void {
  if (magic === CURRENT_MAGIC) return;
  if (magic === 0 || magic === 1) throw new UnsupportedMessageFormatError(magic);
  throw corrupt(`invalid magic byte ${magic}`);
}

/**
 * Splits the concatenated batches of a Produce/Fetch `records` field into zero-copy views.
 * A batch that the input does not hold completely ends the split and is returned as `trailing`.
 * Throws UnsupportedMessageFormatError on magic 0/1 and CorruptRecordError on another bad magic or
 * an impossible batchLength.
 */
export function splitBatches(buf: Buffer): SplitBatches {
  const batches: Buffer[] = [];
  let at = 0;
  while (at < buf.length) {
    const remaining = buf.length - at;
    if (remaining < LOG_OVERHEAD) break;
    const batchLength = buf.readInt32BE(at + 8);
    if (remaining > MAGIC_OFFSET) checkMagic(buf.readInt8(at + MAGIC_OFFSET));
    if (batchLength < MIN_BATCH_LENGTH) {
      throw corrupt(`batch at byte ${at} has length ${batchLength}, below the minimum ${MIN_BATCH_LENGTH}`);
    }
    if (remaining - LOG_OVERHEAD < batchLength) break;
    const end = at + LOG_OVERHEAD + batchLength;
    batches.push(buf.subarray(at, end));
    at = end;
  }
  return { batches, trailing: buf.subarray(at) };
}

/** Total size of the batch at the start of `buf` (LOG_OVERHEAD + batchLength), or -1 if fewer than 12 bytes. */
export function batchSize(buf: Buffer): number {
  return buf.length < LOG_OVERHEAD ? -1 : LOG_OVERHEAD + buf.readInt32BE(8);
}

/**
 * Reads the fixed header of the batch at the start of `buf` without touching the records.
 * `buf` must hold the whole batch (it may continue past it). Throws UnsupportedMessageFormatError
 * (magic 0/1), UnsupportedCompressionTypeError (codec id 5..7) or CorruptRecordError.
 */
export function readBatchHeader(buf: Buffer): RecordBatchHeader {
  if (buf.length <= MAGIC_OFFSET) throw corrupt(`truncated batch: ${buf.length} bytes`);
  checkMagic(buf.readInt8(MAGIC_OFFSET));
  if (buf.length < BATCH_HEADER_SIZE) throw corrupt(`truncated batch header: ${buf.length} bytes`);
  const batchLength = buf.readInt32BE(8);
  if (batchLength < MIN_BATCH_LENGTH) throw corrupt(`batch length ${batchLength} is below the minimum ${MIN_BATCH_LENGTH}`);
  if (buf.length - LOG_OVERHEAD < batchLength) {
    throw corrupt(`truncated batch: length ${batchLength} but ${buf.length - LOG_OVERHEAD} bytes present`);
  }
  const attributes = buf.readInt16BE(ATTRIBUTES_OFFSET);
  const recordCount = buf.readInt32BE(57);
  if (recordCount < 0) throw corrupt(`negative record count ${recordCount}`);
  return {
    baseOffset: buf.readBigInt64BE(0),
    batchLength,
    partitionLeaderEpoch: buf.readInt32BE(12),
    magic: CURRENT_MAGIC,
    crc: buf.readUInt32BE(CRC_OFFSET),
    attributes,
    compression: compressionTypeFromId(attributes & COMPRESSION_MASK),
    timestampType: (attributes & TIMESTAMP_TYPE_MASK) !== 0 ? TimestampType.LOG_APPEND_TIME : TimestampType.CREATE_TIME,
    isTransactional: (attributes & TRANSACTIONAL_MASK) !== 0,
    isControl: (attributes & CONTROL_MASK) !== 0,
    hasDeleteHorizonMs: (attributes & DELETE_HORIZON_MASK) !== 0,
    lastOffsetDelta: buf.readInt32BE(23),
    baseTimestamp: buf.readBigInt64BE(27),
    maxTimestamp: buf.readBigInt64BE(35),
    producerId: buf.readBigInt64BE(43),
    producerEpoch: buf.readInt16BE(51),
    baseSequence: buf.readInt32BE(53),
    recordCount,
  };
}

/** CRC-32C of the batch at the start of `buf` (attributes to the end), as the crc field should hold. */
export function computeCrc(buf: Buffer): number {
  const size = batchSize(buf);
  if (size < BATCH_HEADER_SIZE || size > buf.length) throw corrupt('not a complete record batch');
  return crc32c(buf.subarray(ATTRIBUTES_OFFSET, size)) >>> 0;
}

/** True if the batch at the start of `buf` is complete and its stored CRC-32C matches. */
export function verifyCrc(buf: Buffer): boolean {
  const size = batchSize(buf);
  if (size < BATCH_HEADER_SIZE || size > buf.length) return false;
  return buf.readUInt32BE(CRC_OFFSET) === crc32c(buf.subarray(ATTRIBUTES_OFFSET, size)) >>> 0;
}

/** Rewrites baseOffset in place (not covered by the CRC, so the batch stays valid). */
export function setBaseOffset(buf: Buffer, offset: bigint): void {
  if (buf.length < BATCH_HEADER_SIZE) throw new RangeError('not a record batch');
  buf.writeBigInt64BE(offset, 0);
}

/** Rewrites partitionLeaderEpoch in place (not covered by the CRC, so the batch stays valid). */
export function setPartitionLeaderEpoch(buf: Buffer, epoch: number): void {
  if (buf.length < BATCH_HEADER_SIZE) throw new RangeError('not a record batch');
  buf.writeInt32BE(epoch, 12);
}

/** The offset of the batch's last record: baseOffset + lastOffsetDelta. */
export function lastOffset(header: RecordBatchHeader): bigint {
  return header.baseOffset + BigInt(header.lastOffsetDelta);
}

/** A record's absolute timestamp: maxTimestamp for LOG_APPEND_TIME batches, else baseTimestamp + delta. */
export function recordTimestamp(header: RecordBatchHeader, record: KafkaRecord): bigint {
  if (header.timestampType === TimestampType.LOG_APPEND_TIME) return header.maxTimestamp;
  return header.baseTimestamp + BigInt(record.timestampDelta);
}

// ---------------------------------------------------------------------------------------------
// record decoding

const TWO_POW_53 = 2 ** 53;

/** A bounds-checked reader over one region; every failure is a CorruptRecordError. */
class Cursor {
  constructor(
    private readonly buf: Buffer,
    public pos: number,
    public end: number,
  ) {}

  byte(): number {
    if (this.pos >= this.end) throw corrupt('truncated record');
    return this.buf[this.pos++] as number;
  }

  /** Zig-zag varint, at most 5 bytes (Kafka's ByteUtils.readVarint). */
  varint(): number {
    let raw = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      raw |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return (raw >>> 1) ^ -(raw & 1);
    }
    throw corrupt('varint is longer than 5 bytes');
  }

  /** Zig-zag varlong, at most 10 bytes, as a number; CorruptRecordError if not a safe integer. */
  varlongNumber(): number {
    const start = this.pos;
    let raw = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte();
      raw += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) {
        if (raw < TWO_POW_53) return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
        return this.wideVarlong(start);
      }
      scale *= 128;
    }
    throw corrupt('varlong is longer than 10 bytes');
  }

  private wideVarlong(start: number): number {
    let raw = 0n;
    let shift = 0n;
    for (let at = start; at < this.pos; at++) {
      raw |= BigInt((this.buf[at] as number) & 0x7f) << shift;
      shift += 7n;
    }
    raw = BigInt.asUintN(64, raw);
    const value = (raw >> 1n) ^ -(raw & 1n);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw corrupt(`timestamp delta ${value} is beyond the supported range`);
    }
    return Number(value);
  }

  bytes(length: number): Buffer {
    if (length > this.end - this.pos) throw corrupt('field overruns its record');
    const at = this.pos;
    this.pos = at + length;
    // Buffer.from(arrayBuffer, offset, length) makes the same view as subarray() in half the time.
    return Buffer.from(this.buf.buffer, this.buf.byteOffset + at, length);
  }

  /** varint-length bytes; any negative length is null (as Kafka reads them). */
  nullableBytes(): Buffer | null {
    const length = this.varint();
    return length < 0 ? null : this.bytes(length);
  }
}

/** Parses exactly `count` records filling `data`; Kafka's checks on record and batch sizes apply. */
export function decodeRecords(data: Buffer, count: number): KafkaRecord[] {
  if (count < 0 || count > data.length / MIN_RECORD_SIZE) {
    throw corrupt(`${count} records cannot fit in ${data.length} bytes`);
  }
  const records = new Array<KafkaRecord>(count);
  // One cursor: `end` is narrowed to each record so that no field can read past its record.
  const c = new Cursor(data, 0, data.length);
  for (let i = 0; i < count; i++) {
    c.end = data.length;
    const length = c.varint();
    if (length < MIN_RECORD_SIZE - 1 || length > data.length - c.pos) {
      throw corrupt(`record ${i} has an invalid length ${length}`);
    }
    const end = c.pos + length;
    c.end = end;
    c.pos++; // attributes: unused
    const timestampDelta = c.varlongNumber();
    const offsetDelta = c.varint();
    const key = c.nullableBytes();
    const value = c.nullableBytes();
    const headerCount = c.varint();
    let headers: RecordHeader[];
    if (headerCount === 0) {
      headers = [];
    } else {
      if (headerCount < 0) throw corrupt(`record ${i} has a negative header count`);
      if (headerCount > (end - c.pos) / 2) throw corrupt(`record ${i} cannot hold ${headerCount} headers`);
      headers = new Array<RecordHeader>(headerCount);
      for (let h = 0; h < headerCount; h++) {
        const keyLength = c.varint();
        if (keyLength < 0) throw corrupt(`record ${i} has a header with a negative key length`);
        if (keyLength > end - c.pos) throw corrupt('field overruns its record');
        const headerKey = data.toString('utf8', c.pos, c.pos + keyLength);
        c.pos += keyLength;
        headers[h] = { key: headerKey, value: c.nullableBytes() };
      }
    }
    if (c.pos !== end) throw corrupt(`record ${i} is ${length} bytes long but its fields take ${c.pos - (end - length)}`);
    records[i] = { offsetDelta, timestampDelta, key, value, headers };
  }
  c.end = data.length;
  if (c.pos !== data.length) {
    throw corrupt(`${data.length - c.pos} bytes remain after the ${count} records the batch declares`);
  }
  return records;
}

/** Parses control record keys (and ABORT/COMMIT values). */
export function decodeControlRecords(records: readonly KafkaRecord[]): ControlRecord[] {
  return records.map((record, i) => {
    const key = record.key;
    if (key === null || key.length < 4) throw corrupt(`control record ${i} has no valid key`);
    const version = key.readInt16BE(0);
    const type = key.readInt16BE(2);
    if (version < 0) throw corrupt(`control record ${i} has a negative key version`);
    let coordinatorEpoch: number | null = null;
    if ((type === ControlRecordType.ABORT || type === ControlRecordType.COMMIT) && record.value !== null && record.value.length >= 6) {
      coordinatorEpoch = record.value.readInt32BE(2);
    }
    return { version, type, coordinatorEpoch };
  });
}

function startDecode(buf: Buffer, options: DecodeOptions | undefined): { header: RecordBatchHeader; payload: Buffer } {
  const header = readBatchHeader(buf);
  const size = LOG_OVERHEAD + header.batchLength;
  if (buf.length !== size) throw corrupt(`buffer holds ${buf.length} bytes but the batch is ${size}: split it first`);
  if (options?.verifyCrc !== false) {
    const actual = crc32c(buf.subarray(ATTRIBUTES_OFFSET, size)) >>> 0;
    if (actual !== header.crc) {
      throw corrupt(`CRC mismatch: stored 0x${header.crc.toString(16)}, computed 0x${actual.toString(16)}`);
    }
  }
  return { header, payload: buf.subarray(RECORDS_OFFSET, size) };
}

function finishDecode(header: RecordBatchHeader, data: Buffer): DecodedBatch {
  const records = decodeRecords(data, header.recordCount);
  return { header, records, control: header.isControl ? decodeControlRecords(records) : null };
}

/**
 * Decodes one complete batch (exactly the batch: use splitBatches first), decompressing its
 * records. Verifies the CRC unless told not to. Throws only RecordError subclasses.
 */
export async function decodeBatch(buf: Buffer, options?: DecodeOptions): Promise<DecodedBatch> {
  const { header, payload } = startDecode(buf, options);
  const data =
    header.compression === CompressionType.NONE || payload.length === 0
      ? payload
      : await decompress(header.compression, payload, options);
  return finishDecode(header, data);
}

/** decodeBatch without the thread pool. */
export function decodeBatchSync(buf: Buffer, options?: DecodeOptions): DecodedBatch {
  const { header, payload } = startDecode(buf, options);
  const data =
    header.compression === CompressionType.NONE || payload.length === 0
      ? payload
      : decompressSync(header.compression, payload, options);
  return finishDecode(header, data);
}

// ---------------------------------------------------------------------------------------------
// record encoding

function uvarintSize(v: number): number {
  // v is an unsigned 32-bit value
  if (v < 0x80) return 1;
  if (v < 0x4000) return 2;
  if (v < 0x200000) return 3;
  if (v < 0x10000000) return 4;
  return 5;
}

function varintSize(v: number): number {
  return uvarintSize(((v << 1) ^ (v >> 31)) >>> 0);
}

const INT_RANGE = 0x40000000;

function varlongSize(v: number): number {
  if (v >= -INT_RANGE && v < INT_RANGE) return varintSize(v);
  // zig-zag value z = 2a + sign with a = |v| or |v|-1: one byte for the low 7 bits, then a / 64
  let rest = Math.floor((v < 0 ? -v - 1 : v) / 64);
  let size = 1;
  while (rest > 0) {
    rest = Math.floor(rest / 128);
    size++;
  }
  return size;
}

function writeUvarint(buf: Buffer, at: number, v: number): number {
  let value = v >>> 0;
  while (value > 0x7f) {
    buf[at++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buf[at++] = value;
  return at;
}

function writeVarint(buf: Buffer, at: number, v: number): number {
  return writeUvarint(buf, at, (v << 1) ^ (v >> 31));
}

function writeVarlong(buf: Buffer, at: number, v: number): number {
  if (v >= -INT_RANGE && v < INT_RANGE) return writeVarint(buf, at, v);
  const negative = v < 0;
  const a = negative ? -v - 1 : v; // z = 2a + (negative ? 1 : 0), computed without exceeding 2^53
  let rest = Math.floor(a / 64);
  const low = (a % 64) * 2 + (negative ? 1 : 0);
  buf[at++] = rest > 0 ? low | 0x80 : low;
  while (rest > 0) {
    const next = Math.floor(rest / 128);
    const bits = rest % 128;
    buf[at++] = next > 0 ? bits | 0x80 : bits;
    rest = next;
  }
  return at;
}

function nullableBytesSize(b: Uint8Array | null): number {
  return b === null ? 1 : varintSize(b.length) + b.length;
}

function recordBodySize(r: KafkaRecord): number {
  let size = 1 + varlongSize(r.timestampDelta) + varintSize(r.offsetDelta) + nullableBytesSize(r.key) + nullableBytesSize(r.value);
  size += varintSize(r.headers.length);
  for (const h of r.headers) {
    const keyLength = Buffer.byteLength(h.key, 'utf8');
    size += varintSize(keyLength) + keyLength + nullableBytesSize(h.value);
  }
  return size;
}

function checkRecord(r: KafkaRecord, i: number): void {
  if (!Number.isInteger(r.offsetDelta) || r.offsetDelta < -0x80000000 || r.offsetDelta > 0x7fffffff) {
    throw new RangeError(`record ${i}: offsetDelta ${r.offsetDelta} is not an int32`);
  }
  if (!Number.isSafeInteger(r.timestampDelta)) {
    throw new RangeError(`record ${i}: timestampDelta ${r.timestampDelta} is not a safe integer`);
  }
}

function writeNullableBytes(buf: Buffer, at: number, b: Uint8Array | null): number {
  if (b === null) return writeVarint(buf, at, -1);
  at = writeVarint(buf, at, b.length);
  buf.set(b, at);
  return at + b.length;
}

/** Encodes records (the uncompressed records section) into `buf` at `at`; returns the end. */
function writeRecords(buf: Buffer, at: number, records: readonly KafkaRecord[], sizes: Int32Array): number {
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as KafkaRecord;
    at = writeVarint(buf, at, sizes[i] as number);
    buf[at++] = 0; // attributes
    at = writeVarlong(buf, at, r.timestampDelta);
    at = writeVarint(buf, at, r.offsetDelta);
    at = writeNullableBytes(buf, at, r.key);
    at = writeNullableBytes(buf, at, r.value);
    at = writeVarint(buf, at, r.headers.length);
    for (const h of r.headers) {
      const keyLength = Buffer.byteLength(h.key, 'utf8');
      at = writeVarint(buf, at, keyLength);
      at += buf.write(h.key, at, keyLength, 'utf8');
      at = writeNullableBytes(buf, at, h.value);
    }
  }
  return at;
}

interface Prepared {
  input: EncodeBatchInput;
  sizes: Int32Array;
  recordsSize: number;
}

function prepare(input: EncodeBatchInput): Prepared {
  const records = input.records;
  const sizes = new Int32Array(records.length);
  let recordsSize = 0;
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as KafkaRecord;
    checkRecord(r, i);
    const body = recordBodySize(r);
    sizes[i] = body;
    recordsSize += varintSize(body) + body;
  }
  return { input, sizes, recordsSize };
}

function encodeRecordsSection(p: Prepared): Buffer {
  const buf = Buffer.allocUnsafe(p.recordsSize);
  writeRecords(buf, 0, p.input.records, p.sizes);
  return buf;
}

/** Writes the header fields and the CRC into a buffer whose records section is already in place. */
function finishBatch(out: Buffer, input: EncodeBatchInput): Buffer {
  const compression = input.compression ?? CompressionType.NONE;
  compressionTypeFromId(compression);
  let maxDelta = -Infinity;
  let maxOffsetDelta = -Infinity;
  for (const r of input.records) {
    if (r.timestampDelta > maxDelta) maxDelta = r.timestampDelta;
    if (r.offsetDelta > maxOffsetDelta) maxOffsetDelta = r.offsetDelta;
  }
  const attributes =
    compression |
    (input.timestampType === TimestampType.LOG_APPEND_TIME ? TIMESTAMP_TYPE_MASK : 0) |
    (input.isTransactional === true ? TRANSACTIONAL_MASK : 0) |
    (input.isControl === true ? CONTROL_MASK : 0) |
    (input.hasDeleteHorizonMs === true ? DELETE_HORIZON_MASK : 0);
  out.writeBigInt64BE(input.baseOffset ?? 0n, 0);
  out.writeInt32BE(out.length - LOG_OVERHEAD, 8);
  out.writeInt32BE(input.partitionLeaderEpoch ?? NO_PARTITION_LEADER_EPOCH, 12);
  out.writeInt8(CURRENT_MAGIC, MAGIC_OFFSET);
  out.writeInt16BE(attributes, ATTRIBUTES_OFFSET);
  out.writeInt32BE(input.lastOffsetDelta ?? (input.records.length === 0 ? 0 : maxOffsetDelta), 23);
  out.writeBigInt64BE(input.baseTimestamp, 27);
  out.writeBigInt64BE(input.maxTimestamp ?? input.baseTimestamp + (input.records.length === 0 ? 0n : BigInt(maxDelta)), 35);
  out.writeBigInt64BE(input.producerId ?? NO_PRODUCER_ID, 43);
  out.writeInt16BE(input.producerEpoch ?? NO_PRODUCER_EPOCH, 51);
  out.writeInt32BE(input.baseSequence ?? NO_SEQUENCE, 53);
  out.writeInt32BE(input.records.length, 57);
  out.writeUInt32BE(crc32c(out.subarray(ATTRIBUTES_OFFSET)) >>> 0, CRC_OFFSET);
  return out;
}

function withHeaderRoom(recordsSection: Buffer): Buffer {
  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + recordsSection.length);
  recordsSection.copy(out, BATCH_HEADER_SIZE);
  return out;
}

/**
 * Builds a magic 2 batch. A default maxTimestamp is baseTimestamp plus the largest delta; give it
 * explicitly for LOG_APPEND_TIME batches. Throws RangeError on values that do not fit their fields.
 */
export async function encodeBatch(input: EncodeBatchInput): Promise<Buffer> {
  const p = prepare(input);
  const compression = input.compression ?? CompressionType.NONE;
  if (compression === CompressionType.NONE || input.records.length === 0) return encodeUncompressed(p);
  const compressed = await compress(compression, encodeRecordsSection(p), { level: input.compressionLevel });
  return finishBatch(withHeaderRoom(compressed), input);
}

/** encodeBatch without the thread pool. */
export function encodeBatchSync(input: EncodeBatchInput): Buffer {
  const p = prepare(input);
  const compression = input.compression ?? CompressionType.NONE;
  if (compression === CompressionType.NONE || input.records.length === 0) return encodeUncompressed(p);
  const compressed = compressSync(compression, encodeRecordsSection(p), { level: input.compressionLevel });
  return finishBatch(withHeaderRoom(compressed), input);
}

function encodeUncompressed(p: Prepared): Buffer {
  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + p.recordsSize);
  writeRecords(out, BATCH_HEADER_SIZE, p.input.records, p.sizes);
  return finishBatch(out, p.input);
}

// ---------------------------------------------------------------------------------------------
// control records

/** The key of a control record: version int16 (0), type int16. */
export function controlRecordKey(type: number, version = 0): Buffer {
  const key = Buffer.allocUnsafe(4);
  key.writeInt16BE(version, 0);
  key.writeInt16BE(type, 2);
  return key;
}

/** The value of an ABORT/COMMIT marker (EndTxnMarker): version int16 (0), coordinatorEpoch int32. */
export function endTxnMarkerValue(coordinatorEpoch: number, version = 0): Buffer {
  const value = Buffer.allocUnsafe(6);
  value.writeInt16BE(version, 0);
  value.writeInt32BE(coordinatorEpoch, 2);
  return value;
}

export interface EndTxnMarkerInput {
  commit: boolean;
  coordinatorEpoch: number;
  producerId: bigint;
  producerEpoch: number;
  timestamp: bigint;
  baseOffset?: bigint;
  partitionLeaderEpoch?: number;
}

/** A transaction marker batch (control + transactional, one COMMIT or ABORT record), as the broker writes it. */
export function encodeEndTxnMarker(input: EndTxnMarkerInput): Buffer {
  return encodeBatchSync({
    records: [
      {
        offsetDelta: 0,
        timestampDelta: 0,
        key: controlRecordKey(input.commit ? ControlRecordType.COMMIT : ControlRecordType.ABORT),
        value: endTxnMarkerValue(input.coordinatorEpoch),
        headers: [],
      },
    ],
    baseOffset: input.baseOffset,
    partitionLeaderEpoch: input.partitionLeaderEpoch,
    isControl: true,
    isTransactional: true,
    baseTimestamp: input.timestamp,
    producerId: input.producerId,
    producerEpoch: input.producerEpoch,
    baseSequence: NO_SEQUENCE,
  });
}
