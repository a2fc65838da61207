/** Committed offsets in DynamoDB (dynalite), alone and under the coordinator. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../../src/aws/dynamodb.js';
import { GroupCoordinator } from '../../src/groups/coordinator.js';
import { DynamoOffsetStore } from '../../src/groups/dynamo-offset-store.js';
import type { CommittedOffset } from '../../src/groups/offset-store.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { freePort } from '../support/ports.js';
import { startTestDynamo, type TestDynamo } from '../support/dynamodb.js';

let dynamo: TestDynamo;
let store: DynamoOffsetStore;

before(async () => {
  dynamo = await startTestDynamo('offsets-test-');
  store = new DynamoOffsetStore(dynamo.client, dynamo.tables.groupOffsets);
});

after(async () => {
  await dynamo.close();
});

function offset(value: bigint, overrides: Partial<CommittedOffset> = {}): CommittedOffset {
  return { offset: value, leaderEpoch: -1, metadata: '', commitTimestampMs: 1_700_000_000_123, expireTimestampMs: null, ...overrides };
}

describe('DynamoOffsetStore', () => {
  test('stores one item per (group, topic, partition) with every field, int64 offsets exact', async () => {
    const big = 2n ** 62n + 7n;
    await store.put('g1', 'orders', 3, offset(big, { leaderEpoch: 12, metadata: 'consumer-1 state', expireTimestampMs: 1_800_000_000_000 }));
    const item = await dynamo.client.send(
      new GetItemCommand({ TableName: dynamo.tables.groupOffsets, Key: { group: { S: 'g1' }, tp: { S: 'orders:3' } } }),
    );
    assert.equal(item.Item?.offset?.N, big.toString());
    assert.equal(item.Item?.topic?.S, 'orders');
    assert.equal(item.Item?.partition?.N, '3');
    assert.equal(item.Item?.commitTimestampMs?.N, '1700000000123');
    assert.deepEqual(await store.loadGroup('g1'), [
      {
        groupId: 'g1',
        topic: 'orders',
        partition: 3,
        offset: big,
        leaderEpoch: 12,
        metadata: 'consumer-1 state',
        commitTimestampMs: 1_700_000_000_123,
        expireTimestampMs: 1_800_000_000_000,
      },
    ]);
  });

  test('empty metadata and no expiry round-trip; a later put replaces the item; delete removes it (and tolerates absence)', async () => {
    await store.put('g2', 'a', 0, offset(1n));
    await store.put('g2', 'a', 0, offset(2n));
    await store.put('g2', 'b', 1, offset(5n, { metadata: '' }));
    let items = await store.loadGroup('g2');
    assert.deepEqual(
      items.map((o) => [o.topic, o.partition, o.offset, o.metadata, o.expireTimestampMs]),
      [
        ['a', 0, 2n, '', null],
        ['b', 1, 5n, '', null],
      ],
    );
    await store.delete('g2', 'a', 0);
    await store.delete('g2', 'a', 0);
    items = await store.loadGroup('g2');
    assert.deepEqual(items.map((o) => o.topic), ['b']);
  });

  test('loadAll pages through a table larger than one scan page', async () => {
    const metadata = 'x'.repeat(4000);
    await Promise.all(Array.from({ length: 300 }, (_, i) => store.put(`bulk-${i % 7}`, 'big', i, offset(BigInt(i), { metadata }))));
    const firstPage = await dynamo.client.send(new ScanCommand({ TableName: dynamo.tables.groupOffsets }));
    assert.notEqual(firstPage.LastEvaluatedKey, undefined, 'the table spans more than one page');
    const all = await store.loadAll();
    const bulk = all.filter((o) => o.topic === 'big');
    assert.equal(bulk.length, 300);
    assert.deepEqual(
      bulk.map((o) => o.partition).sort((a, b) => a - b),
      Array.from({ length: 300 }, (_, i) => i),
    );
    const group3 = await store.loadGroup('bulk-3');
    assert.equal(group3.length, 43);
  });
});

describe('GroupCoordinator on DynamoDB', () => {
  test('offsets committed before a restart are loaded by the next coordinator', async () => {
    const first = new GroupCoordinator({ store });
    await first.start();
    const codes = await first.commitOffsets({
      groupId: 'restart',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      offsets: [0, 1, 2].map((partition) => ({ topic: 'events', partition, offset: BigInt(100 + partition), leaderEpoch: 0, metadata: null })),
    });
    assert.deepEqual(codes, [0, 0, 0]);
    await first.close();

    const second = new GroupCoordinator({ store: new DynamoOffsetStore(dynamo.newClient(), dynamo.tables.groupOffsets) });
    await second.start();
    const fetched = second.fetchOffsets('restart', [{ topic: 'events', partitions: [0, 1, 2, 3] }]);
    assert.deepEqual(
      fetched.topics[0]?.partitions.map((p) => p.offset),
      [100n, 101n, 102n, -1n],
    );
    assert.equal((await second.deleteGroups(['restart'])).get('restart'), ErrorCode.NONE);
    assert.deepEqual(await store.loadGroup('restart'), []);
    await second.close();
  });

  test('DynamoDB unreachable: the commit fails with COORDINATOR_NOT_AVAILABLE, never a silent success', async () => {
    const port = await freePort();
    const client = createDynamoClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
      connectionTimeoutMs: 200,
      requestTimeoutMs: 500,
    });
    // Loaded from the real table, then writing to one that cannot be reached.
    const reachable = new DynamoOffsetStore(dynamo.client, dynamo.tables.groupOffsets);
    const unreachable = new DynamoOffsetStore(client, dynamo.tables.groupOffsets);
    const coordinator = new GroupCoordinator({
      store: { loadAll: () => reachable.loadAll(), loadGroup: (g) => reachable.loadGroup(g), put: (...a) => unreachable.put(...a), delete: (...a) => unreachable.delete(...a) },
    });
    await coordinator.start();
    const codes = await coordinator.commitOffsets({
      groupId: 'offline',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      offsets: [{ topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: null }],
    });
    assert.deepEqual(codes, [ErrorCode.COORDINATOR_NOT_AVAILABLE]);
    assert.equal(coordinator.fetchOffsets('offline', [{ topic: 't', partitions: [0] }]).topics[0]?.partitions[0]?.offset, -1n);
    await coordinator.close();
    client.destroy();
  });

  test('a store that cannot be read at start keeps the coordinator loading (COORDINATOR_LOAD_IN_PROGRESS)', async () => {
    const port = await freePort();
    const client = createDynamoClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
      connectionTimeoutMs: 200,
    });
    const coordinator = new GroupCoordinator({ store: new DynamoOffsetStore(client, 'nowhere'), config: { loadRetryBackoffMs: 50 } });
    const started = coordinator.start();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(coordinator.status, 'loading');
    assert.equal(coordinator.fetchOffsets('g', null).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    await coordinator.close();
    await started;
    client.destroy();
  });
});
