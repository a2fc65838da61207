/**
 * Issue 5, "done when" 2: kill -9 of the gateway while idempotent producers run at full speed,
 * restart, and the producers carry on: exactly once, in order, per partition.
 *
 * The gateway runs as a child process (the CLI, test/support/gateway-process.ts) against
 * kinesalite, dynalite and a real redis-server that live in this test process and so survive it.
 * kafkajs (idempotent, maxInFlightRequests 1 and 5) and librdkafka (python confluent-kafka,
 * enable.idempotence, 5 in flight) producers send numbered records as fast as they are answered.
 * Once each has some acknowledged records, the gateway's Kinesis traffic is held back for a
 * moment (a TCP gate in front of kinesalite, test/support/tcp-gate.ts) and the gateway is killed
 * with SIGKILL: at that instant it has batches reserved whose PutRecords never reached Kinesis
 * (the gate drops them with the dead connections), and batches written whose acknowledgement
 * waited for the tailer. It is started again on the same port with the same endpoints, Redis
 * and data folder. The producers are never restarted: they retry what was in flight with the
 * same producer id and sequences, and go on. Afterwards the whole topic is read back with
 * librdkafka and checked (test/support/idempotent-producers.ts): every acknowledged record once,
 * at the offset it was acknowledged at; nothing twice; each producer's records in its order,
 * per partition.
 *
 * After the restart, the batches the dead gateway had reserved but not recorded as written hold
 * their producers back (REQUEST_TIMED_OUT, retried) until they are settled: the new leader
 * looks for each in the partition's log, written or not, once no write of the dead gateway can
 * still land. Offset index anchors are written every 8 KiB, so the restarted leader rebuilds its
 * tail from an anchor, not from the start of the log, and must look below its tail to be sure
 * that a batch is not there (LogManager.locateProducerBatch); without that, a producer whose
 * batch never reached Kinesis would wait forever.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, it, type TestContext } from 'node:test';
import kafkajs from 'kafkajs';
import { startDynalite, startKinesalite, type LocalService } from '../../src/embedded-aws.js';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process.js';
import {
  checkExactlyOnce,
  KafkajsIdempotentProducer,
  LibrdkafkaIdempotentProducer,
  readWholeTopic,
  type ProducerOutcome,
} from '../support/idempotent-producers.js';
import { freePort } from '../support/ports.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { TcpGate } from '../support/tcp-gate.js';

const TOPIC = 'idem-crash';
const PARTITIONS = 3;
/** Acknowledged records each producer must have before the kill, and more after the restart. */
const ACKED_BEFORE_KILL = 300;
const ACKED_AFTER_RESTART = 300;

let kinesisService: LocalService;
let dynamoService: LocalService;
let redis: RedisServer;
/** Between the gateway and kinesalite. */
let kinesisGate: TcpGate;
let dataDir: string;
let port: number;
let gateway: GatewayProcess | undefined;

function gatewayFlags(): Record<string, string> {
  return {
    'kinesis-endpoint': `http://127.0.0.1:${kinesisGate.port}`,
    'dynamodb-endpoint': dynamoService.endpoint,
    'redis-url': redis.url,
    'data-dir': dataDir,
    'auto-create-topics': 'false',
    'index-interval-bytes': '8192',
    'lease-ttl-ms': '3000',
    'log-level': 'info',
  };
}

before(async () => {
  [kinesisService, dynamoService, redis] = await Promise.all([startKinesalite(), startDynalite(), startRedis()]);
  kinesisGate = await TcpGate.start(Number(new URL(kinesisService.endpoint).port));
  dataDir = mkdtempSync(join(tmpdir(), 'kkg-idem-crash-'));
  port = await freePort();
  gateway = await startGatewayProcess(port, gatewayFlags());
});

after(async () => {
  await gateway?.kill9();
  await kinesisGate?.stop();
  await Promise.all([kinesisService?.close(), dynamoService?.close(), redis?.stop()]);
  rmSync(dataDir, { recursive: true, force: true });
});

