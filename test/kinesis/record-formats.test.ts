import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { explicitHashKeyFor, hashKeyOfPartitionKey, partitionOfHashKey, sliceOf } from '../../src/kinesis/hash-slices.js';
import { KPL_MAGIC, decodeAggregate, encodeAggregate } from '../../src/kinesis/kpl.js';
import {
  RecordTooLargeError,
  fromKinesisRecord,
  losslessPartitionKey,
  rawPartitionKey,
  toKafkaFormatRecord,
  toKplRecords,
  toRawRecords,
  type BatchIdentity,
  type DecodedEntry,
  type DecodedRecord,
  type GatewayRecord,
  type KinesisPutEntry,
} from '../../src/kinesis/record-formats.js';

const ARRIVAL = new Date('2024-05-06T07:08:09.010Z');
const MiB = 1024 * 1024;

function rec(key: Buffer | string | null, value: Buffer | string | null, extra: Partial<GatewayRecord> = {}): GatewayRecord {
  return {
    key: typeof key === 'string' ? Buffer.from(key) : key,
    value: typeof value === 'string' ? Buffer.from(value) : value,
    headers: [],
    timestamp: 1_700_000_000_000n,
    ...extra,
  };
}

function read(entry: KinesisPutEntry, P: number, seq = '1'): DecodedEntry[] {
  return fromKinesisRecord(
    { data: entry.data, partitionKey: entry.partitionKey, approximateArrivalTimestamp: ARRIVAL, sequenceNumber: seq },
    P,
  );
}

function records(entries: DecodedEntry[]): DecodedRecord[] {
  return entries.map((e) => {
    assert.equal(e.kind, 'record');
    return e as DecodedRecord;
  });
}

const IDENTITY: BatchIdentity = { producerId: 9_007_199_254_740_993n, producerEpoch: 7, baseSequence: 2_147_483_000, attributes: 0x10 };

describe('partition keys', () => {
  test('losslessPartitionKey', () => {
    assert.equal(losslessPartitionKey(Buffer.from('user-42')), 'user-42');
    assert.equal(losslessPartitionKey(Buffer.from('日本語😀')), '日本語😀');
    assert.equal(losslessPartitionKey(null), null);
    assert.equal(losslessPartitionKey(Buffer.alloc(0)), null);
    assert.equal(losslessPartitionKey(Buffer.from([0xff, 0x41])), null); // invalid UTF-8
    assert.equal(losslessPartitionKey(Buffer.from([0xed, 0xa0, 0x80])), null); // encoded surrogate
    assert.equal(losslessPartitionKey(Buffer.from([0xc0, 0x80])), null); // overlong NUL
    assert.equal(losslessPartitionKey(Buffer.from([0xef, 0xbb, 0xbf, 0x41])), '\ufeffA'); // BOM kept
    assert.equal(losslessPartitionKey(Buffer.from('x'.repeat(256))), 'x'.repeat(256));
    assert.equal(losslessPartitionKey(Buffer.from('x'.repeat(257))), null);
    assert.equal(losslessPartitionKey(Buffer.from('😀'.repeat(128))), '😀'.repeat(128)); // 256 UTF-16 units
    assert.equal(losslessPartitionKey(Buffer.from('😀'.repeat(129))), null);
  });

  test('rawPartitionKey', () => {
    assert.equal(rawPartitionKey(3, Buffer.from('k')), 'k');
    assert.equal(rawPartitionKey(3, null), '3');
    assert.equal(rawPartitionKey(3, Buffer.alloc(0)), '3');
    assert.equal(rawPartitionKey(3, Buffer.from('y'.repeat(300))), 'y'.repeat(256));
    assert.equal(rawPartitionKey(3, Buffer.from('a' + '😀'.repeat(200))), 'a' + '😀'.repeat(127)); // no split pair
    const binary = randomBytes(400);
    binary[0] = 0xff;
    assert.equal(rawPartitionKey(3, binary), binary.toString('base64').slice(0, 256));
  });
});

