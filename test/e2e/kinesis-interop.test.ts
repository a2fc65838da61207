/**
 * Interop with Kinesis-native readers and writers, both ways (issue 3, DESIGN.md section 2):
 *
 * - Kafka producers (kafkajs and librdkafka) write through the gateway; a reader using the AWS
 *   SDK straight against the same kinesalite reads every shard and de-aggregates with KCL's rules
 *   (test/support/kcl-deaggregate.ts, independent of the gateway's own codec): magic, MD5, every
 *   sub-record's hash key inside the shard's range, else the whole aggregate is dropped. The
 *   records must all be aggregates, none dropped, and give back keys, values, headers and
 *   timestamps from the documented tags, in the shard of their partition, in offset order.
 * - A `kinesis.record.format=raw` topic holds plain records (partition key = key, data = value)
 *   that KCL reads without de-aggregation; a Kafka consumer reads them back with LogAppendTime.
 * - A "foreign" writer puts plain records (PutRecord, PutRecords) and a KPL aggregate of its own
 *   straight into a topic's stream between Kafka produces; a Kafka consumer reads all of it:
 *   key = partition key bytes, value = data, no headers, LogAppendTime = the arrival time,
 *   partition = the slice holding MD5(partition key), offsets dense in shard order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PutRecordCommand, PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import kafkajs from 'kafkajs';
import { startDynalite, startKinesalite, type LocalService } from '../../src/embedded-aws.js';
import { createKinesisClient } from '../../src/kinesis/client.js';
import {
  kafkajsProduceReported,
  pythonConsume,
  pythonProduceReported,
  type ClientRecord,
  type ConsumedRecord,
} from '../support/client-drivers.js';
import { makeRecords, producedRecords, recordId, type ProducedRecord } from '../support/data-path-records.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { kclDeaggregate, kplAggregate, md5HashKey, type KclSubRecord } from '../support/kcl-deaggregate.js';
import { readStream, type ShardRead, type StreamRecord } from '../support/kinesis-stream.js';

const P = 4;
const HASH_SPACE = 1n << 128n;
const STREAM_PREFIX = 'interop-';
const sliceStart = (p: number): bigint => (BigInt(p) * HASH_SPACE) / BigInt(P);
const partitionOfHashKey = (h: bigint): number => Number((h * BigInt(P)) / HASH_SPACE);

let kinesisService: LocalService;
let dynamoService: LocalService;
let kinesis: KinesisClient;
let gw: RunningGateway;

before(async () => {
  [kinesisService, dynamoService] = await Promise.all([startKinesalite(), startDynalite()]);
  kinesis = createKinesisClient({
    endpoint: kinesisService.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  gw = await startGateway({
    'kinesis-endpoint': kinesisService.endpoint,
    'dynamodb-endpoint': dynamoService.endpoint,
    'stream-prefix': STREAM_PREFIX,
    'auto-create-topics': 'false',
  });
  const admin = kafka().admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: 'kpl-topic', numPartitions: P },
        { topic: 'raw-topic', numPartitions: P, configEntries: [{ name: 'kinesis.record.format', value: 'raw' }] },
        { topic: 'foreign-topic', numPartitions: P },
      ],
    });
  } finally {
    await admin.disconnect();
  }
});

after(async () => {
  await gw?.stop();
  kinesis?.destroy();
  await Promise.all([kinesisService?.close(), dynamoService?.close()]);
});

function kafka(): kafkajs.Kafka {
  return new kafkajs.Kafka({ clientId: 'kkg-kinesis-interop', brokers: [gw.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
}

/** The partition whose slice a shard holds (the stream has one shard per partition). */
function partitionOfShard(shard: ShardRead): number {
  const p = partitionOfHashKey(shard.start);
  assert.ok(shard.start <= sliceStart(p) && sliceStart(p) <= shard.end, `${shard.shardId} holds slice ${p}`);
  return p;
}

/** The gateway's tags (DESIGN.md section 2) read back into a Kafka record. */
function kafkaRecordFromTags(sub: KclSubRecord): ClientRecord {
  let key: Buffer | null = Buffer.from(sub.partitionKey, 'utf8');
  let value: Buffer | null = sub.data;
  let timestamp: bigint | null = null;
  const headers: [string, Buffer | null][] = [];
  for (const tag of sub.tags) {
    if (tag.key.startsWith('h.')) headers.push([tag.key.slice(2), tag.value === undefined ? null : Buffer.from(tag.value, 'base64')]);
    else if (tag.key === 'kkg.k') key = tag.value === undefined ? null : Buffer.from(tag.value, 'base64');
    else if (tag.key === 'kkg.nv') value = null;
    else if (tag.key === 'kkg.ts') timestamp = BigInt(tag.value ?? 'NaN');
  }
  return { key, value, headers, timestamp };
}

const hex = (b: Buffer | null): string | null => (b === null ? null : b.toString('hex'));
function comparable(r: { key: Buffer | null; value: Buffer | null; headers: readonly (readonly [string, Buffer | null])[]; timestamp: bigint | null }): unknown {
  return { key: hex(r.key), value: hex(r.value), headers: r.headers.map(([n, v]) => [n, hex(v)]), timestamp: r.timestamp?.toString() };
}

