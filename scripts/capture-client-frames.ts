/**
 * Captures request frames from real Kafka clients into test/fixtures/client-frames/, for the
 * byte-exact codec tests (test/protocol/client-frames.test.ts). Run by hand when a client or the
 * set of captured APIs changes:
 *
 *   node --import tsx scripts/capture-client-frames.ts
 *
 * It starts the test-only scripted broker (test/support/scripted-broker.ts) and drives, one at a
 * time, kafkajs (producer, group consumer), kcat (librdkafka: -P, then -C without a group) and
 * Debian's python confluent-kafka (librdkafka: producer, consumer with assign()). Each client
 * produces three keyed records with headers to partition 1 of its own topic, uncompressed and
 * then compressed, and reads them back. Per client and per (API, version) one frame is kept:
 * the first, except Metadata (the first naming the client's topic), Fetch (the one with the
 * highest fetch offset, i.e. after the last record) and Produce (one per compression codec).
 * Files: <client>/<api>-v<version>[-<codec>].bin (the request without its size prefix: header
 * and body) and index.json describing each.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  API_NAMES,
  ApiKey,
  fetchRequest,
  metadataRequest,
  produceRequest,
  requestHeader,
  requestHeaderVersion,
} from '../src/protocol/messages/index.js';
import { Reader } from '../src/protocol/primitives.js';
import { compressionName } from '../src/protocol/records/compression.js';
import { readBatchHeader, splitBatches } from '../src/protocol/records/record-batch.js';
import {
  kafkajsConsume,
  kafkajsProduce,
  kcatConsume,
  kcatProduce,
  pythonConsume,
  pythonProduce,
  type ClientRecord,
  type CodecName,
} from '../test/support/client-drivers.js';
import { DEBIAN_PYTHON } from '../test/support/librdkafka.js';
import { ScriptedBroker, type CapturedFrame } from '../test/support/scripted-broker.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUT = join(ROOT, 'test', 'fixtures', 'client-frames');

interface CaptureClient {
  readonly name: string;
  readonly library: string;
  readonly clientId: string;
  readonly topic: string;
  /** Codecs produced, one Produce request each, in order. */
  readonly codecs: readonly CodecName[];
  run(broker: ScriptedBroker, client: CaptureClient): Promise<void>;
}

const PARTITION = 1;
const FILLER = 'the quick brown fox jumps over the lazy dog; '.repeat(3);

function recordsFor(client: string, withTimestamps: boolean): ClientRecord[] {
  return [0, 1, 2].map((i) => ({
    key: Buffer.from(`key-${i}`),
    value: Buffer.from(`value-${i} ${FILLER}`),
    headers: [
      ['source', Buffer.from('capture')],
      ['client', Buffer.from(client)],
    ],
    timestamp: withTimestamps ? 1_700_000_000_000n + BigInt(i) : null,
  }));
}

function fetchOffsetsSeen(broker: ScriptedBroker, client: CaptureClient): bigint[] {
  return broker
    .framesFor(client.name)
    .filter((f) => f.apiKey === ApiKey.Fetch)
    .flatMap((f) => {
      const reader = new Reader(f.bytes);
      requestHeader.decode(reader, requestHeaderVersion(f.apiKey, f.apiVersion));
      const request = fetchRequest.decode(reader, f.apiVersion);
      return request.topics.flatMap((t) => t.partitions.filter((p) => p.partition === PARTITION).map((p) => p.fetchOffset));
    });
}