describe('kpl format', () => {
  test('round trip of every key/value/header shape, with batch identity', () => {
    const input: GatewayRecord[] = [
      rec('plain-key', 'v1', { headers: [{ key: 'h1', value: Buffer.from([0, 1, 2]) }] }),
      rec(null, 'null key'),
      rec(Buffer.alloc(0), 'empty key'),
      rec(Buffer.from([0xff, 0x00, 0xfe]), 'binary key'),
      rec('z'.repeat(257), 'long key'),
      rec('z'.repeat(256), 'max key'),
      rec('ключ😀', null, { timestamp: -1n }),
      rec('k', Buffer.alloc(0), {
        headers: [
          { key: 'dup', value: Buffer.from('a') },
          { key: 'dup', value: null },
          { key: '', value: Buffer.alloc(0) },
          { key: 'kkg.p', value: Buffer.from('header named like a gateway tag') },
          { key: 'ü', value: randomBytes(20) },
        ],
      }),
      rec('3', 'key equal to the placeholder'),
    ];
    for (const P of [1, 3, 4, 7]) {
      const p = P - 1;
      const entries = toKplRecords(p, P, input, IDENTITY, MiB);
      assert.equal(entries.length, 1);
      const entry = entries[0] as KinesisPutEntry;
      assert.equal(entry.explicitHashKey, explicitHashKeyFor(p, P));
      assert.equal(entry.partitionKey, String(p));
      const out = records(read(entry, P));
      assert.equal(out.length, input.length);
      out.forEach((o, i) => {
        assert.equal(o.origin, 'gateway-kpl');
        assert.equal(o.partition, p);
        assert.equal(o.subIndex, i);
        assert.deepEqual(o.record, input[i]);
      });
      assert.deepEqual(out[0]?.aggregate, { aggregateIndex: 0, aggregateCount: 1, recordCount: input.length, identity: IDENTITY });
      assert.equal(out[1]?.aggregate, undefined);
    }
  });

  test('every sub-record carries the slice key as EHK (what KCL checks); tag layout is the documented one', () => {
    const P = 7;
    const p = 5;
    const [entry] = toKplRecords(
      p,
      P,
      [
        rec('key', 'v', { headers: [{ key: 'h', value: Buffer.from('hv') }, { key: 'n', value: null }] }),
        rec(Buffer.from([0x80]), null, { timestamp: 5n }),
        rec(null, 'x'),
      ],
      { producerId: 1000n, producerEpoch: 2, baseSequence: 30, attributes: 0 },
      MiB,
    );
    const subs = decodeAggregate((entry as KinesisPutEntry).data);
    assert.ok(subs);
    for (const sub of subs) assert.equal(sub.explicitHashKey, sliceOf(p, P).start.toString());
    assert.deepEqual(subs[0]?.tags, [
      { key: 'kkg.p', value: '5' },
      { key: 'kkg.agg', value: '0/1' },
      { key: 'kkg.id', value: '1000,2,30,0' },
      { key: 'kkg.ts', value: '1700000000000' },
      { key: 'h.h', value: Buffer.from('hv').toString('base64') },
      { key: 'h.n' },
    ]);
    assert.equal(subs[0]?.partitionKey, 'key');
    assert.deepEqual(subs[1]?.tags, [{ key: 'kkg.ts', value: '5' }, { key: 'kkg.k', value: 'gA==' }, { key: 'kkg.nv' }]);
    assert.equal(subs[1]?.partitionKey, '5');
    assert.equal(subs[1]?.data.length, 0);
    assert.deepEqual(subs[2]?.tags, [{ key: 'kkg.ts', value: '1700000000000' }, { key: 'kkg.k' }]);
  });

  test('no identity: kkg.id omitted, aggregate index still written', () => {
    const [entry] = toKplRecords(0, 1, [rec('a', 'b')], null, MiB);
    const out = records(read(entry as KinesisPutEntry, 1));
    assert.deepEqual(out[0]?.aggregate, { aggregateIndex: 0, aggregateCount: 1, recordCount: 1, identity: null });
    assert.equal(decodeAggregate((entry as KinesisPutEntry).data)?.[0]?.tags.some((t) => t.key === 'kkg.id'), false);
    assert.deepEqual(toKplRecords(0, 1, [], null, MiB), []);
  });

  test('splits to fit maxRecordSize; every aggregate of a batch is marked i/n with the identity', () => {
    const input = Array.from({ length: 1234 }, (_, i) =>
      rec(`key-${i % 17}`, randomBytes(i % 300), { timestamp: BigInt(i), headers: i % 5 === 0 ? [{ key: 'i', value: Buffer.from(String(i)) }] : [] }),
    );
    for (const limit of [600, 4096, 25 * 1024]) {
      const entries = toKplRecords(2, 4, input, IDENTITY, limit);
      assert.ok(entries.length > 1);
      const back: GatewayRecord[] = [];
      entries.forEach((entry, i) => {
        assert.ok(entry.data.length + Buffer.byteLength(entry.partitionKey) <= limit, `entry ${i} within ${limit}`);
        assert.equal(entry.explicitHashKey, explicitHashKeyFor(2, 4));
        const out = records(read(entry, 4));
        assert.deepEqual(out[0]?.aggregate, {
          aggregateIndex: i,
          aggregateCount: entries.length,
          recordCount: out.length,
          identity: IDENTITY,
        });
        for (const o of out) {
          assert.equal(o.partition, 2);
          back.push(o.record);
        }
      });
      assert.deepEqual(back, input);
    }
  });

  test('aggregates are filled to the byte: the limit equal to a one-aggregate encoding gives one entry', () => {
    const input = Array.from({ length: 50 }, (_, i) => rec(`k${i}`, randomBytes(100)));
    const [whole] = toKplRecords(0, 2, input, IDENTITY, MiB);
    const exact = (whole as KinesisPutEntry).data.length + 1; // + outer partition key "0"
    assert.equal(toKplRecords(0, 2, input, IDENTITY, exact).length, 1);
    assert.equal(toKplRecords(0, 2, input, IDENTITY, exact - 1).length, 2);
  });

  test('a record that cannot fit alone raises RecordTooLargeError', () => {
    assert.throws(
      () => toKplRecords(0, 1, [rec('a', 'small'), rec('b', Buffer.alloc(2000))], null, 1000),
      (err: unknown) => err instanceof RecordTooLargeError && err.limit === 1000 && err.size > 2000,
    );
    // A 1 MiB value plus framing does not fit the default 1 MiB record either.
    assert.throws(() => toKplRecords(0, 1, [rec('a', Buffer.alloc(MiB))], null, MiB), RecordTooLargeError);
    assert.equal(toKplRecords(0, 1, [rec('a', Buffer.alloc(MiB - 100))], null, MiB).length, 1);
  });

  test('rejects bad partitions', () => {
    assert.throws(() => toKplRecords(4, 4, [rec('a', 'b')], null, MiB), RangeError);
  });
});

