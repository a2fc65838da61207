// Record-batch interop with real clients over the wire, for every codec (none, gzip, snappy, lz4,
// zstd), through the test-only scripted broker (test/support/scripted-broker.ts):
//
// - client -> gateway: kafkajs, kcat and python confluent-kafka (both librdkafka) produce the same
//   keyed records with headers; the batches they sent, decoded by our record layer, hold the same
//   keys, values and headers (and the timestamps the clients were told to use), and every batch's
//   attributes name the codec.
// - gateway -> client: batches built by our encoder with each codec (including a record large
//   enough to span several snappy chunks and lz4 blocks) are served by Fetch and consumed by kcat,
//   confluent-kafka (assign(), no group) and a kafkajs group consumer, with every offset, key,
//   value, header and timestamp intact.
//
// kafkajs only ships gzip; snappy, lz4 and zstd come from the kafkajs-snappy, kafkajs-lz4 and
// @sensejs/kafkajs-zstd-support plugins (see test/support/client-drivers.ts). A kafkajs leg whose
// plugin did not load is skipped and says so.

import { after, before, describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  CODEC_NAMES,
  kafkajsCodecs,
  kafkajsConsume,
  kafkajsHeaderOrder,
  kafkajsProduce,
  kcatConsume,
  kcatProduce,
  pythonConsume,
  pythonProduce,
  type ClientRecord,
  type CodecName,
  type ConsumedRecord,
} from '../support/client-drivers.js';
import { ScriptedBroker } from '../support/scripted-broker.js';
import { compressionName, compressionTypeFromName } from '../../src/protocol/records/compression.js';
import {
  decodeBatch,
  readBatchHeader,
  recordTimestamp,
  type EncodeBatchInput,
  encodeBatch,
} from '../../src/protocol/records/record-batch.js';

const PRODUCERS = ['kafkajs', 'kcat', 'confluent-kafka'] as const;
type Producer = (typeof PRODUCERS)[number];

const fromTopic = (producer: Producer, codec: CodecName): string => `from-${producer}-${codec}`;
const servedTopic = (codec: CodecName): string => `served-${codec}`;

let broker: ScriptedBroker;
let kafkajsHas: ReadonlySet<CodecName>;

before(async () => {
  kafkajsHas = await kafkajsCodecs();
  broker = await ScriptedBroker.start({
    topics: CODEC_NAMES.flatMap((codec) => [
      ...PRODUCERS.map((p) => ({ name: fromTopic(p, codec), partitions: 1 })),
      { name: servedTopic(codec), partitions: 1 },
    ]),
  });
});

after(async () => {
  await broker.stop();
});

// ---------------------------------------------------------------------------------------------
// comparison helpers

/** Readable, comparable form: text where it is short, a digest where it is long. */
function show(b: Buffer | null): string | null {
  if (b === null) return null;
  if (b.length <= 200) return b.toString('utf8');
  return `${b.length} bytes sha256:${createHash('sha256').update(b).digest('hex').slice(0, 16)}`;
}

interface Comparable {
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
}

function comparable(r: { key: Buffer | null; value: Buffer | null; headers: readonly (readonly [string, Buffer | null])[] }): Comparable {
  return { key: show(r.key), value: show(r.value), headers: r.headers.map(([k, v]) => [k, show(v)]) };
}

// ---------------------------------------------------------------------------------------------
// client -> gateway

const PRODUCED_BASE_TIMESTAMP = 1_700_000_200_000n;

/**
 * What every producer sends. kcat's -H applies one header set to every record and -K splits
 * keys from values at the first ':', so all records share headers and keys have no ':'.
 */
const PRODUCED: readonly ClientRecord[] = [0, 1, 2, 3].map((i) => ({
  key: Buffer.from(`order-${i}`),
  value: Buffer.from(`${i}: grüße, naïve café, €${i}, 😀; ${'compressible payload text '.repeat(6 + i)}`),
  headers: [
    ['trace-id', Buffer.from('7f3a9c01')],
    ['origin', Buffer.from('interop-test')],
    ['empty', Buffer.alloc(0)],
  ],
  timestamp: PRODUCED_BASE_TIMESTAMP + BigInt(i * 7),
}));

interface DecodedProduce {
  records: Comparable[];
  timestamps: bigint[];
  codecs: string[];
}

const decodedByProducer = new Map<string, DecodedProduce>();

async function decodeStored(topic: string): Promise<DecodedProduce> {
  const out: DecodedProduce = { records: [], timestamps: [], codecs: [] };
  for (const stored of broker.batches(topic, 0)) {
    const batch = await decodeBatch(stored.original);
    out.codecs.push(compressionName(batch.header.compression));
    for (const record of batch.records) {
      out.records.push(comparable({ key: record.key, value: record.value, headers: record.headers.map((h) => [h.key, h.value] as const) }));
      out.timestamps.push(recordTimestamp(batch.header, record));
    }
  }
  return out;
}

