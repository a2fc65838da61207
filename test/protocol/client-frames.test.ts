// Byte-exact checks of the generated codecs against request frames captured from real clients
// (kafkajs, and librdkafka through kcat and python confluent-kafka), kept in
// test/fixtures/client-frames/ by scripts/capture-client-frames.ts. Every frame must decode
// (header and body, nothing left over) and re-encode to the identical bytes; on top of that the
// decoded fields must be the ones the capture script made the client send, so a decoding that
// happens to round-trip but reads fields wrongly still fails.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ApiKey,
  REQUEST_CODECS,
  apiVersionsRequest,
  fetchRequest,
  findCoordinatorRequest,
  joinGroupRequest,
  leaveGroupRequest,
  listOffsetsRequest,
  metadataRequest,
  offsetCommitRequest,
  offsetFetchRequest,
  produceRequest,
  requestHeader,
  requestHeaderVersion,
  syncGroupRequest,
  type RequestHeader,
} from '../../src/protocol/messages/index.js';
import { Reader, Writer } from '../../src/protocol/primitives.js';
import { compressionName } from '../../src/protocol/records/compression.js';
import { decodeBatch, recordTimestamp, splitBatches } from '../../src/protocol/records/record-batch.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/client-frames/', import.meta.url));

interface IndexedFrame {
  file: string;
  api: string;
  apiKey: number;
  apiVersion: number;
  correlationId: number;
  clientId: string | null;
  bytes: number;
  note: string;
}

interface IndexedClient {
  client: string;
  library: string;
  clientId: string;
  topic: string;
  partition: number;
  producedCodecs: string[];
  recordsPerProduce: number;
  frames: IndexedFrame[];
}

const index = JSON.parse(readFileSync(join(FIXTURES, 'index.json'), 'utf8')) as { clients: IndexedClient[] };

/** What the capture script made each client do; kept here so that the index cannot vouch for itself. */
interface Expected {
  readonly library: 'kafkajs' | 'librdkafka';
  readonly clientId: string;
  readonly topic: string;
  /** ApiVersions v3+ software name and a pattern for the version; null where the version has none. */
  readonly software: readonly [string, RegExp] | null;
  readonly allowAutoTopicCreation: boolean;
  readonly codecs: readonly string[];
  /** Whether the client set the records' CreateTime (kcat cannot). */
  readonly timestamps: boolean;
  readonly groupId: string | null;
}

const EXPECTED: Readonly<Record<string, Expected>> = {
  kafkajs: {
    library: 'kafkajs',
    clientId: 'kkg-capture-kafkajs',
    topic: 'frames-kafkajs',
    software: null,
    allowAutoTopicCreation: false,
    codecs: ['none', 'gzip'],
    timestamps: true,
    groupId: 'capture-kafkajs',
  },
  kcat: {
    library: 'librdkafka',
    clientId: 'kkg-capture-kcat',
    topic: 'frames-kcat',
    software: ['librdkafka', /^2\.\d+\.\d+$/],
    allowAutoTopicCreation: true,
    codecs: ['none', 'snappy'],
    timestamps: false,
    groupId: null,
  },
  'confluent-kafka-python': {
    library: 'librdkafka',
    clientId: 'kkg-capture-python',
    topic: 'frames-python',
    software: ['confluent-kafka-python', /^\d+\.\d+\.\d+-rdkafka-2\.\d+\.\d+$/],
    allowAutoTopicCreation: true,
    codecs: ['none', 'gzip', 'snappy', 'lz4', 'zstd'],
    timestamps: true,
    // confluent-kafka requires a group id even for assign(); librdkafka then looks up its coordinator
    groupId: 'kkg-unused-group',
  },
};

const PARTITION = 1;
const FIRST_TIMESTAMP = 1_700_000_000_000n;

interface Decoded {
  header: RequestHeader;
  body: unknown;
  reencoded: Buffer;
}

function decodeFrame(bytes: Buffer): Decoded {
  const apiKey = bytes.readInt16BE(0);
  const apiVersion = bytes.readInt16BE(2);
  const codec = REQUEST_CODECS.get(apiKey);
  assert.ok(codec, `no request codec for API key ${apiKey}`);
  const headerVersion = requestHeaderVersion(apiKey, apiVersion);
  const reader = new Reader(bytes);
  const header = requestHeader.decode(reader, headerVersion);
  const body = codec.decode(reader, apiVersion);
  assert.equal(reader.remaining, 0, 'bytes left after the request body');
  const writer = new Writer(bytes.length);
  requestHeader.encode(writer, header, headerVersion);
  codec.encode(writer, body, apiVersion);
  return { header, body, reencoded: writer.finish() };
}

/** The body decoded again with the concrete codec, so the field checks are typed. */
function bodyOf<T>(bytes: Buffer, decode: (reader: Reader, version: number) => T): T {
  const apiKey = bytes.readInt16BE(0);
  const apiVersion = bytes.readInt16BE(2);
  const reader = new Reader(bytes);
  requestHeader.decode(reader, requestHeaderVersion(apiKey, apiVersion));
  return decode(reader, apiVersion);
}

