import { randomBytes } from 'node:crypto';
import { produceRequest, requestHeader, requestHeaderVersion, ApiKey } from '../src/protocol/messages/index.js';
import { Reader, Writer } from '../src/protocol/primitives.js';
import { CompressionType } from '../src/protocol/records/compression.js';
import { decodeBatchSync, encodeBatchSync, type KafkaRecord } from '../src/protocol/records/record-batch.js';
import type { BenchRow } from './table.js';

const RECORD_BYTES = 1024;
const RECORDS_PER_BATCH = 100;
const PARTITIONS = 8;
const PRODUCE_VERSION = 9;

/** A Produce request frame as a producer sends it: 8 partitions, 100 records of 1 KiB each. */
function produceFrame(compression: CompressionType): Buffer {
  const records: KafkaRecord[] = [];
  for (let i = 0; i < RECORDS_PER_BATCH; i++) {
    // Half random, half repeated: compressible like typical JSON payloads, not trivially so.
    const value = Buffer.concat([randomBytes(RECORD_BYTES / 2), Buffer.alloc(RECORD_BYTES / 2, 'a')]);
    records.push({ offsetDelta: i, timestampDelta: i, key: Buffer.from(`key-${i}`), value, headers: [] });
  }
  const request = produceRequest.create();
  request.acks = -1;
  request.timeoutMs = 30000;
  request.topicData = [
    {
      name: 'bench',
      partitionData: Array.from({ length: PARTITIONS }, (_, index) => ({
        index,
        records: encodeBatchSync({ records, compression, baseTimestamp: 1_700_000_000_000n }),
      })),
    },
  ];
  const writer = new Writer(1 << 20);
  requestHeader.encode(
    writer,
    { requestApiKey: ApiKey.Produce, requestApiVersion: PRODUCE_VERSION, correlationId: 1, clientId: 'bench' },
    requestHeaderVersion(ApiKey.Produce, PRODUCE_VERSION),
  );
  produceRequest.encode(writer, request, PRODUCE_VERSION);
  return Buffer.from(writer.finish());
}

function measure(seconds: number, work: () => number): { perSecond: number; bytes: number } {
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  let iterations = 0;
  let bytes = 0;
  const started = process.hrtime.bigint();
  while (process.hrtime.bigint() < deadline) {
    bytes += work();
    iterations++;
  }
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  return { perSecond: iterations / elapsed, bytes: bytes / elapsed };
}

/** Decoding speed of Produce requests carrying 1 KiB records: the frame alone, and frame plus records. */
export function benchProtocolDecode(seconds: number): BenchRow[] {
  const rows: BenchRow[] = [];
  for (const [label, compression] of [
    ['uncompressed', CompressionType.NONE],
    ['lz4', CompressionType.LZ4],
  ] as const) {
    const frame = produceFrame(compression);
    const payloadBytes = RECORD_BYTES * RECORDS_PER_BATCH * PARTITIONS;
    const decodeFrame = (): ReturnType<typeof produceRequest.decode> => {
      const reader = new Reader(frame);
      requestHeader.decode(reader, requestHeaderVersion(ApiKey.Produce, PRODUCE_VERSION));
      return produceRequest.decode(reader, PRODUCE_VERSION);
    };
    const frameOnly = measure(seconds, () => {
      decodeFrame();
      return frame.length;
    });
    const withRecords = measure(seconds, () => {
      let count = 0;
      for (const topic of decodeFrame().topicData) {
        for (const partition of topic.partitionData) {
          if (partition.records !== null) count += decodeBatchSync(partition.records).records.length;
        }
      }
      if (count !== RECORDS_PER_BATCH * PARTITIONS) throw new Error('decoded the wrong number of records');
      return frame.length;
    });
    rows.push({
      benchmark: `Produce v${PRODUCE_VERSION} request, 1 KiB records, ${label}: header + body`,
      value: (frameOnly.bytes / 1e6).toFixed(0),
      unit: 'MB/s (frame bytes)',
    });
    rows.push({
      benchmark: `Produce v${PRODUCE_VERSION} request, 1 KiB records, ${label}: + record batches (CRC, decompress, records)`,
      value: ((withRecords.perSecond * payloadBytes) / 1e6).toFixed(0),
      unit: 'MB/s (record bytes)',
    });
  }
  return rows;
}
