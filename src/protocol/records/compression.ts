/**
 * The five Kafka compression codecs, in the byte formats Kafka clients actually write:
 *
 * - GZIP: a standard gzip stream (several members allowed), zlib.
 * - SNAPPY: the xerial snappy-java stream that the Java client and librdkafka write (magic
 *   `82 53 4E 41 50 50 59 00`, int32 version, int32 compatible version, then chunks of
 *   [int32 length, raw snappy block]); a plain raw snappy block (kafkajs-snappy, some Go clients)
 *   decodes too. Encoding writes the xerial stream in 32 KiB chunks, as snappy-java does.
 * - LZ4: the standard LZ4 frame format (KIP-57: magic 2 batches carry a correct header checksum),
 *   with or without block checksums, content size, content checksum, linked blocks; several frames
 *   and skippable frames allowed. Encoding writes one frame of independent 64 KiB blocks without
 *   checksums, the layout of the Java client.
 * - ZSTD: standard frames, with or without the content size (the Java client's streaming frames
 *   have none); several frames allowed.
 *
 * Every failure comes out as a CorruptRecordError (or UnsupportedCompressionTypeError for a codec
 * id outside 0..4), never as a codec library's own error. Decompression is bounded by
 * `maxBytes` (default DEFAULT_MAX_DECOMPRESSED_BYTES) so that a small hostile payload cannot make
 * the process allocate gigabytes.
 *
 * Sync or async: the native calls are fastest synchronously (a thread-pool hop costs 25..100 us,
 * more than decoding a typical 16 KiB batch), so the async functions run inputs below
 * ASYNC_THRESHOLD_BYTES synchronously and hand larger ones to libuv's thread pool (gzip, snappy,
 * lz4) so a big batch does not stall the event loop. zstd-napi has no async API: zstd always runs
 * synchronously.
 */
import zlib from 'node:zlib';
import { promisify } from 'node:util';
import * as snappy from 'snappy';
import * as lz4 from 'lz4-napi';
import zstdBinding from 'zstd-napi/binding.js';
import { Compressor as ZstdCompressor } from 'zstd-napi';
import { CorruptRecordError, UnsupportedCompressionTypeError } from './errors.js';
import { bufferView } from '../primitives.js';

export const CompressionType = {
  NONE: 0,
  GZIP: 1,
  SNAPPY: 2,
  LZ4: 3,
  ZSTD: 4,
} as const;
export type CompressionType = (typeof CompressionType)[keyof typeof CompressionType];

