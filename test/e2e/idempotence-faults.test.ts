/**
 * Issue 5, "done when" 1: idempotent producers whose produce responses are lost retry batches
 * the gateway already wrote, and the topic still holds each record exactly once, in order.
 *
 * A fault proxy (test/support/fault-proxy.ts) sits between the clients and the gateway, which
 * advertises the proxy's port (--advertised-port), so Metadata sends clients through the proxy
 * with nothing rewritten. The proxy, by the count of
 * produce responses, drops one and closes the connection, drops one and leaves the connection
 * open (the client's request times out), or holds one back past the client's request timeout;
 * and, by the count of produce requests, cuts the connection right after a request went through
 * (the retry then races the original attempt, which is still being written). The producers
 * state is in a real Redis (the Lua scripts).
 *
 * - kafkajs, idempotent, maxInFlightRequests 1 and 5 (kafkajs sends one idempotent request per
 *   broker at a time either way), one send() at a time per producer;
 * - librdkafka (python confluent-kafka), enable.idempotence, 5 requests in flight, small
 *   batches.
 *
 * Every record is acknowledged; then the whole topic is read back with librdkafka (assign()) and
 * checked: each record exactly once, at the partition and offset its producer was told, in its
 * producer's order per partition. The gateway's de-duplication counter shows that retries of
 * written batches did happen.
 */
import assert from 'node:assert/strict';
import { after, before, it, type TestContext } from 'node:test';
import kafkajs from 'kafkajs';
import { API_KEY, FaultProxy, type RequestAction, type RequestInfo, type ResponseAction, type ResponseInfo } from '../support/fault-proxy.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import {
  checkExactlyOnce,
  KafkajsIdempotentProducer,
  LibrdkafkaIdempotentProducer,
  readWholeTopic,
} from '../support/idempotent-producers.js';
import { freePort } from '../support/ports.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const PARTITIONS = 3;
/** kafkajs's request timeout here; held-back responses come later than that. */
const KAFKAJS_REQUEST_TIMEOUT_MS = 1500;
/**
 * librdkafka times a ProduceRequest out after socket.timeout.ms (or the first message's
 * remaining message.timeout.ms, if less); request.timeout.ms is only the broker-side acks timeout.
 * It then closes the connection and retries the batches with their sequences.
 */
const LIBRDKAFKA_SOCKET_TIMEOUT_MS = 1500;
const KAFKAJS_RECORDS = 600;
const LIBRDKAFKA_RECORDS = 1200;

let redis: RedisServer;
let gateway: RunningGateway;
let proxy: FaultProxy;
let bootstrap: string;

before(async () => {
  redis = await startRedis();
  const proxyPort = await freePort();
  gateway = await startGateway({ 'advertised-port': String(proxyPort), 'redis-url': redis.url, 'auto-create-topics': 'false' });
  proxy = await FaultProxy.start({ host: '127.0.0.1', port: proxyPort, upstreamHost: '127.0.0.1', upstreamPort: gateway.port });
  bootstrap = proxy.address;
});

after(async () => {
  await proxy?.close();
  await gateway?.stop();
  await redis?.stop();
});

