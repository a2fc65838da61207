/**
 * The topic admin APIs driven by a real kafkajs admin client (and, for what kafkajs does not
 * send, by hand-built requests of the newest versions), against KinesisTopicManager on
 * kinesalite + dynalite.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DescribeStreamSummaryCommand } from '@aws-sdk/client-kinesis';
import kafkajs, { Kafka, logLevel, type Admin } from 'kafkajs';
import type { MessageCodec } from '../../src/protocol/codec.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import {
  createTopicsRequest,
  createTopicsResponse,
  deleteTopicsRequest,
  deleteTopicsResponse,
  describeConfigsRequest,
  describeConfigsResponse,
  incrementalAlterConfigsRequest,
  incrementalAlterConfigsResponse,
  metadataRequest,
  metadataResponse,
  requestHeader,
  responseHeader,
  createPartitionsRequest,
  createPartitionsResponse,
  alterConfigsRequest,
  alterConfigsResponse,
} from '../../src/protocol/messages/index.js';
import { Reader, Writer, ZERO_UUID } from '../../src/protocol/primitives.js';
import { ConfigSource, ConfigType } from '../../src/log/topic-configs.js';
import { startAdminGateway, type AdminGateway } from '../support/admin-gateway.js';
import { RawClient } from '../support/raw-client.js';

const { ConfigResourceTypes } = kafkajs;

let gw: AdminGateway;
let admin: Admin;
let correlationId = 1;

before(async () => {
  gw = await startAdminGateway();
  const kafka = new Kafka({ clientId: 'kkg-admin-test', brokers: [gw.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  admin = kafka.admin();
  await admin.connect();
});

after(async () => {
  await admin.disconnect();
  await gw.stop();
});

async function stream(name: string) {
  try {
    const out = await gw.aws.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: `${gw.aws.prefix}${name}` }));
    return out.StreamDescriptionSummary;
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') return undefined;
    throw err;
  }
}

/** One request of exactly this version on a fresh connection; the decoded response body. */
async function exchange<Req, Res>(req: MessageCodec<Req>, res: MessageCodec<Res>, version: number, body: Req): Promise<Res> {
  const flexible = req.firstFlexibleVersion !== null && version >= req.firstFlexibleVersion;
  const writer = new Writer();
  const id = correlationId++;
  requestHeader.encode(writer, { requestApiKey: req.apiKey, requestApiVersion: version, correlationId: id, clientId: 'raw' }, flexible ? 2 : 1);
  req.encode(writer, body, version);
  const client = await RawClient.connect(gw.port);
  try {
    client.sendFrame(writer.finish());
    const frame = await client.nextFrame(30_000);
    const reader = new Reader(frame);
    const header = responseHeader.decode(reader, flexible ? 1 : 0);
    assert.equal(header.correlationId, id);
    const decoded = res.decode(reader, version);
    assert.equal(reader.remaining, 0, 'whole response read');
    return decoded;
  } finally {
    client.close();
  }
}

/** The Kafka error types of a kafkajs error (aggregated, wrapped by retries, or plain). */
function protocolErrorTypes(err: unknown): string[] {
  const e = err as { type?: string; errors?: unknown[]; cause?: unknown };
  const types: string[] = [];
  if (typeof e.type === 'string') types.push(e.type);
  if (Array.isArray(e.errors)) for (const inner of e.errors) types.push(...protocolErrorTypes(inner));
  if (e.cause !== undefined && e.cause !== err) types.push(...protocolErrorTypes(e.cause));
  return types;
}

