import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  AggregateBuilder,
  KPL_MAGIC,
  KplDecodeError,
  decodeAggregate,
  encodeAggregate,
  varintSize,
  type KplRecord,
} from '../../src/kinesis/kpl.js';

/** magic + body + MD5(body), built here with node:crypto only. */
function frame(bodyHex: string): Buffer {
  const body = Buffer.from(bodyHex.replace(/\s+/g, ''), 'hex');
  return Buffer.concat([KPL_MAGIC, body, createHash('md5').update(body).digest()]);
}

/** Outcome of a decode that must never throw anything but KplDecodeError. */
function safeDecode(buf: Buffer): 'null' | 'records' | 'KplDecodeError' {
  try {
    return decodeAggregate(buf) === null ? 'null' : 'records';
  } catch (err) {
    if (err instanceof KplDecodeError) return 'KplDecodeError';
    throw err;
  }
}

function randomInt(n: number): number {
  return Math.floor(Math.random() * n);
}

function randomString(maxLength: number): string {
  const alphabet = Array.from('ab01-_é€😀'); // code points, so no lone surrogates
  let s = '';
  const n = randomInt(maxLength + 1);
  for (let i = 0; i < n; i++) s += alphabet[randomInt(alphabet.length)];
  return s;
}

function randomRecord(): KplRecord {
  const record: KplRecord = { partitionKey: randomString(4) || 'k', data: randomBytes(randomInt(300)) };
  if (Math.random() < 0.7) record.explicitHashKey = String(randomInt(5));
  if (Math.random() < 0.7) {
    record.tags = Array.from({ length: randomInt(4) }, () =>
      Math.random() < 0.3 ? { key: randomString(6) } : { key: randomString(6), value: randomString(20) },
    );
  }
  return record;
}

