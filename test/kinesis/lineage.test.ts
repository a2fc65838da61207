import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Shard } from '@aws-sdk/client-kinesis';
import { MAX_HASH_KEY } from '../../src/kinesis/hash-slices.js';
import {
  isShardOpen,
  lineageOrder,
  partitionsOfShard,
  readOrderForPartition,
  shardInfoFromSdk,
  shardOverlapsPartition,
  shardsByPartition,
  writeShardFor,
  type ShardInfo,
} from '../../src/kinesis/lineage.js';

const H126 = 1n << 126n;
const H127 = 1n << 127n;

function shard(
  id: string,
  start: bigint,
  end: bigint,
  seq: string,
  opts: { parent?: string; adjacent?: string; closedAt?: string } = {},
): ShardInfo {
  const s: ShardInfo = {
    shardId: id,
    hashKeyRange: { startingHashKey: start.toString(), endingHashKey: end.toString() },
    sequenceNumberRange: { startingSequenceNumber: seq },
  };
  if (opts.parent !== undefined) s.parentShardId = opts.parent;
  if (opts.adjacent !== undefined) s.adjacentParentShardId = opts.adjacent;
  if (opts.closedAt !== undefined) s.sequenceNumberRange.endingSequenceNumber = opts.closedAt;
  return s;
}

// Two shards; s0 split at 2^126 into s2 and s3; then s3 and s1 merged into s4.
const s0 = shard('shardId-000000000000', 0n, H127 - 1n, '49000000000000000000000000000000000000000000000000000100', { closedAt: '1' });
const s1 = shard('shardId-000000000001', H127, MAX_HASH_KEY, '49000000000000000000000000000000000000000000000000000110', { closedAt: '1' });
const s2 = shard('shardId-000000000002', 0n, H126 - 1n, '49000000000000000000000000000000000000000000000000000200', { parent: s0.shardId });
const s3 = shard('shardId-000000000003', H126, H127 - 1n, '49000000000000000000000000000000000000000000000000000201', {
  parent: s0.shardId,
  closedAt: '1',
});
const s4 = shard('shardId-000000000004', H126, MAX_HASH_KEY, '49000000000000000000000000000000000000000000000000000300', {
  parent: s3.shardId,
  adjacent: s1.shardId,
});
const ALL = [s4, s2, s1, s3, s0];
const ids = (list: ShardInfo[]): string[] => list.map((s) => s.shardId.slice(-1));