describe('kafka format', () => {
  function fakeBatch(payload: number): Buffer {
    const batch = randomBytes(61 + payload);
    batch.writeBigInt64BE(0n, 0);
    batch.writeInt32BE(batch.length - 12, 8);
    batch[16] = 2;
    return batch;
  }

  test('one Kinesis record per batch, recognised by partition key and framing', () => {
    const batch = fakeBatch(100);
    const entry = toKafkaFormatRecord(6, 7, batch);
    assert.deepEqual(entry, { partitionKey: 'kkg.kafka:6', explicitHashKey: explicitHashKeyFor(6, 7), data: batch });
    assert.deepEqual(read(entry, 7), [{ kind: 'kafka-batch', partition: 6, subIndex: 0, batch }]);
    // the carried partition wins over the reader's P
    assert.deepEqual(read(entry, 3), [{ kind: 'kafka-batch', partition: 6, subIndex: 0, batch }]);
  });

  test('size limit', () => {
    assert.throws(() => toKafkaFormatRecord(0, 1, fakeBatch(1000), 1000), RecordTooLargeError);
    assert.equal(toKafkaFormatRecord(0, 1, fakeBatch(100), 1000).data.length, 161);
  });

  test('a marker key without RecordBatch framing is a plain record', () => {
    for (const data of [Buffer.from('not a batch'), Buffer.alloc(80)]) {
      const out = records(read({ partitionKey: 'kkg.kafka:1', explicitHashKey: '0', data }, 4));
      assert.equal(out[0]?.origin, 'plain');
      assert.deepEqual(out[0]?.record.key, Buffer.from('kkg.kafka:1'));
    }
    const bad = records(read({ partitionKey: 'kkg.kafka:01', explicitHashKey: '0', data: fakeBatch(0) }, 4));
    assert.equal(bad[0]?.origin, 'plain');
  });
});