describe('KPL aggregate codec', () => {
  test('known-answer bytes (protobuf hand-assembled, MD5 by openssl)', () => {
    const encoded = encodeAggregate([
      { partitionKey: 'a', explicitHashKey: '0', data: Buffer.from('x') },
      {
        partitionKey: 'bb',
        data: Buffer.from('yz'),
        tags: [{ key: 'k', value: 'v' }, { key: 'n' }],
      },
      { partitionKey: 'a', explicitHashKey: '0', data: Buffer.alloc(0) },
    ]);
    const expected =
      'f3899ac2' +
      '0a0161' + // partition_key_table[0] = "a"
      '0a026262' + // partition_key_table[1] = "bb"
      '120130' + // explicit_hash_key_table[0] = "0"
      '1a07' + '0800' + '1000' + '1a0178' + // record {pk 0, ehk 0, data "x"}
      '1a13' + '0801' + '1a02797a' + '2206' + '0a016b' + '120176' + '2203' + '0a016e' + // record {pk 1, data "yz", tags}
      '1a06' + '0800' + '1000' + '1a00' + // record {pk 0, ehk 0, data ""}
      '123b13dcde8e352612f78410c08ae943'; // printf <body> | xxd -r -p | openssl md5
    assert.equal(encoded.toString('hex'), expected);

    const decoded = decodeAggregate(encoded);
    assert.deepEqual(decoded, [
      { partitionKey: 'a', explicitHashKey: '0', data: Buffer.from('x'), tags: [] },
      { partitionKey: 'bb', data: Buffer.from('yz'), tags: [{ key: 'k', value: 'v' }, { key: 'n' }] },
      { partitionKey: 'a', explicitHashKey: '0', data: Buffer.alloc(0), tags: [] },
    ]);
  });

  test('an empty-string tag value is present, not absent', () => {
    const decoded = decodeAggregate(encodeAggregate([{ partitionKey: 'p', data: Buffer.alloc(0), tags: [{ key: 'k', value: '' }] }]));
    assert.deepEqual(decoded?.[0]?.tags, [{ key: 'k', value: '' }]);
  });

  test('multi-byte varints (indices >= 128, data >= 128 bytes)', () => {
    const records: KplRecord[] = Array.from({ length: 300 }, (_, i) => ({
      partitionKey: `key-${i}`,
      explicitHashKey: String(i),
      data: Buffer.alloc(i, i & 0xff),
    }));
    const decoded = decodeAggregate(encodeAggregate(records));
    assert.equal(decoded?.length, 300);
    decoded?.forEach((r, i) => {
      assert.equal(r.partitionKey, `key-${i}`);
      assert.equal(r.explicitHashKey, String(i));
      assert.ok(r.data.equals(Buffer.alloc(i, i & 0xff)));
    });
    assert.equal(varintSize(0), 1);
    assert.equal(varintSize(127), 1);
    assert.equal(varintSize(128), 2);
    assert.equal(varintSize(16383), 2);
    assert.equal(varintSize(16384), 3);
    assert.equal(varintSize(2 ** 35), 6);
  });

  test('random round trips; builder size is exact; tables are de-duplicated', () => {
    for (let i = 0; i < 300; i++) {
      const records = Array.from({ length: 1 + randomInt(20) }, randomRecord);
      const builder = new AggregateBuilder();
      for (const r of records) builder.add(r);
      const encoded = builder.build();
      assert.equal(encoded.length, builder.size);
      assert.equal(builder.count, records.length);
      const decoded = decodeAggregate(encoded);
      assert.deepEqual(
        decoded,
        records.map((r) => {
          const out: KplRecord = { partitionKey: r.partitionKey, data: r.data, tags: r.tags ?? [] };
          if (r.explicitHashKey !== undefined) out.explicitHashKey = r.explicitHashKey;
          return out;
        }),
      );
    }
    const dup = encodeAggregate(Array.from({ length: 10 }, () => ({ partitionKey: 'same', explicitHashKey: '42', data: Buffer.alloc(0) })));
    assert.equal(dup.toString('latin1').split('same').length - 1, 1);
    assert.equal(dup.toString('latin1').split('42').length - 1, 1);
  });

  test('tryAdd never exceeds the limit and refuses without changing the aggregate', () => {
    const builder = new AggregateBuilder();
    const limit = 1000;
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      const before = builder.size;
      if (!builder.tryAdd(randomRecord(), limit)) {
        refused++;
        assert.equal(builder.size, before);
      }
      assert.ok(builder.size <= limit);
    }
    assert.ok(refused > 0);
    assert.equal(builder.build().length, builder.size);
    assert.throws(() => new AggregateBuilder().build(), RangeError);
    assert.throws(() => encodeAggregate([]), RangeError);
  });

  test('replaceFirst swaps the first record only when no size changes', () => {
    const first: KplRecord = { partitionKey: 'p', explicitHashKey: '7', data: Buffer.from('one'), tags: [{ key: 'n', value: '0/9' }] };
    const second: KplRecord = { partitionKey: 'q', data: Buffer.from('two') };
    const builder = new AggregateBuilder();
    builder.add(first);
    builder.add(second);
    const real = { ...first, tags: [{ key: 'n', value: '0/2' }] };
    assert.equal(builder.replaceFirst(real), true);
    assert.deepEqual(builder.build(), encodeAggregate([real, second]));
    for (const other of [
      { ...first, tags: [{ key: 'n', value: '0/10' }] },
      { ...first, partitionKey: 'q' },
      { ...first, explicitHashKey: undefined },
      { ...first, data: Buffer.from('three') },
    ]) {
      assert.equal(builder.replaceFirst(other), false);
      assert.deepEqual(builder.build(), encodeAggregate([real, second]));
    }
  });

  test('not an aggregate: wrong magic, too short, bad MD5, unparseable protobuf (KCL: plain record)', () => {
    const good = encodeAggregate([{ partitionKey: 'a', data: Buffer.from('x') }]);
    assert.notEqual(decodeAggregate(good), null);
    assert.equal(decodeAggregate(Buffer.alloc(0)), null);
    assert.equal(decodeAggregate(Buffer.from('hello world')), null);
    assert.equal(decodeAggregate(Buffer.concat([Buffer.from([0xf3, 0x89, 0x9a, 0xc3]), good.subarray(4)])), null);
    const badDigest = Buffer.from(good);
    badDigest[badDigest.length - 1] ^= 1;
    assert.equal(decodeAggregate(badDigest), null);
    const badBody = Buffer.from(good);
    badBody[6] ^= 1;
    assert.equal(decodeAggregate(badBody), null);
    // magic + MD5 of an empty body: KCL needs more than 16 bytes after the magic.
    assert.equal(decodeAggregate(frame('')), null);
    // Missing required Record.data / Record.partition_key_index / Tag.key.
    assert.equal(decodeAggregate(frame('0a0161 1a02 0800')), null);
    assert.equal(decodeAggregate(frame('0a0161 1a03 1a0178')), null);
    assert.equal(decodeAggregate(frame('0a0161 1a0a 0800 1a0178 2203 120176')), null);
    // Known field with the wrong wire type is an unknown field, leaving a required one missing.
    assert.equal(decodeAggregate(frame('0a0161 1a05 0a0100 1a00')), null);
    // Truncated length, truncated varint, field number 0, wire types 6/7, stray end-group.
    assert.equal(decodeAggregate(frame('0a05 61')), null);
    assert.equal(decodeAggregate(frame('0a0161 1a02 08ff')), null);
    assert.equal(decodeAggregate(frame('0001')), null);
    assert.equal(decodeAggregate(frame('0e00')), null);
    assert.equal(decodeAggregate(frame('0f00')), null);
    assert.equal(decodeAggregate(frame('0c')), null);
    // Unterminated / mismatched group.
    assert.equal(decodeAggregate(frame('7b 0800')), null);
    assert.equal(decodeAggregate(frame('7b 0800 74')), null);
    // Groups nested deeper than protobuf-java's recursion limit (100); shallower ones are skipped.
    assert.equal(decodeAggregate(frame('7b'.repeat(150) + '7c'.repeat(150))), null);
    assert.deepEqual(decodeAggregate(frame('0a0161' + '7b'.repeat(50) + '7c'.repeat(50))), []);
    // varint longer than 10 bytes
    assert.equal(decodeAggregate(frame('78 ffffffffffffffffffff01')), null);
  });

  test('unknown fields of every wire type are skipped, as protobuf-java does', () => {
    const tag = '0a016b' + '120176' + '7000'; // key "k", value "v", unknown field 14 (varint)
    const record = '0800' + '1a0178' + '2208' + tag + '3000'; // ..., unknown field 6 (varint)
    const body =
      '0a0161' +
      '7801' + // field 15, varint
      '79 0102030405060708' + // field 15, fixed64
      '7d 01020304' + // field 15, fixed32
      '7b 0801 7a0100 6b 6c 7c' + // field 15, group holding a varint, bytes and a nested group 13
      '1a11' +
      record;
    assert.deepEqual(decodeAggregate(frame(body)), [{ partitionKey: 'a', data: Buffer.from('x'), tags: [{ key: 'k', value: 'v' }] }]);
  });

  test('repeated singular fields: last one wins', () => {
    assert.deepEqual(decodeAggregate(frame('0a0161 0a0162 1a0a 0800 1a0178 0801 1a0179')), [
      { partitionKey: 'b', data: Buffer.from('y'), tags: [] },
    ]);
  });

  test('a key index outside its table raises KplDecodeError', () => {
    assert.throws(() => decodeAggregate(frame('0a0161 1a05 0805 1a0178')), KplDecodeError);
    assert.throws(() => decodeAggregate(frame('0a0161 1a07 0800 1000 1a0178')), KplDecodeError);
  });

  test('accepts a Uint8Array view', () => {
    const encoded = encodeAggregate([{ partitionKey: 'a', data: Buffer.from('x') }]);
    const padded = new Uint8Array(encoded.length + 10);
    padded.set(encoded, 5);
    assert.equal(decodeAggregate(padded.subarray(5, 5 + encoded.length))?.[0]?.partitionKey, 'a');
  });

  test('fuzz: random protobuf bodies with a valid MD5 only yield null, records or KplDecodeError', () => {
    const outcomes = { null: 0, records: 0, KplDecodeError: 0 };
    for (let i = 0; i < 20_000; i++) {
      outcomes[safeDecode(frame(randomBytes(1 + randomInt(64)).toString('hex')))]++;
    }
    assert.ok(outcomes.null > 0);
  });

  test('fuzz: mutated valid aggregates (MD5 fixed up) only yield null, records or KplDecodeError', () => {
    const outcomes = { null: 0, records: 0, KplDecodeError: 0 };
    for (let i = 0; i < 5_000; i++) {
      const encoded = encodeAggregate(Array.from({ length: 1 + randomInt(5) }, randomRecord));
      const body = Buffer.from(encoded.subarray(4, encoded.length - 16));
      const mutations = 1 + randomInt(4);
      for (let m = 0; m < mutations; m++) {
        const kind = randomInt(3);
        const at = randomInt(body.length);
        if (kind === 0) body[at] = randomInt(256);
        else if (kind === 1) body[at] ^= 1 << randomInt(8);
        else body.fill(randomInt(256), at, Math.min(body.length, at + randomInt(8)));
      }
      const cut = Math.random() < 0.2 ? randomInt(body.length) : body.length;
      outcomes[safeDecode(frame(body.subarray(0, cut).toString('hex')))]++;
    }
    assert.ok(outcomes.null > 0 && outcomes.records > 0);
  });

  test('fuzz: arbitrary bytes (mostly failing the magic or MD5) return null', () => {
    for (let i = 0; i < 5_000; i++) {
      const bytes = randomBytes(randomInt(80));
      if (Math.random() < 0.5 && bytes.length >= 4) KPL_MAGIC.copy(bytes, 0);
      assert.equal(safeDecode(bytes), 'null');
    }
  });
});
