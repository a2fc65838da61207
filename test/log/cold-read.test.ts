/**
 * Fetches below the tail (after a restart the tail holds only what the leader read back from
 * its last anchor): a consumer reading from offset 0 with a small fetch size gets every record
 * once, in order, offsets dense, and the gateway reads each Kinesis record about once for it,
 * keeping what one GetRecords returned beyond a fetch's max bytes for the next fetch.
 *
 * Then records "expire": kinesalite cannot age records (and refuses made-up sequence numbers),
 * so the first index anchor is made to name a shard that is gone, as shards are once their
 * records expired. A fetch there answers OFFSET_OUT_OF_RANGE with the log start moved up to
 * the next anchor, and reading from the new log start works.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { Kafka, logLevel } from 'kafkajs';
import { ApiKey, fetchRequest, fetchResponse, requestHeader, requestHeaderVersion } from '../../src/protocol/messages/index.js';
import { Reader, Writer } from '../../src/protocol/primitives.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { decodeBatch, splitBatches } from '../../src/protocol/records/record-batch.js';
import { DynamoOffsetIndex } from '../../src/log/offset-index.js';
import { startTestAws, type TestAws } from '../support/aws.js';
import { createTopics, startGateway, testAwsFlags, type RunningGateway } from '../support/gateway.js';
import { RawClient } from '../support/raw-client.js';

const TOPIC = 'cold';
const RECORDS = 3000;
const FETCH_VERSION = 11;
const MAX_BYTES = 16 * 1024;

let aws: TestAws;
let gateway: RunningGateway;

before(async () => {
  aws = await startTestAws('cold-read');
  // Anchors every 16 KiB: restarted, the leader rebuilds its tail from the last one.
  // A caught-up shard polled every 2 s, so that the tailer's own GetRecords calls are few.
  gateway = await startGateway({
    ...testAwsFlags(aws),
    'tail-cache-bytes': String(1024 * 1024),
    'index-interval-bytes': String(16 * 1024),
    'kinesis-poll-interval-ms': '2000',
  });
});

after(async () => {
  await gateway?.stop();
  await aws?.close();
});

/** A decoded record set (always one Buffer when decoded; the type also allows batches to encode). */
function recordBytes(records: Buffer | readonly Buffer[] | null | undefined): Buffer {
  if (records === null || records === undefined) return Buffer.alloc(0);
  return Buffer.isBuffer(records) ? records : Buffer.concat(records);
}

async function getRecordsCalls(metricsPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  let calls = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('kafka_kinesis_gateway_kinesis_calls_total{') && line.includes('operation="GetRecords"')) {
      calls += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return calls;
}

function fetchFrame(offset: bigint, correlationId: number): Buffer {
  const body = fetchRequest.create();
  body.maxWaitMs = 100;
  body.minBytes = 1;
  body.maxBytes = MAX_BYTES;
  body.topics = [
    {
      topic: TOPIC,
      topicId: '00000000-0000-0000-0000-000000000000',
      partitions: [
        {
          partition: 0,
          currentLeaderEpoch: -1,
          fetchOffset: offset,
          lastFetchedEpoch: -1,
          logStartOffset: -1n,
          partitionMaxBytes: MAX_BYTES,
          replicaDirectoryId: '00000000-0000-0000-0000-000000000000',
        },
      ],
    },
  ];
  const writer = new Writer();
  requestHeader.encode(
    writer,
    { requestApiKey: ApiKey.Fetch, requestApiVersion: FETCH_VERSION, correlationId, clientId: 'cold-read-test' },
    requestHeaderVersion(ApiKey.Fetch, FETCH_VERSION),
  );
  fetchRequest.encode(writer, body, FETCH_VERSION);
  return Buffer.from(writer.finish());
}

