import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DynamoTopicStore, type NewTopicRecord } from '../../src/log/topic-store.js';
import { startTestDynamo, type TestDynamo } from '../support/dynamodb.js';

let dynamo: TestDynamo;
let store: DynamoTopicStore;

before(async () => {
  dynamo = await startTestDynamo('topics-test-');
  store = new DynamoTopicStore(dynamo.client, dynamo.tables.topics);
});

after(async () => {
  await dynamo.close();
});

function newTopic(name: string, overrides: Partial<NewTopicRecord> = {}): NewTopicRecord {
  return {
    name,
    topicId: randomUUID(),
    streamName: `kafka-${name}`,
    replicationFactor: 3,
    partitionMaps: [{ epoch: 0, partitionCount: 4, sinceMs: 1_700_000_000_000 }],
    configs: {},
    createdAtMs: 1_700_000_000_000,
    ...overrides,
  };
}

describe('DynamoTopicStore', () => {
  test('create then get round-trips every field, with version 1', async () => {
    const topic = newTopic('orders', {
      configs: { 'retention.ms': '86400000', 'cleanup.policy': 'delete', 'kinesis.record.format': 'kpl' },
      partitionMaps: [
        { epoch: 0, partitionCount: 2, sinceMs: 1000 },
        { epoch: 1, partitionCount: 6, sinceMs: 5000 },
      ],
    });
    assert.equal(await store.create(topic), 'created');
    assert.deepEqual(await store.get('orders'), { ...topic, version: 1 });
  });

  test('empty configs and a missing topic', async () => {
    const topic = newTopic('empty-configs');
    assert.equal(await store.create(topic), 'created');
    assert.deepEqual((await store.get('empty-configs'))?.configs, {});
    assert.equal(await store.get('no-such-topic'), undefined);
  });

  test('create of an existing name is "exists" and leaves the stored topic alone', async () => {
    const first = newTopic('dup');
    assert.equal(await store.create(first), 'created');
    assert.equal(await store.create(newTopic('dup', { replicationFactor: 1 })), 'exists');
    assert.equal((await store.get('dup'))?.topicId, first.topicId);
  });

  test('concurrent creates from two gateways: exactly one wins', async () => {
    const other = new DynamoTopicStore(dynamo.newClient(), dynamo.tables.topics);
    for (let round = 0; round < 10; round++) {
      const name = `race-${round}`;
      const candidates = Array.from({ length: 6 }, () => newTopic(name));
      const results = await Promise.all(candidates.map((t, i) => (i % 2 === 0 ? store : other).create(t)));
      assert.equal(results.filter((r) => r === 'created').length, 1, `round ${round}: ${results.join(',')}`);
      const winner = candidates[results.indexOf('created')];
      assert.equal((await other.get(name))?.topicId, winner?.topicId);
    }
  });

  test('list() returns every topic across Scan pages', async () => {
    const prefix = 'listing-';
    const paged = new DynamoTopicStore(dynamo.client, dynamo.tables.topics, { scanPageSize: 7 });
    const before = (await store.list()).length;
    for (let i = 0; i < 50; i++) assert.equal(await store.create(newTopic(`${prefix}${i}`)), 'created');
    for (const s of [store, paged]) {
      const all = await s.list();
      assert.equal(all.length, before + 50);
      const names = all.map((t) => t.name).filter((n) => n.startsWith(prefix));
      assert.deepEqual(names.sort(), Array.from({ length: 50 }, (_, i) => `${prefix}${i}`).sort());
      assert.equal(new Set(all.map((t) => t.name)).size, all.length, 'no topic listed twice');
    }
  });

  test('delete needs the current topic id', async () => {
    const topic = newTopic('to-delete');
    await store.create(topic);
    assert.equal(await store.delete('to-delete', randomUUID()), false);
    assert.notEqual(await store.get('to-delete'), undefined);
    assert.equal(await store.delete('to-delete', topic.topicId), true);
    assert.equal(await store.get('to-delete'), undefined);
    assert.equal(await store.delete('to-delete', topic.topicId), false);
    // The name can be reused by a new topic, which the old id cannot delete.
    const again = newTopic('to-delete');
    assert.equal(await store.create(again), 'created');
    assert.equal(await store.delete('to-delete', topic.topicId), false);
    assert.equal((await store.get('to-delete'))?.topicId, again.topicId);
  });

  test('updateConfigs replaces the configs under optimistic concurrency', async () => {
    await store.create(newTopic('cfg', { configs: { 'retention.ms': '1000' } }));
    const updated = await store.updateConfigs('cfg', 1, { 'max.message.bytes': '2097152' });
    assert.ok(typeof updated === 'object');
    assert.equal(updated.version, 2);
    assert.deepEqual(updated.configs, { 'max.message.bytes': '2097152' });
    assert.deepEqual(await store.get('cfg'), updated);

    assert.equal(await store.updateConfigs('cfg', 1, { 'retention.ms': '5' }), 'conflict');
    assert.equal(await store.updateConfigs('cfg', 3, { 'retention.ms': '5' }), 'conflict');
    assert.equal(await store.updateConfigs('missing-topic', 1, {}), 'missing');
    assert.deepEqual((await store.get('cfg'))?.configs, { 'max.message.bytes': '2097152' });

    const cleared = await store.updateConfigs('cfg', 2, {});
    assert.ok(typeof cleared === 'object');
    assert.deepEqual(cleared.configs, {});
    assert.equal(cleared.version, 3);
  });

  test('concurrent updates at the same version: exactly one wins', async () => {
    await store.create(newTopic('cfg-race'));
    const other = new DynamoTopicStore(dynamo.newClient(), dynamo.tables.topics);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? store : other).updateConfigs('cfg-race', 1, { 'retention.ms': String(i) })),
    );
    const winners = results.filter((r) => typeof r === 'object');
    assert.equal(winners.length, 1);
    assert.equal(results.filter((r) => r === 'conflict').length, 7);
    assert.deepEqual(await store.get('cfg-race'), winners[0]);
  });

  test('addPartitionMap appends a later epoch under optimistic concurrency', async () => {
    await store.create(newTopic('grow', { partitionMaps: [{ epoch: 0, partitionCount: 2, sinceMs: 100 }] }));
    const grown = await store.addPartitionMap('grow', 1, { epoch: 1, partitionCount: 5, sinceMs: 200 });
    assert.ok(typeof grown === 'object');
    assert.equal(grown.version, 2);
    assert.deepEqual(grown.partitionMaps, [
      { epoch: 0, partitionCount: 2, sinceMs: 100 },
      { epoch: 1, partitionCount: 5, sinceMs: 200 },
    ]);
    assert.equal(await store.addPartitionMap('grow', 1, { epoch: 2, partitionCount: 6, sinceMs: 300 }), 'conflict');
    assert.equal(await store.addPartitionMap('nope', 1, { epoch: 1, partitionCount: 6, sinceMs: 300 }), 'missing');
    await assert.rejects(store.addPartitionMap('grow', 2, { epoch: 1, partitionCount: 6, sinceMs: 300 }), RangeError);
    await assert.rejects(store.addPartitionMap('grow', 2, { epoch: 2, partitionCount: 4, sinceMs: 300 }), RangeError);
    await assert.rejects(store.addPartitionMap('grow', 2, { epoch: 2, partitionCount: 6, sinceMs: 150 }), RangeError);
    const again = await store.addPartitionMap('grow', 2, { epoch: 2, partitionCount: 8, sinceMs: 300 });
    assert.ok(typeof again === 'object');
    assert.deepEqual(again.partitionMaps.map((m) => m.partitionCount), [2, 5, 8]);
    assert.equal(again.version, 3);
  });

  test('configs and partition maps changed by two gateways at once: one wins, nothing is lost', async () => {
    await store.create(newTopic('mixed'));
    const other = new DynamoTopicStore(dynamo.newClient(), dynamo.tables.topics);
    const [a, b] = await Promise.all([
      store.updateConfigs('mixed', 1, { 'retention.ms': '1' }),
      other.addPartitionMap('mixed', 1, { epoch: 1, partitionCount: 8, sinceMs: 1_700_000_000_001 }),
    ]);
    assert.equal([a, b].filter((r) => typeof r === 'object').length, 1, `${String(a)} ${String(b)}`);
    const stored = await store.get('mixed');
    assert.equal(stored?.version, 2);
  });

  test('rejects malformed topics', async () => {
    await assert.rejects(store.create(newTopic('bad-id', { topicId: 'ABCDEF' })), RangeError);
    await assert.rejects(store.create(newTopic('bad-id', { topicId: randomUUID().toUpperCase() })), RangeError);
    await assert.rejects(store.create(newTopic('no-maps', { partitionMaps: [] })), RangeError);
    await assert.rejects(store.create(newTopic('zero', { partitionMaps: [{ epoch: 0, partitionCount: 0, sinceMs: 0 }] })), RangeError);
    await assert.rejects(store.create(newTopic('rf', { replicationFactor: 0 })), RangeError);
    assert.equal(await store.get('bad-id'), undefined);
  });
});