async function produceWith(producer: Producer, codec: CodecName): Promise<void> {
  const options = { clientId: `interop-${producer}`, topic: fromTopic(producer, codec), partition: 0, compression: codec, records: PRODUCED };
  if (producer === 'kafkajs') await kafkajsProduce(broker.bootstrap, options);
  else if (producer === 'kcat') await kcatProduce(broker.bootstrap, options);
  else await pythonProduce(broker.bootstrap, options);
}

// ---------------------------------------------------------------------------------------------
// gateway -> client

const SERVED_BASE_TIMESTAMP = 1_700_000_300_000n;

/** A record value larger than a snappy chunk (32 KiB) and an lz4 block (64 KiB). */
const LARGE_VALUE = Buffer.from(
  Array.from({ length: 2000 }, (_, i) => `line ${i} of a long record value that spans compression blocks\n`).join(''),
);

interface ServedRecord {
  key: Buffer | null;
  value: Buffer | null;
  headers: [string, Buffer | null][];
  timestampDelta: number;
}

/** Three batches: odd records (null key, null value, null and empty header values, repeated header names, a negative timestamp delta), plain records, one large record. */
const SERVED_BATCHES: readonly { baseTimestamp: bigint; records: ServedRecord[] }[] = [
  {
    baseTimestamp: SERVED_BASE_TIMESTAMP,
    records: [
      {
        key: Buffer.from('k0'),
        value: Buffer.from('first value: grüße 😀'),
        headers: [
          ['trace', Buffer.from('a')],
          ['dup', Buffer.from('1')],
          ['dup', Buffer.from('2')],
        ],
        timestampDelta: 0,
      },
      {
        key: null,
        value: Buffer.from('a record without a key'),
        headers: [
          ['nullable', null],
          ['empty', Buffer.alloc(0)],
        ],
        timestampDelta: 5,
      },
      { key: Buffer.from('k2'), value: null, headers: [], timestampDelta: -3 },
    ],
  },
  {
    baseTimestamp: SERVED_BASE_TIMESTAMP + 1000n,
    records: [3, 4, 5].map((i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`value ${i} ${'repeated text '.repeat(10)}`),
      headers: [['seq', Buffer.from(String(i))]],
      timestampDelta: i - 3,
    })),
  },
  {
    baseTimestamp: SERVED_BASE_TIMESTAMP + 2000n,
    records: [{ key: Buffer.from('k6'), value: LARGE_VALUE, headers: [['size', Buffer.from('large')]], timestampDelta: 0 }],
  },
];

const SERVED_COUNT = SERVED_BATCHES.reduce((n, b) => n + b.records.length, 0);

/** The records as a consumer should return them, offsets from 0. */
function servedExpectation(kafkajsHeaders: boolean): (Comparable & { offset: string; timestamp: string })[] {
  let offset = 0;
  return SERVED_BATCHES.flatMap((batch) =>
    batch.records.map((r) => ({
      offset: String(offset++),
      ...comparable({ key: r.key, value: r.value, headers: kafkajsHeaders ? kafkajsHeaderOrder(r.headers) : r.headers }),
      timestamp: String(batch.baseTimestamp + BigInt(r.timestampDelta)),
    })),
  );
}

function consumedComparable(records: readonly ConsumedRecord[]): (Comparable & { offset: string; timestamp: string })[] {
  return records.map((r) => ({ offset: String(r.offset), ...comparable(r), timestamp: String(r.timestamp) }));
}

async function serve(codec: CodecName): Promise<void> {
  const compression = compressionTypeFromName(codec);
  assert.ok(compression !== undefined);
  let offsetDelta = 0;
  for (const batch of SERVED_BATCHES) {
    const input: EncodeBatchInput = {
      compression,
      baseTimestamp: batch.baseTimestamp,
      maxTimestamp: batch.baseTimestamp + BigInt(Math.max(...batch.records.map((r) => r.timestampDelta))),
      records: batch.records.map((r, i) => ({
        offsetDelta: i,
        timestampDelta: r.timestampDelta,
        key: r.key,
        value: r.value,
        headers: r.headers.map(([key, value]) => ({ key, value })),
      })),
    };
    const encoded = await encodeBatch(input);
    assert.equal(readBatchHeader(encoded).compression, compression);
    const stored = broker.append(servedTopic(codec), 0, encoded);
    assert.equal(stored.baseOffset, BigInt(offsetDelta));
    offsetDelta += batch.records.length;
  }
}

// ---------------------------------------------------------------------------------------------

