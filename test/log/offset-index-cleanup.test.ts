/**
 * DeleteTopics removes the topic's offset index (anchors and log ends) from DynamoDB: topics
 * created and deleted over and over (test environments, CI) must not leave items behind.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { Kafka, logLevel } from 'kafkajs';
import { startTestAws, type TestAws } from '../support/aws.js';
import { startGateway, testAwsFlags, type RunningGateway } from '../support/gateway.js';

let aws: TestAws;
let gateway: RunningGateway;

before(async () => {
  aws = await startTestAws('index-cleanup');
  gateway = await startGateway({ ...testAwsFlags(aws), 'index-interval-bytes': '1024' });
});

after(async () => {
  await gateway?.stop();
  await aws?.close();
});

/** The offset index's partition keys (`${topicId}#${partition}`, `...#end`). */
async function indexLogs(): Promise<string[]> {
  const out = await aws.dynamo.send(new ScanCommand({ TableName: aws.tables.offsetIndex, ProjectionExpression: '#log', ExpressionAttributeNames: { '#log': 'log' } }));
  return [...new Set((out.Items ?? []).map((item) => item['log']?.S ?? ''))].sort();
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}: ${JSON.stringify(await indexLogs())}`);
    await sleep(100);
  }
}

test('DeleteTopics removes the anchors and log ends of every partition', { timeout: 60_000 }, async () => {
  const kafka = new Kafka({ clientId: 'kkg-index-cleanup', brokers: [gateway.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await Promise.all([admin.connect(), producer.connect()]);
  try {
    await admin.createTopics({ topics: [{ topic: 'kept', numPartitions: 1 }, { topic: 'deleted', numPartitions: 3 }], waitForLeaders: true });
    for (const topic of ['kept', 'deleted']) {
      await producer.send({ topic, acks: -1, messages: Array.from({ length: 30 }, (_, i) => ({ partition: i % (topic === 'kept' ? 1 : 3), value: 'x'.repeat(200) })) });
    }
    // Anchors and, once the tailers are at rest, log ends: 1 + 3 partitions, each twice.
    await until('every partition is indexed', async () => (await indexLogs()).length === 8);
    const before = await indexLogs();
    await admin.deleteTopics({ topics: ['deleted'] });
    await until('the deleted topic is gone from the index', async () => (await indexLogs()).length === 2);
    const left = await indexLogs();
    const keptId = (left[0] as string).split('#')[0] as string;
    assert.deepEqual(left, [`${keptId}#0`, `${keptId}#0#end`]);
    assert.equal(before.filter((log) => !log.startsWith(`${keptId}#`)).length, 6, 'the deleted topic had 3 partitions indexed');
  } finally {
    await producer.disconnect();
    await admin.disconnect();
  }
});