describe('shard lineage', () => {
  test('read order per partition after a split and a merge (P = 4)', () => {
    assert.deepEqual(ids(readOrderForPartition(ALL, 0, 4)), ['0', '2']);
    assert.deepEqual(ids(readOrderForPartition(ALL, 1, 4)), ['0', '3', '4']);
    assert.deepEqual(ids(readOrderForPartition(ALL, 2, 4)), ['1', '4']);
    assert.deepEqual(ids(readOrderForPartition(ALL, 3, 4)), ['1', '4']);
    assert.deepEqual(ids(readOrderForPartition(ALL, 0, 1)), ['0', '1', '2', '3', '4']);
    assert.deepEqual(ids(lineageOrder(ALL)), ['0', '1', '2', '3', '4']);
  });

  test('same answer whatever the input order; shardsByPartition agrees', () => {
    const byPartition = shardsByPartition(ALL, 4);
    for (let i = 0; i < 50; i++) {
      const shuffled = [...ALL].sort(() => Math.random() - 0.5);
      for (let p = 0; p < 4; p++) {
        assert.deepEqual(ids(readOrderForPartition(shuffled, p, 4)), ids(byPartition.get(p) ?? []));
      }
    }
  });

  test('parents precede children even when sequence numbers say otherwise', () => {
    const parent = shard('p', 0n, MAX_HASH_KEY, '500', { closedAt: '600' });
    const child = shard('c', 0n, H127 - 1n, '100', { parent: 'p' });
    const other = shard('o', H127, MAX_HASH_KEY, '300', { parent: 'p' });
    assert.deepEqual(lineageOrder([child, other, parent]).map((s) => s.shardId), ['p', 'c', 'o']);
  });

  test('ancestry through a shard outside the slice still orders the slice (global order, then filter)', () => {
    // A overlaps slice 0 of 2; its child B does not; B's child C overlaps slice 0 again.
    const a = shard('a', 0n, MAX_HASH_KEY, '100', { closedAt: '1' });
    const b = shard('b', H127, MAX_HASH_KEY, '300', { parent: 'a', closedAt: '1' });
    const c = shard('c', H127 - 5n, MAX_HASH_KEY, '50', { parent: 'b' });
    assert.deepEqual(readOrderForPartition([c, b, a], 0, 2).map((s) => s.shardId), ['a', 'c']);
  });

  test('expired parents and cycles do not break the order', () => {
    assert.deepEqual(ids(readOrderForPartition([s4, s2], 1, 4)), ['4']);
    const x = shard('x', 0n, MAX_HASH_KEY, '2', { parent: 'y' });
    const y = shard('y', 0n, MAX_HASH_KEY, '1', { parent: 'x' });
    const self = shard('z', 0n, MAX_HASH_KEY, '3', { parent: 'z' });
    // z (its own parent) is ready at once; the x/y cycle is broken at the lowest sequence number.
    assert.deepEqual(lineageOrder([x, y, self]).map((s) => s.shardId), ['z', 'y', 'x']);
    assert.deepEqual(lineageOrder([s0, s0]).map((s) => s.shardId), [s0.shardId]);
  });

  test('partitions of a shard, overlap and write shard', () => {
    assert.deepEqual(partitionsOfShard(s0, 4), [0, 1]);
    assert.deepEqual(partitionsOfShard(s4, 4), [1, 2, 3]);
    assert.deepEqual(partitionsOfShard(s2, 3), [0]);
    assert.deepEqual(partitionsOfShard(s4, 3), [0, 1, 2]);
    assert.equal(shardOverlapsPartition(s2, 1, 4), false);
    assert.equal(shardOverlapsPartition(s3, 1, 4), true);
    assert.equal(isShardOpen(s2), true);
    assert.equal(isShardOpen(s3), false);
    assert.deepEqual(
      [0, 1, 2, 3].map((p) => writeShardFor(ALL, p, 4)?.shardId.slice(-1)),
      ['2', '4', '4', '4'],
    );
    assert.equal(writeShardFor([s0], 0, 4), undefined);
  });

  test('shardInfoFromSdk', () => {
    assert.deepEqual(
      shardInfoFromSdk({
        ShardId: 'shardId-000000000004',
        ParentShardId: 'a',
        AdjacentParentShardId: 'b',
        HashKeyRange: { StartingHashKey: '0', EndingHashKey: '10' },
        SequenceNumberRange: { StartingSequenceNumber: '5', EndingSequenceNumber: '9' },
      }),
      {
        shardId: 'shardId-000000000004',
        parentShardId: 'a',
        adjacentParentShardId: 'b',
        hashKeyRange: { startingHashKey: '0', endingHashKey: '10' },
        sequenceNumberRange: { startingSequenceNumber: '5', endingSequenceNumber: '9' },
      },
    );
    assert.deepEqual(
      shardInfoFromSdk({
        ShardId: 's',
        HashKeyRange: { StartingHashKey: '0', EndingHashKey: '10' },
        SequenceNumberRange: { StartingSequenceNumber: '5' },
      }),
      { shardId: 's', hashKeyRange: { startingHashKey: '0', endingHashKey: '10' }, sequenceNumberRange: { startingSequenceNumber: '5' } },
    );
    assert.throws(() => shardInfoFromSdk({ ShardId: 's' } as Shard), TypeError);
  });
});
