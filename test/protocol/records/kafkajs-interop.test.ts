// Interop with kafkajs's own RecordBatch encoder and decoder (used without a broker): batches built
// by kafkajs decode with ours, and batches built by ours decode with kafkajs. kafkajs has its own
// varint, CRC-32C and codec code, so agreement here is evidence beyond our round trips.
//
// Codecs: kafkajs ships gzip; snappy comes from the kafkajs-snappy plugin (raw snappy out, xerial or
// raw in) and lz4 from kafkajs-lz4 (node-lz4, a native liblz4 binding). @kafkajs/zstd does not
// build on Node 20 (its cppzst dependency fails to compile), so zstd has no kafkajs leg.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import Long from 'kafkajs/src/utils/long.js';
import Decoder from 'kafkajs/src/protocol/decoder.js';
import KafkajsRecord from 'kafkajs/src/protocol/recordBatch/record/v0/index.js';
import { RecordBatch } from 'kafkajs/src/protocol/recordBatch/v0/index.js';
import decodeKafkajsBatch from 'kafkajs/src/protocol/recordBatch/v0/decoder.js';
import SnappyCodec from 'kafkajs-snappy';
import {
  CompressionType,
  decodeBatch,
  encodeBatch,
  encodeEndTxnMarker,
  verifyCrc,
  type KafkaRecord,
} from '../../../src/protocol/records/record-batch.js';

let lz4Available = false;

before(async () => {
  const codecs = kafkajs.CompressionCodecs;
  codecs[kafkajs.CompressionTypes.Snappy] = SnappyCodec;
  try {
    // a native build (node-lz4 via node-gyp): tolerate its absence
    const { default: LZ4Codec } = await import('kafkajs-lz4');
    codecs[kafkajs.CompressionTypes.LZ4] = new LZ4Codec().codec;
    lz4Available = true;
  } catch {
    lz4Available = false;
  }
});

interface Sample {
  key: Buffer | null;
  value: Buffer | null;
  timestampDelta: number;
  headers: Record<string, Buffer | Buffer[]>;
}

const BASE_TIMESTAMP = 1_700_000_000_000;

function samples(n: number): Sample[] {
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      key: i % 5 === 4 ? null : Buffer.from(`key-${i}`),
      value: i % 7 === 6 ? null : Buffer.from(`value ${i} `.repeat(1 + (i % 20))),
      timestampDelta: i * 13 - (i % 3 === 0 ? 5 : 0),
      headers: i % 3 === 0 ? { 'trace-id': Buffer.from(`t${i}`), multi: [Buffer.from('a'), Buffer.from('b')] } : {},
    });
  }
  return out;
}

/** Our records for the same samples (headers in kafkajs's order: per key, values in order). */
function ours(s: Sample[]): KafkaRecord[] {
  return s.map((x, i) => ({
    offsetDelta: i,
    timestampDelta: x.timestampDelta,
    key: x.key,
    value: x.value,
    headers: Object.entries(x.headers).flatMap(([key, v]) => (Array.isArray(v) ? v : [v]).map((value) => ({ key, value }))),
  }));
}

async function kafkajsBatch(s: Sample[], compression: number, extra: { transactional?: boolean; producerId?: bigint; producerEpoch?: number; firstSequence?: number } = {}): Promise<Buffer> {
  const records = s.map((x, i) => KafkajsRecord({ offsetDelta: i, timestampDelta: x.timestampDelta, key: x.key, value: x.value, headers: x.headers }));
  const maxDelta = Math.max(...s.map((x) => x.timestampDelta));
  const encoder = await RecordBatch({
    compression,
    firstOffset: Long.fromValue(0),
    firstTimestamp: BASE_TIMESTAMP,
    maxTimestamp: BASE_TIMESTAMP + maxDelta,
    partitionLeaderEpoch: -1,
    lastOffsetDelta: s.length - 1,
    transactional: extra.transactional ?? false,
    producerId: Long.fromValue(extra.producerId ?? -1n),
    producerEpoch: extra.producerEpoch ?? -1,
    firstSequence: extra.firstSequence ?? -1,
    records,
  });
  return encoder.buffer;
}

function plain(records: readonly KafkaRecord[]): unknown[] {
  return records.map((r) => ({
    offsetDelta: r.offsetDelta,
    timestampDelta: r.timestampDelta,
    key: r.key?.toString('hex') ?? null,
    value: r.value?.toString('hex') ?? null,
    headers: r.headers.map((h) => [h.key, h.value?.toString('hex') ?? null]),
  }));
}

const CASES: Array<[string, CompressionType]> = [
  ['none', CompressionType.NONE],
  ['gzip', CompressionType.GZIP],
  ['snappy', CompressionType.SNAPPY],
  ['lz4', CompressionType.LZ4],
];

