// Test helper: builds LZ4 frames by hand (per the LZ4 frame format spec) so the decoder can be fed
// every frame variant (content size, block/content checksums, linked blocks, uncompressed blocks,
// skippable frames) independently of the library that encodes our own frames.

const P1 = 2654435761;
const P2 = 2246822519;
const P3 = 3266489917;
const P4 = 668265263;
const P5 = 374761393;

function rotl(x: number, r: number): number {
  return ((x << r) | (x >>> (32 - r))) >>> 0;
}

function mul(a: number, b: number): number {
  return Math.imul(a, b) >>> 0;
}

function round(acc: number, lane: number): number {
  return mul(rotl((acc + mul(lane, P2)) >>> 0, 13), P1);
}

/** xxHash32 (seed 0 by default), the checksum of LZ4 frames. */
export function xxh32(buf: Buffer, seed = 0): number {
  let i = 0;
  const len = buf.length;
  let h: number;
  if (len >= 16) {
    let v1 = (seed + P1 + P2) >>> 0;
    let v2 = (seed + P2) >>> 0;
    let v3 = seed >>> 0;
    let v4 = (seed - P1) >>> 0;
    while (i <= len - 16) {
      v1 = round(v1, buf.readUInt32LE(i));
      v2 = round(v2, buf.readUInt32LE(i + 4));
      v3 = round(v3, buf.readUInt32LE(i + 8));
      v4 = round(v4, buf.readUInt32LE(i + 12));
      i += 16;
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) >>> 0;
  } else {
    h = (seed + P5) >>> 0;
  }
  h = (h + len) >>> 0;
  while (i <= len - 4) {
    h = mul(rotl((h + mul(buf.readUInt32LE(i), P3)) >>> 0, 17), P4);
    i += 4;
  }
  while (i < len) {
    h = mul(rotl((h + mul(buf[i] as number, P5)) >>> 0, 11), P1);
    i++;
  }
  h ^= h >>> 15;
  h = mul(h, P2);
  h ^= h >>> 13;
  h = mul(h, P3);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface FrameBlock {
  data: Buffer;
  /** True: stored as-is (high bit of the block size set). */
  uncompressed: boolean;
}

export interface FrameOptions {
  independent?: boolean;
  blockChecksums?: boolean;
  /** The decoded content; when given, a content checksum is appended. */
  contentChecksumOf?: Buffer;
  contentSize?: bigint;
  /** Block maximum size code 4..7 (64 KiB .. 4 MiB). */
  blockMaxCode?: number;
  /** Leave out the end mark (a truncated frame). */
  omitEndMark?: boolean;
}

/** One LZ4 frame holding `blocks`. */
export function buildFrame(blocks: FrameBlock[], options: FrameOptions = {}): Buffer {
  const flg =
    0x40 |
    (options.independent === false ? 0 : 0x20) |
    (options.blockChecksums === true ? 0x10 : 0) |
    (options.contentSize !== undefined ? 0x08 : 0) |
    (options.contentChecksumOf !== undefined ? 0x04 : 0);
  const bd = (options.blockMaxCode ?? 4) << 4;
  const descriptor = [flg, bd];
  if (options.contentSize !== undefined) {
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(options.contentSize);
    descriptor.push(...size);
  }
  const desc = Buffer.from(descriptor);
  const parts: Buffer[] = [Buffer.from([0x04, 0x22, 0x4d, 0x18]), desc, Buffer.from([(xxh32(desc) >>> 8) & 0xff])];
  for (const block of blocks) {
    const size = Buffer.alloc(4);
    size.writeUInt32LE((block.data.length | (block.uncompressed ? 0x80000000 : 0)) >>> 0);
    parts.push(size, block.data);
    if (options.blockChecksums === true) {
      const ck = Buffer.alloc(4);
      ck.writeUInt32LE(xxh32(block.data));
      parts.push(ck);
    }
  }
  if (options.omitEndMark !== true) {
    parts.push(Buffer.alloc(4));
    if (options.contentChecksumOf !== undefined) {
      const ck = Buffer.alloc(4);
      ck.writeUInt32LE(xxh32(options.contentChecksumOf));
      parts.push(ck);
    }
  }
  return Buffer.concat(parts);
}

/** A skippable frame (magic 0x184D2A5X) carrying `payload`. */
export function skippableFrame(payload: Buffer, nibble = 0): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE((0x184d2a50 | nibble) >>> 0, 0);
  head.writeUInt32LE(payload.length, 4);
  return Buffer.concat([head, payload]);
}
