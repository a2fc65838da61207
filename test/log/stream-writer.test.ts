/**
 * StreamWriter against kinesalite: each partition's records land in the order their places were
 * reserved, whatever order the places are filled in, with at most one call in flight per
 * partition; the partitions ready together go out in one call, and further calls carry only what
 * does not fit in it (500 records or 1 MiB per call).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type KinesisClient,
  type PutRecordsCommandInput,
} from '@aws-sdk/client-kinesis';
import { pino } from 'pino';
import { startKinesalite, type LocalService } from '../../src/embedded-aws.js';
import { createKinesisClient } from '../../src/kinesis/client.js';
import type { KinesisPutEntry } from '../../src/kinesis/record-formats.js';
import { KinesisRecordsClient } from '../../src/kinesis/records-client.js';
import { StreamWriter, type Reservation } from '../../src/log/stream-writer.js';

const STREAM = 'writer-order';
const PARTITIONS = 4;
const JOBS_PER_PARTITION = 12;
const ENTRIES_PER_JOB = 3;

let kinesalite: LocalService;
let client: KinesisClient;
let records: KinesisRecordsClient;
/** Per PutRecords call, the partitions its records belong to. */
const calls: number[][] = [];
/** Per PutRecords call, the bytes of its records' data. */
const callBytes: number[] = [];

before(async () => {
  kinesalite = await startKinesalite();
  client = createKinesisClient({ endpoint: kinesalite.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  records = new KinesisRecordsClient(client);
  records.observe((call) => {
    const input = call.input as Partial<PutRecordsCommandInput>;
    if (call.operation === 'PutRecords' && input.Records !== undefined) {
      calls.push([...new Set(input.Records.map((r) => Number(r.PartitionKey)))]);
      callBytes.push(input.Records.reduce((sum, r) => sum + (r.Data?.length ?? 0), 0));
    }
  });
  await client.send(new CreateStreamCommand({ StreamName: STREAM, ShardCount: 1 }));
  for (let i = 0; i < 100; i++) {
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: STREAM }));
    if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
});

after(async () => {
  client.destroy();
  await kinesalite.close();
});

function entries(partition: number, job: number): KinesisPutEntry[] {
  return Array.from({ length: ENTRIES_PER_JOB }, (_, k) => ({
    partitionKey: String(partition),
    explicitHashKey: '0',
    data: Buffer.from(`${partition}/${job}/${k}`),
  }));
}

test('records land in reservation order per partition, filled in any order; partitions ready together share a call', { timeout: 60_000 }, async () => {
  calls.length = 0;
  const writer = new StreamWriter(records, STREAM, { maxConcurrentCalls: PARTITIONS, retryTimeoutMs: 10_000 }, pino({ level: 'silent' }));
  const places: { partition: number; job: number; reservation: Reservation }[] = [];
  for (let job = 0; job < JOBS_PER_PARTITION; job++) {
    for (let partition = 0; partition < PARTITIONS; partition++) places.push({ partition, job, reservation: writer.reserve(partition) });
  }
  // The first place of every partition filled first, in one turn of the event loop (they go
  // out together), then the rest from the last reserved to the first, one per turn.
  const firstPlaces = places.filter((p) => p.job === 0);
  for (const place of firstPlaces) place.reservation.fill(entries(place.partition, place.job));
  for (const place of places.filter((p) => p.job > 0).reverse()) {
    await new Promise((resolve) => setImmediate(resolve));
    place.reservation.fill(entries(place.partition, place.job));
  }
  const results = await Promise.all(places.map((p) => p.reservation.done));
  writer.close();

  for (let partition = 0; partition < PARTITIONS; partition++) {
    const sequences = places.flatMap((p, i) => (p.partition === partition ? (results[i] ?? []).map((r) => BigInt(r.sequenceNumber)) : []));
    assert.equal(sequences.length, JOBS_PER_PARTITION * ENTRIES_PER_JOB);
    assert.ok(sequences.every((s, i) => i === 0 || s > (sequences[i - 1] as bigint)), `partition ${partition}: sequence numbers rise in reservation order`);
  }

  const [shard] = (await client.send(new ListShardsCommand({ StreamName: STREAM }))).Shards ?? [];
  const iterator = await client.send(new GetShardIteratorCommand({ StreamName: STREAM, ShardId: shard?.ShardId, ShardIteratorType: 'TRIM_HORIZON' }));
  const read = await client.send(new GetRecordsCommand({ ShardIterator: iterator.ShardIterator }));
  const landed = (read.Records ?? []).map((r) => Buffer.from(r.Data ?? new Uint8Array()).toString());
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const expected = Array.from({ length: JOBS_PER_PARTITION * ENTRIES_PER_JOB }, (_, i) => `${partition}/${Math.floor(i / ENTRIES_PER_JOB)}/${i % ENTRIES_PER_JOB}`);
    assert.deepEqual(landed.filter((d) => d.startsWith(`${partition}/`)), expected, `partition ${partition} in the shard`);
  }

  // The first places, filled in one turn, went out in one call.
  assert.deepEqual(calls[0]?.sort(), [0, 1, 2, 3], `calls: ${JSON.stringify(calls)}`);
});