const NAMES: readonly string[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

/** Default bound on the size of one decompressed payload (256 MiB). */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 256 * 1024 * 1024;

/** Inputs at least this large go to the thread pool in the async functions (where the codec allows). */
export const ASYNC_THRESHOLD_BYTES = 256 * 1024;

/** Chunk size of the xerial snappy stream, as snappy-java's default block size. */
export const XERIAL_CHUNK_SIZE = 32 * 1024;

export interface CompressOptions {
  /**
   * Codec level: gzip 1..9 (default 6, zlib's), zstd (default 3, Kafka's and zstd's). Ignored by
   * snappy and lz4 (lz4-napi has one level).
   */
  level?: number;
}

export interface DecompressOptions {
  /** Fail (CorruptRecordError) if the output would be larger. Default DEFAULT_MAX_DECOMPRESSED_BYTES. */
  maxBytes?: number;
}

/** True for 0..4. */
export function isCompressionType(id: number): id is CompressionType {
  return Number.isInteger(id) && id >= 0 && id <= 4;
}

/** The CompressionType for a codec id (attributes bits 0-2); UnsupportedCompressionTypeError for 5..7. */
export function compressionTypeFromId(id: number): CompressionType {
  if (!isCompressionType(id)) throw new UnsupportedCompressionTypeError(id);
  return id;
}

/** Kafka's name for a codec (`compression.type` values): none, gzip, snappy, lz4, zstd. */
export function compressionName(type: CompressionType): string {
  return NAMES[type] ?? `unknown(${String(type)})`;
}

/** The CompressionType for a Kafka `compression.type` name; undefined when unknown. */
export function compressionTypeFromName(name: string): CompressionType | undefined {
  const i = NAMES.indexOf(name.toLowerCase());
  return i < 0 ? undefined : compressionTypeFromId(i);
}

function corrupt(type: CompressionType, what: string, cause?: unknown): CorruptRecordError {
  const detail = cause instanceof Error ? `: ${cause.message}` : '';
  return new CorruptRecordError(`${compressionName(type)}: ${what}${detail}`, cause === undefined ? undefined : { cause });
}

function limitOf(options: DecompressOptions | undefined): number {
  return options?.maxBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
}

function tooLarge(type: CompressionType, limit: number): CorruptRecordError {
  return corrupt(type, `decompressed size exceeds the limit of ${limit} bytes`);
}

// ---------------------------------------------------------------------------------------------
// gzip

const gzipAsync = promisify(zlib.gzip);
const gunzipAsync = promisify(zlib.gunzip);

function gzipOptions(options: CompressOptions | undefined): zlib.ZlibOptions {
  return options?.level === undefined ? {} : { level: options.level };
}

function gunzipSync(data: Buffer, limit: number): Buffer {
  try {
    return zlib.gunzipSync(data, { maxOutputLength: Math.max(1, limit) });
  } catch (err) {
    throw gunzipError(err, limit);
  }
}

async function gunzip(data: Buffer, limit: number): Promise<Buffer> {
  try {
    return await gunzipAsync(data, { maxOutputLength: Math.max(1, limit) });
  } catch (err) {
    throw gunzipError(err, limit);
  }
}

function gunzipError(err: unknown, limit: number): CorruptRecordError {
  if (err instanceof RangeError && (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
    return tooLarge(CompressionType.GZIP, limit);
  }
  return corrupt(CompressionType.GZIP, 'invalid gzip stream', err);
}

// ---------------------------------------------------------------------------------------------
// snappy (xerial framing and raw blocks)

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_SIZE = 16;
/** Snappy expands at most ~21x (a 3-byte copy tag yields 64 bytes); a longer claim is corrupt. */
const SNAPPY_MAX_RATIO = 24;

/** True if `data` starts with the xerial snappy-java stream magic. */
export function isXerialSnappy(data: Uint8Array): boolean {
  return data.length >= XERIAL_MAGIC.length && bufferView(data).subarray(0, XERIAL_MAGIC.length).equals(XERIAL_MAGIC);
}

/** The uncompressed length a raw snappy block declares in its varint preamble. */
function snappyDeclaredLength(block: Buffer): number {
  let result = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) throw corrupt(CompressionType.SNAPPY, 'truncated block preamble');
    const byte = block[i] as number;
    result += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return result;
  }
  throw corrupt(CompressionType.SNAPPY, 'block preamble is longer than 5 bytes');
}

/** Splits a snappy payload into raw blocks (one for a raw payload), checking declared sizes. */
function snappyBlocks(data: Buffer, limit: number): Buffer[] {
  if (!isXerialSnappy(data)) {
    checkSnappyBlock(data, 0, limit);
    return [data];
  }
  const blocks: Buffer[] = [];
  let total = 0;
  let at = 0;
  while (at < data.length) {
    // snappy-java accepts a concatenation of streams: a stream header may follow any chunk.
    if (data.length - at >= XERIAL_MAGIC.length && data.subarray(at, at + XERIAL_MAGIC.length).equals(XERIAL_MAGIC)) {
      if (data.length - at < XERIAL_HEADER_SIZE) throw corrupt(CompressionType.SNAPPY, 'truncated xerial header');
      at += XERIAL_HEADER_SIZE;
      continue;
    }
    if (data.length - at < 4) throw corrupt(CompressionType.SNAPPY, 'truncated xerial chunk length');
    const length = data.readInt32BE(at);
    at += 4;
    if (length < 0 || length > data.length - at) {
      throw corrupt(CompressionType.SNAPPY, `xerial chunk of ${length} bytes overruns the payload`);
    }
    const block = data.subarray(at, at + length);
    at += length;
    total = checkSnappyBlock(block, total, limit);
    blocks.push(block);
  }
  return blocks;
}

