import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { initProducerIdHandler } from '../../src/apis/init-producer-id.js';
import type { RequestContext } from '../../src/apis/handler.js';
import { registerApi } from '../../src/apis/handler.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import {
  initProducerIdRequest,
  initProducerIdResponse,
  type InitProducerIdRequest,
  type InitProducerIdResponse,
} from '../../src/protocol/messages/index.js';
import { Reader, Writer } from '../../src/protocol/primitives.js';
import { DynamoProducerIdAllocator, type ProducerIdSource } from '../../src/producers/producer-ids.js';
import { startTestDynamo, type TestDynamo } from '../support/dynamodb.js';

const warnings: unknown[] = [];
const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });

function context(apiVersion: number): RequestContext {
  return { apiVersion, correlationId: 1, clientId: 'test', connectionId: 1, remoteAddress: '127.0.0.1', receivedAtMs: performance.now(), log };
}

/** Counts up from `start`; fails while `failing` is set. */
class FakeIds implements ProducerIdSource {
  failing = false;
  calls = 0;
  constructor(private next: bigint) {}
  async nextProducerId(): Promise<bigint> {
    this.calls++;
    if (this.failing) throw new Error('DynamoDB is down');
    return this.next++;
  }
}

function request(fields: Partial<InitProducerIdRequest>): InitProducerIdRequest {
  return { ...initProducerIdRequest.create(), transactionalId: null, transactionTimeoutMs: 60000, ...fields };
}

async function call(ids: ProducerIdSource, req: InitProducerIdRequest, version = 5): Promise<InitProducerIdResponse> {
  const response = await initProducerIdHandler(ids).handle(req, context(version));
  assert.ok(response !== null);
  return response;
}

describe('InitProducerId', () => {
  test('serves versions 0-5 and is registrable', () => {
    const handler = initProducerIdHandler(new FakeIds(0n));
    assert.equal(handler.minVersion, 0);
    assert.equal(handler.maxVersion, 5);
    const api = registerApi(handler);
    assert.equal(api.apiKey, 22);
    assert.equal(api.name, 'InitProducerId');
  });

  test('an idempotent producer gets a new id at epoch 0, every version, through the codecs', async () => {
    const ids = new FakeIds(7000n);
    const api = registerApi(initProducerIdHandler(ids));
    for (let version = 0; version <= 5; version++) {
      const w = new Writer();
      initProducerIdRequest.encode(w, request({}), version);
      const decoded = api.decode(new Reader(Buffer.from(w.finish())), version);
      const encode = await api.run(decoded, context(version));
      assert.ok(encode !== null);
      const out = new Writer();
      encode(out);
      const response = initProducerIdResponse.decode(new Reader(Buffer.from(out.finish())), version);
      assert.equal(response.errorCode, ErrorCode.NONE, `v${version}`);
      assert.equal(response.producerId, 7000n + BigInt(version));
      assert.equal(response.producerEpoch, 0);
      assert.equal(response.throttleTimeMs, 0);
    }
  });

  test('KIP-360: the current id and epoch get the epoch bumped; an exhausted epoch gets a new id', async () => {
    const ids = new FakeIds(100n);
    const bumped = await call(ids, request({ producerId: 55n, producerEpoch: 3 }), 3);
    assert.deepEqual([bumped.errorCode, bumped.producerId, bumped.producerEpoch], [ErrorCode.NONE, 55n, 4]);
    assert.equal(ids.calls, 0);
    const toMax = await call(ids, request({ producerId: 55n, producerEpoch: 32766 }));
    assert.deepEqual([toMax.producerId, toMax.producerEpoch], [55n, 32767]);
    const exhausted = await call(ids, request({ producerId: 55n, producerEpoch: 32767 }));
    assert.deepEqual([exhausted.errorCode, exhausted.producerId, exhausted.producerEpoch], [ErrorCode.NONE, 100n, 0]);
  });

  test('an id without an epoch (or the reverse), or negative values, is INVALID_REQUEST', async () => {
    const ids = new FakeIds(0n);
    for (const [producerId, producerEpoch] of [
      [5n, -1],
      [-1n, 2],
      [-2n, 0],
      [3n, -7],
    ] as const) {
      const response = await call(ids, request({ producerId, producerEpoch }));
      assert.deepEqual(
        [response.errorCode, response.producerId, response.producerEpoch],
        [ErrorCode.INVALID_REQUEST, -1n, -1],
        `${producerId}/${producerEpoch}`,
      );
    }
    assert.equal(ids.calls, 0);
  });

  test('a transactional id is refused with TRANSACTIONAL_ID_AUTHORIZATION_FAILED and a log line; an empty one is INVALID_REQUEST', async () => {
    const ids = new FakeIds(0n);
    warnings.length = 0;
    for (let version = 0; version <= 5; version++) {
      const response = await call(ids, request({ transactionalId: 'txn-1' }), version);
      assert.deepEqual(
        [response.errorCode, response.producerId, response.producerEpoch],
        [ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1n, -1],
      );
    }
    assert.equal(warnings.length, 6);
    assert.match(JSON.stringify(warnings[0]), /does not support transactions/);
    assert.match(JSON.stringify(warnings[0]), /txn-1/);
    const empty = await call(ids, request({ transactionalId: '' }));
    assert.equal(empty.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal(ids.calls, 0);
  });

  test('ids cannot be allocated: COORDINATOR_LOAD_IN_PROGRESS (retriable), then served again', async () => {
    const ids = new FakeIds(9n);
    ids.failing = true;
    const failed = await call(ids, request({}));
    assert.deepEqual([failed.errorCode, failed.producerId, failed.producerEpoch], [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, -1n, -1]);
    const exhaustedBump = await call(ids, request({ producerId: 1n, producerEpoch: 32767 }));
    assert.equal(exhaustedBump.errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    ids.failing = false;
    const ok = await call(ids, request({}));
    assert.deepEqual([ok.errorCode, ok.producerId, ok.producerEpoch], [ErrorCode.NONE, 9n, 0]);
  });
});

describe('InitProducerId on the DynamoDB allocator', () => {
  let dynamo: TestDynamo;
  before(async () => {
    dynamo = await startTestDynamo('init-pid-test-');
  });
  after(async () => {
    await dynamo.close();
  });

  test('two gateways hand out distinct ids', async () => {
    const ids1 = new DynamoProducerIdAllocator(dynamo.client, dynamo.tables.producerIds, { blockSize: 3 });
    const ids2 = new DynamoProducerIdAllocator(dynamo.newClient(), dynamo.tables.producerIds, { blockSize: 3 });
    const gw1 = initProducerIdHandler(ids1);
    const gw2 = initProducerIdHandler(ids2);
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? gw1 : gw2).handle(request({}), context(4))),
    );
    const ids = responses.map((r) => {
      assert.ok(r !== null && r.errorCode === ErrorCode.NONE);
      return r.producerId;
    });
    assert.equal(new Set(ids).size, 30);
    await Promise.all([ids1.idle(), ids2.idle()]);
  });
});
