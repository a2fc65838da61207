/**
 * Issue 5, "done when" 3: Redis restarted with no data while idempotent producers run; they
 * recover without duplicates among the batches that were acknowledged.
 *
 * The gateway (in this process, embedded kinesalite and dynalite) keeps its producer state in a
 * real redis-server, which is stopped mid-run (produce requests of idempotent producers then
 * get NOT_ENOUGH_REPLICAS, retriable, nothing written) and started again on the same port with
 * nothing in it. The producers' next batches carry sequences the empty Redis knows nothing
 * about: the gateway answers UNKNOWN_PRODUCER_ID (a batch at sequence 0 would be accepted, as
 * Kafka does), and each client recovers by its own rules:
 *
 * - librdkafka (python confluent-kafka 1.7 / librdkafka 2.0.2): handles UNKNOWN_PRODUCER_ID on
 *   an idempotent (non-transactional) producer itself, by bumping the epoch (drain, then
 *   InitProducerId with its producer id and epoch, KIP-360; the gateway bumps the epoch) and
 *   sending the unacknowledged batches again from sequence 0 of the new epoch.
 * - kafkajs 2.2.4: has no recovery of its own. UNKNOWN_PRODUCER_ID is not retriable there
 *   (send() rejects with KafkaJSProtocolError type UNKNOWN_PRODUCER_ID, code 59), and the
 *   producer keeps its id and sequences, so every later send() of that producer object fails
 *   the same way. The application recovers by creating a new producer (a new producer id from
 *   InitProducerId, sequences from 0) and sending the refused records again, which is what
 *   the test's kafkajs producers do (KafkajsIdempotentProducer, newProducerOnUnknownProducerId).
 *
 * Afterwards the whole topic is read back and checked (test/support/idempotent-producers.ts):
 * every acknowledged record exactly once, at the offset it was acknowledged at; no record twice;
 * each producer's records in its order, per partition.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, it, type TestContext } from 'node:test';
import kafkajs from 'kafkajs';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import {
  checkExactlyOnce,
  KafkajsIdempotentProducer,
  LibrdkafkaIdempotentProducer,
  readWholeTopic,
  type ProducerOutcome,
} from '../support/idempotent-producers.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const run = promisify(execFile);
const PARTITIONS = 3;
/** Acknowledged records each producer must have before Redis stops, and more after it is back. */
const ACKED_BEFORE = 300;
const ACKED_AFTER = 300;
/** How long Redis stays down. */
const DOWN_MS = 2000;

let redis: RedisServer;
let gateway: RunningGateway;
let workDir: string;

before(async () => {
  redis = await startRedis();
  gateway = await startGateway({ 'redis-url': redis.url, 'auto-create-topics': 'false' });
  workDir = mkdtempSync(join(tmpdir(), 'kkg-idem-redis-'));
});

