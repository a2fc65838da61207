/**
 * A partition left without writes for longer than the stream's retention period, then a gateway
 * restart: Kinesis has expired every record, including the one the newest index anchor names,
 * so the offsets cannot be counted from Kinesis again. The leader records where the log ended
 * (at rest after new records, and when it stops), and a new leader counts on from there:
 *
 * - kill -9 after the leader went idle: new records follow the old high watermark;
 * - SIGTERM right after a produce (before the end would be recorded at rest): the same;
 * - the new leader removes the expired index anchors and moves the log start past them (ListOffsets
 *   earliest) before any read needs it;
 * - a consumer at an expired offset is reset to the new log start (OFFSET_OUT_OF_RANGE, then
 *   auto.offset.reset=earliest) and reads only the new records;
 * - without a log end after the newest anchor the partition still opens (offsets continue from
 *   the anchor, the documented limit, with a warning).
 *
 * Records expire in kinesalite when its clock is moved 25 hours forward (it runs in a child
 * process of its own for that; the retention period is 24 hours).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, it } from 'node:test';
import { DeleteItemCommand, DynamoDBClient, ScanCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import kafkajs from 'kafkajs';
import { startDynalite, type LocalService } from '../../src/embedded-aws.js';
import { pythonConsume, pythonProduceReported, type ClientRecord } from '../support/client-drivers.js';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process.js';
import { startLocalAwsProcess, type LocalAwsProcess } from '../support/local-aws-process.js';
import { freePort } from '../support/ports.js';

const TOPIC = 'expiring';
const TABLE_PREFIX = 'expiry-';
const PAST_RETENTION_MS = 25 * 60 * 60 * 1000;

let kinesis: LocalAwsProcess;
let dynamo: LocalService;
let dataDir: string;
let port: number;
let gateway: GatewayProcess | undefined;

const startGateway = (): Promise<GatewayProcess> =>
  startGatewayProcess(port, {
    'kinesis-endpoint': kinesis.endpoint,
    'dynamodb-endpoint': dynamo.endpoint,
    'data-dir': dataDir,
    'table-prefix': TABLE_PREFIX,
    'auto-create-topics': 'false',
    'lease-ttl-ms': '2000',
  });

before(async () => {
  [kinesis, dynamo] = await Promise.all([startLocalAwsProcess('kinesalite'), startDynalite()]);
  dataDir = mkdtempSync(join(tmpdir(), 'kkg-expiry-'));
  port = await freePort();
  gateway = await startGateway();
});

after(async () => {
  await gateway?.kill9();
  await Promise.all([kinesis?.close(), dynamo?.close()]);
  rmSync(dataDir, { recursive: true, force: true });
});

function records(from: number, count: number): ClientRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    key: Buffer.from(`key-${from + i}`),
    value: Buffer.from(`record ${from + i}`),
    headers: [],
    timestamp: BigInt(Date.now()),
  }));
}

async function produce(from: number, count: number): Promise<bigint[]> {
  const reports = await pythonProduceReported(`127.0.0.1:${port}`, { clientId: 'kkg-expiry-producer', topic: TOPIC, partition: 0, compression: 'none', records: records(from, count) });
  return reports.map((r) => r.offset);
}

const range = (from: bigint, count: number): bigint[] => Array.from({ length: count }, (_, i) => from + BigInt(i));

/** Waits until the gateway has recorded the partition's log end at `nextOffset`. */
async function untilLogEndRecorded(nextOffset: bigint): Promise<void> {
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  try {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const out = await client.send(new ScanCommand({ TableName: `${TABLE_PREFIX}offset-index` }));
      const ends = (out.Items ?? []).filter((item) => item['log']?.S?.endsWith('#0#end') === true);
      if (ends.some((item) => BigInt(item['nextOffset']?.N ?? '-1') === nextOffset)) return;
      if (Date.now() > deadline) throw new Error(`no log end at ${nextOffset}: ${JSON.stringify(ends)}`);
      await sleep(100);
    }
  } finally {
    client.destroy();
  }
}

/** The offsets of the partition's index anchors. */
async function anchorOffsets(): Promise<bigint[]> {
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  try {
    const out = await client.send(new ScanCommand({ TableName: `${TABLE_PREFIX}offset-index` }));
    return (out.Items ?? [])
      .filter((item) => item['log']?.S?.endsWith('#0') === true)
      .map((item) => BigInt(item['offset']?.N ?? '-1'))
      .sort((a, b) => (a < b ? -1 : 1));
  } finally {
    client.destroy();
  }
}

