import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamSummaryCommand,
  IncreaseStreamRetentionPeriodCommand,
  ListShardsCommand,
} from '@aws-sdk/client-kinesis';
import { KinesisTopicManager, TopicError, type TopicManagerOptions } from '../../src/log/topic-manager.js';
import { ConfigSource } from '../../src/log/topic-configs.js';
import { DynamoTopicStore, type NewTopicRecord, type TopicStore } from '../../src/log/topic-store.js';
import { ErrorCode, errorName } from '../../src/protocol/errors.js';
import { startTestAws, type TestAws } from '../support/aws.js';

let aws: TestAws;
let store: DynamoTopicStore;
let manager: KinesisTopicManager;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function options(overrides: Partial<TopicManagerOptions> = {}): TopicManagerOptions {
  return {
    streamPrefix: aws.prefix,
    defaultReplicationFactor: 3,
    defaultPartitions: 2,
    autoCreateTopics: true,
    defaultStreamMode: 'PROVISIONED',
    clusterDefaults: {},
    ...overrides,
  };
}

/** A manager as another gateway node would have: its own clients and store. */
function otherNode(overrides: Partial<TopicManagerOptions> = {}, wrap: (s: TopicStore) => TopicStore = (s) => s): KinesisTopicManager {
  const otherStore = new DynamoTopicStore(aws.newDynamoClient(), aws.tables.topics);
  return new KinesisTopicManager(aws.newKinesisClient(), wrap(otherStore), options({ cacheTtlMs: 0, ...overrides }));
}

before(async () => {
  aws = await startTestAws('topic-manager');
  store = new DynamoTopicStore(aws.dynamo, aws.tables.topics);
  manager = new KinesisTopicManager(aws.kinesis, store, options());
});

after(async () => {
  await aws.close();
});

async function summary(stream: string) {
  const out = await aws.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
  return out.StreamDescriptionSummary!;
}

async function streamExists(stream: string): Promise<boolean> {
  try {
    await summary(stream);
    return true;
  } catch (err) {
    if ((err as Error).name === 'ResourceNotFoundException') return false;
    throw err;
  }
}

async function createStreamDirectly(stream: string, shards: number): Promise<void> {
  await aws.kinesis.send(new CreateStreamCommand({ StreamName: stream, ShardCount: shards }));
  for (let i = 0; i < 100 && (await summary(stream)).StreamStatus !== 'ACTIVE'; i++) await new Promise((r) => setTimeout(r, 10));
}

async function rejectsWith(promise: Promise<unknown>, code: number, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof TopicError, `expected a TopicError, got ${String(err)}`);
    assert.equal(errorName(err.code), errorName(code), err.message);
    if (pattern !== undefined) assert.match(err.message, pattern);
    return true;
  });
}