function checkSnappyBlock(block: Buffer, totalBefore: number, limit: number): number {
  if (block.length === 0) throw corrupt(CompressionType.SNAPPY, 'empty block');
  const declared = snappyDeclaredLength(block);
  if (declared > block.length * SNAPPY_MAX_RATIO + 64) {
    throw corrupt(CompressionType.SNAPPY, `block of ${block.length} bytes claims ${declared} bytes of output`);
  }
  const total = totalBefore + declared;
  if (total > limit) throw tooLarge(CompressionType.SNAPPY, limit);
  return total;
}

function snappyBlockSync(block: Buffer): Buffer {
  try {
    return snappy.uncompressSync(block, { asBuffer: true }) as Buffer;
  } catch (err) {
    throw corrupt(CompressionType.SNAPPY, 'invalid block', err);
  }
}

async function snappyBlockAsync(block: Buffer): Promise<Buffer> {
  try {
    return (await snappy.uncompress(block, { asBuffer: true })) as Buffer;
  } catch (err) {
    throw corrupt(CompressionType.SNAPPY, 'invalid block', err);
  }
}

function concat(parts: Buffer[]): Buffer {
  if (parts.length === 0) return Buffer.alloc(0);
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}

function xerialHeader(): Buffer {
  const header = Buffer.alloc(XERIAL_HEADER_SIZE);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(1, 8); // version
  header.writeInt32BE(1, 12); // minimum compatible version
  return header;
}

function xerialAssemble(blocks: Buffer[]): Buffer {
  let size = XERIAL_HEADER_SIZE;
  for (const b of blocks) size += 4 + b.length;
  const out = Buffer.allocUnsafe(size);
  xerialHeader().copy(out, 0);
  let at = XERIAL_HEADER_SIZE;
  for (const b of blocks) {
    out.writeInt32BE(b.length, at);
    b.copy(out, at + 4);
    at += 4 + b.length;
  }
  return out;
}

function xerialChunks(data: Buffer): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; at += XERIAL_CHUNK_SIZE) chunks.push(data.subarray(at, at + XERIAL_CHUNK_SIZE));
  return chunks;
}

/** Encodes `data` as a xerial snappy-java stream (what the Java client writes). */
export function snappyXerialCompressSync(data: Uint8Array): Buffer {
  return xerialAssemble(xerialChunks(bufferView(data)).map((c) => snappy.compressSync(c)));
}

// ---------------------------------------------------------------------------------------------
// lz4 frames

const LZ4_FRAME_MAGIC = 0x184d2204;
const LZ4_SKIPPABLE_MASK = 0xfffffff0;
const LZ4_SKIPPABLE_MAGIC = 0x184d2a50;
const LZ4_LEGACY_MAGIC = 0x184c2102;
/** An LZ4 sequence needs at least one byte per 255 bytes of output, plus a small tail. */
const LZ4_MAX_RATIO = 255;

interface Lz4Frame {
  /** The frame's bytes (header to end mark and optional content checksum). */
  bytes: Buffer;
  /** The frame's blocks: [data, isUncompressed]. */
  blocks: Array<[Buffer, boolean]>;
  blockMaxSize: number;
  independent: boolean;
  contentSize: number | null;
  /** An upper bound on the decoded size, from the block sizes. */
  bound: number;
}

