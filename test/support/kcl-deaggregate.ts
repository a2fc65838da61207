/**
 * De-aggregation as a Kinesis consumer library (KCL) does it, written for the tests from the
 * published KPL aggregation format and independent of src/kinesis/kpl.ts, so that interop
 * tests check the gateway's output against the format rather than against itself:
 *
 * - a record is an aggregate only if its data starts with the magic F3 89 9A C2, is longer than
 *   magic + 16 bytes, its last 16 bytes are the MD5 of the bytes between, and those bytes parse
 *   as an AggregatedRecord; otherwise it is delivered as one plain record;
 * - each sub-record's hash key is its explicit hash key when it has one, else MD5 of its
 *   partition key; if any sub-record's hash key lies outside the shard's hash-key range, the
 *   whole aggregate is dropped.
 */
import { createHash } from 'node:crypto';

const MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);

export interface KclTag {
  readonly key: string;
  readonly value: string | undefined;
}

export interface KclSubRecord {
  readonly partitionKey: string;
  readonly explicitHashKey: string | undefined;
  /** The hash key KCL routes by: the explicit hash key, else MD5(partition key). */
  readonly hashKey: bigint;
  readonly data: Buffer;
  readonly tags: readonly KclTag[];
}

export type KclResult =
  | { readonly kind: 'plain'; readonly reason: string }
  | { readonly kind: 'aggregate'; readonly records: readonly KclSubRecord[] }
  | { readonly kind: 'dropped'; readonly reason: string };

class Cursor {
  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  varint(): bigint {
    let value = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const byte = this.buf[this.pos++] as number;
      value |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return value;
    }
    throw new Error('varint too long');
  }

  bytes(): Buffer {
    const length = Number(this.varint());
    if (length > this.end - this.pos) throw new Error('truncated field');
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  skip(wireType: number): void {
    if (wireType === 0) this.varint();
    else if (wireType === 1) this.pos += 8;
    else if (wireType === 2) this.bytes();
    else if (wireType === 5) this.pos += 4;
    else throw new Error(`unsupported wire type ${wireType}`);
    if (this.pos > this.end) throw new Error('truncated field');
  }

  /** Calls `field` for every field of the message in [pos, end). */
  fields(field: (number: number, wireType: number) => void): void {
    while (!this.done) {
      const key = Number(this.varint());
      field(key >>> 3, key & 7);
    }
  }
}

function parseTag(bytes: Buffer): KclTag {
  const c = new Cursor(bytes, 0, bytes.length);
  let key: string | undefined;
  let value: string | undefined;
  c.fields((n, w) => {
    if (n === 1 && w === 2) key = c.bytes().toString('utf8');
    else if (n === 2 && w === 2) value = c.bytes().toString('utf8');
    else c.skip(w);
  });
  if (key === undefined) throw new Error('Tag without key');
  return { key, value };
}

interface RawSubRecord {
  pk: number;
  ehk: number | undefined;
  data: Buffer;
  tags: KclTag[];
}

function parseRecord(bytes: Buffer): RawSubRecord {
  const c = new Cursor(bytes, 0, bytes.length);
  let pk: number | undefined;
  let ehk: number | undefined;
  let data: Buffer | undefined;
  const tags: KclTag[] = [];
  c.fields((n, w) => {
    if (n === 1 && w === 0) pk = Number(c.varint());
    else if (n === 2 && w === 0) ehk = Number(c.varint());
    else if (n === 3 && w === 2) data = c.bytes();
    else if (n === 4 && w === 2) tags.push(parseTag(c.bytes()));
    else c.skip(w);
  });
  if (pk === undefined || data === undefined) throw new Error('Record without partition_key_index or data');
  return { pk, ehk, data, tags };
}

export function md5HashKey(partitionKey: string): bigint {
  return BigInt('0x' + createHash('md5').update(partitionKey, 'utf8').digest('hex'));
}

/** KCL's reading of one Kinesis record from a shard with the given inclusive hash-key range. */
export function kclDeaggregate(data: Uint8Array, shardRange: { start: bigint; end: bigint }): KclResult {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length <= MAGIC.length + 16 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) {
    return { kind: 'plain', reason: 'no KPL magic' };
  }
  const body = buf.subarray(MAGIC.length, buf.length - 16);
  const digest = createHash('md5').update(body).digest();
  if (!digest.equals(buf.subarray(buf.length - 16))) return { kind: 'plain', reason: 'MD5 mismatch' };
  const partitionKeys: string[] = [];
  const hashKeys: string[] = [];
  const raw: RawSubRecord[] = [];
  try {
    const c = new Cursor(body, 0, body.length);
    c.fields((n, w) => {
      if (n === 1 && w === 2) partitionKeys.push(c.bytes().toString('utf8'));
      else if (n === 2 && w === 2) hashKeys.push(c.bytes().toString('utf8'));
      else if (n === 3 && w === 2) raw.push(parseRecord(c.bytes()));
      else c.skip(w);
    });
  } catch (err) {
    return { kind: 'plain', reason: `protobuf does not parse: ${(err as Error).message}` };
  }
  const records: KclSubRecord[] = [];
  for (const [i, r] of raw.entries()) {
    const partitionKey = partitionKeys[r.pk];
    if (partitionKey === undefined) throw new Error(`sub-record ${i}: partition key index ${r.pk} outside the table`);
    let explicitHashKey: string | undefined;
    if (r.ehk !== undefined) {
      explicitHashKey = hashKeys[r.ehk];
      if (explicitHashKey === undefined) throw new Error(`sub-record ${i}: explicit hash key index ${r.ehk} outside the table`);
    }
    const hashKey = explicitHashKey !== undefined ? BigInt(explicitHashKey) : md5HashKey(partitionKey);
    if (hashKey < shardRange.start || hashKey > shardRange.end) {
      return { kind: 'dropped', reason: `sub-record ${i}: hash key ${hashKey} outside the shard's range` };
    }
    records.push({ partitionKey, explicitHashKey, hashKey, data: r.data, tags: r.tags });
  }
  return { kind: 'aggregate', records };
}

/** Builds a KPL aggregate as a foreign producer (the KPL) would, for tests that write one. */
export function kplAggregate(records: readonly { partitionKey: string; explicitHashKey?: string; data: Buffer }[]): Buffer {
  const varint = (value: number): Buffer => {
    const out: number[] = [];
    while (value >= 0x80) {
      out.push((value & 0x7f) | 0x80);
      value = Math.floor(value / 128);
    }
    out.push(value);
    return Buffer.from(out);
  };
  const field = (number: number, bytes: Buffer): Buffer => Buffer.concat([varint((number << 3) | 2), varint(bytes.length), bytes]);
  const keys = [...new Set(records.map((r) => r.partitionKey))];
  const hashKeys = [...new Set(records.flatMap((r) => (r.explicitHashKey === undefined ? [] : [r.explicitHashKey])))];
  const parts: Buffer[] = [
    ...keys.map((k) => field(1, Buffer.from(k, 'utf8'))),
    ...hashKeys.map((k) => field(2, Buffer.from(k, 'utf8'))),
  ];
  for (const r of records) {
    const inner: Buffer[] = [varint(1 << 3), varint(keys.indexOf(r.partitionKey))];
    if (r.explicitHashKey !== undefined) inner.push(varint(2 << 3), varint(hashKeys.indexOf(r.explicitHashKey)));
    inner.push(field(3, r.data));
    parts.push(field(3, Buffer.concat(inner)));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([MAGIC, body, createHash('md5').update(body).digest()]);
}