describe('KinesisTopicManager: create', () => {
  test('creates a PROVISIONED stream with one shard per partition and a record with a fresh id', async () => {
    const created = await manager.createTopic({ name: 'orders', partitions: 3, replicationFactor: -1, configs: [] });
    assert.equal(created.pending, false);
    assert.match(created.topicId, UUID);
    assert.equal(created.partitionCount, 3);
    assert.equal(created.replicationFactor, 3);

    const stream = await summary(`${aws.prefix}orders`);
    assert.equal(stream.StreamStatus, 'ACTIVE');
    assert.equal(stream.OpenShardCount, 3);
    assert.equal(stream.RetentionPeriodHours, 24);

    const record = await store.get('orders');
    assert.equal(record?.topicId, created.topicId);
    assert.deepEqual(record?.partitionMaps, [{ epoch: 0, partitionCount: 3, sinceMs: 0 }]);
    assert.deepEqual(record?.configs, {});

    const topic = await manager.topic('orders');
    assert.ok(topic !== undefined);
    assert.equal(topic.topicId, created.topicId);
    assert.equal(topic.partitionCount, 3);
    assert.equal(topic.streamName, `${aws.prefix}orders`);
    assert.equal(topic.recordFormat, 'kpl');
    assert.equal(topic.maxMessageBytes, 1048576);
    assert.equal(topic.internal, false);
    const shards = await topic.listShards();
    assert.equal(shards.length, 3);
    assert.equal(await topic.listShards(), shards, 'cached');
    assert.notEqual(await topic.listShards(true), shards, 'refreshed');

    assert.ok((await manager.listTopics()).some((t) => t.name === 'orders' && t.topicId === created.topicId));
    assert.equal((await manager.getTopicById(created.topicId))?.name, 'orders');
  });

  test('a second create of the same name is TOPIC_ALREADY_EXISTS', async () => {
    await rejectsWith(manager.createTopic({ name: 'orders', partitions: 1, replicationFactor: 1, configs: [] }), ErrorCode.TOPIC_ALREADY_EXISTS, /already exists/);
  });

  test('two gateways creating the same topic at once: exactly one wins, both then see its id', async () => {
    const a = otherNode();
    const b = otherNode();
    const spec = { name: 'race', partitions: 2, replicationFactor: 1, configs: [] as [string, string][] };
    const results = await Promise.allSettled([a.createTopic(spec), b.createTopic(spec)]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1, JSON.stringify(results.map((r) => (r.status === 'rejected' ? String(r.reason) : 'ok'))));
    assert.equal(lost.length, 1);
    assert.ok(lost[0]!.reason instanceof TopicError);
    assert.equal(lost[0]!.reason.code, ErrorCode.TOPIC_ALREADY_EXISTS);
    const id = (won[0] as PromiseFulfilledResult<{ topicId: string }>).value.topicId;
    assert.equal((await a.getTopic('race'))?.topicId, id);
    assert.equal((await b.getTopic('race'))?.topicId, id);
  });

  test('configs given at creation are stored and applied to the stream', async () => {
    const created = await manager.createTopic({
      name: 'configured',
      partitions: 1,
      replicationFactor: 2,
      configs: [
        ['retention.ms', '86400001'], // rounds up to 25 hours
        ['kinesis.record.format', 'kafka'],
        ['compression.type', 'zstd'],
        ['cleanup.policy', 'delete'],
        ['max.message.bytes', '500000'],
      ],
    });
    const byName = new Map(created.configs.map((c) => [c.name, c]));
    assert.equal(byName.get('retention.ms')?.value, '86400001');
    assert.equal(byName.get('retention.ms')?.source, ConfigSource.DYNAMIC_TOPIC_CONFIG);
    assert.equal(byName.get('cleanup.policy')?.source, ConfigSource.DEFAULT_CONFIG);
    assert.equal(byName.get('cleanup.policy')?.readOnly, true);
    assert.equal((await summary(`${aws.prefix}configured`)).RetentionPeriodHours, 25);
    assert.deepEqual((await store.get('configured'))?.configs, {
      'retention.ms': '86400001',
      'kinesis.record.format': 'kafka',
      'compression.type': 'zstd',
      'max.message.bytes': '500000',
    });
    const topic = await manager.topic('configured');
    assert.equal(topic?.recordFormat, 'kafka');
    assert.equal(topic?.maxMessageBytes, 500000);
    assert.equal(topic?.replicationFactor, 2);
    assert.equal(topic?.settings.compressionType, 'zstd');
  });

  test('validate-only checks everything and creates nothing', async () => {
    const checked = await manager.createTopic(
      { name: 'dry-run', partitions: 4, replicationFactor: -1, configs: [['retention.ms', '172800000']] },
      { validateOnly: true },
    );
    assert.equal(checked.partitionCount, 4);
    assert.equal(checked.topicId, '00000000-0000-0000-0000-000000000000');
    assert.equal(await streamExists(`${aws.prefix}dry-run`), false);
    assert.equal(await store.get('dry-run'), undefined);
    await rejectsWith(
      manager.createTopic({ name: 'orders', partitions: 1, replicationFactor: 1, configs: [] }, { validateOnly: true }),
      ErrorCode.TOPIC_ALREADY_EXISTS,
    );
  });

  test('invalid requests are refused with the Kafka error and a message', async () => {
    const create = (overrides: { name?: string; partitions?: number; replicationFactor?: number; configs?: [string, string | null][] }) =>
      manager.createTopic({ name: 'bad', partitions: 1, replicationFactor: 1, configs: [], ...overrides });
    await rejectsWith(create({ name: 'no spaces' }), ErrorCode.INVALID_TOPIC_EXCEPTION, /may contain only/);
    await rejectsWith(create({ name: 'x'.repeat(200) }), ErrorCode.INVALID_TOPIC_EXCEPTION, /longer than/);
    await rejectsWith(create({ partitions: 0 }), ErrorCode.INVALID_PARTITIONS);
    await rejectsWith(create({ partitions: -2 }), ErrorCode.INVALID_PARTITIONS);
    await rejectsWith(create({ replicationFactor: 0 }), ErrorCode.INVALID_REPLICATION_FACTOR);
    await rejectsWith(create({ replicationFactor: -5 }), ErrorCode.INVALID_REPLICATION_FACTOR);
    await rejectsWith(create({ configs: [['cleanup.policy', 'compact']] }), ErrorCode.INVALID_CONFIG, /cannot compact/);
    await rejectsWith(create({ configs: [['segment.ms', '1000']] }), ErrorCode.INVALID_CONFIG, /Unknown or unsupported topic config segment\.ms/);
    await rejectsWith(create({ configs: [['retention.ms', '3600000']] }), ErrorCode.INVALID_CONFIG, /at least 24 hours/);
    await rejectsWith(create({ configs: [['retention.ms', String(8761 * 3_600_000)]] }), ErrorCode.INVALID_CONFIG, /at most 8760 hours/);
    await rejectsWith(create({ configs: [['retention.ms', 'a week']] }), ErrorCode.INVALID_CONFIG, /integer/);
    await rejectsWith(create({ configs: [['max.message.bytes', String(11 * 1024 * 1024)]] }), ErrorCode.INVALID_CONFIG, /10 MiB/);
    await rejectsWith(create({ configs: [['compression.type', 'brotli']] }), ErrorCode.INVALID_CONFIG, /one of producer/);
    await rejectsWith(create({ configs: [['kinesis.record.format', 'json']] }), ErrorCode.INVALID_CONFIG, /kpl, kafka, raw/);
    await rejectsWith(create({ configs: [['retention.ms', null]] }), ErrorCode.INVALID_CONFIG, /Null value/);
    await rejectsWith(create({ configs: [['retention.ms', '86400000'], ['retention.ms', '90000000']] }), ErrorCode.INVALID_CONFIG, /more than once/);
    assert.equal(await streamExists(`${aws.prefix}bad`), false);
  });

  test('what kinesalite cannot do fails clearly and leaves nothing behind', async () => {
    const create = (name: string, configs: [string, string][]) => manager.createTopic({ name, partitions: 1, replicationFactor: 1, configs });
    await rejectsWith(create('on-demand', [['kinesis.stream.mode', 'ON_DEMAND']]), ErrorCode.INVALID_CONFIG, /does not support ON_DEMAND/);
    // kinesalite keeps retention to 168 hours; AWS allows 8760.
    await rejectsWith(create('long-retention', [['retention.ms', String(200 * 3_600_000)]]), ErrorCode.INVALID_CONFIG, /RetentionPeriodHours=200/);
    // kinesalite has no MaxRecordSizeInKiB.
    await rejectsWith(create('big-records', [['max.message.bytes', String(2 * 1024 * 1024)]]), ErrorCode.INVALID_CONFIG, /at most 1048576/);
    for (const name of ['on-demand', 'long-retention', 'big-records']) {
      assert.equal(await streamExists(`${aws.prefix}${name}`), false, name);
      assert.equal(await store.get(name), undefined, name);
      assert.equal(await manager.getTopic(name), undefined, name);
    }
  });

  test('a stream adopted while its creator was still at work gets the creator\'s record', async () => {
    const adopter = otherNode();
    let adoptedId: string | undefined;
    // The creator's store adopts the stream through another node just before the creator's record write.
    const creator = otherNode({}, (inner) =>
      Object.assign(Object.create(inner) as TopicStore, {
        async create(record: NewTopicRecord) {
          if (record.name === 'contested' && adoptedId === undefined) adoptedId = (await adopter.getTopic('contested'))?.topicId;
          return inner.create(record);
        },
      }),
    );
    const created = await creator.createTopic({ name: 'contested', partitions: 2, replicationFactor: 1, configs: [['kinesis.record.format', 'raw']] });
    assert.match(adoptedId ?? '', UUID, 'the other node adopted the stream first');
    assert.notEqual(created.topicId, adoptedId);
    const record = await store.get('contested');
    assert.equal(record?.topicId, created.topicId);
    assert.deepEqual(record?.configs, { 'kinesis.record.format': 'raw' });
    assert.equal((await adopter.getTopic('contested'))?.topicId, created.topicId);
  });
});

