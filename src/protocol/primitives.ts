/**
 * Kafka wire primitives: fixed-width integers, varints, strings, bytes and UUIDs,
 * in both the classic (int16/int32 length) and compact (unsigned varint length + 1) forms.
 * Sans-I/O: a Reader walks a Buffer, a Writer grows one.
 */

/** Raised when bytes do not form a valid message; the server closes the connection on it. */
export class ProtocolDecodeError extends Error {
  override name = 'ProtocolDecodeError';
}

/** A tagged field the schema does not know, kept so that re-encoding is lossless. */
export interface UnknownTaggedField {
  tag: number;
  data: Buffer;
}

export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export class Reader {
  offset: number;

  constructor(
    readonly buffer: Buffer,
    offset = 0,
    readonly end = buffer.length,
  ) {
    this.offset = offset;
  }

  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number): number {
    const at = this.offset;
    if (n < 0 || at + n > this.end) {
      throw new ProtocolDecodeError(`truncated: need ${n} bytes at offset ${at}, have ${this.end - at}`);
    }
    this.offset = at + n;
    return at;
  }

  int8(): number {
    return this.buffer.readInt8(this.need(1));
  }

  uint8(): number {
    return this.buffer.readUInt8(this.need(1));
  }

  int16(): number {
    return this.buffer.readInt16BE(this.need(2));
  }

  uint16(): number {
    return this.buffer.readUInt16BE(this.need(2));
  }

  int32(): number {
    return this.buffer.readInt32BE(this.need(4));
  }

  uint32(): number {
    return this.buffer.readUInt32BE(this.need(4));
  }

  int64(): bigint {
    return this.buffer.readBigInt64BE(this.need(8));
  }

  float64(): number {
    return this.buffer.readDoubleBE(this.need(8));
  }

  bool(): boolean {
    return this.buffer[this.need(1)] !== 0;
  }

  uuid(): string {
    const at = this.need(16);
    const hex = this.buffer.toString('hex', at, at + 16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  }

  /** Unsigned LEB128 varint of at most 32 bits. */
  uvarint(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = this.buffer[this.need(1)] as number;
      if (shift === 28 && byte > 0x0f) throw new ProtocolDecodeError('varint is wider than 32 bits');
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
  }

  /** Zig-zag signed varint of at most 32 bits. */
  varint(): number {
    const raw = this.uvarint();
    return (raw >>> 1) ^ -(raw & 1);
  }

  /** Zig-zag signed varint of at most 64 bits. */
  varlong(): bigint {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = this.buffer[this.need(1)] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) break;
      shift += 7n;
      if (shift > 63n) throw new ProtocolDecodeError('varlong is wider than 64 bits');
    }
    return (result >> 1n) ^ -(result & 1n);
  }

  /** Like varlong() but for values that fit a JS number (record deltas). */
  varlongNumber(): number {
    return Number(this.varlong());
  }

  raw(n: number): Buffer {
    const at = this.need(n);
    return this.buffer.subarray(at, at + n);
  }

  /** UTF-8 text; invalid sequences become U+FFFD and a leading BOM is kept, as in Kafka's Java client. */
  private text(n: number): string {
    const at = this.need(n);
    return this.buffer.toString('utf8', at, at + n);
  }

  string(): string {
    const n = this.int16();
    if (n < 0) throw new ProtocolDecodeError('non-nullable string is null');
    return this.text(n);
  }

  nullableString(): string | null {
    const n = this.int16();
    return n < 0 ? null : this.text(n);
  }

  compactString(): string {
    const n = this.uvarint() - 1;
    if (n < 0) throw new ProtocolDecodeError('non-nullable compact string is null');
    return this.text(n);
  }

  compactNullableString(): string | null {
    const n = this.uvarint() - 1;
    return n < 0 ? null : this.text(n);
  }

  bytes(): Buffer {
    const n = this.int32();
    if (n < 0) throw new ProtocolDecodeError('non-nullable bytes are null');
    return this.raw(n);
  }

  nullableBytes(): Buffer | null {
    const n = this.int32();
    return n < 0 ? null : this.raw(n);
  }

  compactBytes(): Buffer {
    const n = this.uvarint() - 1;
    if (n < 0) throw new ProtocolDecodeError('non-nullable compact bytes are null');
    return this.raw(n);
  }

  compactNullableBytes(): Buffer | null {
    const n = this.uvarint() - 1;
    return n < 0 ? null : this.raw(n);
  }

  /** Array length in the classic form: int32, -1 for null. */
  arrayLength(): number {
    const n = this.int32();
    this.checkCount(n);
    return n;
  }

  /** Array length in the compact form: uvarint N+1, 0 for null (returned as -1). */
  compactArrayLength(): number {
    const n = this.uvarint() - 1;
    this.checkCount(n);
    return n;
  }

  /** Every element takes at least one byte, so a count above the bytes left is corrupt. */
  private checkCount(n: number): void {
    if (n > this.remaining) {
      throw new ProtocolDecodeError(`array of ${n} elements cannot fit in ${this.remaining} bytes`);
    }
  }
}