async function consumeAll(topic: string): Promise<ConsumedRecord[]> {
  const admin = kafka().admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const parts = await Promise.all(
    offsets.map((o) =>
      pythonConsume(gw.bootstrap, { clientId: `kkg-interop-${topic}-${o.partition}`, topic, partition: o.partition, offset: 0, count: Number(o.high) }),
    ),
  );
  return parts.flat();
}

describe('Kinesis-native readers see what Kafka producers wrote', () => {
  it('kpl topic: a KCL reader de-aggregates every record, none dropped, with keys, values, headers and timestamps', async () => {
    const topic = 'kpl-topic';
    const fromKafkajs = makeRecords('kafkajs', 2000);
    const fromLibrdkafka = makeRecords('librdkafka', 2000, { nullHeaders: true });
    const [kafkajsReports, librdkafkaReports] = await Promise.all([
      kafkajsProduceReported(gw.bootstrap, { clientId: 'kkg-interop-kafkajs', topic, partitionCount: P, compression: 'gzip', records: fromKafkajs, batchSize: 250 }),
      pythonProduceReported(gw.bootstrap, { clientId: 'kkg-interop-librdkafka', topic, partition: null, compression: 'lz4', records: fromLibrdkafka }),
    ]);
    const produced = new Map<string, ProducedRecord>(
      [...producedRecords('kafkajs', fromKafkajs, kafkajsReports), ...producedRecords('librdkafka', fromLibrdkafka, librdkafkaReports)].map((p) => [p.id, p]),
    );

    const shards = await readStream(kinesis, STREAM_PREFIX + topic);
    assert.equal(shards.length, P, 'one shard per partition');
    const seen = new Set<string>();
    let aggregates = 0;
    for (const shard of shards) {
      const partition = partitionOfShard(shard);
      let offset = 0n;
      for (const record of shard.records) {
        const result = kclDeaggregate(record.data, shard);
        assert.equal(result.kind, 'aggregate', `${shard.shardId} ${record.sequenceNumber}: ${result.kind === 'aggregate' ? '' : result.reason}`);
        if (result.kind !== 'aggregate') continue;
        aggregates++;
        for (const sub of result.records) {
          assert.notEqual(sub.explicitHashKey, undefined, 'every sub-record names an explicit hash key');
          assert.equal(partitionOfHashKey(sub.hashKey), partition, 'the explicit hash key is in the partition\'s slice');
          const kafkaRecord = kafkaRecordFromTags(sub);
          const id = recordId(kafkaRecord.headers);
          const expected = produced.get(id);
          assert.ok(expected !== undefined, `unknown record ${id}`);
          assert.ok(!seen.has(id), `${id} is in Kinesis twice`);
          seen.add(id);
          assert.deepEqual(comparable(kafkaRecord), comparable(expected.record), `${id} as KCL reads it`);
          assert.equal(`${partition}/${offset}`, `${expected.partition}/${expected.offset}`, `${id}: shard order is offset order`);
          offset++;
        }
      }
    }
    assert.equal(seen.size, produced.size, 'every produced record is in Kinesis');
    assert.ok(aggregates < produced.size / 10, `records are aggregated (${aggregates} Kinesis records for ${produced.size})`);
  });

  it('raw topic: plain Kinesis records (partition key = key, data = value) that a Kafka consumer reads back with LogAppendTime', async () => {
    const topic = 'raw-topic';
    // Raw keeps keys as partition-key text: only valid UTF-8 keys survive, null values read as empty.
    const records = makeRecords('raw', 600).filter((r) => r.key !== null && r.key[0] !== 0xff);
    const reports = await kafkajsProduceReported(gw.bootstrap, { clientId: 'kkg-interop-raw', topic, partitionCount: P, compression: 'none', records });
    const produced = producedRecords('kafkajs', records, reports);
    const byPlace = new Map(produced.map((p) => [`${p.partition}/${p.offset}`, p]));

    const shards = await readStream(kinesis, STREAM_PREFIX + topic);
    const arrivals = new Map<string, StreamRecord>();
    for (const shard of shards) {
      const partition = partitionOfShard(shard);
      shard.records.forEach((record, offset) => {
        const result = kclDeaggregate(record.data, shard);
        assert.equal(result.kind, 'plain', `${shard.shardId} ${record.sequenceNumber} is a plain record`);
        const expected = byPlace.get(`${partition}/${offset}`);
        assert.ok(expected !== undefined, `no record was acknowledged at ${partition}/${offset}`);
        assert.equal(record.partitionKey, expected.record.key?.toString('utf8'), 'partition key = Kafka key');
        assert.equal(hex(record.data), hex(expected.record.value ?? Buffer.alloc(0)), 'data = Kafka value');
        arrivals.set(`${partition}/${offset}`, record);
      });
    }
    assert.equal(arrivals.size, produced.length, 'one Kinesis record per Kafka record');

    const consumed = await consumeAll(topic);
    assert.equal(consumed.length, produced.length);
    for (const c of consumed) {
      const place = `${c.partition}/${c.offset}`;
      const expected = byPlace.get(place);
      const arrival = arrivals.get(place);
      assert.ok(expected !== undefined && arrival !== undefined, `consumed ${place}, which nobody produced`);
      assert.deepEqual(
        comparable(c),
        comparable({ key: expected.record.key, value: expected.record.value ?? Buffer.alloc(0), headers: [], timestamp: BigInt(arrival.arrival.getTime()) }),
        `${place}`,
      );
      assert.equal(c.timestampType, 2, `${place} has LogAppendTime`);
    }
  });
});

