import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { fromKinesisRecord, toKplRecords, type BatchIdentity, type GatewayRecord } from '../../src/kinesis/record-formats.js';
import { PartitionLog } from '../../src/log/partition-log.js';
import { buildStoredBatches, encodeOwnBatch, ownStoredBatch, type KinesisRecordMeta, type OwnBatch } from '../../src/log/stored-batch.js';
import { decodeBatch } from '../../src/protocol/records/record-batch.js';

const IDENTITY: BatchIdentity = { producerId: 4242n, producerEpoch: 3, baseSequence: 17, attributes: 0 };
const ARRIVAL = new Date('2025-01-02T03:04:05.678Z');

/** Records of every shape the kpl format encodes differently. */
function mixedRecords(count: number): GatewayRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const keys: (Buffer | null)[] = [Buffer.from(`key-${i}`), null, Buffer.alloc(0), Buffer.from([0xff, 0xfe, i & 0xff]), Buffer.alloc(300, 'k')];
    const values: (Buffer | null)[] = [randomBytes(i % 200), null, Buffer.alloc(0)];
    return {
      key: keys[i % keys.length] ?? null,
      value: values[i % values.length] ?? null,
      headers: i % 4 === 0 ? [{ key: 'trace', value: Buffer.from(`t${i}`) }, { key: 'empty', value: null }] : [],
      // Not in order: the batch's base and max timestamps are not its first and last.
      timestamp: 1_700_000_000_000n + BigInt((i * 7919) % 1000),
    };
  });
}

describe('own batches', () => {
  for (const [name, limit] of [
    ['one aggregate', 1024 * 1024],
    ['a batch split over many aggregates', 2048],
  ] as const) {
    for (const identity of [IDENTITY, null]) {
      test(`${name}, ${identity === null ? 'no producer identity' : 'idempotent'}: byte for byte what decoding the aggregate gives`, () => {
        const input = mixedRecords(120);
        const aggregates = toKplRecords(1, 4, input, identity, limit);
        assert.equal(aggregates.length > 1, limit < 1024 * 1024);
        assert.deepEqual(
          aggregates.flatMap((a) => a.records),
          input,
        );
        let offset = 1000n;
        aggregates.forEach((aggregate, i) => {
          assert.equal(aggregate.aggregateIndex, i);
          const meta: KinesisRecordMeta = { shardId: 'shardId-000000000001', sequenceNumber: `4960${i}`, arrivalMs: BigInt(ARRIVAL.getTime()) };
          const decoded = buildStoredBatches(
            fromKinesisRecord(
              { data: aggregate.data, partitionKey: aggregate.partitionKey, approximateArrivalTimestamp: ARRIVAL, sequenceNumber: meta.sequenceNumber },
              4,
            ),
            meta,
            offset,
            9,
          );
          const own = ownStoredBatch(encodeOwnBatch(aggregate.records, aggregate.aggregateIndex === 0 ? identity : null), meta, offset, 9);
          assert.deepEqual([own], decoded);
          offset = own.lastOffset + 1n;
        });
      });
    }
  }

  test('the stored batch holds the records with their offsets and the leader epoch', async () => {
    const input = mixedRecords(5);
    const own = ownStoredBatch(encodeOwnBatch(input, IDENTITY), { shardId: 's', sequenceNumber: '1', arrivalMs: 5n }, 77n, 4);
    const batch = await decodeBatch(own.bytes);
    assert.equal(batch.header.baseOffset, 77n);
    assert.equal(batch.header.partitionLeaderEpoch, 4);
    assert.equal(batch.header.producerId, IDENTITY.producerId);
    assert.equal(own.lastOffset, 81n);
    assert.deepEqual(
      batch.records.map((r) => [r.key, r.value]),
      input.map((r) => [r.key, r.value]),
    );
  });
});

describe('PartitionLog own batches', () => {
  const own = (bytes: number): OwnBatch => encodeOwnBatch([{ key: null, value: Buffer.alloc(bytes), headers: [], timestamp: 0n }], null);

  test('each is taken once, by shard and sequence number', () => {
    const log = new PartitionLog('t', 0, 0n, 1 << 20);
    const batch = own(10);
    log.expectOwnBatch('shard-a', '1', batch);
    assert.equal(log.takeOwnBatch('shard-b', '1'), undefined);
    assert.equal(log.takeOwnBatch('shard-a', '1'), batch);
    assert.equal(log.takeOwnBatch('shard-a', '1'), undefined);
  });

  test('taking one drops those noted before it (the tailer went past them)', () => {
    const log = new PartitionLog('t', 0, 0n, 1 << 20);
    const batches = ['1', '2', '3'].map((sequence) => {
      const batch = own(10);
      log.expectOwnBatch('s', sequence, batch);
      return batch;
    });
    assert.equal(log.takeOwnBatch('s', '2'), batches[1]);
    assert.equal(log.takeOwnBatch('s', '1'), undefined);
    assert.equal(log.takeOwnBatch('s', '3'), batches[2]);
  });

  test('held up to the tail cache size: past it the oldest are dropped (the tailer decodes those)', () => {
    const log = new PartitionLog('t', 0, 0n, 3 << 20);
    const big = (): OwnBatch => own(1 << 20);
    const batches = ['1', '2', '3', '4'].map((sequence) => {
      const batch = big();
      log.expectOwnBatch('s', sequence, batch);
      return batch;
    });
    assert.equal(log.takeOwnBatch('s', '1'), undefined);
    assert.equal(log.takeOwnBatch('s', '2'), undefined);
    assert.equal(log.takeOwnBatch('s', '4'), batches[3]);
  });
});