describe('kafkajs interop: kafkajs builds, we decode', () => {
  for (const [name, compression] of CASES) {
    it(`${name}`, async (t) => {
      if (compression === CompressionType.LZ4 && !lz4Available) {
        t.skip('kafkajs-lz4 (native node-lz4) is not installed');
        return;
      }
      const s = samples(300);
      const buf = await kafkajsBatch(s, compression, { transactional: true, producerId: 4242n, producerEpoch: 3, firstSequence: 77 });
      assert.ok(verifyCrc(buf), 'kafkajs CRC accepted');
      const d = await decodeBatch(buf);
      assert.equal(d.header.compression, compression);
      assert.equal(d.header.recordCount, 300);
      assert.equal(d.header.lastOffsetDelta, 299);
      assert.equal(d.header.baseTimestamp, BigInt(BASE_TIMESTAMP));
      assert.equal(d.header.isTransactional, true);
      assert.equal(d.header.producerId, 4242n);
      assert.equal(d.header.producerEpoch, 3);
      assert.equal(d.header.baseSequence, 77);
      assert.deepEqual(plain(d.records), plain(ours(s)));
    });
  }

  it('an uncompressed kafkajs batch is byte-identical to ours for the same input', async () => {
    const s = samples(50);
    const theirs = await kafkajsBatch(s, CompressionType.NONE, { producerId: 9n, producerEpoch: 0, firstSequence: 0 });
    const mine = await encodeBatch({
      records: ours(s),
      baseTimestamp: BigInt(BASE_TIMESTAMP),
      producerId: 9n,
      producerEpoch: 0,
      baseSequence: 0,
    });
    assert.equal(mine.toString('hex'), theirs.toString('hex'));
  });
});

describe('kafkajs interop: we build, kafkajs decodes', () => {
  for (const [name, compression] of CASES) {
    it(`${name}`, async (t) => {
      if (compression === CompressionType.LZ4 && !lz4Available) {
        t.skip('kafkajs-lz4 (native node-lz4) is not installed');
        return;
      }
      const records = ours(samples(300));
      // a null header value too, which kafkajs can read but not write
      records[1]?.headers.push({ key: 'nothing', value: null });
      const buf = await encodeBatch({
        records,
        compression,
        baseOffset: 1000n,
        baseTimestamp: BigInt(BASE_TIMESTAMP),
        producerId: 5n,
        producerEpoch: 2,
        baseSequence: 10,
        isTransactional: true,
      });
      const d = await decodeKafkajsBatch(new Decoder(buf));
      assert.equal(d.firstOffset, '1000');
      assert.equal(d.producerId, '5');
      assert.equal(d.producerEpoch, 2);
      assert.equal(d.firstSequence, 10);
      assert.equal(d.inTransaction, true);
      assert.equal(d.isControlBatch, false);
      assert.equal(d.lastOffsetDelta, 299);
      assert.equal(d.records.length, 300);
      d.records.forEach((r, i) => {
        const mine = records[i] as KafkaRecord;
        assert.equal(r.offset, String(1000 + i));
        assert.equal(r.timestamp, String(BASE_TIMESTAMP + mine.timestampDelta));
        assert.deepEqual(r.key, mine.key);
        assert.deepEqual(r.value, mine.value);
        const expected: Record<string, Buffer | null | Array<Buffer | null>> = {};
        for (const h of mine.headers) {
          const prev = expected[h.key];
          expected[h.key] = prev === undefined ? h.value : Array.isArray(prev) ? [...prev, h.value] : [prev, h.value];
        }
        assert.deepEqual(r.headers, expected);
      });
    });
  }

  it('control batches: kafkajs sees a control batch', async () => {
    const marker = encodeEndTxnMarker({ commit: true, coordinatorEpoch: 1, producerId: 5n, producerEpoch: 2, timestamp: BigInt(BASE_TIMESTAMP) });
    const d = await decodeKafkajsBatch(new Decoder(marker));
    assert.equal(d.isControlBatch, true);
    assert.equal(d.inTransaction, true);
    assert.equal(d.records[0]?.isControlRecord, true);
    assert.deepEqual(d.records[0]?.key, Buffer.from([0, 0, 0, 1]));
  });

  it('kafkajs-snappy reads our xerial stream and we read its raw blocks', async () => {
    const codec = SnappyCodec();
    const data = Buffer.from('snappy interop '.repeat(10000));
    const raw = await codec.compress({ buffer: data });
    const { decompress: ourDecompress, compress: ourCompress } = await import('../../../src/protocol/records/compression.js');
    assert.ok((await ourDecompress(CompressionType.SNAPPY, raw)).equals(data));
    assert.ok((await codec.decompress(await ourCompress(CompressionType.SNAPPY, data))).equals(data));
  });
});
