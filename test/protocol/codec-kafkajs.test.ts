// Cross-checks the generated codecs against an independent implementation: requests encoded by
// kafkajs are decoded by the gateway's codecs, responses encoded by the codecs are decoded by kafkajs.
// kafkajs only speaks classic (non-flexible) versions; codec-bytes.test.ts covers the flexible ones.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import {
  apiVersionsResponse,
  createApiVersionsResponseApiVersion,
  createMetadataResponseMetadataResponseBroker,
  createMetadataResponseMetadataResponsePartition,
  createMetadataResponseMetadataResponseTopic,
  fetchRequest,
  joinGroupRequest,
  metadataRequest,
  metadataResponse,
  produceRequest,
  requestHeader,
  type MetadataResponse,
} from '../../src/protocol/messages/index.js';
import { Reader, Writer } from '../../src/protocol/primitives.js';

const require = createRequire(import.meta.url);

interface KafkajsRequest {
  apiKey: number;
  apiVersion: number;
  encode(): Promise<{ buffer: Buffer }>;
}
type RequestFactory = (args: Record<string, unknown>) => KafkajsRequest;
type ResponseDecoder = { decode(data: Buffer): Promise<Record<string, unknown>> };
type Framer = (args: { correlationId: number; clientId: string; request: KafkajsRequest }) => Promise<{ buffer: Buffer }>;

const kafkajsRequest = (api: string, version: number): RequestFactory =>
  require(`kafkajs/src/protocol/requests/${api}/v${version}/request.js`) as RequestFactory;
const kafkajsResponse = (api: string, version: number): ResponseDecoder =>
  require(`kafkajs/src/protocol/requests/${api}/v${version}/response.js`) as ResponseDecoder;
const frame = require('kafkajs/src/protocol/request.js') as Framer;

async function bodyOf(request: KafkajsRequest): Promise<Reader> {
  return new Reader(Buffer.from((await request.encode()).buffer));
}

test('a kafkajs request frame decodes as size, RequestHeader v1 and MetadataRequest v4', async () => {
  const request = kafkajsRequest('metadata', 4)({ topics: ['orders', 'payments'], allowAutoTopicCreation: false });
  const bytes = Buffer.from((await frame({ correlationId: 77, clientId: 'my-client', request })).buffer);
  const reader = new Reader(bytes);
  assert.equal(reader.int32(), bytes.length - 4);
  const header = requestHeader.decode(reader, 1);
  assert.deepEqual(header, { requestApiKey: 3, requestApiVersion: 4, correlationId: 77, clientId: 'my-client' });
  const body = metadataRequest.decode(reader, 4);
  assert.equal(reader.remaining, 0);
  assert.deepEqual(
    body.topics?.map((t) => t.name),
    ['orders', 'payments'],
  );
  assert.equal(body.allowAutoTopicCreation, false);
});

test('kafkajs MetadataRequest v1 for all topics (a null array) decodes to null', async () => {
  // kafkajs writes an empty topic list as the null array (-1).
  const reader = await bodyOf(kafkajsRequest('metadata', 1)({ topics: [] }));
  assert.equal(metadataRequest.decode(reader, 1).topics, null);
});

test('kafkajs ProduceRequest v3 decodes, with the record batch as a zero-copy view', async () => {
  const request = kafkajsRequest('produce', 3)({
    acks: -1,
    timeout: 30000,
    topicData: [
      {
        topic: 'orders',
        partitions: [{ partition: 2, firstSequence: 0, messages: [{ key: 'k', value: 'v1' }, { value: 'v2' }] }],
      },
    ],
  });
  const bytes = Buffer.from((await request.encode()).buffer);
  const reader = new Reader(bytes);
  const decoded = produceRequest.decode(reader, 3);
  assert.equal(reader.remaining, 0);
  assert.equal(decoded.transactionalId, null);
  assert.equal(decoded.acks, -1);
  assert.equal(decoded.timeoutMs, 30000);
  assert.equal(decoded.topicData.length, 1);
  const topic = decoded.topicData[0];
  assert.equal(topic?.name, 'orders');
  const partition = topic?.partitionData[0];
  assert.equal(partition?.index, 2);
  const records = partition?.records;
  assert.ok(records instanceof Buffer && records.length > 61);
  assert.equal(records.readInt8(16), 2, 'record batch magic');
  assert.equal(records.buffer, bytes.buffer, 'records share the request buffer');

  const writer = new Writer();
  produceRequest.encode(writer, decoded, 3);
  assert.deepEqual(writer.finish(), bytes);
});