function firstDifference(a: Buffer, b: Buffer): string {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return `first difference at byte ${i}: 0x${a[i]?.toString(16)} vs 0x${b[i]?.toString(16)}`;
  }
  return `lengths ${a.length} vs ${b.length}`;
}

async function checkProduce(bytes: Buffer, file: string, client: IndexedClient, expected: Expected): Promise<void> {
  const request = bodyOf(bytes, produceRequest.decode);
  assert.equal(request.acks, -1);
  assert.equal(request.timeoutMs, 30_000);
  assert.equal(request.transactionalId, null);
  assert.equal(request.topicData.length, 1);
  const topic = request.topicData[0];
  assert.equal(topic?.name, expected.topic);
  assert.deepEqual(topic?.partitionData.map((p) => p.index), [PARTITION]);
  const records = topic?.partitionData[0]?.records;
  assert.ok(records);
  const { batches, trailing } = splitBatches(records);
  assert.equal(trailing.length, 0);
  assert.equal(batches.length, 1);
  const batch = await decodeBatch(batches[0] as Buffer); // checks the CRC too
  const codec = /-v\d+-([a-z0-9]+)\.bin$/.exec(file)?.[1] ?? 'none';
  assert.equal(compressionName(batch.header.compression), codec, 'batch attributes name the codec of the file');
  assert.equal(batch.header.producerId, -1n);
  assert.equal(batch.records.length, client.recordsPerProduce);
  batch.records.forEach((record, i) => {
    assert.equal(record.offsetDelta, i);
    assert.equal(record.key?.toString(), `key-${i}`);
    assert.match(record.value?.toString() ?? '', new RegExp(`^value-${i} the quick brown fox`));
    assert.deepEqual(
      record.headers.map((h) => [h.key, h.value?.toString()]),
      [
        ['source', 'capture'],
        ['client', client.client],
      ],
    );
    if (expected.timestamps) assert.equal(recordTimestamp(batch.header, record), FIRST_TIMESTAMP + BigInt(i));
  });
}

function checkFetch(bytes: Buffer, client: IndexedClient, expected: Expected): void {
  const request = bodyOf(bytes, fetchRequest.decode);
  assert.equal(request.replicaId, -1);
  assert.equal(request.isolationLevel, 1, 'read_committed');
  assert.ok(request.maxWaitMs > 0 && request.maxWaitMs <= 500, `maxWaitMs ${request.maxWaitMs}`);
  assert.ok(request.maxBytes >= 1 << 20, `maxBytes ${request.maxBytes}`);
  assert.equal(request.minBytes, 1);
  assert.deepEqual(request.topics.map((t) => t.topic), [expected.topic]);
  const partition = request.topics[0]?.partitions.find((p) => p.partition === PARTITION);
  assert.ok(partition, 'fetches the produced partition');
  // the capture keeps the fetch after the last record: every produced record was consumed
  assert.equal(partition.fetchOffset, BigInt(expected.codecs.length * client.recordsPerProduce));
  assert.equal(partition.partitionMaxBytes, 1 << 20);
}

