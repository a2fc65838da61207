import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  DescribeStreamSummaryCommand,
  ListShardsCommand,
  MergeShardsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { startTestAws, type TestAws } from '../support/aws.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { kcat } from '../support/librdkafka.js';

const TOPIC = 'resharded';
const KEYS = 20;
const PER_PHASE = 300;

let aws: TestAws;
let gw: RunningGateway;
let producer: Producer;
const sent = new Map<string, number>();

before(async () => {
  aws = await startTestAws('reshard');
  gw = await startGateway({
    'kinesis-endpoint': aws.kinesisService.endpoint,
    'dynamodb-endpoint': aws.dynamoService.endpoint,
    'table-prefix': aws.prefix,
    'stream-prefix': aws.prefix,
  });
  const kafka = new Kafka({ brokers: [gw.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2 }] });
  await admin.disconnect();
  producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
});

after(async () => {
  await producer.disconnect();
  await gw.stop();
  await aws.close();
});

/** Sends PER_PHASE records over KEYS keys, each value the key's next sequence number. */
async function producePhase(): Promise<void> {
  const messages = [];
  for (let i = 0; i < PER_PHASE; i++) {
    const key = `key-${i % KEYS}`;
    const next = (sent.get(key) ?? 0) + 1;
    sent.set(key, next);
    messages.push({ key, value: String(next) });
  }
  for (let i = 0; i < messages.length; i += 50) {
    await producer.send({ topic: TOPIC, acks: -1, messages: messages.slice(i, i + 50) });
  }
}

async function waitActive(): Promise<void> {
  for (;;) {
    const summary = await aws.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: `${aws.prefix}${TOPIC}` }));
    if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function openShards(): Promise<{ id: string; start: bigint; end: bigint }[]> {
  const listed = await aws.kinesis.send(new ListShardsCommand({ StreamName: `${aws.prefix}${TOPIC}` }));
  return (listed.Shards ?? [])
    .filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined)
    .map((s) => ({
      id: s.ShardId as string,
      start: BigInt(s.HashKeyRange?.StartingHashKey as string),
      end: BigInt(s.HashKeyRange?.EndingHashKey as string),
    }))
    .sort((a, b) => (a.start < b.start ? -1 : 1));
}

test('a split and a merge while producing lose nothing and keep per-key order', { timeout: 180_000 }, async () => {
  await producePhase();

  // Split partition 0's shard inside its slice (not on a slice boundary), then produce again.
  const [first] = await openShards();
  assert.ok(first !== undefined);
  const middle = first.start + (first.end - first.start) / 4n;
  await aws.kinesis.send(
    new SplitShardCommand({ StreamName: `${aws.prefix}${TOPIC}`, ShardToSplit: first.id, NewStartingHashKey: String(middle) }),
  );
  await waitActive();
  await producePhase();

  // Merge the two children back, then produce again.
  const [left, right] = await openShards();
  assert.ok(left !== undefined && right !== undefined);
  await aws.kinesis.send(
    new MergeShardsCommand({ StreamName: `${aws.prefix}${TOPIC}`, ShardToMerge: left.id, AdjacentShardToMerge: right.id }),
  );
  await waitActive();
  await producePhase();

  const out = await kcat(['-b', gw.bootstrap, '-C', '-t', TOPIC, '-o', 'beginning', '-e', '-q', '-f', '%p\t%o\t%k\t%s\n'], {
    timeoutMs: 60_000,
  });
  const rows = out
    .trim()
    .split('\n')
    .map((line) => line.split('\t'))
    .map(([partition, offset, key, value]) => ({ partition: Number(partition), offset: Number(offset), key: key as string, value: Number(value) }));
  assert.equal(rows.length, PER_PHASE * 3, 'every record once');

  const offsets = new Map<number, number[]>();
  const lastSeen = new Map<string, { partition: number; value: number }>();
  for (const row of rows) {
    offsets.set(row.partition, [...(offsets.get(row.partition) ?? []), row.offset]);
    const previous = lastSeen.get(row.key);
    if (previous !== undefined) {
      assert.equal(row.partition, previous.partition, `${row.key} stays in its partition`);
      assert.equal(row.value, previous.value + 1, `${row.key}: ${previous.value} is followed by ${row.value}`);
    } else {
      assert.equal(row.value, 1, `${row.key} starts at its first record`);
    }
    lastSeen.set(row.key, row);
  }
  for (const [partition, seen] of offsets) {
    assert.deepEqual(seen, seen.map((_, i) => i), `partition ${partition} offsets are dense from 0`);
  }
  for (const [key, count] of sent) assert.equal(lastSeen.get(key)?.value, count, `${key} ends at its last record`);
});