test('what does not fit in one call goes out in another at once, without a partition in two calls', { timeout: 60_000 }, async () => {
  calls.length = 0;
  const writer = new StreamWriter(records, STREAM, { maxConcurrentCalls: PARTITIONS, retryTimeoutMs: 10_000 }, pino({ level: 'silent' }));
  // Partition 0 alone fills a call (600 > 500 records); partitions 1-3 take a second slot.
  const sizes = [600, 10, 10, 10];
  const reservations = sizes.map((_, partition) => writer.reserve(partition));
  sizes.forEach((count, partition) =>
    reservations[partition]?.fill(
      Array.from({ length: count }, (_, k) => ({ partitionKey: String(partition), explicitHashKey: '0', data: Buffer.from(`${partition}/${k}`) })),
    ),
  );
  const results = await Promise.all(reservations.map((r) => r.done));
  writer.close();
  assert.deepEqual(
    results.map((r) => r.length),
    sizes,
  );
  assert.deepEqual(calls.slice(0, 2), [[0], [1, 2, 3]], `calls: ${JSON.stringify(calls)}`);
  // The rest of partition 0 went after its first call, alone.
  assert.deepEqual(calls.slice(2), [[0]], `calls: ${JSON.stringify(calls)}`);
});

test('a call carries at most 1 MiB: a partition with more sends the rest after it, other partitions alongside', { timeout: 60_000 }, async () => {
  calls.length = 0;
  callBytes.length = 0;
  const writer = new StreamWriter(records, STREAM, { maxConcurrentCalls: PARTITIONS, retryTimeoutMs: 10_000 }, pino({ level: 'silent' }));
  const record = (partition: number, k: number, bytes: number): KinesisPutEntry => ({
    partitionKey: String(partition),
    explicitHashKey: '0',
    data: Buffer.concat([Buffer.from(`${partition}/${k}/`), Buffer.alloc(bytes, 'x')]),
  });
  // Partition 0: three records of 600 KiB (two do not fit in 1 MiB); partition 1: one small one.
  const big = writer.reserve(0);
  const small = writer.reserve(1);
  big.fill([0, 1, 2].map((k) => record(0, k, 600 * 1024)));
  small.fill([record(1, 0, 10)]);
  const [bigResults, smallResults] = await Promise.all([big.done, small.done]);
  writer.close();
  assert.equal(bigResults.length, 3);
  assert.equal(smallResults.length, 1);
  assert.ok(bigResults.every((r, i) => i === 0 || BigInt(r.sequenceNumber) > BigInt((bigResults[i - 1] as typeof r).sequenceNumber)), 'partition 0 in order');
  // Reported as answered: partition 1's call, sent beside partition 0's first, may finish first.
  assert.deepEqual([...calls].sort(), [[0], [0], [0], [1]], `calls: ${JSON.stringify(calls)}`);
  assert.ok(callBytes.every((bytes) => bytes <= 1024 * 1024), `call bytes: ${JSON.stringify(callBytes)}`);
  assert.equal(calls.findIndex((c) => c[0] === 1) < 2, true, `partition 1 went alongside partition 0's first call: ${JSON.stringify(calls)}`);
});