async function untilAcked(producers: readonly ProducerOutcome[], counts: ReadonlyMap<string, number>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const behind = producers.filter((p) => p.acked.size < (counts.get(p.name) ?? 0));
    if (behind.length === 0) return;
    if (Date.now() > deadline) {
      const state = producers
        .map((p) => `${p.name} ${p.acked.size}/${counts.get(p.name)} (errors: ${p.describeErrors()})`)
        .join(', ');
      throw new Error(`producers did not get far enough in time: ${state}\ngateway output:\n${gateway?.output().slice(-5000)}`);
    }
    await sleep(20);
  }
}

it('kill -9 of the gateway under idempotent kafkajs and librdkafka producers: each record once, in order', { timeout: 240_000 }, async (t: TestContext) => {
  const bootstrap = `127.0.0.1:${port}`;
  const admin = new kafkajs.Kafka({ clientId: 'kkg-idem-crash-admin', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS }], waitForLeaders: true });
  await admin.disconnect();

  const stopFile = join(dataDir, 'stop-producing');
  const kafkajsProducers = [1, 5].map(
    (maxInFlightRequests) =>
      new KafkajsIdempotentProducer(bootstrap, {
        name: `kafkajs-inflight${maxInFlightRequests}`,
        topic: TOPIC,
        partitionCount: PARTITIONS,
        count: 1_000_000,
        batchSize: 30,
        maxInFlightRequests,
        requestTimeoutMs: 5000,
      }),
  );
  const librdkafka = new LibrdkafkaIdempotentProducer(bootstrap, {
    name: 'librdkafka',
    topic: TOPIC,
    count: 1_000_000,
    stopFile,
    config: { 'socket.timeout.ms': 5000, 'message.timeout.ms': 150_000 },
  });
  const producers: ProducerOutcome[] = [...kafkajsProducers, librdkafka];
  let ok = false;
  try {
    await untilAcked(producers, new Map(producers.map((p) => [p.name, ACKED_BEFORE_KILL])), 60_000);
    // Hold the gateway's Kinesis calls back: writes under way now never land.
    kinesisGate.close();
    const heldSince = Date.now();
    while (kinesisGate.heldBytes === 0 && Date.now() - heldSince < 5000) await sleep(10);
    await sleep(200 + Math.floor(Math.random() * 100));
    const atKill = new Map(producers.map((p) => [p.name, p.acked.size]));
    const held = kinesisGate.heldBytes;
    await gateway?.kill9();
    kinesisGate.reopen();
    t.diagnostic(`killed with ${held} bytes of Kinesis requests held back, ${[...atKill].map(([n, c]) => `${n} ${c}`).join(', ')} acknowledged`);
    assert.ok(held > 0, 'the gateway was writing to Kinesis when it was killed');
    await sleep(300);
    gateway = await startGatewayProcess(port, gatewayFlags());
    const restartedAt = Date.now();
    await untilAcked(producers, new Map([...atKill].map(([n, c]) => [n, c + ACKED_AFTER_RESTART])), 150_000);
    t.diagnostic(`producers carried on: ${ACKED_AFTER_RESTART} more acknowledged each ${Math.round((Date.now() - restartedAt) / 1000)} s after the restart`);
    ok = true;
  } finally {
    writeFileSync(stopFile, '');
    if (!ok) librdkafka.kill();
    await Promise.all(kafkajsProducers.map((p) => p.stop(ok ? 60_000 : 1000)));
    if (ok) await librdkafka.finished();
  }
  for (const p of kafkajsProducers) {
    t.diagnostic(`${p.name}: ${p.acked.size} acknowledged; send() errors: ${p.sendErrors.toString()}`);
    assert.equal(p.fatal, undefined, `${p.name} stopped: ${p.fatal?.message}`);
  }
  t.diagnostic(`${librdkafka.name}: ${librdkafka.acked.size} acknowledged, ${librdkafka.nacked.size} failed; client errors: ${librdkafka.clientErrors.toString()}`);
  assert.deepEqual(librdkafka.fatalErrors, [], 'librdkafka: fatal errors');
  assert.equal(librdkafka.unflushed, 0, 'librdkafka: everything flushed');
  assert.deepEqual([...librdkafka.nacked].slice(0, 5), [], 'librdkafka: failed deliveries');

  const log = await readWholeTopic(bootstrap, TOPIC);
  const summary = checkExactlyOnce(log, producers, { allAcknowledged: true });
  t.diagnostic(`log: ${summary.records} records, ${summary.acknowledged} acknowledged`);
});