describe('raw format', () => {
  test('one record per Kafka record; reads back as a plain record in the right partition given the shard', () => {
    const P = 4;
    const input = [rec('user-1', 'v1'), rec(null, 'null key'), rec('user-2', null), rec(Buffer.alloc(0), 'e')];
    const entries = toRawRecords(1, P, input, MiB);
    assert.deepEqual(
      entries.map((e) => [e.partitionKey, e.explicitHashKey, e.data.toString()]),
      [
        ['user-1', explicitHashKeyFor(1, P), 'v1'],
        ['1', explicitHashKeyFor(1, P), 'null key'],
        ['user-2', explicitHashKeyFor(1, P), ''],
        ['1', explicitHashKeyFor(1, P), 'e'],
      ],
    );
    const { start, end } = sliceOf(1, P);
    const shardRange = { startingHashKey: start.toString(), endingHashKey: (end - 1n).toString() };
    for (const [i, entry] of entries.entries()) {
      const [out] = records(
        fromKinesisRecord(
          { data: entry.data, partitionKey: entry.partitionKey, approximateArrivalTimestamp: ARRIVAL, sequenceNumber: '1' },
          P,
          { shardRange },
        ),
      );
      assert.equal(out?.partition, 1, `entry ${i}`);
      assert.equal(out?.origin, 'plain');
      assert.deepEqual(out?.record.key, Buffer.from(entry.partitionKey)); // null/empty keys come back as "1"
      assert.deepEqual(out?.record.value, entry.data); // null value comes back empty
    }
  });

  test('size limit counts data and partition key', () => {
    assert.throws(() => toRawRecords(0, 1, [rec('ab', Buffer.alloc(99))], 100), RecordTooLargeError);
    assert.equal(toRawRecords(0, 1, [rec('a', Buffer.alloc(99))], 100).length, 1);
  });
});