function checkBody(apiKey: number, bytes: Buffer, expected: Expected): void {
  switch (apiKey) {
    case ApiKey.ApiVersions: {
      const request = bodyOf(bytes, apiVersionsRequest.decode);
      if (expected.software === null) {
        assert.deepEqual([request.clientSoftwareName, request.clientSoftwareVersion], ['', '']);
      } else {
        assert.equal(request.clientSoftwareName, expected.software[0]);
        assert.match(request.clientSoftwareVersion, expected.software[1]);
      }
      break;
    }
    case ApiKey.Metadata: {
      const request = bodyOf(bytes, metadataRequest.decode);
      assert.deepEqual(request.topics?.map((t) => t.name), [expected.topic]);
      assert.equal(request.allowAutoTopicCreation, expected.allowAutoTopicCreation);
      break;
    }
    case ApiKey.ListOffsets: {
      const request = bodyOf(bytes, listOffsetsRequest.decode);
      assert.equal(request.replicaId, -1);
      assert.deepEqual(request.topics.map((t) => t.name), [expected.topic]);
      const partition = request.topics[0]?.partitions.find((p) => p.partitionIndex === PARTITION);
      assert.equal(partition?.timestamp, -2n, 'asks for the earliest offset');
      break;
    }
    case ApiKey.FindCoordinator: {
      const request = bodyOf(bytes, findCoordinatorRequest.decode);
      assert.equal(request.key, expected.groupId);
      assert.equal(request.keyType, 0);
      break;
    }
    case ApiKey.JoinGroup: {
      const request = bodyOf(bytes, joinGroupRequest.decode);
      assert.equal(request.groupId, expected.groupId);
      assert.equal(request.sessionTimeoutMs, 10_000);
      assert.equal(request.protocolType, 'consumer');
      assert.equal(request.memberId, '');
      assert.deepEqual(request.protocols.map((p) => p.name), ['RoundRobinAssigner']);
      // ConsumerProtocolSubscription v1+: version int16, then the topic array, which names ours
      assert.ok(request.protocols[0]?.metadata.includes(Buffer.from(expected.topic)));
      break;
    }
    case ApiKey.SyncGroup: {
      const request = bodyOf(bytes, syncGroupRequest.decode);
      assert.equal(request.groupId, expected.groupId);
      assert.equal(request.generationId, 1);
      assert.equal(request.memberId, 'member-1');
      assert.deepEqual(request.assignments.map((a) => a.memberId), ['member-1']);
      assert.ok(request.assignments[0]?.assignment.includes(Buffer.from(expected.topic)));
      break;
    }
    case ApiKey.OffsetFetch: {
      const request = bodyOf(bytes, offsetFetchRequest.decode);
      assert.equal(request.groupId, expected.groupId);
      assert.deepEqual(request.topics, [{ name: expected.topic, partitionIndexes: [0, 1] }]);
      break;
    }
    case ApiKey.OffsetCommit: {
      const request = bodyOf(bytes, offsetCommitRequest.decode);
      assert.equal(request.groupId, expected.groupId);
      assert.equal(request.generationIdOrMemberEpoch, 1);
      assert.equal(request.memberId, 'member-1');
      assert.deepEqual(request.topics.map((t) => t.name), [expected.topic]);
      const partition = request.topics[0]?.partitions.find((p) => p.partitionIndex === PARTITION);
      assert.ok(partition !== undefined && partition.committedOffset > 0n, 'commits progress on the produced partition');
      break;
    }
    case ApiKey.LeaveGroup: {
      const request = bodyOf(bytes, leaveGroupRequest.decode);
      assert.equal(request.groupId, expected.groupId);
      assert.deepEqual(request.members.map((m) => m.memberId), ['member-1']);
      break;
    }
    default:
      assert.fail(`no field checks for API key ${apiKey}: add some`);
  }
}

describe('captured client frames', () => {
  it('cover ApiVersions, Metadata, Produce and Fetch for both kafkajs and librdkafka', () => {
    const apisBy = new Map<string, Set<number>>();
    for (const client of index.clients) {
      const expected = EXPECTED[client.client];
      assert.ok(expected, `unexpected client ${client.client}`);
      const apis = apisBy.get(expected.library) ?? new Set<number>();
      for (const frame of client.frames) apis.add(frame.apiKey);
      apisBy.set(expected.library, apis);
    }
    for (const library of ['kafkajs', 'librdkafka']) {
      for (const api of [ApiKey.ApiVersions, ApiKey.Metadata, ApiKey.Produce, ApiKey.Fetch]) {
        assert.ok(apisBy.get(library)?.has(api), `${library} has no captured frame for API ${api}`);
      }
    }
    assert.deepEqual(index.clients.map((c) => c.client).sort(), Object.keys(EXPECTED).sort());
  });

  for (const client of index.clients) {
    describe(`${client.client} (${client.library})`, () => {
      const expected = EXPECTED[client.client] as Expected;
      const dir = join(FIXTURES, client.client);

      it('index lists exactly the fixture files, with the client and topic the capture used', () => {
        assert.ok(existsSync(dir));
        assert.deepEqual(readdirSync(dir).sort(), client.frames.map((f) => f.file).sort());
        assert.equal(client.clientId, expected.clientId);
        assert.equal(client.topic, expected.topic);
        assert.deepEqual(client.producedCodecs, expected.codecs);
        const produceFiles = client.frames.filter((f) => f.apiKey === ApiKey.Produce).map((f) => f.file);
        assert.equal(produceFiles.length, expected.codecs.length, 'one Produce frame per codec');
      });

      for (const frame of client.frames) {
        it(`${frame.file}: decodes, re-encodes byte for byte, and reads the fields the client sent`, async () => {
          const bytes = readFileSync(join(dir, frame.file));
          assert.equal(bytes.length, frame.bytes);
          const { header, reencoded } = decodeFrame(bytes);
          assert.ok(reencoded.equals(bytes), `re-encoding differs: ${firstDifference(reencoded, bytes)}`);

          assert.equal(header.requestApiKey, frame.apiKey);
          assert.equal(header.requestApiVersion, frame.apiVersion);
          assert.equal(header.correlationId, frame.correlationId);
          assert.equal(header.clientId, expected.clientId);
          assert.match(frame.file, new RegExp(`-v${frame.apiVersion}(-[a-z0-9]+)?\\.bin$`));

          if (frame.apiKey === ApiKey.Produce) await checkProduce(bytes, frame.file, client, expected);
          else if (frame.apiKey === ApiKey.Fetch) checkFetch(bytes, client, expected);
          else checkBody(frame.apiKey, bytes, expected);
        });
      }
    });
  }
});