describe('KinesisTopicManager: slow creation', () => {
  /** A node whose record writes wait for `release()`: creation stays in progress until then. */
  function gatedNode() {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const node = otherNode({}, (inner) =>
      Object.assign(Object.create(inner) as TopicStore, {
        async create(record: NewTopicRecord) {
          await gate;
          return inner.create(record);
        },
      }),
    );
    return { node, release };
  }

  test('a wait that runs out answers pending; creation goes on and the topic appears', async () => {
    const { node, release } = gatedNode();
    const created = await node.createTopic({ name: 'slow', partitions: 1, replicationFactor: 1, configs: [] }, { waitMs: 50 });
    assert.equal(created.pending, true);
    assert.match(created.topicId, UUID);
    assert.equal(node.isBeingCreated('slow'), true);
    await rejectsWith(node.createTopic({ name: 'slow', partitions: 1, replicationFactor: 1, configs: [] }), ErrorCode.TOPIC_ALREADY_EXISTS, /being created/);
    release();
    for (let i = 0; i < 100 && node.isBeingCreated('slow'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(node.isBeingCreated('slow'), false);
    assert.equal((await node.getTopic('slow'))?.topicId, created.topicId);
  });

  test('waitMs <= 0 answers once CreateStream is accepted', async () => {
    const { node, release } = gatedNode();
    const created = await node.createTopic({ name: 'no-wait', partitions: 1, replicationFactor: 1, configs: [] }, { waitMs: 0 });
    assert.equal(created.pending, true);
    assert.ok(await streamExists(`${aws.prefix}no-wait`));
    release();
    for (let i = 0; i < 100 && node.isBeingCreated('no-wait'); i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await node.getTopic('no-wait'))?.topicId, created.topicId);
  });

  test('auto-creation that takes longer than its wait is LEADER_NOT_AVAILABLE', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const node = otherNode({ autoCreateWaitMs: 50 }, (inner) =>
      Object.assign(Object.create(inner) as TopicStore, {
        async create(record: NewTopicRecord) {
          await gate;
          return inner.create(record);
        },
      }),
    );
    const outcome = await node.autoCreateTopic('auto-slow');
    assert.ok('errorCode' in outcome && outcome.errorCode === ErrorCode.LEADER_NOT_AVAILABLE, JSON.stringify(outcome));
    release();
    for (let i = 0; i < 100 && node.isBeingCreated('auto-slow'); i++) await new Promise((r) => setTimeout(r, 10));
    const later = await node.autoCreateTopic('auto-slow');
    assert.ok('topic' in later);
  });
});