describe('Kafka consumers read what Kinesis-native writers put in a topic\'s stream', () => {
  it('PutRecord, PutRecords and a foreign KPL aggregate between Kafka produces: every record, in shard order, dense offsets', async () => {
    const topic = 'foreign-topic';
    const stream = STREAM_PREFIX + topic;
    const before = makeRecords('before', 100);
    const afterwards = makeRecords('after', 100);
    await kafkajsProduceReported(gw.bootstrap, { clientId: 'kkg-interop-foreign-1', topic, partitionCount: P, compression: 'none', records: before });

    const foreignValues = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const data = Buffer.from(`put-record ${i}`);
      foreignValues.add(hex(data) as string);
      await kinesis.send(new PutRecordCommand({ StreamName: stream, PartitionKey: `device-${i % 13}`, Data: data }));
    }
    const batch = Array.from({ length: 200 }, (_, i) => ({ PartitionKey: `sensor/${i % 29}/é`, Data: Buffer.from(`put-records ${i} ${'z'.repeat(i % 50)}`) }));
    for (const entry of batch) foreignValues.add(hex(entry.Data) as string);
    const put = await kinesis.send(new PutRecordsCommand({ StreamName: stream, Records: batch }));
    assert.equal(put.FailedRecordCount ?? 0, 0);
    // A KPL of another application: sub-records with partition keys and explicit hash keys in shard 2.
    const target = sliceStart(2) + 12345n;
    const subRecords = Array.from({ length: 5 }, (_, i) => ({ partitionKey: `kpl-key-${i}`, explicitHashKey: (target + BigInt(i)).toString(), data: Buffer.from(`kpl sub-record ${i}`) }));
    for (const sub of subRecords) foreignValues.add(hex(sub.data) as string);
    await kinesis.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'kpl-outer', ExplicitHashKey: target.toString(), Data: kplAggregate(subRecords) }));

    await kafkajsProduceReported(gw.bootstrap, { clientId: 'kkg-interop-foreign-2', topic, partitionCount: P, compression: 'none', records: afterwards });

    // The log each partition must have: its shard's records in sequence order, de-aggregated.
    const expectedLogs = new Map<number, { record: ClientRecord; type: number }[]>();
    for (const shard of await readStream(kinesis, stream)) {
      const partition = partitionOfShard(shard);
      const log: { record: ClientRecord; type: number }[] = [];
      for (const record of shard.records) {
        const arrival = BigInt(record.arrival.getTime());
        const result = kclDeaggregate(record.data, shard);
        assert.notEqual(result.kind, 'dropped');
        if (result.kind === 'aggregate' && result.records[0]?.tags.some((t) => t.key === 'kkg.p') === true) {
          for (const sub of result.records) log.push({ record: kafkaRecordFromTags(sub), type: 1 });
        } else if (result.kind === 'aggregate') {
          for (const sub of result.records) {
            assert.equal(partitionOfHashKey(sub.hashKey), partition);
            log.push({ record: { key: Buffer.from(sub.partitionKey), value: sub.data, headers: [], timestamp: arrival }, type: 2 });
          }
        } else {
          assert.equal(partitionOfHashKey(md5HashKey(record.partitionKey)), partition, 'Kinesis put the record in the shard of MD5(partition key)');
          log.push({ record: { key: Buffer.from(record.partitionKey, 'utf8'), value: record.data, headers: [], timestamp: arrival }, type: 2 });
        }
      }
      expectedLogs.set(partition, log);
    }
    const total = [...expectedLogs.values()].reduce((n, log) => n + log.length, 0);
    assert.equal(total, before.length + afterwards.length + foreignValues.size);

    const consumed = await consumeAll(topic);
    assert.equal(consumed.length, total, 'the consumer got every record');
    let foreignSeen = 0;
    for (const [partition, log] of expectedLogs) {
      const got = consumed.filter((c) => c.partition === partition).sort((a, b) => Number(a.offset - b.offset));
      assert.deepEqual(got.map((c) => c.offset), log.map((_, i) => BigInt(i)), `partition ${partition}: offsets dense from 0`);
      got.forEach((c, i) => {
        const expected = log[i] as { record: ClientRecord; type: number };
        assert.deepEqual(comparable(c), comparable(expected.record), `partition ${partition} offset ${i}`);
        assert.equal(c.timestampType, expected.type, `partition ${partition} offset ${i}: timestamp type`);
        if (expected.type === 2) {
          assert.ok(foreignValues.has(hex(c.value) as string));
          foreignSeen++;
        }
      });
    }
    assert.equal(foreignSeen, foreignValues.size, 'every foreign record was consumed');
  });
});
