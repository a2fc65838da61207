import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import zlib from 'node:zlib';
import * as snappy from 'snappy';
import * as lz4 from 'lz4-napi';
import { CompressStream as ZstdCompressStream } from 'zstd-napi';
import {
  ASYNC_THRESHOLD_BYTES,
  CompressionType,
  XERIAL_CHUNK_SIZE,
  compress,
  compressSync,
  compressionName,
  compressionTypeFromId,
  compressionTypeFromName,
  decompress,
  decompressSync,
  isXerialSnappy,
} from '../../../src/protocol/records/compression.js';
import {
  CorruptRecordError,
  RecordError,
  UnsupportedCompressionTypeError,
} from '../../../src/protocol/records/errors.js';
import { buildFrame, skippableFrame, xxh32 } from './lz4-frames.js';

const CODECS = [CompressionType.NONE, CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4, CompressionType.ZSTD];
const COMPRESSED = CODECS.filter((c) => c !== CompressionType.NONE);

/** Deterministic pseudo-random bytes. */
function randomBytes(n: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Compressible text-like bytes. */
function textBytes(n: number): Buffer {
  const words = ['kafka', 'kinesis', 'gateway', 'record', 'batch', 'offset', 'partition', 'shard'];
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < n; i++) {
    const w = `${words[(i * 7) % words.length] as string}-${i % 97} `;
    parts.push(w);
    size += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, n);
}

function assertCorrupt(fn: () => unknown, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof CorruptRecordError, `expected CorruptRecordError, got ${String(err)}`);
    assert.equal(err.errorCode, 2);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

