import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  groupPlacementKey,
  hashKey,
  partitionPlacementKey,
  rendezvousOrder,
  rendezvousOwner,
  rendezvousScore,
} from '../../src/cluster/rendezvous.js';

const keys = (n: number): string[] => Array.from({ length: n }, (_, i) => partitionPlacementKey(`topic-${i % 37}`, i));

function owners(all: readonly string[], nodes: readonly number[]): Map<string, number> {
  return new Map(all.map((k) => [k, rendezvousOwner(k, nodes) as number]));
}

function counts(assignment: Map<string, number>): Map<number, number> {
  const out = new Map<number, number>();
  for (const node of assignment.values()) out.set(node, (out.get(node) ?? 0) + 1);
  return out;
}

describe('rendezvous hashing', () => {
  test('is deterministic, independent of the order nodes are listed in, and known values stay put', () => {
    const key = partitionPlacementKey('orders', 3);
    assert.equal(rendezvousOwner(key, [0, 1, 2]), rendezvousOwner(key, [2, 0, 1]));
    assert.equal(rendezvousScore(key, 7), rendezvousScore(hashKey(key), 7));
    assert.ok(Number.isSafeInteger(rendezvousScore(key, 7)));
    // Pinned: every gateway version must place the same partitions on the same nodes, or a
    // rolling upgrade would move partitions back and forth between old and new nodes.
    assert.equal(rendezvousScore('x', 0), 1204484470149099);
    assert.equal(rendezvousOwner(key, []), undefined);
    assert.equal(rendezvousOwner(key, [5]), 5);
    assert.notEqual(partitionPlacementKey('a', 1), groupPlacementKey('a'));
  });

  test('the preference order starts with the owner and lists every node once', () => {
    for (const key of keys(200)) {
      const order = rendezvousOrder(key, [4, 1, 9, 0]);
      assert.equal(order[0], rendezvousOwner(key, [0, 1, 4, 9]));
      assert.deepEqual([...order].sort((a, b) => a - b), [0, 1, 4, 9]);
      // Without the owner, the next in order owns it: the failover target is predictable.
      assert.equal(rendezvousOwner(key, order.slice(1)), order[1]);
    }
  });

  test('spreads keys evenly over the nodes', () => {
    const all = keys(30_000);
    for (const nodes of [[0, 1, 2], [0, 1, 2, 3, 4], [3, 17, 42, 1000, 7, 8, 9, 10, 11, 12]]) {
      const perNode = counts(owners(all, nodes));
      const expected = all.length / nodes.length;
      assert.equal(perNode.size, nodes.length);
      // Chi-square with n-1 degrees of freedom: well below the 0.1% critical value (~30 for 9).
      let chi = 0;
      for (const c of perNode.values()) chi += (c - expected) ** 2 / expected;
      assert.ok(chi < 30, `chi-square ${chi.toFixed(1)} for ${nodes.length} nodes: ${JSON.stringify([...perNode])}`);
      for (const c of perNode.values()) assert.ok(Math.abs(c - expected) / expected < 0.05, `${c} vs ${expected}`);
    }
    // A small topic set is spread too: 12 partitions over 3 nodes give every node some.
    const small = counts(owners(Array.from({ length: 12 }, (_, p) => partitionPlacementKey('t', p)), [0, 1, 2]));
    assert.equal(small.size, 3);
  });

  test('a node joining takes about 1/N of the keys, each from its previous owner, and nothing else moves', () => {
    const all = keys(20_000);
    const before = owners(all, [0, 1, 2, 3]);
    const after = owners(all, [0, 1, 2, 3, 4]);
    let moved = 0;
    for (const key of all) {
      if (before.get(key) === after.get(key)) continue;
      moved++;
      assert.equal(after.get(key), 4, 'a key only moves to the new node');
    }
    const share = moved / all.length;
    assert.ok(Math.abs(share - 1 / 5) < 0.02, `moved ${share}`);
  });

  test('a node leaving moves only its keys, spread over the survivors', () => {
    const all = keys(20_000);
    const before = owners(all, [0, 1, 2, 3]);
    const after = owners(all, [0, 1, 3]);
    const received = new Map<number, number>();
    for (const key of all) {
      if (before.get(key) !== 2) {
        assert.equal(after.get(key), before.get(key), 'keys of the survivors stay');
      } else {
        const to = after.get(key) as number;
        received.set(to, (received.get(to) ?? 0) + 1);
      }
    }
    const orphaned = [...before.values()].filter((n) => n === 2).length;
    for (const node of [0, 1, 3]) {
      const got = received.get(node) ?? 0;
      assert.ok(Math.abs(got - orphaned / 3) / (orphaned / 3) < 0.1, `node ${node} took ${got} of ${orphaned}`);
    }
  });
});