async function untilFetchAt(broker: ScriptedBroker, client: CaptureClient, offset: bigint): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!fetchOffsetsSeen(broker, client).includes(offset)) {
    if (Date.now() > deadline) throw new Error(`${client.name}: no Fetch at offset ${offset}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function totalRecords(client: CaptureClient): number {
  return client.codecs.length * 3;
}

const CLIENTS: readonly CaptureClient[] = [
  {
    name: 'kafkajs',
    library: `kafkajs ${(JSON.parse(readFileSync(join(ROOT, 'node_modules/kafkajs/package.json'), 'utf8')) as { version: string }).version}`,
    clientId: 'kkg-capture-kafkajs',
    topic: 'frames-kafkajs',
    codecs: ['none', 'gzip'],
    async run(broker, client) {
      for (const compression of client.codecs) {
        await kafkajsProduce(broker.bootstrap, {
          clientId: client.clientId,
          topic: client.topic,
          partition: PARTITION,
          compression,
          records: recordsFor(client.name, true),
        });
      }
      const total = totalRecords(client);
      const consumed = await kafkajsConsume(broker.bootstrap, {
        clientId: client.clientId,
        groupId: 'capture-kafkajs',
        topic: client.topic,
        count: total,
        beforeDisconnect: () => untilFetchAt(broker, client, BigInt(total)),
      });
      if (consumed.length !== total) throw new Error(`kafkajs consumed ${consumed.length} of ${total}`);
    },
  },
  {
    name: 'kcat',
    library: execFileSync('kcat', ['-V']).toString().match(/librdkafka [0-9.]+/)?.[0] ?? 'librdkafka',
    clientId: 'kkg-capture-kcat',
    topic: 'frames-kcat',
    codecs: ['none', 'snappy'],
    async run(broker, client) {
      for (const compression of client.codecs) {
        await kcatProduce(broker.bootstrap, {
          clientId: client.clientId,
          topic: client.topic,
          partition: PARTITION,
          compression,
          records: recordsFor(client.name, false),
        });
      }
      const consumed = await kcatConsume(broker.bootstrap, { clientId: client.clientId, topic: client.topic, partition: PARTITION });
      if (consumed.length !== totalRecords(client)) throw new Error(`kcat consumed ${consumed.length}`);
    },
  },
  {
    name: 'confluent-kafka-python',
    library: `confluent-kafka ${execFileSync(DEBIAN_PYTHON, ['-c', 'import confluent_kafka as c; print(c.version()[0], "/ librdkafka", c.libversion()[0])']).toString().trim()}`,
    clientId: 'kkg-capture-python',
    topic: 'frames-python',
    codecs: ['none', 'gzip', 'snappy', 'lz4', 'zstd'],
    async run(broker, client) {
      for (const compression of client.codecs) {
        await pythonProduce(broker.bootstrap, {
          clientId: client.clientId,
          topic: client.topic,
          partition: PARTITION,
          compression,
          records: recordsFor(client.name, true),
        });
      }
      const total = totalRecords(client);
      // offset -2 (OFFSET_BEGINNING) makes librdkafka ask ListOffsets for the earliest offset
      const consumed = await pythonConsume(broker.bootstrap, {
        clientId: client.clientId,
        topic: client.topic,
        partition: PARTITION,
        offset: -2,
        count: total,
      });
      if (consumed.length !== total) throw new Error(`confluent-kafka consumed ${consumed.length}`);
    },
  },
];

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

function bodyReader(frame: CapturedFrame): Reader {
  const reader = new Reader(frame.bytes);
  requestHeader.decode(reader, requestHeaderVersion(frame.apiKey, frame.apiVersion));
  return reader;
}

/** The codec of the first batch of a Produce request, or null for none. */
function produceCodec(frame: CapturedFrame): string | null {
  const request = produceRequest.decode(bodyReader(frame), frame.apiVersion);
  const records = request.topicData[0]?.partitionData[0]?.records;
  if (records === null || records === undefined) return null;
  const batch = splitBatches(records).batches[0];
  if (batch === undefined) return null;
  const codec = readBatchHeader(batch).compression;
  return codec === 0 ? null : compressionName(codec);
}

function maxFetchOffset(frame: CapturedFrame): bigint {
  const request = fetchRequest.decode(bodyReader(frame), frame.apiVersion);
  let max = -1n;
  for (const t of request.topics) for (const p of t.partitions) if (p.fetchOffset > max) max = p.fetchOffset;
  return max;
}

function namesTopic(frame: CapturedFrame, topic: string): boolean {
  const request = metadataRequest.decode(bodyReader(frame), frame.apiVersion);
  return (request.topics ?? []).some((t) => t.name === topic);
}

interface Selected {
  readonly file: string;
  readonly frame: CapturedFrame;
  readonly note: string;
}

function select(frames: readonly CapturedFrame[], client: CaptureClient): Selected[] {
  const groups = new Map<string, CapturedFrame[]>();
  for (const frame of frames) {
    const variant = frame.apiKey === ApiKey.Produce ? produceCodec(frame) : null;
    const api = kebab(API_NAMES.get(frame.apiKey) ?? `api-${frame.apiKey}`);
    const file = `${api}-v${frame.apiVersion}${variant === null ? '' : `-${variant}`}.bin`;
    groups.set(file, [...(groups.get(file) ?? []), frame]);
  }
  const selected: Selected[] = [];
  for (const [file, candidates] of groups) {
    const first = candidates[0] as CapturedFrame;
    let frame = first;
    let note = 'first request of this API and version';
    if (first.apiKey === ApiKey.Metadata) {
      frame = candidates.find((f) => namesTopic(f, client.topic)) ?? first;
      note = namesTopic(frame, client.topic) ? `first Metadata naming ${client.topic}` : note;
    } else if (first.apiKey === ApiKey.Fetch) {
      frame = candidates.reduce((best, f) => (maxFetchOffset(f) > maxFetchOffset(best) ? f : best));
      note = `Fetch with the highest fetch offset (${maxFetchOffset(frame)})`;
    } else if (first.apiKey === ApiKey.Produce) {
      note = `Produce of 3 records, ${produceCodec(first) ?? 'uncompressed'}`;
    }
    selected.push({ file, frame, note });
  }
  return selected.sort((a, b) => a.frame.apiKey - b.frame.apiKey || a.file.localeCompare(b.file));
}

async function main(): Promise<void> {
  const broker = await ScriptedBroker.start({
    topics: CLIENTS.map((c) => ({ name: c.topic, partitions: 2 })),
  });
  const index: Record<string, unknown>[] = [];
  try {
    for (const client of CLIENTS) {
      broker.clientTag = client.name;
      process.stdout.write(`${client.name} (${client.library})... `);
      await client.run(broker, client);
      // let trailing requests (commits, leave-group) arrive
      await new Promise((resolve) => setTimeout(resolve, 300));
      const frames = broker.framesFor(client.name);
      const dir = join(OUT, client.name);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const selected = select(frames, client);
      for (const { file, frame } of selected) writeFileSync(join(dir, file), frame.bytes);
      index.push({
        client: client.name,
        library: client.library,
        clientId: client.clientId,
        topic: client.topic,
        partition: PARTITION,
        producedCodecs: client.codecs,
        recordsPerProduce: 3,
        frames: selected.map(({ file, frame, note }) => ({
          file,
          api: API_NAMES.get(frame.apiKey),
          apiKey: frame.apiKey,
          apiVersion: frame.apiVersion,
          correlationId: frame.correlationId,
          clientId: frame.clientId,
          bytes: frame.bytes.length,
          note,
        })),
      });
      console.log(`${frames.length} requests, ${selected.length} kept`);
    }
  } finally {
    await broker.stop();
  }
  writeFileSync(
    join(OUT, 'index.json'),
    `${JSON.stringify({ capturedWith: 'scripts/capture-client-frames.ts', clients: index }, null, 2)}\n`,
  );
  console.log(`wrote ${OUT}`);
}

await main();