/**
 * Byte fields at least this long (record sets of Fetch responses) are sent by reference, not
 * copied into the response: a large Fetch response would otherwise be copied once more.
 */
const BY_REFERENCE_MIN_BYTES = 16 * 1024;

/** A bytes value to encode: one buffer, or parts that follow one another. */
export type BytesValue = Uint8Array | readonly Uint8Array[];

/** Bytes in a bytes value, whole or in parts. */
export function bytesLength(v: BytesValue): number {
  if (v instanceof Uint8Array) return v.length;
  let length = 0;
  for (const part of v) length += part.length;
  return length;
}

export class Writer {
  private buf: Buffer;
  /** Bytes of buf written so far. */
  private used = 0;
  /** What comes before buf: parts of earlier buffers, and byte fields taken by reference. */
  private readonly parts: Uint8Array[] = [];
  /** Length of parts: the position of buf[0] in the output. */
  private base = 0;
  /** Tagged fields whose length is still to be filled in (their bytes must stay in buf). */
  private openLengths = 0;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** Bytes written so far. */
  get offset(): number {
    return this.base + this.used;
  }

  /** Room for n bytes in buf; returns where in buf they go. */
  private ensure(n: number): number {
    const at = this.used;
    if (at + n > this.buf.length) {
      // Twice what is needed now: a response of several large record sets (Fetch) is copied
      // once or twice while it grows, not once per doubling.
      const size = Math.max(this.buf.length * 2, (at + n) * 2);
      const next = Buffer.allocUnsafe(size);
      this.buf.copy(next, 0, 0, at);
      this.buf = next;
    }
    this.used = at + n;
    return at;
  }

  /** The bytes written so far, in one buffer (a view when nothing was taken by reference). */
  finish(): Buffer {
    const current = this.buf.subarray(0, this.used);
    return this.parts.length === 0 ? current : Buffer.concat([...this.parts, current]);
  }

  /** The bytes written so far, in order, as the parts they are held in (for a vectored write). */
  finishParts(): Uint8Array[] {
    return this.used === 0 ? [...this.parts] : [...this.parts, this.buf.subarray(0, this.used)];
  }

  int8(v: number): this {
    const at = this.ensure(1);
    this.buf.writeInt8(v, at);
    return this;
  }

  uint8(v: number): this {
    const at = this.ensure(1);
    this.buf.writeUInt8(v, at);
    return this;
  }

  int16(v: number): this {
    const at = this.ensure(2);
    this.buf.writeInt16BE(v, at);
    return this;
  }

  uint16(v: number): this {
    const at = this.ensure(2);
    this.buf.writeUInt16BE(v, at);
    return this;
  }

  int32(v: number): this {
    const at = this.ensure(4);
    this.buf.writeInt32BE(v, at);
    return this;
  }

  uint32(v: number): this {
    const at = this.ensure(4);
    this.buf.writeUInt32BE(v, at);
    return this;
  }

  int64(v: bigint): this {
    const at = this.ensure(8);
    this.buf.writeBigInt64BE(v, at);
    return this;
  }

  float64(v: number): this {
    const at = this.ensure(8);
    this.buf.writeDoubleBE(v, at);
    return this;
  }

  bool(v: boolean): this {
    const at = this.ensure(1);
    this.buf[at] = v ? 1 : 0;
    return this;
  }

  uuid(v: string): this {
    const hex = v.replace(/-/g, '');
    if (hex.length !== 32 || !/^[0-9a-fA-F]+$/.test(hex)) throw new RangeError(`not a UUID: ${v}`);
    const at = this.ensure(16);
    this.buf.write(hex, at, 16, 'hex');
    return this;
  }