test('a consumer reads a partition from offset 0 below the tail: every record once, Kinesis read about once', { timeout: 180_000 }, async () => {
  await createTopics(gateway.bootstrap, 1, [TOPIC]);
  const producer = new Kafka({ clientId: 'cold-read', brokers: [gateway.bootstrap], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  for (let sent = 0; sent < RECORDS; sent += 50) {
    await producer.send({
      topic: TOPIC,
      acks: -1,
      messages: Array.from({ length: 50 }, (_, i) => ({ value: `record-${sent + i}-${'x'.repeat(200)}` })),
    });
  }
  await producer.disconnect();
  gateway = await gateway.restart();

  const client = await RawClient.connect(gateway.port);
  const callsBefore = await getRecordsCalls(gateway.gateway.addresses.metricsPort);
  const values: string[] = [];
  let offset = 0n;
  let fetches = 0;
  try {
    while (offset < BigInt(RECORDS)) {
      client.sendFrame(fetchFrame(offset, ++fetches));
      const reader = new Reader(await client.nextFrame(10_000));
      reader.int32();
      const partition = fetchResponse.decode(reader, FETCH_VERSION).responses[0]?.partitions[0];
      assert.equal(partition?.errorCode, 0);
      for (const bytes of splitBatches(recordBytes(partition?.records)).batches) {
        const batch = await decodeBatch(bytes);
        for (const record of batch.records) {
          const recordOffset = batch.header.baseOffset + BigInt(record.offsetDelta);
          if (recordOffset < offset) continue; // a whole batch that starts below the position
          assert.equal(recordOffset, BigInt(values.length), 'offsets are dense from 0');
          values.push(record.value?.toString() ?? '');
          offset = recordOffset + 1n;
        }
      }
      assert.ok(fetches < RECORDS, 'every fetch makes progress');
    }
  } finally {
    client.close();
  }
  assert.deepEqual(
    values.map((v) => v.split('-')[1]),
    Array.from({ length: RECORDS }, (_, i) => String(i)),
  );
  const calls = (await getRecordsCalls(gateway.gateway.addresses.metricsPort)) - callsBefore;
  // Many fetches of one ~11 KB batch each, few GetRecords: one returns far more than a fetch
  // takes, and the rest is kept for the next fetch. (Reading again for each fetch would take at
  // least one call per fetch; the tailer's polls count too, one every 2 s.)
  assert.ok(fetches >= 50, `the topic took many fetches (${fetches})`);
  assert.ok(calls < fetches / 4, `GetRecords calls ${calls} for ${fetches} fetches`);
});

/** One fetch of partition 0 at `offset`: its error code, log start offset and first record offset. */
async function fetchOnce(offset: bigint): Promise<{ errorCode: number; logStartOffset: bigint; firstOffset: bigint | undefined }> {
  const client = await RawClient.connect(gateway.port);
  try {
    client.sendFrame(fetchFrame(offset, 1));
    const reader = new Reader(await client.nextFrame(10_000));
    reader.int32();
    const partition = fetchResponse.decode(reader, FETCH_VERSION).responses[0]?.partitions[0];
    assert.ok(partition !== undefined);
    const [first] = splitBatches(recordBytes(partition.records)).batches;
    const firstOffset = first === undefined ? undefined : (await decodeBatch(first)).header.baseOffset;
    return { errorCode: partition.errorCode, logStartOffset: partition.logStartOffset, firstOffset };
  } finally {
    client.close();
  }
}

test('records Kinesis no longer has: OFFSET_OUT_OF_RANGE, and the log start moves to the next anchor', { timeout: 60_000 }, async () => {
  const scanned = await aws.dynamo.send(new ScanCommand({ TableName: aws.tables.offsetIndex }));
  // Anchors, without the partition's log end (`${topicId}#${partition}#end`).
  const logKeys = [...new Set((scanned.Items ?? []).map((item) => item.log?.S as string))].filter((log) => !log.endsWith('#end'));
  assert.equal(logKeys.length, 1, 'one partition is indexed');
  const [topicId, partitionText] = (logKeys[0] as string).split('#') as [string, string];
  const index = new DynamoOffsetIndex(aws.dynamo, aws.tables.offsetIndex);
  const first = await index.first(topicId, Number(partitionText));
  assert.equal(first?.offset, 0n);
  const second = await index.after(topicId, Number(partitionText), 0n);
  assert.ok(second !== undefined, 'anchors every 16 KiB');

  // The anchor at 0 now names a shard that is gone.
  await index.put(topicId, Number(partitionText), { ...(first as NonNullable<typeof first>), shardId: 'shardId-000000000099' });
  const gone = await fetchOnce(0n);
  assert.equal(gone.errorCode, ErrorCode.OFFSET_OUT_OF_RANGE);
  assert.equal(gone.logStartOffset, second.offset, 'the log starts at the next anchor');
  assert.equal((await fetchOnce(0n)).errorCode, ErrorCode.OFFSET_OUT_OF_RANGE, 'below the log start stays out of range');

  const readable = await fetchOnce(second.offset);
  assert.equal(readable.errorCode, ErrorCode.NONE);
  assert.ok(readable.firstOffset !== undefined && readable.firstOffset <= second.offset, 'records from the new log start are served');
});
