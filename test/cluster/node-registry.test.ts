import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { DynamoLeaseStore, partitionLeaseResource } from '../../src/cluster/leases.js';
import { MultiNodeCluster } from '../../src/cluster/multi-node-cluster.js';
import {
  allocateNodeId,
  DynamoNodeRegistry,
  isNodeLive,
  NodeIdConflictError,
  ordinalFromHostname,
  readStoredIncarnation,
  registerNode,
  storeIncarnation,
  type NodeRecord,
} from '../../src/cluster/node-registry.js';
import { partitionPlacementKey, rendezvousOwner } from '../../src/cluster/rendezvous.js';
import { startTestDynamo, type TestDynamo } from '../support/dynamodb.js';

let dynamo: TestDynamo;
let tableSeq = 0;
const log = pino({ level: 'silent' });
const INTERVAL = 200;
const TIMEOUT = 1000;
const timing = { heartbeatIntervalMs: INTERVAL, nodeTimeoutMs: TIMEOUT };

before(async () => {
  dynamo = await startTestDynamo('registry-test-');
});

after(async () => {
  await dynamo.close();
});

/** A registry on a table of its own (each test starts from an empty one). */
async function freshRegistry(): Promise<DynamoNodeRegistry> {
  const { ensureTable } = await import('../../src/aws/dynamodb.js');
  const name = `registry-test-nodes-${++tableSeq}`;
  await ensureTable(dynamo.client, { name, partitionKey: { name: 'id', type: 'S' } });
  return new DynamoNodeRegistry(dynamo.client, name);
}

function identity(incarnation: number, port = 9000 + incarnation): Omit<NodeRecord, 'heartbeatAtMs' | 'nodeId'> {
  return { host: '127.0.0.1', port, rack: incarnation % 2 === 0 ? 'az-a' : null, incarnation, startedAtMs: Date.now() };
}

/** Keeps a registration alive as a running node would. */
function heartbeating(registry: DynamoNodeRegistry, record: NodeRecord): { stop(): void } {
  const timer = setInterval(() => void registry.heartbeat(record.nodeId, record.incarnation, Date.now()), INTERVAL);
  return { stop: () => clearInterval(timer) };
}