describe('KinesisTopicManager: adoption', () => {
  test('a stream created outside the gateway becomes a topic with P = its open shards, id kept across restarts', async () => {
    const stream = `${aws.prefix}legacy`;
    await createStreamDirectly(stream, 4);
    await aws.kinesis.send(new IncreaseStreamRetentionPeriodCommand({ StreamName: stream, RetentionPeriodHours: 48 }));

    const topic = await manager.getTopic('legacy');
    assert.ok(topic !== undefined);
    assert.equal(topic.partitionCount, 4);
    assert.match(topic.topicId, UUID);
    assert.deepEqual(topic.partitionMaps, [{ epoch: 0, partitionCount: 4, sinceMs: 0 }]);
    assert.equal(topic.replicationFactor, 3);
    const configs = await manager.describeTopicConfigs('legacy');
    const retention = configs.find((c) => c.name === 'retention.ms');
    assert.equal(retention?.value, String(48 * 3_600_000));
    assert.equal(retention?.source, ConfigSource.DYNAMIC_TOPIC_CONFIG);

    // A restarted gateway (a new manager) reads the same id and count, even after resharding would change the shards.
    const restarted = otherNode();
    const again = await restarted.getTopic('legacy');
    assert.equal(again?.topicId, topic.topicId);
    assert.equal(again?.partitionCount, 4);
  });

  test('listing adopts streams under the prefix and ignores the others', async () => {
    await createStreamDirectly(`${aws.prefix}listed`, 1);
    await createStreamDirectly(`unrelated-${aws.prefix}x`, 1);
    const fresh = otherNode();
    const names = (await fresh.listTopics()).map((t) => t.name);
    assert.ok(names.includes('listed'), names.join(','));
    assert.ok(names.includes('orders'));
    assert.ok(!names.some((n) => n.includes('unrelated')));
    assert.equal((await store.get('listed'))?.partitionMaps[0]?.partitionCount, 1);
  });

  test('a record whose stream was deleted outside the gateway is dropped', async () => {
    await manager.createTopic({ name: 'vanishing', partitions: 1, replicationFactor: 1, configs: [] });
    await aws.kinesis.send(new DeleteStreamCommand({ StreamName: `${aws.prefix}vanishing` }));
    const fresh = otherNode();
    assert.ok(!(await fresh.listTopics()).some((t) => t.name === 'vanishing'));
    assert.equal(await store.get('vanishing'), undefined);
    // and the name can be used again
    const again = await fresh.createTopic({ name: 'vanishing', partitions: 2, replicationFactor: 1, configs: [] });
    assert.equal(again.partitionCount, 2);
  });
});

