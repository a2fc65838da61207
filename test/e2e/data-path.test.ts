/**
 * Issue 3's data-path "done when", end to end through the gateway: kafkajs and librdkafka
 * (Debian's python confluent-kafka) each produce 10,000 keyed records with headers to a
 * 4-partition topic, at the same time, several requests in flight, as idempotent producers (so
 * that "every record exactly once" holds even when a slow stand-in makes a client retry: a
 * plain producer's retry may write twice, in Kafka as here). librdkafka consumers (assign(),
 * one per partition) and a kafkajs group consumer read them back. Every record must arrive
 * exactly once, at the offset its producer was told, with key, value, headers and CreateTime
 * intact; offsets are dense from 0 in every partition; a key stays in one partition and its
 * records keep their order. Then (kinesalite only) the gateway restarts and both consumers read
 * everything again with small fetches, now from Kinesis through the offset index (anchors every
 * 16 KiB, so the rebuilt tail holds only the end).
 *
 * The same scenario runs against the embedded kinesalite and against kinesis-local (kinesis-mock
 * as an npm package, a separate process; DynamoDB is an in-process dynalite there).
 * kinesis-local costs about 3 ms per record and 3 s per MB written, so its records stay small
 * (values of about 40 bytes; the kpl format aggregates them into few Kinesis records).
 * On kinesalite it runs twice: with produce.ack.mode observed (the default) and immediate.
 * KKG_DATA_PATH_BACKENDS=kinesalite (or kinesis-local) runs one backend.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { startDynalite, type LocalService } from '../../src/embedded-aws.js';
import type { ProduceAckMode } from '../../src/log/topic-configs.js';
import {
  kafkajsConsume,
  kafkajsHeaderOrder,
  kafkajsProduceReported,
  pythonConsume,
  pythonProduceReported,
  type ConsumedRecord,
} from '../support/client-drivers.js';
import {
  checkConsumed,
  makeRecords,
  oncePerOffset,
  producedRecords,
  type ProducedRecord,
} from '../support/data-path-records.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { startKinesisLocal, type KinesisLocal } from '../support/kinesis-local.js';

const PARTITIONS = 4;
const RECORDS_PER_CLIENT = 10_000;

function admin(bootstrap: string): kafkajs.Admin {
  return new kafkajs.Kafka({ clientId: 'kkg-data-path-admin', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
}

interface Backend {
  readonly name: string;
  /** The topic's produce.ack.mode. */
  readonly ackMode: ProduceAckMode;
  /** Starts what the gateway needs and returns its flags. */
  start(): Promise<Record<string, string>>;
  stop(): Promise<void>;
  readonly timeoutMs: number;
  /** Average value size of the records. */
  readonly valueBytes: number;
  /**
   * Fetch size limit of the consumers that read again after a gateway restart, small enough for
   * several fetches per partition; undefined skips that step. Every such fetch reads Kinesis from
   * the nearest index anchor to the end of what one GetRecords returns, which kinesis-local
   * makes too slow for this file's time budget; the read path is the same on both.
   */
  readonly coldFetchBytes: number | undefined;
}

const kinesalite: Backend = {
  name: 'embedded kinesalite',
  ackMode: 'observed',
  start: async () => ({}),
  stop: async () => undefined,
  timeoutMs: 60_000,
  valueBytes: 150,
  coldFetchBytes: 256 * 1024,
};

let kinesisLocal: KinesisLocal | undefined;
let dynalite: LocalService | undefined;
const kinesisLocalBackend: Backend = {
  name: 'kinesis-local',
  ackMode: 'observed',
  async start() {
    [kinesisLocal, dynalite] = await Promise.all([startKinesisLocal(), startDynalite()]);
    return { 'kinesis-endpoint': kinesisLocal.endpoint, 'dynamodb-endpoint': dynalite.endpoint, 'kinesis-poll-interval-ms': '50' };
  },
  async stop() {
    await Promise.all([kinesisLocal?.stop(), dynalite?.close()]);
  },
  timeoutMs: 150_000,
  valueBytes: 40,
  coldFetchBytes: undefined,
};

