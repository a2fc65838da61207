/** Metadata's auto-creation rules (allow_auto_topic_creation by version) and topics being created. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import type { RequestContext } from '../../src/apis/handler.js';
import { metadataHandler, type MetadataAutoCreateOutcome } from '../../src/apis/metadata.js';
import { SingleNodeCluster } from '../../src/cluster/cluster.js';
import { StaticTopicCatalog, type TopicDescription } from '../../src/log/catalog.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { metadataRequest } from '../../src/protocol/messages/index.js';
import { ZERO_UUID } from '../../src/protocol/primitives.js';

const cluster = new SingleNodeCluster('cluster', { nodeId: 0, host: '127.0.0.1', port: 9092, rack: null });

function context(apiVersion: number): RequestContext {
  return { apiVersion, correlationId: 1, clientId: 'test', connectionId: 1, remoteAddress: '127.0.0.1', receivedAtMs: performance.now(), log: pino({ level: 'silent' }) };
}

function setup() {
  const asked: string[] = [];
  const made: TopicDescription = { name: 'made', topicId: '6f1f43a4-8b0e-4a57-9d55-6a1c4a7d9e10', partitionCount: 2, replicationFactor: 1, internal: false };
  const handler = metadataHandler({
    cluster,
    catalog: new StaticTopicCatalog(),
    streamPrefixLength: 0,
    autoCreate: async (name): Promise<MetadataAutoCreateOutcome> => {
      asked.push(name);
      return name === 'made' ? { topic: made } : { errorCode: ErrorCode.LEADER_NOT_AVAILABLE };
    },
    topicBeingCreated: (name) => name === 'in-progress',
  });
  const ask = async (version: number, names: string[], allow: boolean) => {
    const request = { ...metadataRequest.create(), topics: names.map((name) => ({ name, topicId: ZERO_UUID })), allowAutoTopicCreation: allow };
    const response = await handler.handle(request, context(version));
    assert.ok(response !== null);
    return response.topics.map((t) => [t.name, t.errorCode, t.partitions.length]);
  };
  return { asked, ask };
}

test('v4+ auto-creates only when allow_auto_topic_creation is set', async () => {
  const { asked, ask } = setup();
  assert.deepEqual(await ask(12, ['made'], true), [['made', 0, 2]]);
  assert.deepEqual(await ask(4, ['made'], false), [['made', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0]]);
  assert.deepEqual(await ask(9, ['slow'], true), [['slow', ErrorCode.LEADER_NOT_AVAILABLE, 0]]);
  assert.deepEqual(asked, ['made', 'slow']);
});

test('v0-3 always auto-create', async () => {
  const { asked, ask } = setup();
  for (const version of [0, 1, 2, 3]) assert.deepEqual(await ask(version, ['made'], false), [['made', 0, 2]]);
  assert.equal(asked.length, 4);
});

test('a topic this gateway is still creating is LEADER_NOT_AVAILABLE, not unknown', async () => {
  const { ask } = setup();
  assert.deepEqual(await ask(12, ['in-progress', 'absent'], false), [
    ['in-progress', ErrorCode.LEADER_NOT_AVAILABLE, 0],
    ['absent', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0],
  ]);
});
