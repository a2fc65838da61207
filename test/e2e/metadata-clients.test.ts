import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { kcat, runPythonClient } from '../support/librdkafka.js';

let gw: RunningGateway;
before(async () => {
  gw = await startGateway({ 'auto-create-topics': 'false' });
  const admin = new Kafka({ brokers: [gw.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3, replicationFactor: 3 }] });
  await admin.disconnect();
});
after(async () => {
  await gw.stop();
});

test('kcat -L lists the broker and its topics', async () => {
  const out = await kcat(['-b', gw.bootstrap, '-L', '-J']);
  const metadata = JSON.parse(out) as {
    brokers: { id: number; name: string }[];
    topics: { topic: string; partitions: { partition: number; leader: number }[] }[];
    controllerid: number;
  };
  assert.deepEqual(metadata.brokers, [{ id: 0, name: gw.bootstrap }]);
  assert.equal(metadata.controllerid, 0);
  assert.deepEqual(
    metadata.topics.map((t) => [t.topic, t.partitions.map((p) => [p.partition, p.leader])]),
    [['orders', [[0, 0], [1, 0], [2, 0]]]],
  );
});

test('librdkafka (confluent-kafka) reads the cluster id and brokers', async () => {
  const seen = await runPythonClient<{
    cluster_id: string;
    controller_id: number;
    brokers: { id: number; host: string; port: number }[];
    topics: Record<string, number>;
  }>('librdkafka_metadata.py', [gw.bootstrap]);
  assert.equal(seen.cluster_id, gw.gateway.clusterId);
  assert.equal(seen.controller_id, 0);
  assert.deepEqual(seen.brokers, [{ id: 0, host: '127.0.0.1', port: gw.port }]);
  assert.deepEqual(seen.topics, { orders: 3 });
});

test('a kafkajs admin client describes the cluster and lists topics', async () => {
  const kafka = new Kafka({ clientId: 'kkg-test', brokers: [gw.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    assert.equal(cluster.clusterId, gw.gateway.clusterId);
    assert.equal(cluster.controller, 0);
    assert.deepEqual(cluster.brokers, [{ nodeId: 0, host: '127.0.0.1', port: gw.port }]);
    assert.deepEqual(await admin.listTopics(), ['orders']);
    const described = await admin.fetchTopicMetadata({ topics: ['orders'] });
    assert.equal(described.topics[0]?.partitions.length, 3);
  } finally {
    await admin.disconnect();
  }
});
