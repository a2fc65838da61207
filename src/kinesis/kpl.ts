/**
 * The KPL aggregated record format (DESIGN.md section 2), as KCL, the Lambda de-aggregation
 * modules and Firehose read it:
 *
 *   F3 89 9A C2                          magic
 *   AggregatedRecord (protobuf, proto2)
 *   MD5(AggregatedRecord bytes)          16 bytes
 *
 *   message AggregatedRecord {
 *     repeated string partition_key_table     = 1;
 *     repeated string explicit_hash_key_table = 2;
 *     repeated Record records                 = 3;
 *   }
 *   message Record {
 *     required uint64 partition_key_index     = 1;
 *     optional uint64 explicit_hash_key_index = 2;
 *     required bytes  data                    = 3;
 *     repeated Tag    tags                    = 4;
 *   }
 *   message Tag { required string key = 1; optional string value = 2; }
 *
 * The protobuf codec is hand-written (varints and length-delimited fields only on the encode
 * side; the decoder skips every wire type as protobuf-java does). Decoding follows KCL's
 * AggregatorUtil: bad magic, a body of 16 bytes or less, an MD5 mismatch or a protobuf parse
 * failure (including a missing required field) all mean "not an aggregate" (null), and the
 * caller treats the Kinesis record as a plain record. A well-formed aggregate whose key index
 * points outside its key table is the one case KCL itself fails on; it raises KplDecodeError.
 */
import { createHash } from 'node:crypto';
import { bufferView } from '../protocol/primitives.js';

export const KPL_MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);
const DIGEST_SIZE = 16;
/** Bytes an aggregate adds around its protobuf body: magic and MD5. */
export const KPL_FRAMING_BYTES = KPL_MAGIC.length + DIGEST_SIZE;
/** protobuf-java's default recursion limit, applied to nested groups while skipping. */
const MAX_GROUP_DEPTH = 100;

export interface KplTag {
  key: string;
  /** Absent (undefined) is distinct from the empty string. */
  value?: string;
}

export interface KplRecord {
  partitionKey: string;
  explicitHashKey?: string;
  data: Buffer;
  tags?: KplTag[];
}

/** A decoded sub-record: tags are always present (possibly empty). */
export interface DecodedKplRecord {
  partitionKey: string;
  explicitHashKey?: string;
  data: Buffer;
  tags: KplTag[];
}

/** A structurally valid aggregate that cannot be de-aggregated (a key index outside its table). */
export class KplDecodeError extends Error {
  override name = 'KplDecodeError';
}

// ---------------------------------------------------------------------------------------------
// Encoding

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_START_GROUP = 3;
const WIRE_END_GROUP = 4;
const WIRE_FIXED32 = 5;

/** Size of an unsigned varint (values up to 2^53). */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Size of a length-delimited field with a one-byte tag (field numbers below 16). */
function lenFieldSize(length: number): number {
  return 1 + varintSize(length) + length;
}

interface PreparedTag {
  key: Buffer;
  value: Buffer | undefined;
  size: number; // body size
}

interface PreparedRecord {
  pkIndex: number;
  ehkIndex: number | undefined;
  data: Buffer;
  tags: PreparedTag[];
  size: number; // body size
}

function prepareTags(tags: readonly KplTag[] | undefined): PreparedTag[] {
  if (tags === undefined) return [];
  return tags.map((tag) => {
    const key = Buffer.from(tag.key, 'utf8');
    const value = tag.value === undefined ? undefined : Buffer.from(tag.value, 'utf8');
    const size = lenFieldSize(key.length) + (value === undefined ? 0 : lenFieldSize(value.length));
    return { key, value, size };
  });
}

function recordBodySize(pkIndex: number, ehkIndex: number | undefined, dataLength: number, tags: PreparedTag[]): number {
  let size = 1 + varintSize(pkIndex) + lenFieldSize(dataLength);
  if (ehkIndex !== undefined) size += 1 + varintSize(ehkIndex);
  for (const tag of tags) size += lenFieldSize(tag.size);
  return size;
}

class ProtoWriter {
  private offset = 0;
  constructor(readonly buffer: Buffer) {}

