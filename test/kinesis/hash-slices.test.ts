import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  HASH_KEY_SPACE,
  MAX_HASH_KEY,
  explicitHashKeyFor,
  hashKeyOfPartitionKey,
  parseHashKey,
  partitionOfHashKey,
  partitionsWrittenToShard,
  shardHoldsPoint,
  sliceOf,
  slicesOverlappingShard,
} from '../../src/kinesis/hash-slices.js';

// Slice starts computed independently (Python: [p * 2**128 // P for p in range(P + 1)]).
const STARTS: Record<number, string[]> = {
  1: ['0', '340282366920938463463374607431768211456'],
  3: [
    '0',
    '113427455640312821154458202477256070485',
    '226854911280625642308916404954512140970',
    '340282366920938463463374607431768211456',
  ],
  4: [
    '0',
    '85070591730234615865843651857942052864',
    '170141183460469231731687303715884105728',
    '255211775190703847597530955573826158592',
    '340282366920938463463374607431768211456',
  ],
  7: [
    '0',
    '48611766702991209066196372490252601636',
    '97223533405982418132392744980505203273',
    '145835300108973627198589117470757804909',
    '194447066811964836264785489961010406546',
    '243058833514956045330981862451263008182',
    '291670600217947254397178234941515609819',
    '340282366920938463463374607431768211456',
  ],
};