/** Walks the LZ4 frames of `data` (no decompression), validating the structure. */
function lz4Frames(data: Buffer): Lz4Frame[] {
  const frames: Lz4Frame[] = [];
  let at = 0;
  const need = (n: number, what: string): void => {
    if (data.length - at < n) throw corrupt(CompressionType.LZ4, `truncated ${what}`);
  };
  if (data.length === 0) throw corrupt(CompressionType.LZ4, 'empty payload');
  while (at < data.length) {
    need(4, 'frame magic');
    const magic = data.readUInt32LE(at);
    if (((magic & LZ4_SKIPPABLE_MASK) >>> 0) === LZ4_SKIPPABLE_MAGIC) {
      need(8, 'skippable frame');
      const size = data.readUInt32LE(at + 4);
      at += 8;
      need(size, 'skippable frame');
      at += size;
      continue;
    }
    if (magic === LZ4_LEGACY_MAGIC) throw corrupt(CompressionType.LZ4, 'legacy LZ4 frames are not supported');
    if (magic !== LZ4_FRAME_MAGIC) {
      throw corrupt(CompressionType.LZ4, `bad frame magic 0x${magic.toString(16).padStart(8, '0')}`);
    }
    const start = at;
    at += 4;
    need(2, 'frame descriptor');
    const flg = data[at] as number;
    const bd = data[at + 1] as number;
    at += 2;
    if (flg >> 6 !== 1) throw corrupt(CompressionType.LZ4, `unsupported frame version ${flg >> 6}`);
    if ((flg & 0x02) !== 0 || (bd & 0x8f) !== 0) throw corrupt(CompressionType.LZ4, 'reserved descriptor bits set');
    const independent = (flg & 0x20) !== 0;
    const blockChecksum = (flg & 0x10) !== 0;
    const hasContentSize = (flg & 0x08) !== 0;
    const contentChecksum = (flg & 0x04) !== 0;
    if ((flg & 0x01) !== 0) throw corrupt(CompressionType.LZ4, 'frames with a dictionary id are not supported');
    const blockMaxCode = (bd >> 4) & 0x07;
    if (blockMaxCode < 4) throw corrupt(CompressionType.LZ4, `invalid block maximum size code ${blockMaxCode}`);
    const blockMaxSize = 1 << (2 * blockMaxCode + 8); // 4 -> 64 KiB .. 7 -> 4 MiB
    let contentSize: number | null = null;
    if (hasContentSize) {
      need(8, 'content size');
      const size = data.readBigUInt64LE(at);
      contentSize = size > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(size);
      at += 8;
    }
    need(1, 'header checksum');
    at += 1; // the header checksum is verified by the decoder
    const blocks: Array<[Buffer, boolean]> = [];
    let bound = 0;
    for (;;) {
      need(4, 'block size');
      const word = data.readUInt32LE(at);
      at += 4;
      if (word === 0) break; // end mark
      const uncompressed = (word & 0x80000000) !== 0;
      const size = word & 0x7fffffff;
      if (size > blockMaxSize) throw corrupt(CompressionType.LZ4, `block of ${size} bytes exceeds the frame's maximum`);
      need(size + (blockChecksum ? 4 : 0), 'block');
      blocks.push([data.subarray(at, at + size), uncompressed]);
      bound += uncompressed ? size : Math.min(blockMaxSize, size * LZ4_MAX_RATIO + 64);
      at += size + (blockChecksum ? 4 : 0);
    }
    if (contentChecksum) {
      need(4, 'content checksum');
      at += 4;
    }
    frames.push({ bytes: data.subarray(start, at), blocks, blockMaxSize, independent, contentSize, bound });
  }
  return frames;
}

/**
 * Decodes a frame block by block, never producing more than `room` bytes. Used only for frames
 * whose worst case exceeds the limit: the fast path (one native call per frame) cannot stop early.
 * Checksums are not verified here; the record batch's CRC-32C covers the same bytes.
 */
function lz4FrameBounded(frame: Lz4Frame, room: number, limit: number): Buffer[] {
  const out: Buffer[] = [];
  let produced = 0;
  let window: Buffer = Buffer.alloc(0);
  for (const [block, uncompressed] of frame.blocks) {
    let decoded: Buffer;
    if (uncompressed) {
      decoded = block;
    } else {
      const claim = Math.min(frame.blockMaxSize, block.length * LZ4_MAX_RATIO + 64, room - produced + 1);
      const prefixed = Buffer.allocUnsafe(4 + block.length);
      prefixed.writeUInt32LE(claim, 0);
      block.copy(prefixed, 4);
      try {
        decoded = frame.independent || window.length === 0 ? lz4.uncompressSync(prefixed) : lz4.uncompressSync(prefixed, window);
      } catch (err) {
        if (claim === room - produced + 1) throw tooLarge(CompressionType.LZ4, limit);
        throw corrupt(CompressionType.LZ4, 'invalid block', err);
      }
    }
    produced += decoded.length;
    if (produced > room) throw tooLarge(CompressionType.LZ4, limit);
    out.push(decoded);
    if (!frame.independent) {
      const joined = Buffer.concat([window, decoded]);
      window = joined.length > 65536 ? joined.subarray(joined.length - 65536) : joined;
    }
  }
  if (frame.contentSize !== null && frame.contentSize !== produced) {
    throw corrupt(CompressionType.LZ4, `content size ${frame.contentSize} does not match the ${produced} bytes decoded`);
  }
  return out;
}

