/**
 * An idempotent batch that a node can no longer accept because it stopped leading the partition
 * while the batch waited (an earlier batch of the producer was refused NOT_LEADER_OR_FOLLOWER
 * unwritten, so this one's sequence now has a gap here) is answered NOT_LEADER_OR_FOLLOWER, as a
 * Kafka broker that is no longer the leader answers, not OUT_OF_ORDER_SEQUENCE_NUMBER: the
 * producer retries both at the new leader, in order, instead of bumping its epoch for a gap that
 * is no fault of its own (librdkafka does, and 2.0.2 sometimes stalls or fails doing it).
 *
 * The moment leadership ends between the partition lookup and the sequence check cannot be
 * timed from outside; the test has the LogManager's lease lookup answer "not leading" for the
 * partition instead, on the real gateway, Kinesis, DynamoDB and Redis stand-ins.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../src/protocol/errors.js';
import {
  initProducerIdRequest,
  initProducerIdResponse,
  produceRequest,
  produceResponse,
  type InitProducerIdResponse,
  type ProduceResponse,
} from '../../src/protocol/messages/index.js';
import { encodeBatchSync } from '../../src/protocol/records/record-batch.js';
import { startTestAws, type TestAws } from '../support/aws.js';
import { createTopics, startGateway, testAwsFlags, type RunningGateway } from '../support/gateway.js';
import { parseResponse, RawClient, requestFrame } from '../support/raw-client.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const TOPIC = 'idempotence-leadership';
const PRODUCE = 0;
const PRODUCE_VERSION = 8;
const INIT_PRODUCER_ID = 22;
const INIT_PRODUCER_ID_VERSION = 4;

let aws: TestAws;
let redis: RedisServer;
let gateway: RunningGateway;
let client: RawClient;

before(async () => {
  aws = await startTestAws('idempotence-leadership');
  redis = await startRedis();
  gateway = await startGateway({ ...testAwsFlags(aws), 'redis-url': redis.url });
  await createTopics(gateway.bootstrap, 1, [TOPIC]);
  client = await RawClient.connect(gateway.port);
});

after(async () => {
  client?.close();
  await gateway?.stop();
  await redis?.stop();
  await aws?.close();
});

async function produce(producerId: bigint, baseSequence: number): Promise<{ errorCode: number; baseOffset: bigint }> {
  const body = produceRequest.create();
  body.acks = -1;
  body.timeoutMs = 10_000;
  const records = encodeBatchSync({
    baseTimestamp: BigInt(Date.now()),
    records: [{ offsetDelta: 0, timestampDelta: 0, key: null, value: Buffer.from(`sequence ${baseSequence}`), headers: [] }],
    producerId,
    producerEpoch: 0,
    baseSequence,
  });
  body.topicData = [{ name: TOPIC, partitionData: [{ index: 0, records }] }];
  client.sendFrame(requestFrame(PRODUCE, PRODUCE_VERSION, produceRequest, body));
  const response = parseResponse<ProduceResponse>(PRODUCE, PRODUCE_VERSION, produceResponse, await client.nextFrame(20_000));
  const answer = response.responses[0]?.partitionResponses[0];
  assert.ok(answer !== undefined);
  return { errorCode: answer.errorCode, baseOffset: answer.baseOffset };
}

test('a sequence the partition cannot take is NOT_LEADER_OR_FOLLOWER once this node no longer leads it, OUT_OF_ORDER_SEQUENCE_NUMBER while it does', async () => {
  const init = initProducerIdRequest.create();
  init.transactionalId = null;
  init.transactionTimeoutMs = 60_000;
  client.sendFrame(requestFrame(INIT_PRODUCER_ID, INIT_PRODUCER_ID_VERSION, initProducerIdRequest, init));
  const { errorCode, producerId } = parseResponse<InitProducerIdResponse>(
    INIT_PRODUCER_ID,
    INIT_PRODUCER_ID_VERSION,
    initProducerIdResponse,
    await client.nextFrame(20_000),
  );
  assert.equal(errorCode, ErrorCode.NONE);

  assert.deepEqual(await produce(producerId, 0), { errorCode: ErrorCode.NONE, baseOffset: 0n });
  // Sequence 5 after 0: a gap, which the leader refuses.
  assert.equal((await produce(producerId, 5)).errorCode, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);

  const logs = gateway.gateway.logs;
  const topicId = (await gateway.gateway.storage.topics.topic(TOPIC))?.topicId;
  const ledLease = logs.ledLease.bind(logs);
  logs.ledLease = (id, partition) => (id === topicId && partition === 0 ? undefined : ledLease(id, partition));
  try {
    assert.equal((await produce(producerId, 5)).errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, 'a node that no longer leads sends the producer on');
  } finally {
    logs.ledLease = ledLease;
  }

  // Neither refusal wrote anything: the next sequence is taken at the next offset.
  assert.deepEqual(await produce(producerId, 1), { errorCode: ErrorCode.NONE, baseOffset: 1n });
});