describe('admin APIs through kafkajs', () => {
  test('createTopics with configs, then fetchTopicMetadata and listTopics', async () => {
    const created = await admin.createTopics({
      topics: [
        {
          topic: 'payments',
          numPartitions: 3,
          replicationFactor: 3,
          configEntries: [
            { name: 'retention.ms', value: String(48 * 3_600_000) },
            { name: 'kinesis.record.format', value: 'kafka' },
          ],
        },
      ],
    });
    assert.equal(created, true);
    const s = await stream('payments');
    assert.equal(s?.OpenShardCount, 3);
    assert.equal(s?.RetentionPeriodHours, 48);

    const metadata = await admin.fetchTopicMetadata({ topics: ['payments'] });
    assert.equal(metadata.topics[0]?.name, 'payments');
    assert.deepEqual(
      metadata.topics[0]?.partitions.map((p) => [p.partitionId, p.leader]).sort(),
      [[0, 0], [1, 0], [2, 0]],
    );
    assert.ok((await admin.listTopics()).includes('payments'));
  });

  test('createTopics of an existing topic is TOPIC_ALREADY_EXISTS (kafkajs answers false)', async () => {
    assert.equal(await admin.createTopics({ topics: [{ topic: 'payments', numPartitions: 1 }] }), false);
  });

  test('createTopics refuses unsupported configs, bad counts and manual assignments', async () => {
    await assert.rejects(
      admin.createTopics({ topics: [{ topic: 'compacted', configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }] }),
      (err) => protocolErrorTypes(err).includes('INVALID_CONFIG'),
    );
    await assert.rejects(
      admin.createTopics({ topics: [{ topic: 'zero', numPartitions: 0 }] }),
      (err) => protocolErrorTypes(err).includes('INVALID_PARTITIONS'),
    );
    await assert.rejects(
      admin.createTopics({ topics: [{ topic: 'placed', replicaAssignment: [{ partition: 0, replicas: [0] }] }] }),
      (err) => protocolErrorTypes(err).includes('INVALID_REQUEST'),
    );
    await assert.rejects(
      admin.createTopics({ topics: [{ topic: 'bad name!' }] }),
      (err) => protocolErrorTypes(err).includes('INVALID_TOPIC_EXCEPTION'),
    );
    assert.equal(await stream('compacted'), undefined);
    assert.equal(await stream('zero'), undefined);
  });

  test('createTopics validateOnly creates nothing', async () => {
    assert.equal(await admin.createTopics({ validateOnly: true, waitForLeaders: false, topics: [{ topic: 'dry', numPartitions: 2 }] }), true);
    assert.equal(await stream('dry'), undefined);
  });

  test('describeConfigs reports set and default topic configs with synonyms', async () => {
    const described = await admin.describeConfigs({
      includeSynonyms: true,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'payments' }],
    });
    const resource = described.resources[0]!;
    assert.equal(resource.errorCode, 0);
    const byName = new Map(resource.configEntries.map((c) => [c.configName, c]));
    assert.deepEqual([...byName.keys()].sort(), [
      'cleanup.policy',
      'compression.type',
      'kinesis.record.format',
      'kinesis.stream.mode',
      'max.message.bytes',
      'produce.ack.mode',
      'retention.ms',
    ]);
    const retention = byName.get('retention.ms')!;
    assert.equal(retention.configValue, String(48 * 3_600_000));
    assert.equal(retention.configSource, ConfigSource.DYNAMIC_TOPIC_CONFIG);
    assert.equal(retention.isDefault, false);
    assert.deepEqual(
      retention.configSynonyms.map((s) => [s.configName, s.configSource]),
      [
        ['retention.ms', ConfigSource.DYNAMIC_TOPIC_CONFIG],
        ['log.retention.ms', ConfigSource.DEFAULT_CONFIG],
      ],
    );
    const cleanup = byName.get('cleanup.policy')!;
    assert.equal(cleanup.configValue, 'delete');
    assert.equal(cleanup.readOnly, true);
    assert.equal(cleanup.configSource, ConfigSource.DEFAULT_CONFIG);
    assert.equal(byName.get('kinesis.record.format')?.configValue, 'kafka');
    assert.equal(byName.get('max.message.bytes')?.configValue, '1048576');
    assert.ok(resource.configEntries.every((c) => c.isSensitive === false));
  });

  test('describeConfigs of a missing topic and of the broker', async () => {
    await assert.rejects(
      admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'no-such-topic' }] }),
      (err) => protocolErrorTypes(err).includes('UNKNOWN_TOPIC_OR_PARTITION'),
    );
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [
        { type: ConfigResourceTypes.BROKER, name: '0', configNames: ['num.partitions', 'broker.id', 'log.retention.ms', 'kinesis.region'] },
      ],
    });
    const broker = described.resources[0];
    assert.equal(broker?.errorCode, 0);
    assert.deepEqual(
      broker?.configEntries.map((c) => [c.configName, c.configValue, c.readOnly]),
      [
        ['broker.id', '0', true],
        ['kinesis.region', 'us-east-1', true],
        ['log.retention.ms', '86400000', true],
        ['num.partitions', '1', true],
      ],
    );
  });

  test('alterConfigs replaces the topic configs and reaches the stream', async () => {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'payments', configEntries: [{ name: 'retention.ms', value: String(72 * 3_600_000) }] }],
    });
    assert.equal((await stream('payments'))?.RetentionPeriodHours, 72);
    const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'payments' }] });
    const byName = new Map(described.resources[0]!.configEntries.map((c) => [c.configName, c]));
    assert.equal(byName.get('retention.ms')?.configValue, String(72 * 3_600_000));
    // Full replace: kinesis.record.format was not given, so it is back to its default.
    assert.equal(byName.get('kinesis.record.format')?.configValue, 'kpl');
    assert.equal(byName.get('kinesis.record.format')?.configSource, ConfigSource.DEFAULT_CONFIG);
    assert.equal((await gw.topics.topic('payments'))?.recordFormat, 'kpl');

    await assert.rejects(
      admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: 'payments', configEntries: [{ name: 'retention.ms', value: '1000' }] }],
      }),
      (err) => protocolErrorTypes(err).includes('INVALID_CONFIG'),
    );
    await assert.rejects(
      admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: ConfigResourceTypes.BROKER, name: '0', configEntries: [{ name: 'num.partitions', value: '3' }] }],
      }),
      (err) => protocolErrorTypes(err).includes('INVALID_REQUEST'),
    );
    assert.equal((await stream('payments'))?.RetentionPeriodHours, 72);
  });

  test('createPartitions adds partitions and refuses shrinking', async () => {
    await admin.createPartitions({ topicPartitions: [{ topic: 'payments', count: 5 }] });
    const metadata = await admin.fetchTopicMetadata({ topics: ['payments'] });
    assert.equal(metadata.topics[0]?.partitions.length, 5);
    await assert.rejects(
      admin.createPartitions({ topicPartitions: [{ topic: 'payments', count: 4 }] }),
      (err) => protocolErrorTypes(err).includes('INVALID_PARTITIONS'),
    );
    await assert.rejects(
      admin.createPartitions({ topicPartitions: [{ topic: 'nope', count: 4 }] }),
      (err) => protocolErrorTypes(err).includes('UNKNOWN_TOPIC_OR_PARTITION'),
    );
  });

  test('Metadata auto-creates a topic only when the request allows it', async () => {
    // kafkajs admin clients send allow_auto_topic_creation=false.
    await assert.rejects(admin.fetchTopicMetadata({ topics: ['not-auto-created'] }), (err) =>
      protocolErrorTypes(err).includes('UNKNOWN_TOPIC_OR_PARTITION'),
    );
    assert.equal(await stream('not-auto-created'), undefined);

    const v12 = await exchange(metadataRequest, metadataResponse, 12, {
      ...metadataRequest.create(),
      topics: [{ name: 'auto-v12', topicId: ZERO_UUID }],
      allowAutoTopicCreation: true,
    });
    assert.equal(v12.topics[0]?.errorCode, 0);
    assert.equal(v12.topics[0]?.partitions.length, 1);
    assert.equal(v12.topics[0]?.topicId, (await gw.topics.getTopic('auto-v12'))?.topicId);
    assert.equal((await stream('auto-v12'))?.OpenShardCount, 1);

    // v0-3 have no flag: Kafka always auto-creates for them.
    const v1 = await exchange(metadataRequest, metadataResponse, 1, {
      ...metadataRequest.create(),
      topics: [{ name: 'auto-v1', topicId: ZERO_UUID }],
      allowAutoTopicCreation: false,
    });
    assert.equal(v1.topics[0]?.errorCode, 0);
    assert.ok(await stream('auto-v1'));
    assert.deepEqual((await admin.fetchTopicMetadata({ topics: ['auto-v1'] })).topics[0]?.partitions.length, 1);
  });

  test('deleteTopics deletes the stream and reports the topic id to the log layer', async () => {
    await admin.createTopics({ topics: [{ topic: 'short-lived', numPartitions: 1 }] });
    const id = (await gw.topics.getTopic('short-lived'))!.topicId;
    await admin.deleteTopics({ topics: ['short-lived'] });
    assert.equal(await stream('short-lived'), undefined);
    assert.ok(!(await admin.listTopics()).includes('short-lived'));
    assert.ok(gw.deletedTopicIds.includes(id));
    await assert.rejects(admin.deleteTopics({ topics: ['short-lived'] }), (err) =>
      protocolErrorTypes(err).includes('UNKNOWN_TOPIC_OR_PARTITION'),
    );
  });
});