describe('DynamoNodeRegistry', () => {
  test('the cluster id is created once: every later node reads the first one', async () => {
    const registry = await freshRegistry();
    assert.equal(await registry.clusterId('first-cluster-id'), 'first-cluster-id');
    assert.equal(await registry.clusterId('second-cluster-id'), 'first-cluster-id');
    const racing = await Promise.all(['a', 'b', 'c'].map(async (id) => new DynamoNodeRegistry(dynamo.newClient(), registry.tableName).clusterId(id)));
    assert.deepEqual(racing, ['first-cluster-id', 'first-cluster-id', 'first-cluster-id']);
  });

  test('register, list, heartbeat and remove; a node ages out without heartbeats', async () => {
    const registry = await freshRegistry();
    const node = await registerNode(registry, { ...identity(11), nodeId: 3 }, timing);
    assert.equal(node.nodeId, 3);
    const [listed] = await registry.list();
    assert.deepEqual(listed, node);
    assert.equal(listed?.rack, null);
    assert.equal(await registry.heartbeat(3, 11, node.heartbeatAtMs + 50), 'ok');
    assert.equal((await registry.get(3))?.heartbeatAtMs, node.heartbeatAtMs + 50);
    assert.equal(await registry.heartbeat(3, 12, Date.now()), 'lost', 'another incarnation cannot renew it');
    assert.ok(isNodeLive(node, node.heartbeatAtMs + TIMEOUT - 1, TIMEOUT));
    assert.ok(!isNodeLive(node, node.heartbeatAtMs + TIMEOUT, TIMEOUT));
    await registry.remove(3, 12); // not this incarnation's: kept
    assert.equal((await registry.list()).length, 1);
    await registry.remove(3, 11);
    assert.deepEqual(await registry.list(), []);
    assert.equal(await registry.heartbeat(3, 11, Date.now()), 'lost', 'a removed node cannot come back by heartbeat');
  });

  test('a second live process with the same node id refuses to start, with a clear message', async () => {
    const registry = await freshRegistry();
    const first = await registerNode(registry, { ...identity(21), nodeId: 5 }, timing);
    const alive = heartbeating(registry, first);
    try {
      const started = Date.now();
      await assert.rejects(registerNode(registry, { ...identity(22), nodeId: 5 }, timing), (err: unknown) => {
        assert.ok(err instanceof NodeIdConflictError);
        assert.match(err.message, /node id 5 is already used by a live gateway \(127\.0\.0\.1:9021/);
        assert.match(err.message, /another --node-id/);
        return true;
      });
      assert.ok(Date.now() - started < TIMEOUT + 2 * INTERVAL, 'decided as soon as the heartbeat moved');
      assert.equal((await registry.get(5))?.incarnation, 21, 'the first keeps its registration');
    } finally {
      alive.stop();
    }
  });

  test('a crashed predecessor (no heartbeat) is taken over once it ages out; the old one then learns it lost its id', async () => {
    const registry = await freshRegistry();
    const crashed = await registerNode(registry, { ...identity(31), nodeId: 2 }, timing);
    let waitedFor: NodeRecord | undefined;
    const started = Date.now();
    const restarted = await registerNode(registry, { ...identity(32), nodeId: 2 }, { ...timing, onWaiting: (other) => (waitedFor = other) });
    assert.equal(waitedFor?.incarnation, 31);
    assert.ok(Date.now() - started >= TIMEOUT - 50, 'waited for the old registration to age out');
    assert.equal(restarted.incarnation, 32);
    assert.equal((await registry.get(2))?.incarnation, 32);
    assert.equal(await registry.heartbeat(2, crashed.incarnation, Date.now()), 'lost');

    // A dead item (aged out long ago) is taken at once.
    await sleep(TIMEOUT + 50);
    const quick = Date.now();
    const third = await registerNode(registry, { ...identity(33), nodeId: 2 }, timing);
    assert.equal(third.incarnation, 33);
    assert.ok(Date.now() - quick < TIMEOUT);
  });

  test('a restart with the data folder of a crashed node takes its registration at once', async () => {
    const registry = await freshRegistry();
    const dataDir = mkdtempSync(join(tmpdir(), 'kkg-incarnation-'));
    try {
      const crashed = await registerNode(registry, { ...identity(61), nodeId: 3 }, timing);
      storeIncarnation(dataDir, 3, crashed.incarnation);
      assert.equal(readStoredIncarnation(dataDir, 4), undefined, 'remembered for its node id only');
      const predecessorIncarnation = readStoredIncarnation(dataDir, 3);
      assert.equal(predecessorIncarnation, 61);
      let waited = false;
      const started = Date.now();
      const restarted = await registerNode(
        registry,
        { ...identity(62), nodeId: 3 },
        { ...timing, predecessorIncarnation, onWaiting: () => (waited = true) },
      );
      assert.equal(restarted.incarnation, 62);
      assert.equal(waited, false);
      assert.ok(Date.now() - started < TIMEOUT / 2, 'no wait for the old registration to age out');
      assert.equal(await registry.heartbeat(3, crashed.incarnation, Date.now()), 'lost');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  test('allocation takes the lowest free id; concurrent starters get different ids; dead ids are reused', async () => {
    const registry = await freshRegistry();
    const nodes = await Promise.all([41, 42, 43, 44].map((inc) => allocateNodeId(new DynamoNodeRegistry(dynamo.newClient(), registry.tableName), identity(inc), timing)));
    assert.deepEqual(nodes.map((n) => n.nodeId).sort(), [0, 1, 2, 3]);
    const beats = nodes.filter((n) => n.nodeId !== 1).map((n) => heartbeating(registry, n));
    try {
      await sleep(TIMEOUT + 2 * INTERVAL);
      const next = await allocateNodeId(registry, identity(45), timing);
      assert.equal(next.nodeId, 1, "the dead node's id");
      const another = await allocateNodeId(registry, identity(46), timing);
      assert.equal(another.nodeId, 4);
    } finally {
      for (const b of beats) b.stop();
    }
  });

  test('StatefulSet ordinals in host names', () => {
    assert.equal(ordinalFromHostname('kafka-kinesis-gateway-3'), 3);
    assert.equal(ordinalFromHostname('gw-0.gw-headless.ns.svc.cluster.local'), 0);
    assert.equal(ordinalFromHostname('gateway-12'), 12);
    assert.equal(ordinalFromHostname('gateway'), undefined);
    assert.equal(ordinalFromHostname('gateway-'), undefined);
    assert.equal(ordinalFromHostname('3'), undefined);
  });
});

describe('MultiNodeCluster', () => {
  async function node(registry: DynamoNodeRegistry, nodeId: number, incarnation: number, leases: DynamoLeaseStore): Promise<MultiNodeCluster> {
    const self = await registerNode(registry, { ...identity(incarnation, 9100 + nodeId), nodeId }, timing);
    const cluster = new MultiNodeCluster({
      clusterId: 'c',
      registry,
      leases,
      self,
      heartbeatIntervalMs: INTERVAL,
      nodeTimeoutMs: TIMEOUT,
      settleMs: 2 * INTERVAL,
      log,
    });
    await cluster.start();
    return cluster;
  }

  async function until(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
      await sleep(20);
    }
  }

  test('nodes see each other, agree on placement, take joiners in, and drop nodes that leave or die', async () => {
    const registry = await freshRegistry();
    const leases = new DynamoLeaseStore(dynamo.client, dynamo.tables.leases);
    const a = await node(registry, 0, 51, leases);
    assert.deepEqual(a.liveNodeIds(), [0]);
    assert.ok(a.isSoleNode(), 'alone: coordinates every group');
    assert.ok(a.shouldLead('t', 0) && a.shouldLead('t', 1));
    let changes = 0;
    a.onChange(() => changes++);

    const b = await node(registry, 1, 52, leases);
    const c = await node(registry, 2, 53, leases);
    await until(() => [a, b, c].every((n) => n.liveNodeIds().length === 3), 'every node sees three nodes');
    assert.ok(changes >= 1);
    assert.deepEqual(b.liveNodeIds(), [0, 1, 2]);
    assert.equal(c.brokers().length, 3);
    assert.deepEqual(a.brokers().map((n) => [n.nodeId, n.port]), [[0, 9100], [1, 9101], [2, 9102]]);
    assert.equal(a.controllerId, 0);
    assert.ok(!a.isSoleNode());

    // Every node computes the same leader for every partition; each leads a fair share.
    const led = new Map<number, number>();
    for (let p = 0; p < 30; p++) {
      const designated = rendezvousOwner(partitionPlacementKey('t', p), [0, 1, 2]);
      assert.deepEqual([a, b, c].map((n) => n.designatedLeader('t', p)), [designated, designated, designated]);
      assert.deepEqual([a, b, c].map((n) => n.shouldLead('t', p)), [0, 1, 2].map((id) => id === designated));
      led.set(designated as number, (led.get(designated as number) ?? 0) + 1);
      assert.equal(a.leadership('t', p, 3).leaderId, designated);
      assert.equal(a.leadership('t', p, 3).replicas.length, 3);
      assert.equal(a.leadership('t', p, 1).replicas.length, 1);
    }
    assert.equal(led.size, 3);
    // Groups: one coordinator each, the same seen from everywhere; a joiner waits to settle.
    await until(() => [a, b, c].every((n) => n.isGroupLocal('g1') || n.groupCoordinator('g1')?.nodeId !== n.self.nodeId), 'nodes settle');
    const coordinator = a.groupCoordinator('g1')?.nodeId;
    assert.deepEqual([b, c].map((n) => n.groupCoordinator('g1')?.nodeId), [coordinator, coordinator]);
    assert.deepEqual([a, b, c].filter((n) => n.isGroupLocal('g1')).map((n) => n.self.nodeId), [coordinator]);

    // A graceful leave is seen at the next refresh; a silent death after the node timeout.
    await b.leave();
    await until(() => a.liveNodeIds().join() === '0,2', 'node 1 is gone after leaving');
    c.stopTimers();
    await until(() => a.liveNodeIds().join() === '0', 'node 2 ages out');
    assert.ok(a.shouldLead('t', 0) && a.shouldLead('t', 29));
    assert.ok(!c.isFresh(), 'the silent node knows it can no longer be counted live');
    assert.ok(!c.shouldLead('t', 0) && !c.isGroupLocal('g1'));
    await a.leave();
  });

  test('Metadata reports the live lease holder, or the designated node at the next epoch', async () => {
    const registry = await freshRegistry();
    const leases = new DynamoLeaseStore(dynamo.client, dynamo.tables.leases);
    const a = await node(registry, 0, 61, leases);
    const b = await node(registry, 1, 62, leases);
    await until(() => a.liveNodeIds().length === 2 && b.liveNodeIds().length === 2, 'both live');
    const topicId = 'topic-id-1';
    const p = [...Array(20).keys()].find((i) => a.designatedLeader('m', i) === 1) as number;
    // Never leased: the designated node at epoch 0.
    await a.prepare();
    assert.deepEqual(a.leadership('m', p, 1, topicId), { leaderId: 1, leaderEpoch: 0, replicas: [1], isr: [1] });
    // Node 0 still holds it (a handover not done yet): node 0 is reported with its epoch.
    const held = await leases.acquire(partitionLeaseResource(topicId, p), 61, 10_000);
    await leases.release(held as NonNullable<typeof held>);
    const again = await leases.acquire(partitionLeaseResource(topicId, p), 61, 10_000);
    assert.equal(again?.epoch, 1);
    await sleep(1000);
    await a.prepare();
    await b.prepare();
    assert.deepEqual(b.leadership('m', p, 1, topicId), { leaderId: 0, leaderEpoch: 1, replicas: [0], isr: [0] });
    // Released: the designated node, at the epoch it will take the lease at.
    await leases.release(again as NonNullable<typeof again>);
    await sleep(1000);
    await b.prepare();
    assert.deepEqual(b.leadership('m', p, 1, topicId), { leaderId: 1, leaderEpoch: 2, replicas: [1], isr: [1] });
    // Node 1 leads it: its own lease is read live.
    const mine = await leases.acquire(partitionLeaseResource(topicId, p), 62, 10_000);
    b.setLocalLeases((id, partition) => (id === topicId && partition === p ? mine : undefined));
    assert.deepEqual(b.leadership('m', p, 1, topicId), { leaderId: 1, leaderEpoch: 2, replicas: [1], isr: [1] });
    await Promise.all([a.leave(), b.leave()]);
  });
});