  varint(value: number): void {
    while (value >= 0x80) {
      this.buffer[this.offset++] = (value % 128) | 0x80;
      value = Math.floor(value / 128);
    }
    this.buffer[this.offset++] = value;
  }

  key(field: number, wireType: number): void {
    this.varint(field * 8 + wireType);
  }

  lenField(field: number, bytes: Buffer): void {
    this.key(field, WIRE_LEN);
    this.varint(bytes.length);
    this.offset += bytes.copy(this.buffer, this.offset);
  }

  get position(): number {
    return this.offset;
  }
}

/**
 * Incremental aggregate builder: tracks the exact encoded size so a caller can fill aggregates
 * up to a byte limit. Key tables are de-duplicated.
 */
export class AggregateBuilder {
  private readonly pkTable: Buffer[] = [];
  private readonly pkIndex = new Map<string, number>();
  private readonly ehkTable: Buffer[] = [];
  private readonly ehkIndex = new Map<string, number>();
  private readonly prepared: PreparedRecord[] = [];
  private bodySize = 0;

  /** Number of sub-records added so far. */
  get count(): number {
    return this.prepared.length;
  }

  /** Encoded size of the aggregate as it stands: magic + protobuf + MD5. */
  get size(): number {
    return KPL_FRAMING_BYTES + this.bodySize;
  }

  /** Adds the record if the aggregate then stays within maxBytes (magic and MD5 included). */
  tryAdd(record: KplRecord, maxBytes: number): boolean {
    return this.addInternal(record, maxBytes);
  }

  /** Adds the record unconditionally. */
  add(record: KplRecord): void {
    this.addInternal(record, Infinity);
  }

  private addInternal(record: KplRecord, maxBytes: number): boolean {
    let added = 0;
    let newPk: Buffer | undefined;
    let pkIndex = this.pkIndex.get(record.partitionKey);
    if (pkIndex === undefined) {
      pkIndex = this.pkTable.length;
      newPk = Buffer.from(record.partitionKey, 'utf8');
      added += lenFieldSize(newPk.length);
    }
    let newEhk: Buffer | undefined;
    let ehkIndex: number | undefined;
    if (record.explicitHashKey !== undefined) {
      ehkIndex = this.ehkIndex.get(record.explicitHashKey);
      if (ehkIndex === undefined) {
        ehkIndex = this.ehkTable.length;
        newEhk = Buffer.from(record.explicitHashKey, 'utf8');
        added += lenFieldSize(newEhk.length);
      }
    }
    const tags = prepareTags(record.tags);
    const size = recordBodySize(pkIndex, ehkIndex, record.data.length, tags);
    added += lenFieldSize(size);
    if (KPL_FRAMING_BYTES + this.bodySize + added > maxBytes) return false;

    if (newPk !== undefined) {
      this.pkIndex.set(record.partitionKey, pkIndex);
      this.pkTable.push(newPk);
    }
    if (newEhk !== undefined && record.explicitHashKey !== undefined && ehkIndex !== undefined) {
      this.ehkIndex.set(record.explicitHashKey, ehkIndex);
      this.ehkTable.push(newEhk);
    }
    this.prepared.push({ pkIndex, ehkIndex, data: record.data, tags, size });
    this.bodySize += added;
    return true;
  }

  /**
   * Puts `record` in place of the first record when that changes no size: same keys, tags of
   * the same encoded length (a split sized with a placeholder tag, then given the real one).
   * Returns false, changing nothing, otherwise.
   */
  replaceFirst(record: KplRecord): boolean {
    const current = this.prepared[0];
    if (current === undefined || this.pkIndex.get(record.partitionKey) !== current.pkIndex) return false;
    const ehkIndex = record.explicitHashKey === undefined ? undefined : this.ehkIndex.get(record.explicitHashKey);
    if (ehkIndex !== current.ehkIndex) return false;
    const tags = prepareTags(record.tags);
    const size = recordBodySize(current.pkIndex, ehkIndex, record.data.length, tags);
    if (size !== current.size) return false;
    this.prepared[0] = { pkIndex: current.pkIndex, ehkIndex, data: record.data, tags, size };
    return true;
  }