describe('admin APIs at their newest versions', () => {
  test('CreateTopics v7 returns the topic id, partitions, replication factor and configs', async () => {
    const response = await exchange(createTopicsRequest, createTopicsResponse, 7, {
      topics: [
        { name: 'v7-topic', numPartitions: -1, replicationFactor: -1, assignments: [], configs: [{ name: 'compression.type', value: 'zstd' }] },
        { name: 'v7-bad', numPartitions: 1, replicationFactor: 0, assignments: [], configs: [] },
        { name: 'v7-dup', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
        { name: 'v7-dup', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
      ],
      timeoutMs: 30_000,
      validateOnly: false,
    });
    const [ok, bad, dup] = response.topics;
    assert.equal(response.topics.length, 3);
    assert.equal(ok?.errorCode, 0);
    assert.equal(ok?.errorMessage, null);
    assert.equal(ok?.topicId, (await gw.topics.getTopic('v7-topic'))?.topicId);
    assert.equal(ok?.numPartitions, 1);
    assert.equal(ok?.replicationFactor, 1);
    const compression = ok?.configs?.find((c) => c.name === 'compression.type');
    assert.deepEqual(compression, { name: 'compression.type', value: 'zstd', readOnly: false, configSource: ConfigSource.DYNAMIC_TOPIC_CONFIG, isSensitive: false });
    assert.equal(bad?.errorCode, ErrorCode.INVALID_REPLICATION_FACTOR);
    assert.match(bad?.errorMessage ?? '', /Replication factor/);
    assert.equal(dup?.errorCode, ErrorCode.INVALID_REQUEST);
  });

  test('CreateTopics v0 and v4 still work', async () => {
    for (const version of [0, 4]) {
      const response = await exchange(createTopicsRequest, createTopicsResponse, version, {
        topics: [{ name: `old-v${version}`, numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 30_000,
        validateOnly: false,
      });
      assert.equal(response.topics[0]?.errorCode, 0, `v${version}`);
      assert.equal((await stream(`old-v${version}`))?.OpenShardCount, 2);
    }
  });

  test('DescribeConfigs v4 with documentation and config types', async () => {
    const response = await exchange(describeConfigsRequest, describeConfigsResponse, 4, {
      resources: [
        { resourceType: 2, resourceName: 'v7-topic', configurationKeys: ['retention.ms', 'compression.type', 'no.such.config'] },
        { resourceType: 4, resourceName: '7', configurationKeys: null },
        { resourceType: 4, resourceName: '', configurationKeys: null },
        { resourceType: 32, resourceName: 'some-group', configurationKeys: null },
      ],
      includeSynonyms: true,
      includeDocumentation: true,
    });
    const [topic, otherBroker, defaults, group] = response.results;
    assert.deepEqual(
      topic?.configs.map((c) => [c.name, c.configType, c.configSource, typeof c.documentation]),
      [
        ['compression.type', ConfigType.STRING, ConfigSource.DYNAMIC_TOPIC_CONFIG, 'string'],
        ['retention.ms', ConfigType.LONG, ConfigSource.DEFAULT_CONFIG, 'string'],
      ],
    );
    assert.equal(otherBroker?.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal(defaults?.errorCode, 0);
    assert.deepEqual(defaults?.configs, []);
    assert.equal(group?.errorCode, ErrorCode.INVALID_REQUEST);
  });

  test('DescribeConfigs v0 reports is_default', async () => {
    const response = await exchange(describeConfigsRequest, describeConfigsResponse, 0, {
      resources: [{ resourceType: 2, resourceName: 'v7-topic', configurationKeys: null }],
      includeSynonyms: false,
      includeDocumentation: false,
    });
    const byName = new Map(response.results[0]!.configs.map((c) => [c.name, c]));
    assert.equal(byName.get('compression.type')?.isDefault, false);
    assert.equal(byName.get('retention.ms')?.isDefault, true);
  });

  test('IncrementalAlterConfigs v1: SET, DELETE, and APPEND only on lists', async () => {
    const response = await exchange(incrementalAlterConfigsRequest, incrementalAlterConfigsResponse, 1, {
      resources: [
        {
          resourceType: 2,
          resourceName: 'v7-topic',
          configs: [
            { name: 'compression.type', configOperation: 1, value: null },
            { name: 'retention.ms', configOperation: 0, value: String(30 * 3_600_000) },
          ],
        },
        { resourceType: 2, resourceName: 'old-v0', configs: [{ name: 'retention.ms', configOperation: 2, value: '1' }] },
        { resourceType: 2, resourceName: 'old-v4', configs: [{ name: 'cleanup.policy', configOperation: 2, value: 'compact' }] },
        { resourceType: 4, resourceName: '0', configs: [{ name: 'num.partitions', configOperation: 0, value: '2' }] },
        { resourceType: 2, resourceName: 'missing', configs: [{ name: 'retention.ms', configOperation: 1, value: null }] },
      ],
      validateOnly: false,
    });
    assert.deepEqual(
      response.responses.map((r) => [r.resourceName, r.errorCode]),
      [
        ['v7-topic', 0],
        ['old-v0', ErrorCode.INVALID_REQUEST],
        ['old-v4', ErrorCode.INVALID_CONFIG],
        ['0', ErrorCode.INVALID_REQUEST],
        ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      ],
    );
    assert.ok(response.responses.slice(1).every((r) => (r.errorMessage ?? '').length > 0));
    assert.equal((await stream('v7-topic'))?.RetentionPeriodHours, 30);
    assert.deepEqual((await gw.topics.getTopic('v7-topic'))?.configs, { 'retention.ms': String(30 * 3_600_000) });
  });

  test('AlterConfigs v2 validate-only changes nothing', async () => {
    const response = await exchange(alterConfigsRequest, alterConfigsResponse, 2, {
      resources: [{ resourceType: 2, resourceName: 'v7-topic', configs: [{ name: 'retention.ms', value: String(100 * 3_600_000) }] }],
      validateOnly: true,
    });
    assert.equal(response.responses[0]?.errorCode, 0);
    assert.equal((await stream('v7-topic'))?.RetentionPeriodHours, 30);
  });

  test('CreatePartitions v3 validate-only and duplicates', async () => {
    const response = await exchange(createPartitionsRequest, createPartitionsResponse, 3, {
      topics: [
        { name: 'old-v0', count: 4, assignments: null },
        { name: 'old-v4', count: 4, assignments: null },
        { name: 'old-v4', count: 5, assignments: null },
      ],
      timeoutMs: 10_000,
      validateOnly: true,
    });
    assert.deepEqual(
      response.results.map((r) => [r.name, r.errorCode]),
      [
        ['old-v0', 0],
        ['old-v4', ErrorCode.INVALID_REQUEST],
      ],
    );
    assert.equal((await gw.topics.topic('old-v0'))?.partitionCount, 2);
  });

  test('DeleteTopics v6 by topic id and by name', async () => {
    const id = (await gw.topics.getTopic('old-v0'))!.topicId;
    const response = await exchange(deleteTopicsRequest, deleteTopicsResponse, 6, {
      topics: [
        { name: null, topicId: id },
        { name: 'old-v4', topicId: ZERO_UUID },
        { name: null, topicId: '0b1e5a1c-8d4f-4d43-9a77-4a6f3b2f9a10' },
        { name: 'v7-topic', topicId: id },
      ],
      topicNames: [],
      timeoutMs: 30_000,
    });
    assert.deepEqual(
      response.responses.map((r) => [r.name, r.errorCode]),
      [
        ['old-v0', 0],
        ['old-v4', 0],
        [null, ErrorCode.UNKNOWN_TOPIC_ID],
        ['v7-topic', ErrorCode.INVALID_REQUEST],
      ],
    );
    assert.equal(response.responses[0]?.topicId, id);
    assert.equal(await stream('old-v0'), undefined);
    assert.equal(await stream('old-v4'), undefined);
    assert.ok(await stream('v7-topic'));
  });
});
