import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  BATCH_HEADER_SIZE,
  CompressionType,
  ControlRecordType,
  CorruptRecordError,
  RecordError,
  TimestampType,
  UnsupportedCompressionTypeError,
  UnsupportedMessageFormatError,
  computeCrc,
  controlRecordKey,
  decodeBatch,
  decodeBatchSync,
  encodeBatch,
  encodeBatchSync,
  encodeEndTxnMarker,
  endTxnMarkerValue,
  lastOffset,
  readBatchHeader,
  recordTimestamp,
  setBaseOffset,
  setPartitionLeaderEpoch,
  splitBatches,
  verifyCrc,
  type EncodeBatchInput,
  type KafkaRecord,
} from '../../../src/protocol/records/record-batch.js';

const CODECS = [CompressionType.NONE, CompressionType.GZIP, CompressionType.SNAPPY, CompressionType.LZ4, CompressionType.ZSTD];

function rec(offsetDelta: number, value: string | null, extra: Partial<KafkaRecord> = {}): KafkaRecord {
  return {
    offsetDelta,
    timestampDelta: 0,
    key: null,
    value: value === null ? null : Buffer.from(value),
    headers: [],
    ...extra,
  };
}

/** Records as plain data, for deepEqual across Buffer views. */
function plain(records: readonly KafkaRecord[]): unknown[] {
  return records.map((r) => ({
    offsetDelta: r.offsetDelta,
    timestampDelta: r.timestampDelta,
    key: r.key === null ? null : r.key.toString('hex'),
    value: r.value === null ? null : r.value.toString('hex'),
    headers: r.headers.map((h) => [h.key, h.value === null ? null : h.value.toString('hex')]),
  }));
}