function lz4DecompressSync(data: Buffer, limit: number): Buffer {
  const out: Buffer[] = [];
  let total = 0;
  for (const frame of lz4Frames(data)) {
    if (frame.contentSize !== null && total + frame.contentSize > limit) throw tooLarge(CompressionType.LZ4, limit);
    if (total + frame.bound <= limit) {
      let decoded: Buffer;
      try {
        decoded = lz4.decompressFrameSync(frame.bytes);
      } catch (err) {
        throw corrupt(CompressionType.LZ4, 'invalid frame', err);
      }
      out.push(decoded);
      total += decoded.length;
    } else {
      for (const part of lz4FrameBounded(frame, limit - total, limit)) {
        out.push(part);
        total += part.length;
      }
    }
  }
  return concat(out);
}

async function lz4Decompress(data: Buffer, limit: number): Promise<Buffer> {
  const frames = lz4Frames(data);
  // The thread pool pays off only for one big frame decoded in one call, the common case.
  const only = frames.length === 1 ? frames[0] : undefined;
  if (only === undefined || only.bound > limit || data.length < ASYNC_THRESHOLD_BYTES) return lz4DecompressSync(data, limit);
  if (only.contentSize !== null && only.contentSize > limit) throw tooLarge(CompressionType.LZ4, limit);
  try {
    return await lz4.decompressFrame(only.bytes);
  } catch (err) {
    throw corrupt(CompressionType.LZ4, 'invalid frame', err);
  }
}

// ---------------------------------------------------------------------------------------------
// zstd

let zstdDctx: InstanceType<typeof zstdBinding.DCtx> | undefined;
let zstdCompressor: ZstdCompressor | undefined;
let zstdCompressorLevel: number | undefined;
const ZSTD_OUT_CHUNK = 128 * 1024;

function zstdCompressSync(data: Buffer, options: CompressOptions | undefined): Buffer {
  const level = options?.level ?? 3;
  zstdCompressor ??= new ZstdCompressor();
  if (zstdCompressorLevel !== level) {
    zstdCompressor.setParameters({ compressionLevel: level });
    zstdCompressorLevel = level;
  }
  return zstdCompressor.compress(data);
}

/**
 * Streaming decode (frames with or without a content size, several frames, skippable frames),
 * bounded by `limit`, failing on a truncated frame (zstd-napi's one-shot helper returns the partial
 * output of a truncated stream without an error, so it is not used).
 */
function zstdDecompressSync(data: Buffer, limit: number): Buffer {
  if (data.length === 0) throw corrupt(CompressionType.ZSTD, 'empty payload');
  zstdDctx ??= new zstdBinding.DCtx();
  const dctx = zstdDctx;
  try {
    dctx.reset(zstdBinding.ResetDirective.sessionOnly);
  } catch (err) {
    throw corrupt(CompressionType.ZSTD, 'cannot reset the decoder', err);
  }
  let hint: number | null;
  try {
    hint = zstdBinding.getFrameContentSize(data);
  } catch {
    hint = null; // a skippable frame first, or garbage that the decoder will reject below
  }
  const out: Buffer[] = [];
  let total = 0;
  let input = data;
  for (;;) {
    // First chunk: the declared content size (trusted up to a generous ratio, so a lying header
    // costs little), else a guess; later chunks double the output so far.
    const wanted =
      out.length === 0
        ? hint !== null
          ? Math.min(hint, data.length * 1024 + ZSTD_OUT_CHUNK)
          : Math.max(ZSTD_OUT_CHUNK, data.length * 4)
        : Math.max(ZSTD_OUT_CHUNK, total);
    const room = Math.min(wanted, limit - total + 1);
    const chunk = Buffer.allocUnsafe(Math.max(room, 1));
    let ret: number;
    let produced: number;
    let consumed: number;
    try {
      [ret, produced, consumed] = dctx.decompressStream(chunk, input);
    } catch (err) {
      throw corrupt(CompressionType.ZSTD, 'invalid frame', err);
    }
    input = input.subarray(consumed);
    total += produced;
    if (total > limit) throw tooLarge(CompressionType.ZSTD, limit);
    if (produced > 0) out.push(chunk.subarray(0, produced));
    if (input.length === 0 && ret === 0) break;
    if (produced === 0 && consumed === 0) throw corrupt(CompressionType.ZSTD, 'truncated frame');
    if (input.length === 0 && produced < chunk.length) throw corrupt(CompressionType.ZSTD, 'truncated frame');
  }
  if (out.length === 0) return Buffer.alloc(0);
  if (out.length === 1) {
    const only = out[0] as Buffer;
    // Do not pin a mostly empty chunk under decoded records: copy a small result out.
    return only.length * 2 < only.buffer.byteLength ? Buffer.from(only) : only;
  }
  return Buffer.concat(out, total);
}