  /** The aggregate's bytes. Throws RangeError when empty (KCL would read it as a plain record). */
  build(): Buffer {
    if (this.prepared.length === 0) throw new RangeError('an aggregate needs at least one record');
    const out = Buffer.allocUnsafe(this.size);
    KPL_MAGIC.copy(out, 0);
    const w = new ProtoWriter(out.subarray(KPL_MAGIC.length, KPL_MAGIC.length + this.bodySize));
    for (const pk of this.pkTable) w.lenField(1, pk);
    for (const ehk of this.ehkTable) w.lenField(2, ehk);
    for (const r of this.prepared) {
      w.key(3, WIRE_LEN);
      w.varint(r.size);
      w.key(1, WIRE_VARINT);
      w.varint(r.pkIndex);
      if (r.ehkIndex !== undefined) {
        w.key(2, WIRE_VARINT);
        w.varint(r.ehkIndex);
      }
      w.lenField(3, r.data);
      for (const tag of r.tags) {
        w.key(4, WIRE_LEN);
        w.varint(tag.size);
        w.lenField(1, tag.key);
        if (tag.value !== undefined) w.lenField(2, tag.value);
      }
    }
    if (w.position !== this.bodySize) throw new Error(`KPL size accounting is off: ${w.position} != ${this.bodySize}`);
    const body = out.subarray(KPL_MAGIC.length, KPL_MAGIC.length + this.bodySize);
    createHash('md5').update(body).digest().copy(out, KPL_MAGIC.length + this.bodySize);
    return out;
  }
}

/** Encodes one aggregate holding the records in order (key tables de-duplicated). */
export function encodeAggregate(records: readonly KplRecord[]): Buffer {
  const builder = new AggregateBuilder();
  for (const record of records) builder.add(record);
  return builder.build();
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Internal: the protobuf bytes are not a valid message (maps to "not an aggregate"). */
class Malformed extends Error {}

class ProtoReader {
  offset: number;
  constructor(
    readonly buffer: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.offset = start;
  }

  get done(): boolean {
    return this.offset >= this.end;
  }

  /** An unsigned varint of at most 10 bytes; values beyond 2^53 lose precision (only compared). */
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) throw new Malformed('truncated varint');
      const byte = this.buffer[this.offset++] as number;
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new Malformed('varint longer than 10 bytes');
  }

  bytes(): { start: number; end: number } {
    const length = this.varint();
    const start = this.offset;
    if (length > this.end - start) throw new Malformed('truncated length-delimited field');
    this.offset = start + length;
    return { start, end: this.offset };
  }

  skip(n: number): void {
    if (n > this.end - this.offset) throw new Malformed('truncated fixed-width field');
    this.offset += n;
  }

  /** Reads a field key; returns [fieldNumber, wireType]. */
  key(): [number, number] {
    const key = this.varint();
    const field = Math.floor(key / 8);
    const wireType = key % 8;
    if (field === 0 || key > 0xffffffff) throw new Malformed('invalid field key');
    if (wireType === WIRE_END_GROUP) throw new Malformed('unexpected end-group');
    return [field, wireType];
  }

  skipField(field: number, wireType: number, depth = 0): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.varint();
        return;
      case WIRE_FIXED64:
        this.skip(8);
        return;
      case WIRE_LEN:
        this.bytes();
        return;
      case WIRE_FIXED32:
        this.skip(4);
        return;
      case WIRE_START_GROUP: {
        if (depth >= MAX_GROUP_DEPTH) throw new Malformed('groups nested too deeply');
        for (;;) {
          if (this.done) throw new Malformed('unterminated group');
          const key = this.varint();
          const inner = Math.floor(key / 8);
          const innerType = key % 8;
          if (inner === 0 || key > 0xffffffff) throw new Malformed('invalid field key');
          if (innerType === WIRE_END_GROUP) {
            if (inner !== field) throw new Malformed('mismatched end-group');
            return;
          }
          this.skipField(inner, innerType, depth + 1);
        }
      }
      default:
        throw new Malformed(`invalid wire type ${wireType}`);
    }
  }

  string(): string {
    const { start, end } = this.bytes();
    return this.buffer.toString('utf8', start, end);
  }
}