async function untilLogStart(low: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (let marks = await watermarks(); marks.low !== low; marks = await watermarks()) {
    if (Date.now() > deadline) throw new Error(`the log start stayed at ${marks.low}, not ${low}`);
    await sleep(200);
  }
}

/** Reads the partition from offset 0 with auto.offset.reset=earliest (expired offsets reset to the log start). */
async function consumeFromZero(count: number): Promise<{ offset: bigint; value: string }[]> {
  const consumed = await pythonConsume(`127.0.0.1:${port}`, {
    clientId: 'kkg-expiry-consumer',
    topic: TOPIC,
    partition: 0,
    offset: 0,
    count,
    timeoutMs: 30_000,
    config: { 'auto.offset.reset': 'earliest' },
  });
  return consumed.map((r) => ({ offset: r.offset, value: r.value?.toString() ?? '' }));
}

async function watermarks(): Promise<{ low: string; high: string }> {
  const admin = new kafkajs.Kafka({ clientId: 'kkg-expiry-admin', brokers: [`127.0.0.1:${port}`], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const [p0] = await admin.fetchTopicOffsets(TOPIC);
    return { low: p0?.low ?? '', high: p0?.high ?? '' };
  } finally {
    await admin.disconnect();
  }
}

it('after every record expired, a restarted leader continues the offsets where the log ended', { timeout: 180_000 }, async () => {
  const admin = new kafkajs.Kafka({ clientId: 'kkg-expiry-setup', brokers: [`127.0.0.1:${port}`], logLevel: kafkajs.logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();

  // kill -9 once the leader is at rest: the log end it recorded then is what remains.
  assert.deepEqual(await produce(0, 10), range(0n, 10));
  await untilLogEndRecorded(10n);
  await gateway?.kill9();
  await kinesis.advanceClock(PAST_RETENTION_MS);
  gateway = await startGateway();
  assert.deepEqual(await produce(10, 5), range(10n, 5), 'new records must not reuse the expired records offsets');
  // The new leader removes the expired anchor and moves the log start, before any read needs it.
  await untilLogStart('10');
  assert.deepEqual(await anchorOffsets(), [10n]);
  assert.deepEqual(await consumeFromZero(5), range(10n, 5).map((offset) => ({ offset, value: `record ${offset}` })));
  assert.deepEqual(await watermarks(), { low: '10', high: '15' });

  // SIGTERM right after a produce: the stopping leader records the log end.
  assert.deepEqual(await produce(15, 5), range(15n, 5));
  await gateway.stop();
  await kinesis.advanceClock(PAST_RETENTION_MS);
  gateway = await startGateway();
  assert.deepEqual(await produce(20, 3), range(20n, 3));
  await untilLogStart('20');
  assert.deepEqual(await consumeFromZero(3), range(20n, 3).map((offset) => ({ offset, value: `record ${offset}` })));
  assert.deepEqual(await watermarks(), { low: '20', high: '23' });

  // No log end after the newest anchor (as left by a gateway version that did not record it):
  // the count of expired records is unknown. The partition still opens, offsets continue from
  // the anchor (the documented limit), and the gateway says so.
  assert.deepEqual(await produce(23, 2), range(23n, 2));
  await untilLogEndRecorded(25n);
  const newestAnchor = (await anchorOffsets()).pop() as bigint;
  await gateway.kill9();
  await deleteLogEnd();
  await kinesis.advanceClock(PAST_RETENTION_MS);
  gateway = await startGateway();
  assert.deepEqual(await produce(25, 1), [newestAnchor]);
  assert.match(gateway.output(), /the newest index anchor expired with no log end recorded after it/);
});

async function deleteLogEnd(): Promise<void> {
  const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  try {
    const out = await client.send(new ScanCommand({ TableName: `${TABLE_PREFIX}offset-index` }));
    const end = (out.Items ?? []).find((item) => item['log']?.S?.endsWith('#0#end') === true);
    if (end === undefined) throw new Error('no log end to delete');
    await client.send(new DeleteItemCommand({ TableName: `${TABLE_PREFIX}offset-index`, Key: { log: end['log'] as AttributeValue, offset: end['offset'] as AttributeValue } }));
  } finally {
    client.destroy();
  }
}