test('kafkajs FetchRequest v11 decodes', async () => {
  const request = kafkajsRequest('fetch', 11)({
    replicaId: -1,
    maxWaitTime: 500,
    minBytes: 1,
    maxBytes: 52428800,
    isolationLevel: 1,
    sessionId: 0,
    sessionEpoch: -1,
    rackId: 'use1-az1',
    topics: [{ topic: 'orders', partitions: [{ partition: 0, fetchOffset: '1234', maxBytes: 1048576 }] }],
  });
  const reader = await bodyOf(request);
  const decoded = fetchRequest.decode(reader, 11);
  assert.equal(reader.remaining, 0);
  assert.equal(decoded.replicaId, -1);
  assert.equal(decoded.maxWaitMs, 500);
  assert.equal(decoded.maxBytes, 52428800);
  assert.equal(decoded.isolationLevel, 1);
  assert.equal(decoded.sessionEpoch, -1);
  assert.equal(decoded.rackId, 'use1-az1');
  assert.deepEqual(decoded.forgottenTopicsData, []);
  const partition = decoded.topics[0]?.partitions[0];
  assert.equal(decoded.topics[0]?.topic, 'orders');
  assert.equal(partition?.fetchOffset, 1234n);
  assert.equal(partition?.currentLeaderEpoch, -1);
  assert.equal(partition?.logStartOffset, -1n);
  assert.equal(partition?.partitionMaxBytes, 1048576);
});

test('kafkajs JoinGroupRequest v5 decodes, with a null group instance id', async () => {
  const metadata = Buffer.from([0, 1, 0, 0, 0, 1, 0, 6]);
  const request = kafkajsRequest('joinGroup', 5)({
    groupId: 'g',
    sessionTimeout: 30000,
    rebalanceTimeout: 60000,
    memberId: '',
    protocolType: 'consumer',
    groupProtocols: [{ name: 'RoundRobinAssigner', metadata }],
  });
  const reader = await bodyOf(request);
  const decoded = joinGroupRequest.decode(reader, 5);
  assert.equal(reader.remaining, 0);
  assert.equal(decoded.groupInstanceId, null);
  assert.equal(decoded.rebalanceTimeoutMs, 60000);
  assert.deepEqual(decoded.protocols, [{ name: 'RoundRobinAssigner', metadata }]);
});

test('MetadataResponse v5 encoded by the codec decodes in kafkajs', async () => {
  const value: MetadataResponse = {
    ...metadataResponse.create(),
    throttleTimeMs: 5,
    brokers: [{ ...createMetadataResponseMetadataResponseBroker(), nodeId: 1, host: 'gw-1', port: 9092, rack: null }],
    clusterId: 'cluster-x',
    controllerId: 1,
    topics: [
      {
        ...createMetadataResponseMetadataResponseTopic(),
        name: 'orders',
        partitions: [
          {
            ...createMetadataResponseMetadataResponsePartition(),
            partitionIndex: 0,
            leaderId: 1,
            replicaNodes: [1],
            isrNodes: [1],
            offlineReplicas: [],
          },
        ],
      },
    ],
  };
  const writer = new Writer();
  metadataResponse.encode(writer, value, 5);
  const decoded = await kafkajsResponse('metadata', 5).decode(Buffer.from(writer.finish()));
  assert.deepEqual(decoded, {
    throttleTime: 5,
    brokers: [{ nodeId: 1, host: 'gw-1', port: 9092, rack: null }],
    clusterId: 'cluster-x',
    controllerId: 1,
    topicMetadata: [
      {
        topicErrorCode: 0,
        topic: 'orders',
        isInternal: false,
        partitionMetadata: [
          { partitionErrorCode: 0, partitionId: 0, leader: 1, replicas: [1], isr: [1], offlineReplicas: [] },
        ],
      },
    ],
  });
});

test('ApiVersionsResponse v2 encoded by the codec decodes in kafkajs', async () => {
  const writer = new Writer();
  apiVersionsResponse.encode(
    writer,
    {
      ...apiVersionsResponse.create(),
      apiKeys: [{ ...createApiVersionsResponseApiVersion(), apiKey: 0, minVersion: 3, maxVersion: 11 }],
      throttleTimeMs: 0,
    },
    2,
  );
  const decoded = await kafkajsResponse('apiVersions', 2).decode(Buffer.from(writer.finish()));
  assert.deepEqual(decoded.apiVersions, [{ apiKey: 0, minVersion: 3, maxVersion: 11 }]);
  assert.equal(decoded.errorCode, 0);
});