// ---------------------------------------------------------------------------------------------
// public API

/** Compresses `data` with `type` (NONE returns the input). */
export function compressSync(type: CompressionType, data: Uint8Array, options?: CompressOptions): Buffer {
  const input = bufferView(data);
  switch (type) {
    case CompressionType.NONE:
      return input;
    case CompressionType.GZIP:
      return zlib.gzipSync(input, gzipOptions(options));
    case CompressionType.SNAPPY:
      return snappyXerialCompressSync(input);
    case CompressionType.LZ4:
      return lz4.compressFrameSync(input);
    case CompressionType.ZSTD:
      return zstdCompressSync(input, options);
    default:
      throw new UnsupportedCompressionTypeError(type as number);
  }
}

/** Async compress: the thread pool for inputs of ASYNC_THRESHOLD_BYTES or more where the codec has one. */
export async function compress(type: CompressionType, data: Uint8Array, options?: CompressOptions): Promise<Buffer> {
  const input = bufferView(data);
  if (input.length < ASYNC_THRESHOLD_BYTES) return compressSync(type, input, options);
  switch (type) {
    case CompressionType.GZIP:
      return gzipAsync(input, gzipOptions(options));
    case CompressionType.SNAPPY:
      return xerialAssemble(await Promise.all(xerialChunks(input).map((c) => snappy.compress(c))));
    case CompressionType.LZ4:
      return lz4.compressFrame(input);
    default:
      return compressSync(type, input, options);
  }
}

/** Decompresses `data` compressed with `type` (NONE returns the input). */
export function decompressSync(type: CompressionType, data: Uint8Array, options?: DecompressOptions): Buffer {
  const input = bufferView(data);
  const limit = limitOf(options);
  switch (type) {
    case CompressionType.NONE:
      if (input.length > limit) throw tooLarge(type, limit);
      return input;
    case CompressionType.GZIP:
      return gunzipSync(input, limit);
    case CompressionType.SNAPPY:
      return concat(snappyBlocks(input, limit).map(snappyBlockSync));
    case CompressionType.LZ4:
      return lz4DecompressSync(input, limit);
    case CompressionType.ZSTD:
      return zstdDecompressSync(input, limit);
    default:
      throw new UnsupportedCompressionTypeError(type as number);
  }
}

/** Async decompress: the thread pool for inputs of ASYNC_THRESHOLD_BYTES or more where the codec has one. */
export async function decompress(type: CompressionType, data: Uint8Array, options?: DecompressOptions): Promise<Buffer> {
  const input = bufferView(data);
  if (input.length < ASYNC_THRESHOLD_BYTES) return decompressSync(type, input, options);
  const limit = limitOf(options);
  switch (type) {
    case CompressionType.GZIP:
      return gunzip(input, limit);
    case CompressionType.SNAPPY:
      return concat(await Promise.all(snappyBlocks(input, limit).map(snappyBlockAsync)));
    case CompressionType.LZ4:
      return lz4Decompress(input, limit);
    default:
      return decompressSync(type, input, options);
  }
}