after(async () => {
  await gateway?.stop();
  await redis?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

async function untilAcked(producers: readonly ProducerOutcome[], counts: ReadonlyMap<string, number>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (producers.every((p) => p.acked.size >= (counts.get(p.name) ?? 0))) return;
    if (Date.now() > deadline) {
      const state = producers.map((p) => `${p.name} ${p.acked.size}/${counts.get(p.name)}`).join(', ');
      throw new Error(`producers did not get far enough in time: ${state}`);
    }
    await sleep(20);
  }
}

/** The gateway's count of batches refused with a sequence error, by kind. */
async function sequenceErrors(): Promise<string> {
  const text = await (await fetch(`http://127.0.0.1:${gateway.gateway.addresses.metricsPort}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith('kafka_kinesis_gateway_producer_sequence_errors_total{'))
    .map((l) => l.replace('kafka_kinesis_gateway_producer_sequence_errors_total', ''))
    .join(', ');
}

interface Scenario {
  readonly topic: string;
  /** Takes Redis's data away while the producers run. */
  disrupt(t: TestContext): Promise<void>;
}

/** Runs the producers through `disrupt` and checks the topic; returns the librdkafka producer. */
async function runScenario(t: TestContext, scenario: Scenario): Promise<LibrdkafkaIdempotentProducer> {
  const bootstrap = gateway.bootstrap;
  const admin = new kafkajs.Kafka({ clientId: 'kkg-idem-redis-admin', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: scenario.topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  await admin.disconnect();

  const stopFile = join(workDir, `stop-${scenario.topic}`);
  const kafkajsProducers = [1, 5].map(
    (maxInFlightRequests) =>
      new KafkajsIdempotentProducer(bootstrap, {
        name: `kafkajs-inflight${maxInFlightRequests}`,
        topic: scenario.topic,
        partitionCount: PARTITIONS,
        count: 1_000_000,
        batchSize: 30,
        maxInFlightRequests,
        requestTimeoutMs: 5000,
        newProducerOnUnknownProducerId: true,
        onePartitionPerSend: true,
      }),
  );
  const librdkafka = new LibrdkafkaIdempotentProducer(bootstrap, {
    name: 'librdkafka',
    topic: scenario.topic,
    count: 1_000_000,
    stopFile,
    config: { 'socket.timeout.ms': 5000, 'message.timeout.ms': 100_000 },
    newProducerOnFatal: true,
  });
  const producers: ProducerOutcome[] = [...kafkajsProducers, librdkafka];
  let ok = false;
  try {
    await untilAcked(producers, new Map(producers.map((p) => [p.name, ACKED_BEFORE])), 60_000);
    const atDisruption = new Map(producers.map((p) => [p.name, p.acked.size]));
    await scenario.disrupt(t);
    const disruptedAt = Date.now();
    t.diagnostic(`Redis lost its data with ${[...atDisruption].map(([n, c]) => `${n} ${c}`).join(', ')} acknowledged`);
    await untilAcked(producers, new Map([...atDisruption].map(([n, c]) => [n, c + ACKED_AFTER])), 60_000);
    t.diagnostic(`producers recovered: ${ACKED_AFTER} more acknowledged each ${Math.round((Date.now() - disruptedAt) / 1000)} s later`);
    ok = true;
  } finally {
    writeFileSync(stopFile, '');
    if (!ok) librdkafka.kill();
    await Promise.all(kafkajsProducers.map((p) => p.stop(ok ? 60_000 : 1000)));
    if (ok) await librdkafka.finished();
  }
  t.diagnostic(`gateway sequence errors so far: ${await sequenceErrors()}`);
  for (const p of kafkajsProducers) {
    t.diagnostic(`${p.name}: ${p.acked.size} acknowledged, ${p.producers} producer ids; send() errors: ${p.sendErrors.toString()}`);
    assert.equal(p.fatal, undefined, `${p.name} stopped: ${p.fatal?.message}`);
    // Its state was gone for at least the partitions it was not writing to at that moment.
    assert.ok(p.sendErrors.counts.get('UNKNOWN_PRODUCER_ID') !== undefined, `${p.name} was told UNKNOWN_PRODUCER_ID`);
  }
  t.diagnostic(
    `${librdkafka.name}: ${librdkafka.acked.size} acknowledged, ${librdkafka.producers} producers; ` +
      `failed deliveries: ${librdkafka.failures.toString()}; client errors: ${librdkafka.clientErrors.toString()}`,
  );
  assert.equal(librdkafka.unflushed, 0, 'librdkafka: everything flushed');
  assert.deepEqual([...librdkafka.nacked].slice(0, 5), [], 'librdkafka: deliveries that failed for good');

  const log = await readWholeTopic(bootstrap, scenario.topic);
  const summary = checkExactlyOnce(log, producers, { allAcknowledged: true });
  t.diagnostic(`log: ${summary.records} records, ${summary.acknowledged} acknowledged`);
  return librdkafka;
}

/**
 * librdkafka 2.0.2's fatal error for UNKNOWN_PRODUCER_ID on a batch it had retried before
 * (rd_kafka_handle_idempotent_Produce_error): it cannot tell whether an earlier attempt was
 * written, so it will not bump the epoch and resend.
 */
const LIBRDKAFKA_UNKNOWN_PRODUCER_FATAL = /UNKNOWN_PRODUCER_ID.*failed due to unknown producer id .*\d+ retries\): unable to retry without risking duplication\/reordering/;

it('Redis restarted empty under idempotent kafkajs and librdkafka producers: acknowledged records once, in order', { timeout: 120_000 }, async (t: TestContext) => {
  const librdkafka = await runScenario(t, {
    topic: 'idem-redis-restart',
    async disrupt() {
      const port = redis.port;
      await redis.stop();
      await sleep(DOWN_MS);
      redis = await startRedis({ port });
    },
  });
  // While Redis was down, the batches in flight were answered NOT_ENOUGH_REPLICAS and retried;
  // once it was back, empty, the retried batches got UNKNOWN_PRODUCER_ID, which librdkafka takes
  // as fatal for a retried batch. The application then needs a new producer (as here).
  for (const fatal of librdkafka.fatalErrors) assert.match(fatal, LIBRDKAFKA_UNKNOWN_PRODUCER_FATAL);
  t.diagnostic(`librdkafka fatal errors: ${librdkafka.fatalErrors.length} (${librdkafka.fatalErrors[0] ?? 'none'})`);
});

it('Redis loses its data without going away (FLUSHALL): librdkafka recovers by itself, kafkajs with a new producer', { timeout: 120_000 }, async (t: TestContext) => {
  const librdkafka = await runScenario(t, {
    topic: 'idem-redis-flushed',
    async disrupt() {
      await run('redis-cli', ['-p', String(redis.port), 'FLUSHALL']);
    },
  });
  // No batch was retried: librdkafka answers UNKNOWN_PRODUCER_ID by bumping its epoch
  // (InitProducerId with its producer id and epoch) and resending from sequence 0.
  assert.deepEqual(librdkafka.fatalErrors, [], 'librdkafka recovered without a fatal error');
  assert.equal(librdkafka.producers, 1);
});