interface RawRecord {
  pkIndex: number;
  ehkIndex: number | undefined;
  data: Buffer;
  tags: KplTag[];
}

function readTag(buf: Buffer, start: number, end: number): KplTag {
  const r = new ProtoReader(buf, start, end);
  let key: string | undefined;
  let value: string | undefined;
  while (!r.done) {
    const [field, wireType] = r.key();
    if (field === 1 && wireType === WIRE_LEN) key = r.string();
    else if (field === 2 && wireType === WIRE_LEN) value = r.string();
    else r.skipField(field, wireType);
  }
  if (key === undefined) throw new Malformed('Tag.key missing');
  return value === undefined ? { key } : { key, value };
}

function readRecord(buf: Buffer, start: number, end: number): RawRecord {
  const r = new ProtoReader(buf, start, end);
  let pkIndex: number | undefined;
  let ehkIndex: number | undefined;
  let data: Buffer | undefined;
  const tags: KplTag[] = [];
  while (!r.done) {
    const [field, wireType] = r.key();
    if (field === 1 && wireType === WIRE_VARINT) pkIndex = r.varint();
    else if (field === 2 && wireType === WIRE_VARINT) ehkIndex = r.varint();
    else if (field === 3 && wireType === WIRE_LEN) {
      const span = r.bytes();
      data = buf.subarray(span.start, span.end);
    } else if (field === 4 && wireType === WIRE_LEN) {
      const span = r.bytes();
      tags.push(readTag(buf, span.start, span.end));
    } else r.skipField(field, wireType);
  }
  if (pkIndex === undefined) throw new Malformed('Record.partition_key_index missing');
  if (data === undefined) throw new Malformed('Record.data missing');
  return { pkIndex, ehkIndex, data, tags };
}

/**
 * De-aggregates a Kinesis record's data. Returns null when it is not a KPL aggregate (KCL then
 * delivers it as a plain record): wrong magic, no body, MD5 mismatch, or a protobuf that does not
 * parse. Throws KplDecodeError when a sub-record names a key-table entry that does not exist.
 * The returned data buffers are views into `buf` (copy them to keep them past its lifetime).
 */
export function decodeAggregate(buf: Uint8Array): DecodedKplRecord[] | null {
  const data = bufferView(buf);
  if (data.length <= KPL_FRAMING_BYTES) return null;
  if (!data.subarray(0, KPL_MAGIC.length).equals(KPL_MAGIC)) return null;
  const bodyEnd = data.length - DIGEST_SIZE;
  const digest = createHash('md5').update(data.subarray(KPL_MAGIC.length, bodyEnd)).digest();
  if (!digest.equals(data.subarray(bodyEnd))) return null;

  const pkTable: string[] = [];
  const ehkTable: string[] = [];
  const raw: RawRecord[] = [];
  try {
    const r = new ProtoReader(data, KPL_MAGIC.length, bodyEnd);
    while (!r.done) {
      const [field, wireType] = r.key();
      if (field === 1 && wireType === WIRE_LEN) pkTable.push(r.string());
      else if (field === 2 && wireType === WIRE_LEN) ehkTable.push(r.string());
      else if (field === 3 && wireType === WIRE_LEN) {
        const span = r.bytes();
        raw.push(readRecord(data, span.start, span.end));
      } else r.skipField(field, wireType);
    }
  } catch (err) {
    if (err instanceof Malformed) return null;
    throw err;
  }

  return raw.map((rec, i) => {
    const partitionKey = pkTable[rec.pkIndex];
    if (partitionKey === undefined) {
      throw new KplDecodeError(`sub-record ${i}: partition key index ${rec.pkIndex} outside table of ${pkTable.length}`);
    }
    const out: DecodedKplRecord = { partitionKey, data: rec.data, tags: rec.tags };
    if (rec.ehkIndex !== undefined) {
      const explicitHashKey = ehkTable[rec.ehkIndex];
      if (explicitHashKey === undefined) {
        throw new KplDecodeError(
          `sub-record ${i}: explicit hash key index ${rec.ehkIndex} outside table of ${ehkTable.length}`,
        );
      }
      out.explicitHashKey = explicitHashKey;
    }
    return out;
  });
}
