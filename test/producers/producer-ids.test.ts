import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { createDynamoClient, readBigInt, type Item } from '../../src/aws/dynamodb.js';
import {
  DynamoProducerIdAllocator,
  ProducerIdsExhaustedError,
  allocateProducerIdBlock,
} from '../../src/producers/producer-ids.js';
import { freePort } from '../support/ports.js';
import { startTestDynamo, type TestDynamo } from '../support/dynamodb.js';

let dynamo: TestDynamo;
let table: string;

before(async () => {
  dynamo = await startTestDynamo('producer-ids-test-');
  table = dynamo.tables.producerIds;
});

after(async () => {
  await dynamo.close();
});

async function counter(): Promise<bigint | undefined> {
  const out = await dynamo.client.send(new GetItemCommand({ TableName: table, Key: { counter: { S: 'producer-id' } }, ConsistentRead: true }));
  return out.Item === undefined ? undefined : readBigInt(out.Item as Item, 'next');
}

async function setCounter(next: bigint): Promise<void> {
  await dynamo.client.send(
    new PutItemCommand({ TableName: table, Item: { counter: { S: 'producer-id' }, next: { N: next.toString() } } }),
  );
}

describe('producer id blocks', () => {
  test('the table is one of the gateway tables', () => {
    assert.equal(dynamo.tables.producerIds, 'producer-ids-test-producer-ids');
  });

  test('blocks are consecutive and disjoint, starting at 0', async () => {
    assert.equal(await counter(), undefined);
    assert.deepEqual(await allocateProducerIdBlock(dynamo.client, table, 1000), { first: 0n, size: 1000 });
    assert.deepEqual(await allocateProducerIdBlock(dynamo.client, table, 10), { first: 1000n, size: 10 });
    assert.equal(await counter(), 1010n);
    await assert.rejects(allocateProducerIdBlock(dynamo.client, table, 0), RangeError);
  });

  test('an allocator hands out each id once, fetching the next block before the current one runs out', async () => {
    await setCounter(5000n);
    const allocator = new DynamoProducerIdAllocator(dynamo.client, table, { blockSize: 10 });
    const ids: bigint[] = [];
    for (let i = 0; i < 9; i++) ids.push(await allocator.nextProducerId());
    assert.deepEqual(ids, [5000n, 5001n, 5002n, 5003n, 5004n, 5005n, 5006n, 5007n, 5008n]);
    // 90% used: the next block was requested in the background.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await counter(), 5020n);
    assert.equal(await allocator.nextProducerId(), 5009n);
    assert.equal(await allocator.nextProducerId(), 5010n);
    assert.equal(await counter(), 5020n);
    await allocator.idle();
  });

  test('two gateways racing (and many concurrent callers) never get the same id; a restart never reuses one', async () => {
    const gateway1 = new DynamoProducerIdAllocator(dynamo.client, table, { blockSize: 7 });
    const gateway2 = new DynamoProducerIdAllocator(dynamo.newClient(), table, { blockSize: 7 });
    const all = await Promise.all(
      Array.from({ length: 400 }, (_, i) => (i % 2 === 0 ? gateway1 : gateway2).nextProducerId()),
    );
    assert.equal(new Set(all).size, all.length);
    const highest = all.reduce((m, id) => (id > m ? id : m), 0n);
    const restarted = new DynamoProducerIdAllocator(dynamo.newClient(), table, { blockSize: 7 });
    const after = await restarted.nextProducerId();
    assert.ok(after > highest, `${after} > ${highest}`);
    assert.ok(!all.includes(after));
    await Promise.all([gateway1.idle(), gateway2.idle(), restarted.idle()]);
  });

  test('racing blocks from two clients are disjoint', async () => {
    const other = dynamo.newClient();
    const blocks = await Promise.all(
      Array.from({ length: 40 }, (_, i) => allocateProducerIdBlock(i % 2 === 0 ? dynamo.client : other, table, 100)),
    );
    const firsts = blocks.map((b) => b.first).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (let i = 1; i < firsts.length; i++) assert.equal((firsts[i] as bigint) - (firsts[i - 1] as bigint), 100n);
  });

  test('exhaustion near 2^63 is refused', async () => {
    await setCounter((1n << 63n) - 150n);
    await assert.rejects(allocateProducerIdBlock(dynamo.client, table, 151), (err: unknown) => {
      assert.ok(err instanceof ProducerIdsExhaustedError);
      return true;
    });
    // The last block may end at the largest int64.
    assert.deepEqual(await allocateProducerIdBlock(dynamo.client, table, 150), { first: (1n << 63n) - 150n, size: 150 });
    await assert.rejects(allocateProducerIdBlock(dynamo.client, table, 1), ProducerIdsExhaustedError);
    await setCounter(0n);
  });

  test('DynamoDB unreachable: the call rejects, and a later call tries again', async () => {
    const port = await freePort();
    const unreachable = createDynamoClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      maxAttempts: 1,
      connectionTimeoutMs: 500,
      requestTimeoutMs: 500,
    });
    try {
      const allocator = new DynamoProducerIdAllocator(unreachable, table, { blockSize: 5 });
      await assert.rejects(allocator.nextProducerId());
      await assert.rejects(allocator.nextProducerId());
    } finally {
      unreachable.destroy();
    }
  });
});