  uvarint(v: number): this {
    let value = v >>> 0;
    while (value > 0x7f) {
      const at = this.ensure(1);
      this.buf[at] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    const at = this.ensure(1);
    this.buf[at] = value;
    return this;
  }

  varint(v: number): this {
    return this.uvarint((v << 1) ^ (v >> 31));
  }

  varlong(v: bigint): this {
    let value = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    while (value > 0x7fn) {
      const at = this.ensure(1);
      this.buf[at] = Number(value & 0x7fn) | 0x80;
      value >>= 7n;
    }
    const at = this.ensure(1);
    this.buf[at] = Number(value);
    return this;
  }

  varlongNumber(v: number): this {
    if (Number.isSafeInteger(v) && v >= -0x40000000 && v < 0x40000000) return this.varint(v);
    return this.varlong(BigInt(v));
  }

  raw(b: Uint8Array): this {
    if (b.length >= BY_REFERENCE_MIN_BYTES && this.openLengths === 0) {
      if (this.used > 0) this.parts.push(this.buf.subarray(0, this.used));
      this.parts.push(b);
      this.base += this.used + b.length;
      // The old buffer's rest is not reused: its start is now one of the parts.
      this.buf = Buffer.allocUnsafe(1024);
      this.used = 0;
      return this;
    }
    const at = this.ensure(b.length);
    this.buf.set(b, at);
    return this;
  }

  private utf8(v: string, n: number): this {
    const at = this.ensure(n);
    this.buf.write(v, at, n, 'utf8');
    return this;
  }

  string(v: string): this {
    const n = Buffer.byteLength(v, 'utf8');
    return this.int16(n).utf8(v, n);
  }

  nullableString(v: string | null): this {
    if (v === null) return this.int16(-1);
    return this.string(v);
  }

  compactString(v: string): this {
    const n = Buffer.byteLength(v, 'utf8');
    return this.uvarint(n + 1).utf8(v, n);
  }

  compactNullableString(v: string | null): this {
    if (v === null) return this.uvarint(0);
    return this.compactString(v);
  }

  /** Bytes, given whole or as parts to write one after another (a response's record batches). */
  bytes(v: BytesValue): this {
    return this.int32(bytesLength(v)).rawParts(v);
  }

  nullableBytes(v: BytesValue | null): this {
    if (v === null) return this.int32(-1);
    return this.bytes(v);
  }

  compactBytes(v: BytesValue): this {
    return this.uvarint(bytesLength(v) + 1).rawParts(v);
  }

  compactNullableBytes(v: BytesValue | null): this {
    if (v === null) return this.uvarint(0);
    return this.compactBytes(v);
  }

  private rawParts(v: BytesValue): this {
    if (v instanceof Uint8Array) return this.raw(v);
    for (const part of v) this.raw(part);
    return this;
  }

  /** Reserves an int32 slot and returns a function that fills it with the bytes written since. */
  int32LengthPrefix(): () => void {
    const at = this.base + this.ensure(4);
    return () => this.patchInt32(at, this.offset - at - 4);
  }

  /**
   * Starts a field whose unsigned-varint byte length precedes it (tagged fields).
   * Reserves one byte; pass the returned mark to endUvarintLength() once the field is written.
   */
  startUvarintLength(): number {
    this.openLengths++;
    return this.base + this.ensure(1);
  }

  /** Fills the length reserved by startUvarintLength(), moving the field up if the length needs more than one byte. */
  endUvarintLength(mark: number): void {
    this.openLengths--;
    const length = this.offset - mark - 1;
    let at = mark - this.base;
    if (length > 0x7f) {
      const extra = uvarintSize(length) - 1;
      this.ensure(extra);
      this.buf.copyWithin(at + 1 + extra, at + 1, at + 1 + length);
    }
    let value = length;
    while (value > 0x7f) {
      this.buf[at++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.buf[at] = value;
  }

  /** Writes an int32 at a position already written (a length known only afterwards). */
  private patchInt32(position: number, v: number): void {
    if (position >= this.base) {
      this.buf.writeInt32BE(v, position - this.base);
      return;
    }
    // In an earlier buffer: the four bytes were written together, so they are in one part.
    let start = 0;
    for (const part of this.parts) {
      if (position < start + part.length) {
        new DataView(part.buffer, part.byteOffset, part.byteLength).setInt32(position - start, v);
        return;
      }
      start += part.length;
    }
    throw new RangeError(`position ${position} was not written`);
  }
}

/** Size in bytes of v as an unsigned varint. */
export function uvarintSize(v: number): number {
  let value = v >>> 0;
  let size = 1;
  while (value > 0x7f) {
    value >>>= 7;
    size++;
  }
  return size;
}

/** A Buffer view of the bytes (no copy): Buffer methods on any Uint8Array. */
export function bufferView(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