function dataPathSuite(backend: Backend): void {
  describe(`data path on ${backend.name}, produce.ack.mode=${backend.ackMode}`, { timeout: backend.timeoutMs * 3 }, () => {
    const topic = 'data-path';
    let gw: RunningGateway;
    const produced: ProducedRecord[] = [];

    before(async () => {
      const flags = await backend.start();
      // Anchors every 16 KiB: after a restart the tail starts near the end, and reads below it go
      // through the offset index to Kinesis.
      gw = await startGateway({ ...flags, 'auto-create-topics': 'false', 'index-interval-bytes': '16384' });
      const a = admin(gw.bootstrap);
      await a.connect();
      try {
        assert.equal(
          await a.createTopics({
            topics: [{ topic, numPartitions: PARTITIONS, configEntries: [{ name: 'produce.ack.mode', value: backend.ackMode }] }],
            waitForLeaders: true,
          }),
          true,
        );
      } finally {
        await a.disconnect();
      }
    });

    after(async () => {
      await gw?.stop();
      await backend.stop();
    });

    it(`kafkajs and librdkafka each produce ${RECORDS_PER_CLIENT} keyed records with headers at once`, { timeout: backend.timeoutMs }, async () => {
      const { valueBytes } = backend;
      const fromKafkajs = makeRecords('kafkajs', RECORDS_PER_CLIENT, { baseTimestamp: 1_700_000_000_000n, valueBytes });
      const fromLibrdkafka = makeRecords('librdkafka', RECORDS_PER_CLIENT, {
        baseTimestamp: 1_710_000_000_000n,
        nullHeaders: true,
        valueBytes,
      });
      // Client timeouts well above what a slow stand-in needs: a timed-out request is retried,
      // and without idempotence a retry writes the records again.
      const requestTimeoutMs = backend.timeoutMs - 20_000;
      const [kafkajsReports, librdkafkaReports] = await Promise.all([
        kafkajsProduceReported(gw.bootstrap, {
          clientId: 'kkg-data-path-kafkajs',
          topic,
          partitionCount: PARTITIONS,
          compression: 'none',
          records: fromKafkajs,
          batchSize: 500,
          inFlight: 4,
          requestTimeoutMs,
          idempotent: true,
        }),
        pythonProduceReported(gw.bootstrap, {
          clientId: 'kkg-data-path-librdkafka',
          topic,
          partition: null,
          compression: 'none',
          records: fromLibrdkafka,
          timeoutMs: backend.timeoutMs - 10_000,
          config: {
            'enable.idempotence': true,
            'linger.ms': 50,
            'batch.num.messages': 1000,
            'request.timeout.ms': requestTimeoutMs,
            'socket.timeout.ms': requestTimeoutMs,
          },
        }),
      ]);
      produced.push(...producedRecords('kafkajs', fromKafkajs, kafkajsReports));
      produced.push(...producedRecords('librdkafka', fromLibrdkafka, librdkafkaReports));
      const used = new Set(produced.map((p) => p.partition));
      assert.equal(used.size, PARTITIONS, 'the keys spread over every partition');
    });

    it('ListOffsets: log start 0, high watermarks add up to every record', async () => {
      const a = admin(gw.bootstrap);
      await a.connect();
      try {
        const offsets = await a.fetchTopicOffsets(topic);
        assert.equal(offsets.length, PARTITIONS);
        for (const o of offsets) assert.equal(o.low, '0', `partition ${o.partition} log start`);
        const total = offsets.reduce((sum, o) => sum + Number(o.high), 0);
        assert.equal(total, 2 * RECORDS_PER_CLIENT);
        for (const o of offsets) {
          const expected = produced.filter((p) => p.partition === o.partition).length;
          assert.equal(Number(o.high), expected, `partition ${o.partition} high watermark`);
        }
      } finally {
        await a.disconnect();
      }
    });

    it('librdkafka consumers (assign, one per partition) get every record once, intact, at dense offsets', { timeout: backend.timeoutMs }, async () => {
      assert.equal(produced.length, 2 * RECORDS_PER_CLIENT, 'the produce step ran');
      const perPartition = await Promise.all(
        Array.from({ length: PARTITIONS }, (_, partition) =>
          pythonConsume(gw.bootstrap, {
            clientId: `kkg-data-path-consume-${partition}`,
            topic,
            partition,
            offset: 0,
            count: produced.filter((p) => p.partition === partition).length,
            timeoutMs: backend.timeoutMs - 10_000,
          }),
        ),
      );
      const consumed: ConsumedRecord[] = perPartition.flat();
      checkConsumed(produced, consumed, PARTITIONS, { label: `librdkafka on ${backend.name}` });
    });

    it('a kafkajs group consumer gets every record once, intact, at dense offsets', { timeout: backend.timeoutMs }, async () => {
      assert.equal(produced.length, 2 * RECORDS_PER_CLIENT, 'the produce step ran');
      const consumed = await kafkajsConsume(gw.bootstrap, {
        clientId: 'kkg-data-path-kafkajs-consumer',
        groupId: `kkg-data-path-${backend.name.replace(/\W+/g, '-')}-${backend.ackMode}`,
        topic,
        count: produced.length,
        timeoutMs: backend.timeoutMs - 10_000,
      });
      const label = `kafkajs on ${backend.name}`;
      checkConsumed(produced, oncePerOffset(consumed, label), PARTITIONS, { label, headerOrder: kafkajsHeaderOrder });
    });

    const { coldFetchBytes } = backend;
    if (coldFetchBytes === undefined) return;
    it('after a restart, consumers with small fetches read through the offset index: every record once, intact', { timeout: backend.timeoutMs * 2 }, async () => {
      assert.equal(produced.length, 2 * RECORDS_PER_CLIENT, 'the produce step ran');
      gw = await gw.restart();
      const coldTimeoutMs = 2 * backend.timeoutMs - 20_000;
      // Small fetches: several per partition, each ending inside what one Kinesis read returns.
      const [fromLibrdkafka, fromKafkajs] = await Promise.all([
        Promise.all(
          Array.from({ length: PARTITIONS }, (_, partition) =>
            pythonConsume(gw.bootstrap, {
              clientId: `kkg-data-path-cold-${partition}`,
              topic,
              partition,
              offset: 0,
              count: produced.filter((p) => p.partition === partition).length,
              timeoutMs: coldTimeoutMs,
              config: { 'max.partition.fetch.bytes': coldFetchBytes, 'fetch.max.bytes': coldFetchBytes, 'message.max.bytes': coldFetchBytes },
            }),
          ),
        ),
        kafkajsConsume(gw.bootstrap, {
          clientId: 'kkg-data-path-kafkajs-cold',
          groupId: `kkg-data-path-cold-${backend.name.replace(/\W+/g, '-')}-${backend.ackMode}`,
          topic,
          count: produced.length,
          timeoutMs: coldTimeoutMs,
          maxBytesPerPartition: coldFetchBytes,
          maxBytes: 2 * coldFetchBytes,
        }),
      ]);
      checkConsumed(produced, fromLibrdkafka.flat(), PARTITIONS, { label: `librdkafka after restart on ${backend.name}` });
      const label = `kafkajs after restart on ${backend.name}`;
      checkConsumed(produced, oncePerOffset(fromKafkajs, label), PARTITIONS, { label, headerOrder: kafkajsHeaderOrder });
    });
  });
}

const only = process.env.KKG_DATA_PATH_BACKENDS;
if (only === undefined || only.includes('kinesalite')) {
  dataPathSuite(kinesalite);
  // Offsets answered as soon as Kinesis has the records: the consumers, and after the restart
  // the reads through the offset index, must find each record at the offset its producer was told.
  dataPathSuite({ ...kinesalite, ackMode: 'immediate' });
}
if (only === undefined || only.includes('kinesis-local')) dataPathSuite(kinesisLocalBackend);