async function createTopic(topic: string): Promise<void> {
  const admin = new kafkajs.Kafka({ clientId: 'kkg-idem-admin', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

/** The gateway's count of retried batches answered with their original offset. */
async function deduplicatedBatches(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gateway.gateway.addresses.metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('kafka_kinesis_gateway_deduplicated_batches_total'));
  assert.ok(line !== undefined, 'the gateway exports kafka_kinesis_gateway_deduplicated_batches_total');
  return Number(line.split(' ').pop());
}

/**
 * Faults by the count of produce responses (n) and requests (m); every other answer passes:
 * n % 6: 1 drop and close, 3 drop (connection kept), 5 hold back past the request timeout;
 * m % 13 == 7: cut the connection right after the request.
 */
function producePolicies(delayMs: number): {
  decide: (info: ResponseInfo) => ResponseAction;
  decideRequest: (info: RequestInfo) => RequestAction;
} {
  return {
    decide: (info) => {
      if (info.apiKey !== API_KEY.PRODUCE) return { kind: 'pass' };
      switch (info.ordinal % 6) {
        case 1:
          return { kind: 'drop-close' };
        case 3:
          return { kind: 'drop' };
        case 5:
          return { kind: 'delay', delayMs };
        default:
          return { kind: 'pass' };
      }
    },
    decideRequest: (info) => (info.apiKey === API_KEY.PRODUCE && info.ordinal % 13 === 7 ? 'cut' : 'pass'),
  };
}

function proxyStats(): string {
  const s = proxy.stats;
  return `proxy: ${s.requestsPerApi.get(API_KEY.PRODUCE) ?? 0} produce requests, ${s.dropped} responses dropped (${s.closed} with the connection), ${s.delayed} held back, ${s.cut} connections cut after a request, ${s.connections} connections`;
}

it('kafkajs idempotent producers (maxInFlightRequests 1 and 5) whose produce responses are lost: each record once, in order', { timeout: 120_000 }, async (t: TestContext) => {
  const topic = 'idem-faults-kafkajs';
  await createTopic(topic);
  const dedupBefore = await deduplicatedBatches();
  const { decide, decideRequest } = producePolicies(KAFKAJS_REQUEST_TIMEOUT_MS + 1000);
  proxy.setPolicies(decide, decideRequest);
  const producers = [1, 5].map(
    (maxInFlightRequests) =>
      new KafkajsIdempotentProducer(bootstrap, {
        name: `kafkajs-inflight${maxInFlightRequests}`,
        topic,
        partitionCount: PARTITIONS,
        count: KAFKAJS_RECORDS,
        batchSize: 30,
        maxInFlightRequests,
        requestTimeoutMs: KAFKAJS_REQUEST_TIMEOUT_MS,
      }),
  );
  try {
    await Promise.all(producers.map((p) => p.finished()));
  } finally {
    proxy.setPolicies(undefined);
    await Promise.all(producers.map((p) => p.stop()));
  }
  for (const p of producers) {
    t.diagnostic(`${p.name}: ${p.acked.size} acknowledged; send() errors: ${p.sendErrors.toString()}`);
    assert.equal(p.fatal, undefined, `${p.name} stopped: ${p.fatal?.message}`);
  }
  const dedup = (await deduplicatedBatches()) - dedupBefore;
  t.diagnostic(`${proxyStats()}; gateway de-duplicated ${dedup} batches`);
  assert.ok(proxy.stats.dropped >= 10, 'the proxy dropped responses');

  const log = await readWholeTopic(bootstrap, topic);
  const summary = checkExactlyOnce(log, producers, { allAcknowledged: true });
  t.diagnostic(`log: ${summary.records} records, ${summary.acknowledged} acknowledged`);
  assert.equal(summary.records, 2 * KAFKAJS_RECORDS);
  assert.ok(dedup > 0, 'retries of written batches reached the gateway and were recognised');
});

it('librdkafka idempotent producers (5 in flight) whose produce responses are lost: each record once, in order', { timeout: 120_000 }, async (t: TestContext) => {
  const topic = 'idem-faults-librdkafka';
  await createTopic(topic);
  const dedupBefore = await deduplicatedBatches();
  const { decide, decideRequest } = producePolicies(LIBRDKAFKA_SOCKET_TIMEOUT_MS + 1000);
  proxy.setPolicies(decide, decideRequest);
  const producers = [1, 2].map(
    (n) =>
      new LibrdkafkaIdempotentProducer(bootstrap, {
        name: `librdkafka-${n}`,
        topic,
        count: LIBRDKAFKA_RECORDS,
        config: {
          'max.in.flight.requests.per.connection': 5,
          'batch.num.messages': 40,
          'linger.ms': 2,
          'socket.timeout.ms': LIBRDKAFKA_SOCKET_TIMEOUT_MS,
          'message.timeout.ms': 100_000,
        },
      }),
  );
  try {
    await Promise.all(producers.map((p) => p.finished()));
  } finally {
    proxy.setPolicies(undefined);
    for (const p of producers) p.kill();
  }
  for (const p of producers) {
    t.diagnostic(`${p.name}: ${p.acked.size} acknowledged, ${p.nacked.size} failed; client errors: ${p.clientErrors.toString()}`);
    assert.deepEqual(p.fatalErrors, [], `${p.name}: fatal errors`);
    assert.equal(p.unflushed, 0, `${p.name}: everything flushed`);
    assert.deepEqual([...p.nacked].slice(0, 5), [], `${p.name}: failed deliveries`);
  }
  const dedup = (await deduplicatedBatches()) - dedupBefore;
  t.diagnostic(`${proxyStats()}; gateway de-duplicated ${dedup} batches`);

  const log = await readWholeTopic(bootstrap, topic);
  const summary = checkExactlyOnce(log, producers, { allAcknowledged: true });
  t.diagnostic(`log: ${summary.records} records, ${summary.acknowledged} acknowledged`);
  assert.equal(summary.records, 2 * LIBRDKAFKA_RECORDS);
  assert.ok(dedup > 0, 'retries of written batches reached the gateway and were recognised');
});