function assertTyped(fn: () => unknown, type: new (...args: never[]) => RecordError, pattern?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

class Rng {
  constructor(private x: number) {}
  next(): number {
    this.x = (Math.imul(this.x ^ (this.x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    this.x ^= this.x << 13;
    this.x ^= this.x >>> 17;
    this.x ^= this.x << 5;
    return (this.x >>> 0) / 0x100000000;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

// -----------------------------------------------------------------------------------------------
// Known answers: these bytes were computed by an independent script (a separate varint/zig-zag
// encoder and a bitwise CRC-32C, polynomial 0x82F63B78), not by the code under test.

/**
 * baseOffset 0, partitionLeaderEpoch -1, attributes 0, lastOffsetDelta 1,
 * baseTimestamp 1700000000000, maxTimestamp 1700000000005, producerId -1, epoch -1, sequence -1;
 * record 0: delta 0/0, key "k1", value "v1", header h=x;
 * record 1: timestampDelta 5, offsetDelta 1, key null, value "hello".
 */
const FIXTURE_1 =
  '0000000000000000' + // baseOffset
  '0000004c' + // batchLength 76
  'ffffffff' + // partitionLeaderEpoch
  '02' + // magic
  '20409f0d' + // crc
  '0000' + // attributes
  '00000001' + // lastOffsetDelta
  '0000018bcfe56800' + // baseTimestamp
  '0000018bcfe56805' + // maxTimestamp
  'ffffffffffffffff' + // producerId
  'ffff' + // producerEpoch
  'ffffffff' + // baseSequence
  '00000002' + // record count
  '1c' + '00' + '00' + '00' + '046b31' + '047631' + '02' + '0268' + '0278' + // record 0 (length 14)
  '16' + '00' + '0a' + '02' + '01' + '0a68656c6c6f' + '00'; // record 1 (length 11)

/**
 * baseOffset 42, partitionLeaderEpoch 7, transactional, lastOffsetDelta 2, baseTimestamp -1,
 * maxTimestamp 2^40-1, producerId 1234567890123, epoch 3, sequence 17;
 * record 0: timestampDelta -3, key "" (empty), value null, headers a=null, b="" ;
 * record 1: timestampDelta 2^40, key ff, value 0001;
 * record 2: timestampDelta -(2^35)-1, key null, value null.
 */
const FIXTURE_2 =
  '000000000000002a000000590000000702cecbdb81001000000002ffffffffffffffff000000ffffffffff0000011f71fb04cb' +
  '000300000011' +
  '00000003' +
  '180005000001040261010262001c008080808080400202ff04000100160081808080800204010100';

/** A snappy batch whose payload is a hand-built xerial stream with one literal-only block. */
const FIXTURE_3 =
  '000000000000000000000055ffffffff0228b989e200020000000000000000000003e800000000000003e8ffffffffffffffffffffffffffff00000001' +
  '82534e4150505900' + // xerial magic
  '00000001' + // version
  '00000001' + // compatible version
  '00000010' + // chunk length 16
  '0e' + // snappy preamble: 14 bytes of output
  '34' + // literal tag: (14 - 1) << 2
  '1a' + '00' + '00' + '00' + '01' + '0e736e6170707921' + '00'; // the record: value "snappy!"

/** A COMMIT marker: baseOffset 100, leader epoch 2, producer 9 epoch 1, coordinatorEpoch 5. */
const FIXTURE_4 =
  '00000000000000640000004200000002025de8ab3d0030000000000000018bcfe568000000018bcfe5680000000000000000090001ffffffff00000001' +
  '2000000008000000010c00000000000500';

describe('record batch: known answers', () => {
  it('encodes fixture 1 exactly and decodes it', () => {
    const out = encodeBatchSync({
      baseTimestamp: 1700000000000n,
      records: [
        rec(0, 'v1', { key: Buffer.from('k1'), headers: [{ key: 'h', value: Buffer.from('x') }] }),
        rec(1, 'hello', { timestampDelta: 5 }),
      ],
    });
    assert.equal(out.toString('hex'), FIXTURE_1);
    const decoded = decodeBatchSync(Buffer.from(FIXTURE_1, 'hex'));
    assert.equal(decoded.header.recordCount, 2);
    assert.equal(decoded.header.maxTimestamp, 1700000000005n);
    assert.equal(decoded.header.crc, 0x20409f0d);
    assert.deepEqual(plain(decoded.records), [
      { offsetDelta: 0, timestampDelta: 0, key: '6b31', value: '7631', headers: [['h', '78']] },
      { offsetDelta: 1, timestampDelta: 5, key: null, value: '68656c6c6f', headers: [] },
    ]);
    assert.equal(decoded.control, null);
  });

  it('encodes fixture 2 exactly (idempotent transactional, negative and wide deltas, nulls)', () => {
    const records: KafkaRecord[] = [
      { offsetDelta: 0, timestampDelta: -3, key: Buffer.alloc(0), value: null, headers: [{ key: 'a', value: null }, { key: 'b', value: Buffer.alloc(0) }] },
      { offsetDelta: 1, timestampDelta: 2 ** 40, key: Buffer.from([0xff]), value: Buffer.from([0, 1]), headers: [] },
      { offsetDelta: 2, timestampDelta: -(2 ** 35) - 1, key: null, value: null, headers: [] },
    ];
    const out = encodeBatchSync({
      baseOffset: 42n,
      partitionLeaderEpoch: 7,
      isTransactional: true,
      baseTimestamp: -1n,
      records,
      producerId: 1234567890123n,
      producerEpoch: 3,
      baseSequence: 17,
    });
    assert.equal(out.toString('hex'), FIXTURE_2);
    const d = decodeBatchSync(Buffer.from(FIXTURE_2, 'hex'));
    assert.deepEqual(plain(d.records), plain(records));
    assert.equal(d.header.maxTimestamp, 2n ** 40n - 1n);
    assert.equal(d.header.isTransactional, true);
    assert.equal(d.header.producerId, 1234567890123n);
    assert.equal(recordTimestamp(d.header, d.records[1] as KafkaRecord), 2n ** 40n - 1n);
    assert.equal(lastOffset(d.header), 44n);
  });

  it('decodes fixture 3 (snappy, hand-built xerial payload)', async () => {
    const d = await decodeBatch(Buffer.from(FIXTURE_3, 'hex'));
    assert.equal(d.header.compression, CompressionType.SNAPPY);
    assert.deepEqual(plain(d.records), [{ offsetDelta: 0, timestampDelta: 0, key: null, value: Buffer.from('snappy!').toString('hex'), headers: [] }]);
  });

  it('encodes fixture 4 (a COMMIT marker) exactly and decodes its control record', () => {
    const out = encodeEndTxnMarker({
      commit: true,
      coordinatorEpoch: 5,
      producerId: 9n,
      producerEpoch: 1,
      timestamp: 1700000000000n,
      baseOffset: 100n,
      partitionLeaderEpoch: 2,
    });
    assert.equal(out.toString('hex'), FIXTURE_4);
    const d = decodeBatchSync(out);
    assert.equal(d.header.isControl, true);
    assert.equal(d.header.isTransactional, true);
    assert.deepEqual(d.control, [{ version: 0, type: ControlRecordType.COMMIT, coordinatorEpoch: 5 }]);
  });
});

describe('record batch: round trips', () => {
  const sample: KafkaRecord[] = [
    rec(0, 'plain'),
    rec(1, null, { key: Buffer.from('tombstone') }),
    rec(2, '', { key: Buffer.alloc(0), headers: [{ key: '', value: Buffer.alloc(0) }] }),
    rec(3, 'with headers', {
      timestampDelta: 17,
      headers: [
        { key: 'trace-id', value: Buffer.from('abc') },
        { key: 'trace-id', value: Buffer.from('def') },
        { key: 'null-value', value: null },
        { key: 'ключ-日本', value: Buffer.from([0, 255, 128]) },
      ],
    }),
    rec(4, 'x'.repeat(300), { key: Buffer.alloc(200, 7), timestampDelta: -5 }),
  ];

  for (const compression of CODECS) {
    it(`codec ${compression}: sync and async encode/decode agree`, async () => {
      const input: EncodeBatchInput = { records: sample, compression, baseTimestamp: 1_700_000_000_000n, producerId: 77n, producerEpoch: 2, baseSequence: 1000 };
      const a = encodeBatchSync(input);
      const b = await encodeBatch(input);
      for (const buf of [a, b]) {
        assert.ok(verifyCrc(buf));
        for (const d of [decodeBatchSync(buf), await decodeBatch(buf)]) {
          assert.deepEqual(plain(d.records), plain(sample));
          assert.equal(d.header.compression, compression);
          assert.equal(d.header.lastOffsetDelta, 4);
          assert.equal(d.header.maxTimestamp, 1_700_000_000_017n);
          assert.equal(d.header.producerId, 77n);
          assert.equal(d.header.producerEpoch, 2);
          assert.equal(d.header.baseSequence, 1000);
          assert.equal(d.header.partitionLeaderEpoch, -1);
          assert.equal(d.header.timestampType, TimestampType.CREATE_TIME);
        }
      }
    });

    it(`codec ${compression}: a large batch (20,000 records, 2 MiB values)`, async () => {
      const records: KafkaRecord[] = [];
      for (let i = 0; i < 20000; i++) {
        records.push(rec(i, `value-${i}-${'v'.repeat(i % 50)}`, { key: Buffer.from(`key-${i % 1000}`), timestampDelta: i * 3, headers: i % 10 === 0 ? [{ key: 'n', value: Buffer.from(String(i)) }] : [] }));
      }
      records.push(rec(20000, null, { value: Buffer.alloc(2 * 1024 * 1024, 0x61) }));
      const buf = await encodeBatch({ records, compression, baseTimestamp: 0n });
      const d = await decodeBatch(buf);
      assert.equal(d.records.length, 20001);
      assert.deepEqual(plain(d.records.slice(0, 50)), plain(records.slice(0, 50)));
      assert.equal(d.records[19999]?.value?.toString(), records[19999]?.value?.toString());
      assert.ok(d.records[20000]?.value?.equals(records[20000]?.value as Buffer));
      assert.equal(d.header.lastOffsetDelta, 20000);
      assert.equal(d.header.maxTimestamp, 19999n * 3n);
    });
  }

  it('round-trips extreme timestamps and deltas', () => {
    const deltas = [0, 1, -1, 63, -64, 64, 2 ** 30 - 1, -(2 ** 30), 2 ** 30, 2 ** 31, -(2 ** 31) - 1, 2 ** 35, 2 ** 49, -(2 ** 52), 2 ** 53 - 1, -(2 ** 53 - 1)];
    const records = deltas.map((timestampDelta, i) => rec(i, String(i), { timestampDelta }));
    for (const baseTimestamp of [-1n, 0n, 2n ** 63n - 1n - 2n ** 53n, -(2n ** 63n), 1_700_000_000_000n]) {
      const buf = encodeBatchSync({ records, baseTimestamp, maxTimestamp: 2n ** 63n - 1n });
      const d = decodeBatchSync(buf);
      assert.deepEqual(
        d.records.map((r) => r.timestampDelta),
        deltas,
      );
      assert.equal(d.header.baseTimestamp, baseTimestamp);
      assert.equal(d.header.maxTimestamp, 2n ** 63n - 1n);
    }
    // default maxTimestamp: the largest delta
    const d = decodeBatchSync(encodeBatchSync({ records, baseTimestamp: 10n }));
    assert.equal(d.header.maxTimestamp, 10n + BigInt(2 ** 53 - 1));
    // all negative deltas: the largest is still the max
    const neg = decodeBatchSync(encodeBatchSync({ records: [rec(0, 'a', { timestampDelta: -9 }), rec(1, 'b', { timestampDelta: -4 })], baseTimestamp: 100n }));
    assert.equal(neg.header.maxTimestamp, 96n);
  });

  it('rejects a timestamp delta beyond 2^53 on decode, and unsafe numbers on encode', () => {
    // build a record with timestampDelta 2^60 by hand: zig-zag 2^61 as a 9-byte varlong
    const good = encodeBatchSync({ records: [rec(0, 'v', { timestampDelta: 2 ** 52 })], baseTimestamp: 0n });
    const d = decodeBatchSync(good);
    assert.equal(d.records[0]?.timestampDelta, 2 ** 52);
    const wide = Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]); // 2^61 zig-zag = +2^60
    const body = Buffer.concat([Buffer.from([0x00]), wide, Buffer.from([0x00, 0x01, 0x01, 0x00])]);
    const record = Buffer.concat([Buffer.from([body.length << 1]), body]);
    const header = Buffer.from(encodeBatchSync({ records: [], baseTimestamp: 0n }));
    const batch = Buffer.concat([header, record]);
    batch.writeInt32BE(batch.length - 12, 8);
    batch.writeInt32BE(1, 57);
    batch.writeUInt32BE(computeCrc(batch), 17);
    assertTyped(() => decodeBatchSync(batch), CorruptRecordError, /beyond/);
    assert.throws(() => encodeBatchSync({ records: [rec(0, 'v', { timestampDelta: 2 ** 53 })], baseTimestamp: 0n }), RangeError);
    assert.throws(() => encodeBatchSync({ records: [rec(2 ** 31, 'v')], baseTimestamp: 0n }), RangeError);
  });

  it('sets timestamp type, transactional, control and delete-horizon attributes', () => {
    const buf = encodeBatchSync({
      records: [rec(0, 'a')],
      baseTimestamp: 5n,
      maxTimestamp: 99n,
      timestampType: TimestampType.LOG_APPEND_TIME,
      isTransactional: true,
      hasDeleteHorizonMs: true,
      compression: CompressionType.ZSTD,
    });
    const h = readBatchHeader(buf);
    assert.equal(h.attributes, 0x4 | 0x8 | 0x10 | 0x40);
    assert.equal(h.timestampType, TimestampType.LOG_APPEND_TIME);
    assert.equal(h.isTransactional, true);
    assert.equal(h.isControl, false);
    assert.equal(h.hasDeleteHorizonMs, true);
    const d = decodeBatchSync(buf);
    assert.equal(recordTimestamp(d.header, d.records[0] as KafkaRecord), 99n);
  });

  it('encodes and decodes control batches of every type', () => {
    const abort = decodeBatchSync(encodeEndTxnMarker({ commit: false, coordinatorEpoch: 12, producerId: 1n, producerEpoch: 0, timestamp: 0n }));
    assert.deepEqual(abort.control, [{ version: 0, type: ControlRecordType.ABORT, coordinatorEpoch: 12 }]);
    assert.equal(abort.header.producerId, 1n);
    const buf = encodeBatchSync({
      isControl: true,
      compression: CompressionType.LZ4,
      baseTimestamp: 0n,
      records: [
        rec(0, null, { key: controlRecordKey(ControlRecordType.LEADER_CHANGE), value: Buffer.from('0000', 'hex') }),
        rec(1, null, { key: controlRecordKey(ControlRecordType.COMMIT), value: endTxnMarkerValue(-1) }),
        rec(2, null, { key: controlRecordKey(ControlRecordType.ABORT) }),
        rec(3, null, { key: controlRecordKey(42, 1) }),
      ],
    });
    assert.deepEqual(decodeBatchSync(buf).control, [
      { version: 0, type: ControlRecordType.LEADER_CHANGE, coordinatorEpoch: null },
      { version: 0, type: ControlRecordType.COMMIT, coordinatorEpoch: -1 },
      { version: 0, type: ControlRecordType.ABORT, coordinatorEpoch: null },
      { version: 1, type: 42, coordinatorEpoch: null },
    ]);
    const badKey = encodeBatchSync({ isControl: true, baseTimestamp: 0n, records: [rec(0, null, { key: Buffer.from([0, 0]) })] });
    assertTyped(() => decodeBatchSync(badKey), CorruptRecordError, /control/);
  });

  it('handles a batch with no records (as compaction leaves them), compressed or not', async () => {
    for (const compression of CODECS) {
      const buf = await encodeBatch({ records: [], compression, baseTimestamp: 3n, lastOffsetDelta: 9, baseOffset: 10n });
      assert.equal(buf.length, BATCH_HEADER_SIZE);
      const d = await decodeBatch(buf);
      assert.equal(d.records.length, 0);
      assert.equal(d.header.compression, compression);
      assert.equal(lastOffset(d.header), 19n);
    }
  });
});

describe('record batch: split, header, CRC, patching', () => {
  const batches = [
    encodeBatchSync({ records: [rec(0, 'a'), rec(1, 'b')], baseTimestamp: 1n, baseOffset: 0n }),
    encodeBatchSync({ records: [rec(0, 'c')], baseTimestamp: 2n, baseOffset: 2n, compression: CompressionType.GZIP }),
    encodeBatchSync({ records: [rec(0, 'd'), rec(1, 'e'), rec(2, 'f')], baseTimestamp: 3n, baseOffset: 3n, compression: CompressionType.ZSTD }),
  ];
  const all = Buffer.concat(batches);

  it('splits concatenated batches into zero-copy views', () => {
    const { batches: parts, trailing } = splitBatches(all);
    assert.equal(parts.length, 3);
    assert.equal(trailing.length, 0);
    parts.forEach((p, i) => {
      assert.ok(p.equals(batches[i] as Buffer));
      assert.equal(p.buffer, all.buffer);
    });
    assert.deepEqual(splitBatches(Buffer.alloc(0)), { batches: [], trailing: Buffer.alloc(0) });
  });

  it('reports a trailing partial batch instead of throwing', () => {
    const firstTwo = (batches[0] as Buffer).length + (batches[1] as Buffer).length;
    for (const cut of [1, 5, 11, 12, 16, 17, 30, 61, (batches[2] as Buffer).length - 1]) {
      const { batches: parts, trailing } = splitBatches(all.subarray(0, firstTwo + cut));
      assert.equal(parts.length, 2, `cut ${cut}`);
      assert.equal(trailing.length, cut);
    }
  });

  it('rejects legacy magic 0/1 (UNSUPPORTED_FOR_MESSAGE_FORMAT) and other magics (CORRUPT_MESSAGE)', () => {
    // a magic 1 message set entry: offset, size, crc, magic 1, attributes, timestamp, key -1, value "x"
    const v1 = Buffer.from('0000000000000000' + '00000017' + '00000000' + '01' + '00' + '0000000000000000' + 'ffffffff' + '00000001' + '78', 'hex');
    const v0 = Buffer.from('0000000000000000' + '0000000f' + '00000000' + '00' + '00' + 'ffffffff' + '00000001' + '78', 'hex');
    for (const [legacy, magic] of [[v1, 1], [v0, 0]] as const) {
      for (const fn of [() => splitBatches(legacy), () => readBatchHeader(legacy), () => decodeBatchSync(legacy)]) {
        assert.throws(fn, (err: unknown) => err instanceof UnsupportedMessageFormatError && err.errorCode === 43 && err.magic === magic);
      }
      // a legacy entry after a good batch
      assert.throws(() => splitBatches(Buffer.concat([batches[0] as Buffer, legacy])), UnsupportedMessageFormatError);
    }
    for (const magic of [3, 0x7f, 0xff]) {
      const bad = Buffer.from(batches[0] as Buffer);
      bad[16] = magic;
      assertTyped(() => splitBatches(bad), CorruptRecordError, /magic/);
      assertTyped(() => readBatchHeader(bad), CorruptRecordError, /magic/);
    }
    const short = Buffer.from(batches[0] as Buffer);
    short.writeInt32BE(48, 8);
    assertTyped(() => splitBatches(short), CorruptRecordError, /minimum/);
  });

  it('reads headers without decompressing', () => {
    const broken = Buffer.from(batches[2] as Buffer);
    broken.fill(0xee, BATCH_HEADER_SIZE); // garbage zstd payload
    const h = readBatchHeader(broken);
    assert.equal(h.compression, CompressionType.ZSTD);
    assert.equal(h.recordCount, 3);
    assert.equal(h.baseOffset, 3n);
    assert.equal(verifyCrc(broken), false);
    assertTyped(() => decodeBatchSync(broken, { verifyCrc: false }), CorruptRecordError, /zstd/);
  });

  it('rejects compression ids 5..7 with UNSUPPORTED_COMPRESSION_TYPE', () => {
    for (const id of [5, 6, 7]) {
      const bad = Buffer.from(batches[0] as Buffer);
      bad.writeInt16BE(id, 21);
      bad.writeUInt32BE(computeCrc(bad), 17);
      assert.throws(() => readBatchHeader(bad), (err: unknown) => err instanceof UnsupportedCompressionTypeError && err.errorCode === 76);
      assert.throws(() => decodeBatchSync(bad), UnsupportedCompressionTypeError);
    }
  });

  it('verifies the CRC; baseOffset and partitionLeaderEpoch are outside it', async () => {
    const buf = Buffer.from(batches[1] as Buffer);
    assert.ok(verifyCrc(buf));
    setBaseOffset(buf, 123456789012345n);
    setPartitionLeaderEpoch(buf, 99);
    assert.ok(verifyCrc(buf));
    const d = await decodeBatch(buf);
    assert.equal(d.header.baseOffset, 123456789012345n);
    assert.equal(d.header.partitionLeaderEpoch, 99);
    for (const at of [21, 30, 57, buf.length - 1]) {
      const flipped = Buffer.from(buf);
      flipped[at] = (flipped[at] as number) ^ 0x10;
      assert.equal(verifyCrc(flipped), false);
      assertTyped(() => decodeBatchSync(flipped), CorruptRecordError, /CRC/);
    }
    assert.equal(verifyCrc(buf.subarray(0, 40)), false);
  });

  it('enforces Kafka record-count and record-size checks', () => {
    const base = encodeBatchSync({ records: [rec(0, 'a'), rec(1, 'b')], baseTimestamp: 0n });
    const patched = (mutate: (b: Buffer) => Buffer): Buffer => {
      const b = mutate(Buffer.from(base));
      b.writeInt32BE(b.length - 12, 8);
      b.writeUInt32BE(computeCrc(b), 17);
      return b;
    };
    assertTyped(() => decodeBatchSync(patched((b) => (b.writeInt32BE(3, 57), b))), CorruptRecordError);
    assertTyped(() => decodeBatchSync(patched((b) => (b.writeInt32BE(1, 57), b))), CorruptRecordError, /remain/);
    assertTyped(() => decodeBatchSync(patched((b) => (b.writeInt32BE(-1, 57), b))), CorruptRecordError, /negative/);
    assertTyped(() => decodeBatchSync(patched((b) => Buffer.concat([b, Buffer.from([0])]))), CorruptRecordError, /remain/);
    // first record's length one too large / too small
    assertTyped(() => decodeBatchSync(patched((b) => ((b[61] = (b[61] as number) + 2), b))), CorruptRecordError);
    assertTyped(() => decodeBatchSync(patched((b) => ((b[61] = (b[61] as number) - 2), b))), CorruptRecordError);
    // a buffer holding more than the batch
    assertTyped(() => decodeBatchSync(Buffer.concat([base, base])), CorruptRecordError, /split/);
    assertTyped(() => readBatchHeader(base.subarray(0, 60)), CorruptRecordError, /truncated/);
    assertTyped(() => readBatchHeader(base.subarray(0, base.length - 1)), CorruptRecordError, /truncated/);
  });
});

describe('record batch: fuzz (only typed errors come out)', () => {
  async function expectTypedOrOk(buf: Buffer, verify: boolean): Promise<void> {
    for (const run of [() => decodeBatchSync(buf, { verifyCrc: verify, maxBytes: 8 * 1024 * 1024 }), () => decodeBatch(buf, { verifyCrc: verify, maxBytes: 8 * 1024 * 1024 })]) {
      try {
        await run();
      } catch (err) {
        if (!(err instanceof RecordError)) throw new Error(`untyped error for ${buf.toString('hex').slice(0, 200)}`, { cause: err });
      }
    }
    try {
      const { batches } = splitBatches(buf);
      for (const b of batches) readBatchHeader(b);
    } catch (err) {
      if (!(err instanceof RecordError)) throw new Error(`untyped error from split/header`, { cause: err });
    }
  }

  const rng = new Rng(0xc0ffee);
  const seeds = CODECS.map((compression) =>
    encodeBatchSync({
      compression,
      baseTimestamp: 1_700_000_000_000n,
      records: [
        rec(0, 'first value', { key: Buffer.from('k'), headers: [{ key: 'h', value: Buffer.from('v') }, { key: 'n', value: null }] }),
        rec(1, null, { timestampDelta: 2 ** 40 }),
        rec(2, 'z'.repeat(500), { timestampDelta: -7 }),
      ],
    }),
  );

  it('random bytes, with and without a plausible header', async () => {
    for (let i = 0; i < 3000; i++) {
      const buf = rng.bytes(rng.int(200));
      if (i % 2 === 0 && buf.length > 61) {
        buf.writeInt32BE(buf.length - 12, 8);
        buf[16] = 2;
        buf.writeInt16BE(rng.int(8), 21);
        buf.writeInt32BE(rng.int(4), 57);
        buf.writeUInt32BE(computeCrc(buf), 17);
      }
      await expectTypedOrOk(buf, i % 3 !== 0);
    }
  });

  it('every truncation of a valid batch of each codec', async () => {
    for (const seed of seeds) {
      for (let n = 0; n < seed.length; n++) await expectTypedOrOk(seed.subarray(0, n), false);
    }
  });

  it('bit flips and byte mutations, with the CRC recomputed so decoders see the garbage', async () => {
    for (const seed of seeds) {
      for (let bit = 0; bit < seed.length * 8; bit += seed.length > 300 ? 3 : 1) {
        const buf = Buffer.from(seed);
        buf[bit >> 3] = (buf[bit >> 3] as number) ^ (1 << (bit & 7));
        await expectTypedOrOk(buf, true);
        if (bit >> 3 >= 21) buf.writeUInt32BE(computeCrc(buf), 17);
        await expectTypedOrOk(buf, true);
      }
      for (let i = 0; i < 400; i++) {
        const buf = Buffer.from(seed);
        const n = 1 + rng.int(6);
        for (let k = 0; k < n; k++) buf[21 + rng.int(buf.length - 21)] = rng.int(256);
        buf.writeUInt32BE(computeCrc(buf), 17);
        await expectTypedOrOk(buf, true);
      }
    }
  });
});
