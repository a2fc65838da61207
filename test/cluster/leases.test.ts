import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  DynamoLeaseStore,
  groupCoordinatorLeaseResource,
  isLeaseLive,
  partitionLeaseResource,
  type Lease,
} from '../../src/cluster/leases.js';
import { startTestDynamo, type TestDynamo } from '../support/dynamodb.js';

let dynamo: TestDynamo;
/** Two gateway nodes, each with its own DynamoDB client. */
let node1: DynamoLeaseStore;
let node2: DynamoLeaseStore;

before(async () => {
  dynamo = await startTestDynamo('leases-test-');
  node1 = new DynamoLeaseStore(dynamo.client, dynamo.tables.leases);
  node2 = new DynamoLeaseStore(dynamo.newClient(), dynamo.tables.leases);
});

after(async () => {
  await dynamo.close();
});

const T0 = 1_700_000_000_000;
const TTL = 10_000;

describe('DynamoLeaseStore', () => {
  test('resource names', () => {
    assert.equal(partitionLeaseResource('3f0c6a9e-1111-4222-8333-944445555666', 7), 'partition/3f0c6a9e-1111-4222-8333-944445555666/7');
    assert.equal(groupCoordinatorLeaseResource('my-group'), 'group/my-group');
  });

  test('a first acquire gets epoch 0; the holder renews it through acquire and renew, keeping the epoch', async () => {
    const r = 'fresh';
    assert.equal(await node1.get(r), undefined);
    const lease = await node1.acquire(r, 1, TTL, T0);
    assert.deepEqual(lease, { resource: r, owner: 1, epoch: 0, expiresAtMs: T0 + TTL });
    assert.deepEqual(await node2.get(r), lease);
    assert.ok(isLeaseLive(lease, T0 + TTL - 1));
    assert.ok(!isLeaseLive(lease, T0 + TTL));

    const again = await node1.acquire(r, 1, TTL, T0 + 5000);
    assert.deepEqual(again, { resource: r, owner: 1, epoch: 0, expiresAtMs: T0 + 5000 + TTL });
    const renewed = await node1.renew(again, TTL, T0 + 9000);
    assert.deepEqual(renewed, { resource: r, owner: 1, epoch: 0, expiresAtMs: T0 + 9000 + TTL });
    assert.deepEqual(await node1.get(r), renewed);
  });

  test('a live lease held by another node cannot be taken', async () => {
    const r = 'held';
    const lease = await node1.acquire(r, 1, TTL, T0);
    assert.ok(lease);
    assert.equal(await node2.acquire(r, 2, TTL, T0 + 1), undefined);
    assert.equal(await node2.acquire(r, 2, TTL, T0 + TTL - 1), undefined);
    assert.deepEqual(await node2.get(r), lease);
  });

  test('two nodes racing for a free lease: exactly one wins', async () => {
    for (let round = 0; round < 20; round++) {
      const r = partitionLeaseResource('race', round);
      const results = await Promise.all([node1.acquire(r, 1, TTL, T0), node2.acquire(r, 2, TTL, T0)]);
      const winners = results.filter((l): l is Lease => l !== undefined);
      assert.equal(winners.length, 1, `round ${round}`);
      assert.equal(winners[0]?.epoch, 0);
      assert.deepEqual(await node1.get(r), winners[0]);
    }
  });

  test('many nodes racing for an expired lease: exactly one takes it, with epoch + 1', async () => {
    const r = 'expired-race';
    await node1.acquire(r, 1, TTL, T0);
    const later = T0 + TTL + 1;
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? node1 : node2).acquire(r, 10 + i, TTL, later)),
    );
    const winners = results.filter((l): l is Lease => l !== undefined);
    assert.equal(winners.length, 1);
    assert.equal(winners[0]?.epoch, 1);
    assert.deepEqual(await node1.get(r), winners[0]);
  });

  test('expiry: another node takes over with epoch + 1 and the old holder cannot renew', async () => {
    const r = 'takeover';
    const old = await node1.acquire(r, 1, TTL, T0);
    assert.ok(old);
    const taken = await node2.acquire(r, 2, TTL, T0 + TTL);
    assert.deepEqual(taken, { resource: r, owner: 2, epoch: 1, expiresAtMs: T0 + 2 * TTL });
    assert.equal(await node1.renew(old, TTL, T0 + TTL + 1), undefined);
    assert.equal(await node1.acquire(r, 1, TTL, T0 + TTL + 1), undefined);
    // A stale release by the old holder leaves the new holder's lease alone.
    await node1.release(old);
    assert.deepEqual(await node1.get(r), taken);
    // The new holder's lease lapses too; the first node takes it back with epoch 2.
    const back = await node1.acquire(r, 1, TTL, T0 + 2 * TTL);
    assert.deepEqual(back, { resource: r, owner: 1, epoch: 2, expiresAtMs: T0 + 3 * TTL });
  });

  test('renewing an expired lease fails even when nobody took it; re-acquiring gives a new epoch', async () => {
    const r = 'lapsed';
    const lease = await node1.acquire(r, 1, TTL, T0);
    assert.ok(lease);
    assert.equal(await node1.renew(lease, TTL, T0 + TTL), undefined);
    const again = await node1.acquire(r, 1, TTL, T0 + TTL);
    assert.equal(again?.epoch, 1);
    assert.equal(again?.owner, 1);
  });

  test('release then re-acquire increments the epoch, for the same node and for another', async () => {
    const r = 'release';
    const first = await node1.acquire(r, 1, TTL, T0);
    assert.ok(first);
    await node1.release(first);
    const released = await node2.get(r);
    assert.deepEqual(released, { resource: r, owner: 1, epoch: 0, expiresAtMs: 0 });
    assert.ok(released !== undefined && !isLeaseLive(released, T0));
    assert.equal(await node1.renew(first, TTL, T0 + 1), undefined, 'a released lease cannot be renewed');

    const second = await node1.acquire(r, 1, TTL, T0 + 1);
    assert.equal(second?.epoch, 1);
    assert.ok(second);
    await node1.release(second);
    const third = await node2.acquire(r, 2, TTL, T0 + 2);
    assert.deepEqual(third, { resource: r, owner: 2, epoch: 2, expiresAtMs: T0 + 2 + TTL });
    await node2.release(third);
    await node2.release(third); // releasing twice is harmless
    assert.equal((await node1.acquire(r, 1, TTL, T0 + 3))?.epoch, 3);
  });

  test('the epoch never goes backwards through a long mixed history', async () => {
    const r = 'history';
    let now = T0;
    let lastEpoch = -1;
    const nodes = [node1, node2];
    for (let step = 0; step < 30; step++) {
      const owner = (step % 3) + 1;
      const lease = await nodes[step % 2]!.acquire(r, owner, TTL, now);
      assert.ok(lease, `step ${step}`);
      assert.ok(lease.epoch >= lastEpoch, `step ${step}: epoch ${lease.epoch} after ${lastEpoch}`);
      lastEpoch = lease.epoch;
      if (step % 2 === 0) await nodes[step % 2]!.release(lease);
      else now += TTL; // let it expire
    }
    assert.equal(lastEpoch, 29);
  });

  test('rejects bad ttls', async () => {
    await assert.rejects(node1.acquire('bad', 1, 0, T0), RangeError);
    await assert.rejects(node1.acquire('bad', 1, -5, T0), RangeError);
    assert.equal(await node1.get('bad'), undefined);
  });
});
