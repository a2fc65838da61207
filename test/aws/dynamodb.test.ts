import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DescribeTableCommand, PutItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  TableNames,
  attrS,
  createDynamoClient,
  ensureGatewayTables,
  ensureTable,
  isConditionFailed,
  readBigInt,
} from '../../src/aws/dynamodb.js';
import { startDynalite, type LocalService } from '../../src/embedded-aws.js';

let service: LocalService;
let client: DynamoDBClient;

before(async () => {
  service = await startDynalite();
  client = createDynamoClient({
    endpoint: service.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
});

after(async () => {
  client.destroy();
  await service.close();
});

describe('TableNames', () => {
  test('prefixes every table', () => {
    const names = new TableNames('kkg-');
    assert.equal(names.topics, 'kkg-topics');
    assert.equal(names.offsetIndex, 'kkg-offset-index');
    assert.equal(names.leases, 'kkg-leases');
    assert.equal(new TableNames('').topics, 'topics');
  });

  test('rejects characters DynamoDB table names cannot hold', () => {
    assert.throws(() => new TableNames('a/b-'));
    assert.throws(() => new TableNames('x'.repeat(201)));
  });
});

describe('ensureTable', () => {
  test('creates a missing table and is idempotent, also when raced', async () => {
    const spec = { name: 'race-table', partitionKey: { name: 'id', type: 'S' as const }, sortKey: { name: 'n', type: 'N' as const } };
    await Promise.all(Array.from({ length: 8 }, () => ensureTable(client, spec)));
    await ensureTable(client, spec);
    const out = await client.send(new DescribeTableCommand({ TableName: 'race-table' }));
    assert.equal(out.Table?.TableStatus, 'ACTIVE');
    assert.equal(out.Table?.BillingModeSummary?.BillingMode, 'PAY_PER_REQUEST');
    assert.deepEqual(out.Table?.KeySchema, [
      { AttributeName: 'id', KeyType: 'HASH' },
      { AttributeName: 'n', KeyType: 'RANGE' },
    ]);
  });

  test('ensureGatewayTables creates all three tables, concurrently from several nodes', async () => {
    const results = await Promise.all([ensureGatewayTables(client, 'gw-'), ensureGatewayTables(client, 'gw-')]);
    assert.equal(results[0].prefix, 'gw-');
    for (const name of ['gw-topics', 'gw-offset-index', 'gw-leases']) {
      const out = await client.send(new DescribeTableCommand({ TableName: name }));
      assert.equal(out.Table?.TableStatus, 'ACTIVE', name);
    }
    const index = await client.send(new DescribeTableCommand({ TableName: 'gw-offset-index' }));
    assert.deepEqual(
      index.Table?.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.IndexStatus]),
      [['by-time', 'ACTIVE']],
    );
  });
});

describe('isConditionFailed', () => {
  test('recognises a failed conditional write and nothing else', async () => {
    await ensureTable(client, { name: 'cond', partitionKey: { name: 'id', type: 'S' } });
    const put = (): Promise<unknown> =>
      client.send(
        new PutItemCommand({
          TableName: 'cond',
          Item: { id: attrS('a') },
          ConditionExpression: 'attribute_not_exists(id)',
        }),
      );
    await put();
    const err = await put().then(
      () => assert.fail('second conditional put succeeded'),
      (e: unknown) => e,
    );
    assert.equal(isConditionFailed(err), true);
    assert.equal(isConditionFailed(new Error('boom')), false);
    assert.equal(isConditionFailed(undefined), false);
    const missing = await client
      .send(new PutItemCommand({ TableName: 'no-such-table', Item: { id: attrS('a') } }))
      .then(() => undefined, (e: unknown) => e);
    assert.equal(isConditionFailed(missing), false);
  });
});

describe('readBigInt', () => {
  test('parses int64 values exactly', () => {
    assert.equal(readBigInt({ n: { N: '9223372036854775807' } }, 'n'), 9223372036854775807n);
    assert.throws(() => readBigInt({ n: { N: '1.5' } }, 'n'));
    assert.throws(() => readBigInt({ n: { S: '1' } }, 'n'));
  });
});
