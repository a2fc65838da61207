import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { GatewayRecord } from '../../src/kinesis/record-formats.js';
import { LogOrderConflictError, PartitionLog } from '../../src/log/partition-log.js';
import { encodeOwnBatch, ownStoredBatch, type KinesisRecordMeta, type OwnBatch, type StoredBatch } from '../../src/log/stored-batch.js';

// produce.ack.mode=immediate: own batches placed in the log when Kinesis took them, checked by
// the tailer when it reads them back.

const SHARD = 'shardId-000000000000';

function records(count: number, tag: string): GatewayRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    key: Buffer.from(`${tag}-${i}`),
    value: Buffer.from(`value ${tag} ${i}`),
    headers: [],
    timestamp: 1_700_000_000_000n + BigInt(i),
  }));
}

function meta(sequenceNumber: string): KinesisRecordMeta {
  return { shardId: SHARD, sequenceNumber, arrivalMs: 1_700_000_000_000n };
}

function own(count: number, tag: string): OwnBatch {
  return encodeOwnBatch(records(count, tag), null);
}

/** What the tailer makes of a Kinesis record it decodes: a batch of its own, not the placed one. */
function decoded(count: number, tag: string, sequenceNumber: string, offset: bigint): StoredBatch[] {
  return [ownStoredBatch(own(count, tag), meta(sequenceNumber), offset, 0)];
}

function newLog(): PartitionLog {
  return new PartitionLog('t', 0, 10n, 1 << 20);
}

describe('batches placed ahead of the tailer', () => {
  test('take offsets from the high watermark, are readable at once, and are passed over when read back', () => {
    const log = newLog();
    assert.equal(log.placeAhead(own(3, 'a'), meta('100'), 0), 10n);
    assert.equal(log.placeAhead(own(2, 'b'), meta('200'), 0), 13n);
    assert.equal(log.highWatermark, 15n);
    const read = log.read(10n, 1 << 20);
    assert.equal(read.kind, 'batches');
    assert.deepEqual(
      read.kind === 'batches' ? read.batches.map((b) => [b.baseOffset, b.lastOffset]) : [],
      [
        [10n, 12n],
        [13n, 14n],
      ],
    );
    // The reader gives the placed batches back as they are, several in one read, each found at
    // the offset the reader has counted to.
    const first = log.placedAheadAt(SHARD, '100', 10n);
    const second = log.placedAheadAt(SHARD, '200', 13n);
    assert.ok(first !== undefined && second !== undefined);
    assert.equal(log.placedAheadAt(SHARD, '200', 12n), undefined, 'another offset: not that batch');
    assert.equal(log.placedAheadAt(SHARD, '999', 13n), undefined, 'another record: not that batch');
    log.append([first, second]);
    assert.equal(log.highWatermark, 15n);
    // Then the tailer's own reads follow on.
    log.append(decoded(1, 'c', '300', 15n));
    assert.equal(log.highWatermark, 16n);
    assert.equal(log.orderConflictFound, false);
  });

  test('a record read (decoded) before it was placed stands for the placed batch', () => {
    const log = newLog();
    // The tailer's GetRecords returned the record before the PutRecords answer was handled...
    const readEarly = decoded(3, 'a', '100', 10n);
    // ...then the write placed it, then the tailer appends what it read.
    assert.equal(log.placeAhead(own(3, 'a'), meta('100'), 0), 10n);
    log.append(readEarly);
    assert.equal(log.highWatermark, 13n);
    assert.equal(log.placedAheadAt(SHARD, '100', 10n), undefined);
    log.append(decoded(1, 'b', '200', 13n));
    assert.equal(log.highWatermark, 14n);
  });

  test('a record the tailer appended first keeps the offset it got there', () => {
    const log = newLog();
    log.append(decoded(3, 'a', '100', 10n));
    assert.equal(log.placeAhead(own(3, 'a'), meta('100'), 0), 10n);
    assert.equal(log.highWatermark, 13n, 'not placed a second time');
  });

  test('another writer\'s record before a placed batch is a conflict, and nothing more is placed', () => {
    const log = newLog();
    assert.equal(log.placeAhead(own(3, 'a'), meta('200'), 0), 10n);
    assert.throws(() => log.append(decoded(1, 'foreign', '100', 10n)), LogOrderConflictError);
    assert.equal(log.orderConflictFound, true);
    assert.equal(log.mayPlaceAhead, false);
  });

  test('nothing is placed while a write of the partition waits to be read back', () => {
    const log = newLog();
    const waiting = log.offsetOfSequence('100');
    assert.equal(log.mayPlaceAhead, false);
    log.append(decoded(3, 'a', '100', 10n));
    return waiting.then((offset) => {
      assert.equal(offset, 10n);
      assert.equal(log.mayPlaceAhead, true);
      assert.equal(log.placeAhead(own(2, 'b'), meta('200'), 0), 13n);
    });
  });

  test('no more than the tail cache\'s size is placed before the tailer reads it back', () => {
    const log = new PartitionLog('t', 0, 0n, 1500);
    const big = own(40, 'big');
    assert.ok(big.bytes.length < 1500 && 2 * big.bytes.length > 1500, `a batch of ${big.bytes.length} bytes`);
    assert.equal(log.placeAhead(big, meta('100'), 0), 0n);
    assert.equal(log.placeAhead(own(40, 'big2'), meta('200'), 0), 40n);
    assert.equal(log.mayPlaceAhead, false, 'over the limit: waits for the tailer');
    log.append([log.placedAheadAt(SHARD, '100', 0n) as StoredBatch]);
    assert.equal(log.mayPlaceAhead, true);
    assert.equal(log.placeAhead(own(1, 'c'), meta('300'), 0), 80n);
  });
});
