/**
 * acks=-1 means the whole batch is below the high watermark when the answer comes. A raw topic
 * stores one Kinesis record per Kafka record, so a batch of 600 is more than one PutRecords call
 * (500 records at most) and its records are read back in more than one GetRecords call. Right
 * after each acknowledgement, ListOffsets(latest) must count every record acknowledged so far.
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import kafkajs from 'kafkajs';
import { startTestAws, type TestAws } from '../support/aws.js';
import { startGateway, testAwsFlags, type RunningGateway } from '../support/gateway.js';

const TOPIC = 'acks-raw';
const BATCH = 600;
const BATCHES = 8;

let aws: TestAws;
let gateway: RunningGateway;

before(async () => {
  aws = await startTestAws('produce-acks');
  gateway = await startGateway(testAwsFlags(aws));
});

after(async () => {
  await gateway?.stop();
  await aws?.close();
});

it('a batch split over PutRecords calls is acknowledged only once all of it is below the high watermark', { timeout: 120_000 }, async () => {
  const kafka = new kafkajs.Kafka({ clientId: 'kkg-acks', brokers: [gateway.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await Promise.all([admin.connect(), producer.connect()]);
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: TOPIC, numPartitions: 1, configEntries: [{ name: 'kinesis.record.format', value: 'raw' }] }],
    });
    for (let batch = 0; batch < BATCHES; batch++) {
      const [answer] = await producer.send({
        topic: TOPIC,
        acks: -1,
        messages: Array.from({ length: BATCH }, (_, i) => ({ key: `k${i}`, value: `batch ${batch} record ${i}` })),
      });
      assert.equal(answer?.baseOffset, String(batch * BATCH));
      const [partition] = await admin.fetchTopicOffsets(TOPIC);
      assert.equal(partition?.high, String((batch + 1) * BATCH), `high watermark right after batch ${batch} was acknowledged`);
    }
  } finally {
    await Promise.all([admin.disconnect(), producer.disconnect()]);
  }
});