for (const codec of CODEC_NAMES) {
  describe(`codec ${codec}`, () => {
    for (const producer of PRODUCERS) {
      it(`${producer} produces keyed records with headers that our record layer decodes`, async (t: TestContext) => {
        if (producer === 'kafkajs' && !kafkajsHas.has(codec)) {
          t.skip(`no kafkajs ${codec} codec plugin loaded`);
          return;
        }
        const startedAt = BigInt(Date.now());
        await produceWith(producer, codec);
        const finishedAt = BigInt(Date.now());
        const decoded = await decodeStored(fromTopic(producer, codec));
        assert.ok(decoded.codecs.length >= 1);
        assert.deepEqual(new Set(decoded.codecs), new Set([codec]), 'every batch is compressed with the codec asked for');
        assert.deepEqual(decoded.records, PRODUCED.map(comparable));
        if (producer === 'kcat') {
          // kcat cannot set CreateTime: librdkafka stamps the records itself
          for (const ts of decoded.timestamps) assert.ok(ts >= startedAt - 1000n && ts <= finishedAt + 1000n, `timestamp ${ts}`);
        } else {
          assert.deepEqual(decoded.timestamps, PRODUCED.map((r) => r.timestamp));
        }
        decodedByProducer.set(`${producer}/${codec}`, decoded);
      });
    }

    it('kafkajs and librdkafka batches decode to the same records', (t: TestContext) => {
      const seen = PRODUCERS.filter((p) => decodedByProducer.has(`${p}/${codec}`));
      if (seen.length < 2) {
        t.skip('fewer than two producers ran');
        return;
      }
      const [first, ...rest] = seen.map((p) => decodedByProducer.get(`${p}/${codec}`) as DecodedProduce);
      for (const other of rest) assert.deepEqual(other.records, first?.records);
      assert.ok(seen.includes('kcat') || seen.includes('confluent-kafka'));
    });

    describe(`batches our encoder wrote with ${codec}`, () => {
      before(async () => {
        await serve(codec);
      });

      it('kcat (librdkafka, no group) consumes every record intact', async () => {
        const records = await kcatConsume(broker.bootstrap, { clientId: 'interop-kcat', topic: servedTopic(codec), partition: 0 });
        assert.deepEqual(consumedComparable(records), servedExpectation(false));
      });

      it('confluent-kafka (librdkafka, assign()) consumes every record intact', async () => {
        const records = await pythonConsume(broker.bootstrap, {
          clientId: 'interop-python',
          topic: servedTopic(codec),
          partition: 0,
          offset: 0,
          count: SERVED_COUNT,
        });
        assert.deepEqual(consumedComparable(records), servedExpectation(false));
      });

      it('a kafkajs group consumer consumes every record intact', async (t: TestContext) => {
        if (!kafkajsHas.has(codec)) {
          t.skip(`no kafkajs ${codec} codec plugin loaded`);
          return;
        }
        const records = await kafkajsConsume(broker.bootstrap, {
          clientId: 'interop-kafkajs',
          groupId: `interop-${codec}`,
          topic: servedTopic(codec),
          count: SERVED_COUNT,
        });
        assert.deepEqual(consumedComparable(records), servedExpectation(true));
      });
    });
  });
}

describe('librdkafka and the advertised Produce versions', () => {
  // librdkafka up to at least 2.0.2 checks gzip/snappy/lz4 support by asking whether the broker's
  // Produce range overlaps [0, 0] (librdkafka#4956, KIP-896 fallout): a broker that advertises
  // Produce 3+ silently gets those batches uncompressed. Kafka 4 brokers keep advertising Produce
  // v0 for this reason (KAFKA-18659); the gateway's Produce handler needs to do the same.
  it('kcat compresses gzip, snappy and lz4 only when Produce v0 is advertised', async (t: TestContext) => {
    const codecsSent = async (produceMinVersion: number): Promise<string[]> => {
      const b = await ScriptedBroker.start({ topics: [{ name: 'versions', partitions: 1 }], produceMinVersion });
      try {
        for (const codec of ['gzip', 'snappy', 'lz4'] as const) {
          await kcatProduce(b.bootstrap, { clientId: 'interop-kcat', topic: 'versions', partition: 0, compression: codec, records: PRODUCED });
        }
        const codecs: string[] = [];
        for (const stored of b.batches('versions', 0)) codecs.push(compressionName((await decodeBatch(stored.original)).header.compression));
        return codecs;
      } finally {
        await b.stop();
      }
    };
    assert.deepEqual(await codecsSent(0), ['gzip', 'snappy', 'lz4']);
    // Not asserted: a fixed librdkafka compresses here too.
    t.diagnostic(`with Produce 3+ advertised, kcat's batches were compressed with: ${(await codecsSent(3)).join(', ')}`);
  });
});