describe('foreign records', () => {
  test('plain record: key = partition key, value = data, timestamp = arrival, partition = slice of MD5', () => {
    for (const P of [1, 3, 4, 7]) {
      for (const pk of ['a', 'partition-key', 'order#12345', '日本']) {
        const [out] = records(
          fromKinesisRecord({ data: Buffer.from('payload'), partitionKey: pk, approximateArrivalTimestamp: ARRIVAL, sequenceNumber: '9' }, P),
        );
        assert.deepEqual(out, {
          kind: 'record',
          origin: 'plain',
          partition: partitionOfHashKey(hashKeyOfPartitionKey(pk), P),
          subIndex: 0,
          record: { key: Buffer.from(pk), value: Buffer.from('payload'), headers: [], timestamp: BigInt(ARRIVAL.getTime()) },
        });
      }
    }
    // MD5("a") = 0x0cc1... lies in slice 0 of 4; a known explicit hash key overrides it.
    const withEhk = records(
      fromKinesisRecord(
        { data: Buffer.alloc(0), partitionKey: 'a', explicitHashKey: explicitHashKeyFor(3, 4), approximateArrivalTimestamp: ARRIVAL, sequenceNumber: '1' },
        4,
      ),
    );
    assert.equal(withEhk[0]?.partition, 3);
  });

  test('plain record with a shard hint: MD5 inside the shard is trusted, outside it the shard decides', () => {
    const P = 4;
    // MD5("a") is in slice 0. Read from a shard covering slice 0: partition 0.
    const s0 = sliceOf(0, P);
    const shard0 = { startingHashKey: s0.start.toString(), endingHashKey: (s0.end - 1n).toString() };
    const input = { data: Buffer.alloc(0), partitionKey: 'a', approximateArrivalTimestamp: ARRIVAL, sequenceNumber: '1' };
    assert.equal(records(fromKinesisRecord(input, P, { shardRange: shard0 }))[0]?.partition, 0);
    // Read from the shard of slice 2: the writer used an EHK; the shard holds slice 2's write point.
    const s2 = sliceOf(2, P);
    const shard2 = { startingHashKey: s2.start.toString(), endingHashKey: (s2.end - 1n).toString() };
    assert.equal(records(fromKinesisRecord(input, P, { shardRange: shard2 }))[0]?.partition, 2);
    // A shard holding the upper half of slice 2 only: no write point inside, lowest overlapping slice.
    const upper = { startingHashKey: ((s2.start + s2.end) / 2n).toString(), endingHashKey: (s2.end - 1n).toString() };
    assert.equal(records(fromKinesisRecord(input, P, { shardRange: upper }))[0]?.partition, 2);
  });

  test('foreign KPL aggregate: de-aggregated, routed per sub-record by EHK or MD5, tags ignored', () => {
    const P = 4;
    const data = encodeAggregate([
      { partitionKey: 'a', data: Buffer.from('1') },
      { partitionKey: 'b', explicitHashKey: explicitHashKeyFor(3, P), data: Buffer.from('2'), tags: [{ key: 'kkg.ts', value: '5' }] },
      { partitionKey: 'c', explicitHashKey: 'not-a-number', data: Buffer.from('3') },
    ]);
    const out = records(fromKinesisRecord({ data, partitionKey: 'a', approximateArrivalTimestamp: ARRIVAL, sequenceNumber: '1' }, P));
    const ts = BigInt(ARRIVAL.getTime());
    assert.deepEqual(out, [
      { kind: 'record', origin: 'foreign-kpl', partition: partitionOfHashKey(hashKeyOfPartitionKey('a'), P), subIndex: 0, record: { key: Buffer.from('a'), value: Buffer.from('1'), headers: [], timestamp: ts } },
      { kind: 'record', origin: 'foreign-kpl', partition: 3, subIndex: 1, record: { key: Buffer.from('b'), value: Buffer.from('2'), headers: [], timestamp: ts } },
      { kind: 'record', origin: 'foreign-kpl', partition: partitionOfHashKey(hashKeyOfPartitionKey('c'), P), subIndex: 2, record: { key: Buffer.from('c'), value: Buffer.from('3'), headers: [], timestamp: ts } },
    ]);
  });

  test('an out-of-range partition tag makes the aggregate foreign', () => {
    for (const value of ['-1', '01', 'x', '2147483648', '']) {
      const data = encodeAggregate([{ partitionKey: 'a', data: Buffer.from('1'), tags: [{ key: 'kkg.p', value }] }]);
      assert.equal(records(fromKinesisRecord({ data, partitionKey: 'a', approximateArrivalTimestamp: ARRIVAL, sequenceNumber: '1' }, 2))[0]?.origin, 'foreign-kpl');
    }
  });

  test('an aggregate KCL cannot de-aggregate (bad key index) is one plain record; a bad MD5 too', () => {
    const body = Buffer.from('0a01611a050805' + '1a0178', 'hex');
    const data = Buffer.concat([KPL_MAGIC, body, createHash('md5').update(body).digest()]);
    const out = records(fromKinesisRecord({ data, partitionKey: 'pk', approximateArrivalTimestamp: ARRIVAL, sequenceNumber: '1' }, 2));
    assert.equal(out.length, 1);
    assert.equal(out[0]?.origin, 'plain');
    assert.deepEqual(out[0]?.record.value, data);

    const [entry] = toKplRecords(0, 1, [rec('a', 'b')], null, MiB);
    const corrupt = Buffer.from((entry as KinesisPutEntry).data);
    corrupt[10] ^= 0xff;
    assert.equal(records(fromKinesisRecord({ data: corrupt, partitionKey: '0', approximateArrivalTimestamp: ARRIVAL, sequenceNumber: '1' }, 1))[0]?.origin, 'plain');
  });

  test('malformed gateway tags degrade gracefully', () => {
    const data = encodeAggregate([
      {
        partitionKey: 'a',
        data: Buffer.from('1'),
        tags: [
          { key: 'kkg.p', value: '1' },
          { key: 'kkg.agg', value: '3/2' },
          { key: 'kkg.id', value: '1,2,3' },
          { key: 'kkg.ts', value: '12x' },
          { key: 'kkg.future', value: 'ignored' },
        ],
      },
    ]);
    const [out] = records(fromKinesisRecord({ data, partitionKey: 'a', approximateArrivalTimestamp: ARRIVAL, sequenceNumber: '1' }, 2));
    assert.equal(out?.origin, 'gateway-kpl');
    assert.equal(out?.partition, 1);
    assert.deepEqual(out?.aggregate, { aggregateIndex: 0, aggregateCount: 1, recordCount: 1, identity: null });
    assert.equal(out?.record.timestamp, BigInt(ARRIVAL.getTime()));
  });
});
