/**
 * librdkafka clients (kcat and confluent-kafka's AdminClient) against the topic admin APIs over
 * kinesalite + dynalite.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import { ConfigSource } from '../../src/log/topic-configs.js';
import { startAdminGateway, type AdminGateway } from '../support/admin-gateway.js';
import { kcat, runPythonClient } from '../support/librdkafka.js';

let gw: AdminGateway;
before(async () => {
  gw = await startAdminGateway();
});
after(async () => {
  await gw.stop();
});

test('kcat -L lists a topic created through the gateway, with its partitions', async () => {
  await gw.topics.createTopic({ name: 'kcat-listed', partitions: 3, replicationFactor: 1, configs: [] });
  const metadata = JSON.parse(await kcat(['-b', gw.bootstrap, '-L', '-J'])) as {
    topics: { topic: string; partitions: { partition: number; leader: number }[] }[];
  };
  const topic = metadata.topics.find((t) => t.topic === 'kcat-listed');
  assert.deepEqual(
    topic?.partitions.map((p) => [p.partition, p.leader]),
    [[0, 0], [1, 0], [2, 0]],
  );
});

test('confluent-kafka AdminClient creates, describes, alters, grows and deletes a topic', async () => {
  const seen = await runPythonClient<{
    create: Record<string, string>;
    create_again: string;
    partitions: number | null;
    configs: Record<string, { value: string; source: number; read_only: boolean; default: boolean }>;
    alter: string;
    retention_after_alter: string;
    create_partitions: string;
    shrink_partitions: string;
    partitions_after: number;
    delete: string;
    listed_after_delete: boolean;
  }>('librdkafka_admin.py', [gw.bootstrap, 'rdkafka-admin']);
  assert.deepEqual(seen.create, { 'rdkafka-admin': 'OK', 'rdkafka-admin-compacted': 'INVALID_CONFIG' });
  assert.equal(seen.create_again, 'TOPIC_ALREADY_EXISTS');
  assert.equal(seen.partitions, 2);
  assert.deepEqual(seen.configs['retention.ms'], { value: '172800000', source: ConfigSource.DYNAMIC_TOPIC_CONFIG, read_only: false, default: false });
  assert.equal(seen.configs['compression.type']?.value, 'lz4');
  assert.deepEqual(seen.configs['cleanup.policy'], { value: 'delete', source: ConfigSource.DEFAULT_CONFIG, read_only: true, default: true });
  assert.equal(seen.alter, 'OK');
  assert.equal(seen.retention_after_alter, '259200000');
  assert.equal(seen.create_partitions, 'OK');
  assert.equal(seen.shrink_partitions, 'INVALID_PARTITIONS');
  assert.equal(seen.partitions_after, 4);
  assert.equal(seen.delete, 'OK');
  assert.equal(seen.listed_after_delete, false);
  await assert.rejects(
    gw.aws.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: `${gw.aws.prefix}rdkafka-admin` })),
    /not found/,
  );
});