describe('hash slices', () => {
  test('constants', () => {
    assert.equal(HASH_KEY_SPACE.toString(), '340282366920938463463374607431768211456');
    assert.equal(MAX_HASH_KEY.toString(16), 'f'.repeat(32));
  });

  for (const P of [1, 3, 4, 7]) {
    test(`slices of P=${P} match the independent computation and tile the key space`, () => {
      const starts = STARTS[P] as string[];
      for (let p = 0; p < P; p++) {
        const slice = sliceOf(p, P);
        assert.equal(slice.start.toString(), starts[p]);
        assert.equal(slice.end.toString(), starts[p + 1]);
        assert.equal(explicitHashKeyFor(p, P), starts[p]);
        if (p > 0) assert.equal(slice.start, sliceOf(p - 1, P).end);
      }
      assert.equal(sliceOf(P - 1, P).end, HASH_KEY_SPACE);
    });

    test(`partitionOfHashKey at every slice edge for P=${P}`, () => {
      assert.equal(partitionOfHashKey(0n, P), 0);
      assert.equal(partitionOfHashKey(MAX_HASH_KEY, P), P - 1);
      for (let p = 0; p < P; p++) {
        const { start, end } = sliceOf(p, P);
        assert.equal(partitionOfHashKey(start, P), p, `start of ${p}`);
        assert.equal(partitionOfHashKey(end - 1n, P), p, `last key of ${p}`);
        if (start + 1n < end) assert.equal(partitionOfHashKey(start + 1n, P), p);
        assert.equal(partitionOfHashKey(BigInt(explicitHashKeyFor(p, P)), P), p);
      }
    });
  }

  test('a slice start that floor(h * P / 2^128) gets wrong is still routed right', () => {
    // 3 * 113427455640312821154458202477256070485 = 2^128 - 1, so the naive formula gives 0.
    const h = BigInt(STARTS[3]?.[1] as string);
    assert.equal((h * 3n) >> 128n, 0n);
    assert.equal(partitionOfHashKey(h, 3), 1);
    assert.equal(partitionOfHashKey(h - 1n, 3), 0);
  });

  test('partitionOfHashKey agrees with sliceOf on random keys', () => {
    for (const P of [1, 2, 3, 5, 7, 10, 64, 1000, 4097]) {
      for (let i = 0; i < 200; i++) {
        let h = 0n;
        for (let j = 0; j < 4; j++) h = (h << 32n) | BigInt(Math.floor(Math.random() * 2 ** 32));
        const p = partitionOfHashKey(h, P);
        const { start, end } = sliceOf(p, P);
        assert.ok(h >= start && h < end, `${h} in slice ${p} of ${P}`);
      }
    }
  });

  test('input validation', () => {
    assert.throws(() => sliceOf(0, 0), RangeError);
    assert.throws(() => sliceOf(3, 3), RangeError);
    assert.throws(() => sliceOf(-1, 3), RangeError);
    assert.throws(() => sliceOf(0.5, 3), RangeError);
    assert.throws(() => partitionOfHashKey(-1n, 3), RangeError);
    assert.throws(() => partitionOfHashKey(HASH_KEY_SPACE, 3), RangeError);
    assert.throws(() => parseHashKey('-1'), RangeError);
    assert.throws(() => parseHashKey('1e5'), RangeError);
    assert.throws(() => parseHashKey(HASH_KEY_SPACE.toString()), RangeError);
    assert.equal(parseHashKey(MAX_HASH_KEY.toString()), MAX_HASH_KEY);
  });

  test('hashKeyOfPartitionKey is MD5 read big-endian (openssl-computed answers)', () => {
    // printf 'a' | openssl md5 -> 0cc175b9c0f1b6a831c399e269772661
    assert.equal(hashKeyOfPartitionKey('a'), 16955237001963240173058271559858726497n);
    // printf 'partition-key' | openssl md5 -> 815704732fbc84217234bb5e45533daa
    assert.equal(hashKeyOfPartitionKey('partition-key'), 171922231538597478840392253176536055210n);
    // UTF-8, not UTF-16: 'é' is c3 a9
    // printf '\xc3\xa9' | openssl md5 -> 66ddcd97cfdeabb2f6fb8a999b4bc76f
    assert.equal(hashKeyOfPartitionKey('\u00e9'), 136732923097551493579404309126273812335n);
  });

  test('shard-range helpers treat the ending hash key as inclusive', () => {
    const whole = { startingHashKey: '0', endingHashKey: MAX_HASH_KEY.toString() };
    assert.deepEqual(slicesOverlappingShard(whole, 7), [0, 1, 2, 3, 4, 5, 6]);
    assert.ok(shardHoldsPoint(whole, 0n));
    assert.ok(shardHoldsPoint(whole, MAX_HASH_KEY));

    // The 4 shards Kinesis creates for a 4-shard stream coincide with the slices of P=4.
    for (let p = 0; p < 4; p++) {
      const { start, end } = sliceOf(p, 4);
      const shard = { startingHashKey: start.toString(), endingHashKey: (end - 1n).toString() };
      assert.deepEqual(slicesOverlappingShard(shard, 4), [p]);
      assert.deepEqual(partitionsWrittenToShard(shard, 4), [p]);
      assert.ok(shardHoldsPoint(shard, start));
      assert.ok(shardHoldsPoint(shard, end - 1n));
      assert.equal(shardHoldsPoint(shard, end), false);
      assert.equal(shardHoldsPoint(shard, explicitHashKeyFor(p, 4)), true);
      // P=2 over 4 shards: each shard holds half a slice.
      assert.deepEqual(slicesOverlappingShard(shard, 2), [Math.floor(p / 2)]);
      assert.deepEqual(partitionsWrittenToShard(shard, 2), p % 2 === 0 ? [p / 2] : []);
    }

    // A shard ending exactly one below a slice start does not overlap that slice; one more does.
    const s1 = sliceOf(1, 3).start;
    assert.deepEqual(slicesOverlappingShard({ startingHashKey: 0n, endingHashKey: s1 - 1n }, 3), [0]);
    assert.deepEqual(slicesOverlappingShard({ startingHashKey: 0n, endingHashKey: s1 }, 3), [0, 1]);
    assert.deepEqual(partitionsWrittenToShard({ startingHashKey: 1n, endingHashKey: s1 }, 3), [1]);
    assert.throws(() => slicesOverlappingShard({ startingHashKey: '5', endingHashKey: '4' }, 3), RangeError);
  });
});
