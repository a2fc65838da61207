/**
 * produce.ack.mode=immediate with another writer on the stream, the case the mode does not allow
 * for (DESIGN.md section 3): the leader answers a Produce with offsets that follow its own writes,
 * then its reader finds a foreign record before the answered one. It must give the partition up,
 * so that the next leader rebuilds the log in Kinesis order, and not go on serving a log whose
 * order differs from what every later reader will count.
 *
 * The partition's reader polls every 5 s here: the foreign record and the Produce both land
 * between two of its reads, right after the partition opened.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import kafkajs from 'kafkajs';
import { startTestAws, type TestAws } from '../support/aws.js';
import { startGateway, testAwsFlags, type RunningGateway } from '../support/gateway.js';

const TOPIC = 'immediate';

let aws: TestAws;
let gateway: RunningGateway;

before(async () => {
  aws = await startTestAws('immediate-acks');
  gateway = await startGateway({ ...testAwsFlags(aws), 'kinesis-poll-interval-ms': '5000' });
});

after(async () => {
  await gateway?.stop();
  await aws?.close();
});

it('a foreign record found before an answered one makes the leader give the partition up; it reopens in Kinesis order', { timeout: 90_000 }, async () => {
  const kafka = new kafkajs.Kafka({ clientId: 'kkg-immediate', brokers: [gateway.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  const consumer = new kafkajs.Kafka({ clientId: 'dbg', brokers: [gateway.bootstrap], logLevel: kafkajs.logLevel.INFO }).consumer({ groupId: 'kkg-immediate', maxWaitTimeInMs: 100 });
  await Promise.all([admin.connect(), producer.connect(), consumer.connect()]);
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: TOPIC, numPartitions: 1, configEntries: [{ name: 'produce.ack.mode', value: 'immediate' }] }],
    });
    // Opens the partition: its reader has just read to the tip and waits 5 s before reading again.
    assert.equal((await admin.fetchTopicOffsets(TOPIC))[0]?.high, '0');

    await aws.kinesis.send(new PutRecordCommand({ StreamName: `${aws.prefix}${TOPIC}`, PartitionKey: 'foreign', Data: Buffer.from('foreign record') }));
    const [answer] = await producer.send({ topic: TOPIC, acks: -1, messages: [{ key: 'k', value: 'kafka record' }] });
    // Answered at once, without the foreign record counted: what the mode trades for latency.
    assert.equal(answer?.baseOffset, '0');

    // The reader's next read finds the foreign record first; the partition is given up and
    // reopened on the next request, its log rebuilt from Kinesis: two records.
    const deadline = Date.now() + 30_000;
    let high: string | undefined;
    while (Date.now() < deadline) {
      high = await admin
        .fetchTopicOffsets(TOPIC)
        .then((offsets) => offsets[0]?.high)
        .catch(() => undefined);
      if (high === '2') break;
      await sleep(250);
    }
    assert.equal(high, '2', 'the reopened partition counts the foreign record');

    const seen: { offset: string; value: string }[] = [];
    await consumer.subscribe({ topics: [TOPIC], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push({ offset: message.offset, value: message.value?.toString() ?? '' });
      },
    });
    while (seen.length < 2 && Date.now() < deadline + 30_000) await sleep(100);
    assert.deepEqual(seen, [
      { offset: '0', value: 'foreign record' },
      { offset: '1', value: 'kafka record' },
    ]);

    // The new leadership answers at once again, after the rebuilt log.
    const [next] = await producer.send({ topic: TOPIC, acks: -1, messages: [{ key: 'k', value: 'after' }] });
    assert.equal(next?.baseOffset, '2');
  } finally {
    await Promise.all([consumer.disconnect(), admin.disconnect(), producer.disconnect()]);
  }
});