describe('KinesisTopicManager: delete', () => {
  test('deletes the stream and the record and returns the topic id', async () => {
    const created = await manager.createTopic({ name: 'doomed', partitions: 2, replicationFactor: 1, configs: [] });
    assert.ok(await manager.getTopic('doomed'));
    const deleted = await manager.deleteTopic('doomed');
    assert.deepEqual(deleted, { name: 'doomed', topicId: created.topicId, partitionCount: 2, pending: false });
    assert.equal(await streamExists(`${aws.prefix}doomed`), false);
    assert.equal(await store.get('doomed'), undefined);
    assert.equal(await manager.getTopic('doomed'), undefined);
    assert.equal(await manager.getTopicById(created.topicId), undefined);
    await rejectsWith(manager.deleteTopic('doomed'), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test('deleting by id checks the id', async () => {
    await manager.createTopic({ name: 'by-id', partitions: 1, replicationFactor: 1, configs: [] });
    await rejectsWith(manager.deleteTopic('by-id', { topicId: '11111111-2222-4333-8444-555555555555' }), ErrorCode.UNKNOWN_TOPIC_ID);
    const topic = await manager.getTopic('by-id');
    assert.equal((await manager.deleteTopic('by-id', { topicId: topic!.topicId })).topicId, topic!.topicId);
  });

  test('a stream without a record (never adopted) is deleted too', async () => {
    await createStreamDirectly(`${aws.prefix}stray`, 1);
    const deleted = await otherNode().deleteTopic('stray');
    assert.equal(deleted.pending, false);
    assert.equal(await streamExists(`${aws.prefix}stray`), false);
  });
});

describe('KinesisTopicManager: configs', () => {
  test('replace, set and delete round-trip and reach the stream', async () => {
    await manager.createTopic({ name: 'tuned', partitions: 1, replicationFactor: 1, configs: [['compression.type', 'lz4']] });
    const stream = `${aws.prefix}tuned`;

    await manager.replaceTopicConfigs('tuned', [
      ['retention.ms', String(72 * 3_600_000)],
      ['kinesis.record.format', 'raw'],
    ]);
    assert.deepEqual((await store.get('tuned'))?.configs, { 'retention.ms': String(72 * 3_600_000), 'kinesis.record.format': 'raw' });
    assert.equal((await summary(stream)).RetentionPeriodHours, 72);
    assert.equal((await manager.topic('tuned'))?.recordFormat, 'raw');
    const described = await manager.describeTopicConfigs('tuned');
    assert.equal(described.find((c) => c.name === 'compression.type')?.source, ConfigSource.DEFAULT_CONFIG, 'replaced away');

    await manager.incrementalAlterTopicConfigs('tuned', [
      { name: 'retention.ms', op: 1, value: null },
      { name: 'max.message.bytes', op: 0, value: '262144' },
      { name: 'cleanup.policy', op: 2, value: 'delete' },
    ]);
    assert.deepEqual((await store.get('tuned'))?.configs, { 'kinesis.record.format': 'raw', 'max.message.bytes': '262144' });
    assert.equal((await summary(stream)).RetentionPeriodHours, 24, 'back to the default');
    assert.equal((await manager.topic('tuned'))?.maxMessageBytes, 262144);

    await manager.incrementalAlterTopicConfigs('tuned', [{ name: 'retention.ms', op: 0, value: '999999999' }], true);
    assert.equal((await summary(stream)).RetentionPeriodHours, 24, 'validate only');
  });

  test('invalid changes are refused and change nothing', async () => {
    const before = await store.get('tuned');
    await rejectsWith(manager.replaceTopicConfigs('tuned', [['cleanup.policy', 'compact']]), ErrorCode.INVALID_CONFIG);
    await rejectsWith(manager.incrementalAlterTopicConfigs('tuned', [{ name: 'retention.ms', op: 2, value: '1' }]), ErrorCode.INVALID_REQUEST, /not a list/);
    await rejectsWith(manager.incrementalAlterTopicConfigs('tuned', [{ name: 'cleanup.policy', op: 2, value: 'compact' }]), ErrorCode.INVALID_CONFIG);
    await rejectsWith(manager.incrementalAlterTopicConfigs('tuned', [{ name: 'cleanup.policy', op: 3, value: 'delete' }]), ErrorCode.INVALID_CONFIG);
    await rejectsWith(manager.incrementalAlterTopicConfigs('tuned', [{ name: 'nope', op: 1, value: null }]), ErrorCode.INVALID_CONFIG);
    await rejectsWith(
      manager.incrementalAlterTopicConfigs('tuned', [
        { name: 'retention.ms', op: 0, value: '86400000' },
        { name: 'retention.ms', op: 1, value: null },
      ]),
      ErrorCode.INVALID_REQUEST,
      /more than once/,
    );
    await rejectsWith(manager.incrementalAlterTopicConfigs('tuned', [{ name: 'kinesis.stream.mode', op: 0, value: 'ON_DEMAND' }]), ErrorCode.INVALID_CONFIG, /UpdateStreamMode/);
    await rejectsWith(manager.replaceTopicConfigs('missing-topic', []), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.deepEqual(await store.get('tuned'), before);
  });

  test('operator defaults apply to topics that do not set a config and show as broker configs', async () => {
    const node = otherNode({ clusterDefaults: { 'kinesis.record.format': 'kafka', 'retention.ms': String(48 * 3_600_000) } });
    await node.createTopic({ name: 'defaulted', partitions: 1, replicationFactor: 1, configs: [] });
    assert.equal((await summary(`${aws.prefix}defaulted`)).RetentionPeriodHours, 48);
    assert.equal((await node.topic('defaulted'))?.recordFormat, 'kafka');
    const format = (await node.describeTopicConfigs('defaulted')).find((c) => c.name === 'kinesis.record.format');
    assert.equal(format?.source, ConfigSource.STATIC_BROKER_CONFIG);
    assert.deepEqual(format?.synonyms.map((s) => [s.name, s.value, s.source]), [
      ['kinesis.record.format', 'kafka', ConfigSource.STATIC_BROKER_CONFIG],
      ['kinesis.record.format', 'kpl', ConfigSource.DEFAULT_CONFIG],
    ]);
    const broker = new Map(node.brokerConfigs().map((c) => [c.name, c]));
    assert.equal(broker.get('log.retention.ms')?.value, String(48 * 3_600_000));
    assert.equal(broker.get('num.partitions')?.value, '2');
    assert.ok([...broker.values()].every((c) => c.readOnly));
    assert.throws(() => otherNode({ clusterDefaults: { 'cleanup.policy': 'compact' } }), TopicError);
  });
});

describe('KinesisTopicManager: createPartitions', () => {
  test('adds partition-map epochs; the shard count stays where kinesalite cannot reshard', async () => {
    await manager.createTopic({ name: 'growing', partitions: 2, replicationFactor: 1, configs: [] });
    const t0 = Date.now();
    await manager.createPartitions('growing', 5);
    await manager.createPartitions('growing', 6);
    const topic = await manager.topic('growing');
    assert.equal(topic?.partitionCount, 6);
    assert.deepEqual(topic?.partitionMaps.map((m) => [m.epoch, m.partitionCount]), [[0, 2], [1, 5], [2, 6]]);
    assert.ok(topic!.partitionMaps[1]!.sinceMs >= t0);
    assert.ok(topic!.partitionMaps[2]!.sinceMs >= topic!.partitionMaps[1]!.sinceMs);
    const shards = await aws.kinesis.send(new ListShardsCommand({ StreamName: `${aws.prefix}growing` }));
    assert.equal(shards.Shards?.length, 2);
    // Other nodes see the new count.
    assert.equal((await otherNode().getTopic('growing'))?.partitionCount, 6);
  });

  test('refuses a count that does not grow, validates only when asked', async () => {
    await rejectsWith(manager.createPartitions('growing', 6), ErrorCode.INVALID_PARTITIONS, /already has 6/);
    await rejectsWith(manager.createPartitions('growing', 3), ErrorCode.INVALID_PARTITIONS, /higher than the requested 3/);
    await manager.createPartitions('growing', 10, true);
    assert.equal((await manager.topic('growing'))?.partitionCount, 6);
    await rejectsWith(manager.createPartitions('no-such-topic', 3), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });
});

describe('KinesisTopicManager: auto-creation', () => {
  test('creates a missing topic with the default partitions when enabled', async () => {
    const outcome = await manager.autoCreateTopic('auto-made');
    assert.ok('topic' in outcome, JSON.stringify(outcome));
    assert.equal(outcome.topic.partitionCount, 2);
    assert.equal((await summary(`${aws.prefix}auto-made`)).OpenShardCount, 2);
    const again = await manager.autoCreateTopic('auto-made');
    assert.ok('topic' in again && again.topic.topicId === outcome.topic.topicId);
  });

  test('concurrent auto-creations of one name create it once', async () => {
    const outcomes = await Promise.all([1, 2, 3].map(() => manager.autoCreateTopic('auto-many')));
    const ids = new Set(outcomes.map((o) => ('topic' in o ? o.topic.topicId : `error ${o.errorCode}`)));
    assert.equal(ids.size, 1, [...ids].join(','));
  });

  test('is refused when disabled or for invalid names', async () => {
    const off = otherNode({ autoCreateTopics: false });
    const outcome = await off.autoCreateTopic('never-made');
    assert.ok('errorCode' in outcome);
    assert.equal(outcome.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal(await streamExists(`${aws.prefix}never-made`), false);
    const invalid = await manager.autoCreateTopic('bad name');
    assert.ok('errorCode' in invalid && invalid.errorCode === ErrorCode.INVALID_TOPIC_EXCEPTION);
  });
});