async function assertCorruptAsync(fn: () => Promise<unknown>, pattern?: RegExp): Promise<void> {
  await assert.rejects(fn, (err: unknown) => {
    assert.ok(err instanceof CorruptRecordError, `expected CorruptRecordError, got ${String(err)}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

function haveTool(name: string): boolean {
  const r = spawnSync(name, ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}

function runTool(name: string, args: string[], input: Buffer): Buffer {
  const r = spawnSync(name, args, { input, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, `${name} ${args.join(' ')} failed: ${String(r.stderr)}`);
  return r.stdout;
}

describe('compression: codec ids and names', () => {
  it('maps ids 0..4 and names', () => {
    for (const c of CODECS) assert.equal(compressionTypeFromId(c), c);
    assert.deepEqual(CODECS.map(compressionName), ['none', 'gzip', 'snappy', 'lz4', 'zstd']);
    assert.equal(compressionTypeFromName('ZSTD'), CompressionType.ZSTD);
    assert.equal(compressionTypeFromName('brotli'), undefined);
  });

  it('rejects ids 5, 6, 7 with UNSUPPORTED_COMPRESSION_TYPE (76)', async () => {
    for (const id of [5, 6, 7, -1, 1.5]) {
      assert.throws(
        () => compressionTypeFromId(id),
        (err: unknown) => err instanceof UnsupportedCompressionTypeError && err.errorCode === 76 && err instanceof RecordError,
      );
    }
    const bogus = 5 as CompressionType;
    assert.throws(() => decompressSync(bogus, Buffer.from('x')), UnsupportedCompressionTypeError);
    assert.throws(() => compressSync(bogus, Buffer.from('x')), UnsupportedCompressionTypeError);
    await assert.rejects(() => decompress(bogus, Buffer.alloc(ASYNC_THRESHOLD_BYTES)), UnsupportedCompressionTypeError);
  });
});

describe('compression: round trips', () => {
  const inputs: Array<[string, Buffer]> = [
    ['empty', Buffer.alloc(0)],
    ['one byte', Buffer.from([0x2a])],
    ['text 1 KiB', textBytes(1024)],
    ['random 50 KiB', randomBytes(50 * 1024)],
    ['text 100 KiB (several xerial chunks, two lz4 blocks)', textBytes(100 * 1024)],
    ['text 600 KiB (thread pool path for compression)', textBytes(600 * 1024)],
    ['random 400 KiB (thread pool path for decompression too)', randomBytes(400 * 1024, 7)],
    ['zeros 1 MiB', Buffer.alloc(1024 * 1024)],
  ];
  for (const codec of CODECS) {
    for (const [name, data] of inputs) {
      it(`${compressionName(codec)}: ${name}`, async () => {
        const a = compressSync(codec, data);
        const b = await compress(codec, data);
        assert.ok(decompressSync(codec, a).equals(data));
        assert.ok((await decompress(codec, a)).equals(data));
        assert.ok(decompressSync(codec, b).equals(data));
        assert.ok((await decompress(codec, b)).equals(data));
      });
    }
  }

  it('accepts a Uint8Array that is not a Buffer', () => {
    const data = textBytes(5000);
    const view = new Uint8Array(data.buffer, data.byteOffset, data.length);
    for (const codec of COMPRESSED) assert.ok(decompressSync(codec, compressSync(codec, view)).equals(data));
  });

  it('honours compression levels for gzip and zstd', () => {
    const data = textBytes(200 * 1024);
    for (const codec of [CompressionType.GZIP, CompressionType.ZSTD]) {
      const fast = compressSync(codec, data, { level: 1 });
      const best = compressSync(codec, data, { level: 9 });
      assert.ok(!best.equals(fast), `${compressionName(codec)}: the level made no difference`);
      assert.ok(decompressSync(codec, fast).equals(data));
      assert.ok(decompressSync(codec, best).equals(data));
    }
  });

  it('rejects an empty payload for every codec', () => {
    for (const codec of COMPRESSED) assertCorrupt(() => decompressSync(codec, Buffer.alloc(0)));
  });
});

describe('compression: snappy framing', () => {
  it('encodes the xerial snappy-java stream: magic, version 1, compat 1, 32 KiB chunks', () => {
    const data = textBytes(3 * XERIAL_CHUNK_SIZE + 100);
    const out = compressSync(CompressionType.SNAPPY, data);
    assert.ok(isXerialSnappy(out));
    assert.equal(out.subarray(0, 8).toString('hex'), '82534e4150505900');
    assert.equal(out.readInt32BE(8), 1);
    assert.equal(out.readInt32BE(12), 1);
    const decoded: Buffer[] = [];
    for (let at = 16; at < out.length; ) {
      const len = out.readInt32BE(at);
      const chunk = snappy.uncompressSync(out.subarray(at + 4, at + 4 + len), { asBuffer: true }) as Buffer;
      assert.ok(chunk.length <= XERIAL_CHUNK_SIZE);
      decoded.push(chunk);
      at += 4 + len;
    }
    assert.equal(decoded.length, 4);
    assert.ok(Buffer.concat(decoded).equals(data));
  });

  it('decodes a hand-built xerial stream with literal-only blocks', () => {
    // raw snappy block: varint length, literal tag ((len - 1) << 2), bytes
    const block = (s: string): Buffer => Buffer.concat([Buffer.from([s.length, (s.length - 1) << 2]), Buffer.from(s)]);
    const chunk = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    const header = Buffer.from('82534e41505059000000000100000001', 'hex');
    const stream = Buffer.concat([header, chunk(block('hello ')), chunk(block('world'))]);
    assert.equal(decompressSync(CompressionType.SNAPPY, stream).toString(), 'hello world');
    // snappy-java also reads a concatenation of streams (a header after a chunk)
    const twice = Buffer.concat([stream, header, chunk(block('!'))]);
    assert.equal(decompressSync(CompressionType.SNAPPY, twice).toString(), 'hello world!');
    // a header with no chunks is an empty stream
    assert.equal(decompressSync(CompressionType.SNAPPY, header).length, 0);
  });

  it('decodes a plain raw snappy block (kafkajs-snappy, some Go clients)', async () => {
    const data = textBytes(70 * 1024);
    const raw = snappy.compressSync(data);
    assert.ok(!isXerialSnappy(raw));
    assert.ok(decompressSync(CompressionType.SNAPPY, raw).equals(data));
    const big = textBytes(ASYNC_THRESHOLD_BYTES * 3);
    assert.ok((await decompress(CompressionType.SNAPPY, snappy.compressSync(big))).equals(big));
  });

  it('rejects truncated and malformed streams', () => {
    const stream = compressSync(CompressionType.SNAPPY, textBytes(100 * 1024));
    assertCorrupt(() => decompressSync(CompressionType.SNAPPY, stream.subarray(0, stream.length - 1)));
    assertCorrupt(() => decompressSync(CompressionType.SNAPPY, stream.subarray(0, 18)), /chunk length/);
    assertCorrupt(() => decompressSync(CompressionType.SNAPPY, stream.subarray(0, 12)), /header/);
    const negative = Buffer.from(stream);
    negative.writeInt32BE(-5, 16);
    assertCorrupt(() => decompressSync(CompressionType.SNAPPY, negative), /overruns/);
    assertCorrupt(() => decompressSync(CompressionType.SNAPPY, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])));
  });

  it('rejects a block claiming an impossible output size without allocating it', () => {
    // preamble claims 4 GiB from a 6-byte block
    assertCorrupt(() => decompressSync(CompressionType.SNAPPY, Buffer.from('ffffffff0f00', 'hex')), /claims/);
  });
});

describe('compression: lz4 frames', () => {
  const literalBlock = (s: string): Buffer => {
    // one sequence with only literals (s.length < 15): token = length << 4
    assert.ok(s.length < 15);
    return Buffer.concat([Buffer.from([s.length << 4]), Buffer.from(s)]);
  };
  const rawBlock = (data: Buffer, dict?: Buffer): Buffer =>
    (dict === undefined ? lz4.compressSync(data) : lz4.compressSync(data, dict)).subarray(4);

  it('our xxh32 matches the header checksum lz4-napi writes', () => {
    const frame = lz4.compressFrameSync(Buffer.from('x'));
    assert.equal((xxh32(frame.subarray(4, 6)) >>> 8) & 0xff, frame[6]);
  });

  it('encodes a standard frame: independent 64 KiB blocks, no checksums (as the Java client)', () => {
    const out = compressSync(CompressionType.LZ4, textBytes(1000));
    assert.equal(out.readUInt32LE(0), 0x184d2204);
    assert.equal(out[4], 0x60);
    assert.equal(out[5], 0x40);
  });

  it('decodes frame variants built by hand', () => {
    const a = textBytes(40 * 1024);
    const b = textBytes(30 * 1024).reverse();
    const ab = Buffer.concat([a, b]);
    const blocks = [
      { data: rawBlock(a), uncompressed: false },
      { data: b, uncompressed: true },
    ];
    const cases: Array<[string, Buffer, Buffer]> = [
      ['literal-only block', buildFrame([{ data: literalBlock('hello'), uncompressed: false }]), Buffer.from('hello')],
      ['plain', buildFrame(blocks), ab],
      ['content size', buildFrame(blocks, { contentSize: BigInt(ab.length) }), ab],
      ['block checksums', buildFrame(blocks, { blockChecksums: true }), ab],
      ['content checksum', buildFrame(blocks, { contentChecksumOf: ab }), ab],
      ['all flags, 4 MiB blocks', buildFrame(blocks, { blockChecksums: true, contentChecksumOf: ab, contentSize: BigInt(ab.length), blockMaxCode: 7 }), ab],
      ['no blocks', buildFrame([]), Buffer.alloc(0)],
    ];
    // linked blocks: the second block refers back into the first
    const tail = Buffer.from(a.subarray(0, 3000));
    cases.push([
      'linked blocks',
      buildFrame(
        [
          { data: rawBlock(a), uncompressed: false },
          { data: rawBlock(tail, a), uncompressed: false },
        ],
        { independent: false },
      ),
      Buffer.concat([a, tail]),
    ]);
    // several frames, and skippable frames, in one payload
    cases.push([
      'two frames and skippable frames',
      Buffer.concat([skippableFrame(Buffer.from('meta')), buildFrame([blocks[0] as (typeof blocks)[0]]), skippableFrame(Buffer.alloc(0), 0xf), buildFrame([blocks[1] as (typeof blocks)[1]])]),
      ab,
    ]);
    for (const [name, frame, expected] of cases) {
      assert.ok(decompressSync(CompressionType.LZ4, frame).equals(expected), name);
      // the bounded (block-by-block) path, forced by a limit just above the real size
      assert.ok(decompressSync(CompressionType.LZ4, frame, { maxBytes: expected.length }).equals(expected), `${name} (bounded)`);
    }
  });

  it('rejects bad checksums, truncation, bad magic, wrong content size', () => {
    const data = textBytes(20000);
    const good = buildFrame([{ data: rawBlock(data), uncompressed: false }], { blockChecksums: true, contentChecksumOf: data });
    const flip = (at: number, mask = 0x01): Buffer => {
      const copy = Buffer.from(good);
      copy[at] = (copy[at] as number) ^ mask;
      return copy;
    };
    assertCorrupt(() => decompressSync(CompressionType.LZ4, flip(6)), /lz4/); // header checksum
    assertCorrupt(() => decompressSync(CompressionType.LZ4, flip(good.length - 1))); // content checksum
    assertCorrupt(() => decompressSync(CompressionType.LZ4, flip(good.length - 9))); // block checksum
    assertCorrupt(() => decompressSync(CompressionType.LZ4, flip(0)), /magic/);
    assertCorrupt(() => decompressSync(CompressionType.LZ4, flip(4, 0x80)), /version/);
    assertCorrupt(() => decompressSync(CompressionType.LZ4, flip(4, 0x02)), /reserved/);
    assertCorrupt(() => decompressSync(CompressionType.LZ4, flip(4, 0x01)), /dictionary/);
    assertCorrupt(() => decompressSync(CompressionType.LZ4, flip(5, 0x70)), /maximum size/);
    for (const cut of [1, 4, 7, 20, good.length - 8, good.length - 4]) {
      assertCorrupt(() => decompressSync(CompressionType.LZ4, good.subarray(0, good.length - cut)));
    }
    const noEndMark = buildFrame([{ data: rawBlock(data), uncompressed: false }], { omitEndMark: true });
    assertCorrupt(() => decompressSync(CompressionType.LZ4, noEndMark), /truncated/);
    const wrongSize = buildFrame([{ data: rawBlock(data), uncompressed: false }], { contentSize: 5n });
    assertCorrupt(() => decompressSync(CompressionType.LZ4, wrongSize));
    assertCorrupt(() => decompressSync(CompressionType.LZ4, wrongSize, { maxBytes: 20000 }));
    assertCorrupt(() => decompressSync(CompressionType.LZ4, Buffer.from('02214c18080000000000000000', 'hex')), /legacy/);
    const oversized = buildFrame([{ data: Buffer.alloc(70000), uncompressed: true }]);
    assertCorrupt(() => decompressSync(CompressionType.LZ4, oversized), /maximum/);
  });

  it('interoperates with the reference lz4 tool (liblz4) when installed', (t) => {
    if (!haveTool('lz4')) {
      t.skip('lz4 command not installed');
      return;
    }
    const data = textBytes(300 * 1024);
    for (const args of [['-c'], ['-c', '-BD'], ['-c', '-BX', '--content-size'], ['-c', '-B4', '--no-frame-crc'], ['-c', '-B7', '-BD', '-BX']]) {
      const frame = runTool('lz4', ['-q', ...args], data);
      assert.ok(decompressSync(CompressionType.LZ4, frame).equals(data), args.join(' '));
      assert.ok(decompressSync(CompressionType.LZ4, frame, { maxBytes: data.length }).equals(data), `${args.join(' ')} bounded`);
    }
    const ours = compressSync(CompressionType.LZ4, data);
    assert.ok(runTool('lz4', ['-q', '-d', '-c'], ours).equals(data));
  });
});

describe('compression: zstd frames', () => {
  function streamFrame(data: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const s = new ZstdCompressStream();
      const parts: Buffer[] = [];
      s.on('data', (d: Buffer) => parts.push(d));
      s.on('end', () => resolve(Buffer.concat(parts)));
      s.on('error', reject);
      s.end(data);
    });
  }

  it('decodes streaming frames without a content size, and several frames', async () => {
    const a = textBytes(300 * 1024);
    const b = randomBytes(10 * 1024);
    const fa = await streamFrame(a);
    assert.equal((fa[4] as number) & 0xc0, 0, 'expected no frame content size');
    assert.ok(decompressSync(CompressionType.ZSTD, fa).equals(a));
    const two = Buffer.concat([fa, compressSync(CompressionType.ZSTD, b)]);
    assert.ok(decompressSync(CompressionType.ZSTD, two).equals(Buffer.concat([a, b])));
    // a skippable frame (magic 0x184D2A5?) is ignored
    const skip = Buffer.from('502a4d1803000000010203', 'hex');
    assert.ok(decompressSync(CompressionType.ZSTD, Buffer.concat([skip, fa])).equals(a));
  });

  it('rejects truncated frames (with and without content size) and garbage', async () => {
    const data = textBytes(300 * 1024);
    for (const frame of [compressSync(CompressionType.ZSTD, data), await streamFrame(data)]) {
      for (const cut of [1, 3, 100, Math.floor(frame.length / 2)]) {
        assertCorrupt(() => decompressSync(CompressionType.ZSTD, frame.subarray(0, frame.length - cut)), /truncated|invalid/);
      }
      const trailing = Buffer.concat([frame, Buffer.from([1, 2, 3])]);
      assertCorrupt(() => decompressSync(CompressionType.ZSTD, trailing));
    }
    assertCorrupt(() => decompressSync(CompressionType.ZSTD, Buffer.from('not zstd at all')));
    // a frame header claiming a huge content size, then nothing
    assertCorrupt(() => decompressSync(CompressionType.ZSTD, Buffer.from('28b52ffdc0ffffffffffffff7f', 'hex')));
  });

  it('interoperates with the reference zstd tool when installed', (t) => {
    if (!haveTool('zstd')) {
      t.skip('zstd command not installed');
      return;
    }
    const data = textBytes(500 * 1024);
    // from a pipe, the zstd tool writes no content size
    const frame = runTool('zstd', ['-q', '-c', '--no-check'], data);
    assert.ok(decompressSync(CompressionType.ZSTD, frame).equals(data));
    const checked = runTool('zstd', ['-q', '-c', '-19'], data);
    assert.ok(decompressSync(CompressionType.ZSTD, checked).equals(data));
    assert.ok(runTool('zstd', ['-q', '-d', '-c'], compressSync(CompressionType.ZSTD, data)).equals(data));
  });
});

describe('compression: gzip', () => {
  it('decodes several members and rejects truncation', async () => {
    const a = textBytes(1000);
    const b = textBytes(2000);
    const two = Buffer.concat([zlib.gzipSync(a), zlib.gzipSync(b)]);
    assert.ok(decompressSync(CompressionType.GZIP, two).equals(Buffer.concat([a, b])));
    const one = zlib.gzipSync(textBytes(400 * 1024));
    assertCorrupt(() => decompressSync(CompressionType.GZIP, one.subarray(0, one.length - 5)));
    await assertCorruptAsync(() => decompress(CompressionType.GZIP, one.subarray(0, one.length - 5)));
    assertCorrupt(() => decompressSync(CompressionType.GZIP, Buffer.from('1f8b0800000000000003ffff', 'hex')));
  });
});

describe('compression: output size limit', () => {
  const bomb = Buffer.alloc(8 * 1024 * 1024); // zeros: every codec shrinks it a lot
  for (const codec of CODECS) {
    it(`${compressionName(codec)}: refuses output beyond maxBytes (sync and async)`, async () => {
      const packed = compressSync(codec, bomb);
      for (const maxBytes of [1024, bomb.length - 1]) {
        assertCorrupt(() => decompressSync(codec, packed, { maxBytes }), /limit/);
        await assertCorruptAsync(() => decompress(codec, packed, { maxBytes }), /limit/);
      }
      assert.equal(decompressSync(codec, packed, { maxBytes: bomb.length }).length, bomb.length);
      assert.equal((await decompress(codec, packed, { maxBytes: bomb.length })).length, bomb.length);
    });
  }

  it('lz4: a frame whose content size exceeds the limit is refused before decoding', () => {
    const frame = buildFrame([{ data: Buffer.from('abc'), uncompressed: true }], { contentSize: 1n << 40n });
    assertCorrupt(() => decompressSync(CompressionType.LZ4, frame), /limit/);
  });
});

describe('compression: fuzz (only CorruptRecordError comes out)', () => {
  const prefixes: Record<number, Buffer> = {
    [CompressionType.GZIP]: Buffer.from('1f8b0800000000000003', 'hex'),
    [CompressionType.SNAPPY]: Buffer.from('82534e41505059000000000100000001', 'hex'),
    [CompressionType.LZ4]: Buffer.from('04224d186040', 'hex'),
    [CompressionType.ZSTD]: Buffer.from('28b52ffd', 'hex'),
  };

  async function expectCorruptOrOk(codec: CompressionType, data: Buffer): Promise<void> {
    for (const run of [() => decompressSync(codec, data, { maxBytes: 4 << 20 }), () => decompress(codec, data, { maxBytes: 4 << 20 })]) {
      try {
        await run();
      } catch (err) {
        if (!(err instanceof CorruptRecordError)) throw new Error(`untyped error from ${compressionName(codec)}: ${data.toString('hex').slice(0, 120)}`, { cause: err });
      }
    }
  }

  for (const codec of COMPRESSED) {
    it(`${compressionName(codec)}: random bytes, truncations and mutations`, async () => {
      let seed = 12345 + codec;
      const next = (n: number): number => {
        seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
        return (seed >>> 8) % n;
      };
      const prefix = prefixes[codec] as Buffer;
      for (let i = 0; i < 500; i++) {
        const body = randomBytes(next(300), seed);
        await expectCorruptOrOk(codec, i % 2 === 0 ? body : Buffer.concat([prefix, body]));
      }
      const valid = compressSync(codec, textBytes(100 * 1024));
      for (let n = 0; n < valid.length; n += Math.max(1, Math.floor(valid.length / 300))) await expectCorruptOrOk(codec, valid.subarray(0, n));
      for (let i = 0; i < 500; i++) {
        const copy = Buffer.from(valid);
        for (let k = 0; k < 1 + next(4); k++) copy[next(copy.length)] = next(256);
        await expectCorruptOrOk(codec, copy);
      }
    });
  }
});
