import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoOffsetIndex, MAX_OFFSET, type IndexAnchor, type LogEnd } from '../../src/log/offset-index.js';
import { startTestDynamo, type TestDynamo } from '../support/dynamodb.js';

let dynamo: TestDynamo;
let index: DynamoOffsetIndex;

before(async () => {
  dynamo = await startTestDynamo('index-test-');
  index = new DynamoOffsetIndex(dynamo.client, dynamo.tables.offsetIndex);
});

after(async () => {
  await dynamo.close();
});

function anchor(offset: bigint, timestampMs: number, subIndex = 0): IndexAnchor {
  return {
    offset,
    shardId: `shardId-${String(Number(offset % 7n)).padStart(12, '0')}`,
    sequenceNumber: `4963${offset.toString().padStart(52, '0')}`,
    subIndex,
    timestampMs,
  };
}

/** The contract of firstAtOrAfterTimestamp, by brute force over anchors sorted by offset. */
function expectedForTimestamp(sorted: readonly IndexAnchor[], t: number): IndexAnchor | undefined {
  if (sorted.length === 0) return undefined;
  const f = sorted.findIndex((a) => a.timestampMs >= t);
  if (f === -1) return sorted[sorted.length - 1];
  return f === 0 ? sorted[0] : sorted[f - 1];
}

/** Deterministic pseudo-random integers in [0, n). */
function lcg(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
}

async function putAll(topicId: string, partition: number, anchors: readonly IndexAnchor[]): Promise<void> {
  for (let i = 0; i < anchors.length; i += 20) {
    await Promise.all(anchors.slice(i, i + 20).map((a) => index.put(topicId, partition, a)));
  }
}

describe('DynamoOffsetIndex', () => {
  test('an empty partition has no anchors', async () => {
    const topicId = randomUUID();
    assert.equal(await index.first(topicId, 0), undefined);
    assert.equal(await index.last(topicId, 0), undefined);
    assert.equal(await index.floor(topicId, 0, 100n), undefined);
    assert.equal(await index.firstAtOrAfterTimestamp(topicId, 0, 0), undefined);
  });

  test('int64 offsets round-trip exactly, up to 2^63-1', async () => {
    const topicId = randomUUID();
    const offsets = [0n, (1n << 53n) + 1n, MAX_OFFSET - 2n, MAX_OFFSET - 1n, MAX_OFFSET];
    for (const [i, offset] of offsets.entries()) await index.put(topicId, 3, anchor(offset, 1000 + i, i));
    assert.deepEqual(await index.last(topicId, 3), anchor(MAX_OFFSET, 1004, 4));
    assert.deepEqual(await index.first(topicId, 3), anchor(0n, 1000, 0));
    assert.deepEqual(await index.floor(topicId, 3, MAX_OFFSET), anchor(MAX_OFFSET, 1004, 4));
    assert.deepEqual(await index.floor(topicId, 3, MAX_OFFSET - 1n), anchor(MAX_OFFSET - 1n, 1003, 3));
    assert.deepEqual(await index.floor(topicId, 3, MAX_OFFSET - 3n), anchor((1n << 53n) + 1n, 1001, 1));
    assert.deepEqual(await index.floor(topicId, 3, (1n << 53n) + 2n), anchor((1n << 53n) + 1n, 1001, 1));
    assert.deepEqual(await index.floor(topicId, 3, 1n << 53n), anchor(0n, 1000, 0));
    assert.deepEqual(await index.floor(topicId, 3, 1n << 64n), anchor(MAX_OFFSET, 1004, 4));
    assert.equal(await index.floor(topicId, 3, -1n), undefined);
    assert.deepEqual(await index.firstAtOrAfterTimestamp(topicId, 3, 1004), anchor(MAX_OFFSET - 1n, 1003, 3));
    await assert.rejects(index.put(topicId, 3, anchor(MAX_OFFSET + 1n, 0)), RangeError);
    await assert.rejects(index.put(topicId, 3, anchor(-1n, 0)), RangeError);
  });

  test('floor, first and last across many anchors', async () => {
    const topicId = randomUUID();
    const anchors: IndexAnchor[] = [];
    for (let i = 0; i < 300; i++) anchors.push(anchor(BigInt(i) * 1000n + 17n, 1_700_000_000_000 + i * 10));
    await putAll(topicId, 0, anchors);
    // Neighbouring partitions and topics do not leak in.
    await index.put(topicId, 1, anchor(5n, 1));
    await index.put(topicId, 10, anchor(999_999n, 1));
    await index.put(randomUUID(), 0, anchor(3n, 1));

    assert.deepEqual(await index.first(topicId, 0), anchors[0]);
    assert.deepEqual(await index.last(topicId, 0), anchors[299]);
    assert.equal(await index.floor(topicId, 0, 16n), undefined);
    for (const probe of [17n, 18n, 1016n, 1017n, 1018n, 150_500n, 299_016n, 299_017n, 10_000_000n]) {
      const expected = [...anchors].reverse().find((a) => a.offset <= probe);
      assert.deepEqual(await index.floor(topicId, 0, probe), expected, `floor(${probe})`);
    }
    const random = lcg(42);
    for (let i = 0; i < 40; i++) {
      const probe = BigInt(random(310_000));
      const expected = [...anchors].reverse().find((a) => a.offset <= probe);
      assert.deepEqual(await index.floor(topicId, 0, probe), expected, `floor(${probe})`);
    }
    assert.deepEqual(await index.first(topicId, 1), anchor(5n, 1));
    assert.deepEqual(await index.last(topicId, 1), anchor(5n, 1));
  });

  test('put is idempotent per offset', async () => {
    const topicId = randomUUID();
    await index.put(topicId, 0, anchor(10n, 5));
    await index.put(topicId, 0, anchor(10n, 5));
    assert.deepEqual(await index.last(topicId, 0), anchor(10n, 5));
    assert.deepEqual(await index.first(topicId, 0), anchor(10n, 5));
  });

  test('firstAtOrAfterTimestamp follows its contract across many anchors, with ties', async () => {
    const topicId = randomUUID();
    const anchors: IndexAnchor[] = [];
    // Non-decreasing (max-so-far) timestamps with runs of equal values.
    let ts = 10_000;
    for (let i = 0; i < 200; i++) {
      if (i % 3 !== 0) ts += 1 + (i % 5) * 7;
      anchors.push(anchor(BigInt(i) * 500n, ts));
    }
    await putAll(topicId, 2, anchors);
    const probes = new Set<number>([-1, 0, 9_999, 10_000, ts, ts + 1, Number.MAX_SAFE_INTEGER]);
    for (const a of anchors.slice(0, 40)) [a.timestampMs - 1, a.timestampMs, a.timestampMs + 1].forEach((p) => probes.add(p));
    const random = lcg(7);
    for (let i = 0; i < 40; i++) probes.add(10_000 + random(ts - 10_000));
    for (const t of probes) {
      assert.deepEqual(await index.firstAtOrAfterTimestamp(topicId, 2, t), expectedForTimestamp(anchors, t), `t=${t}`);
    }
  });

  test('firstAtOrAfterTimestamp: reading forward from the answer reaches the first record at or after t', async () => {
    // Records every 10 offsets, anchors every 100; anchor timestamps are the max so far.
    const topicId = randomUUID();
    const records: { offset: bigint; ts: number }[] = [];
    let max = 0;
    const anchors: IndexAnchor[] = [];
    for (let i = 0; i < 1000; i++) {
      const ts = 1000 + i * 3 + ((i * 7919) % 13) - 6; // slightly out of order
      const offset = BigInt(i) * 10n;
      records.push({ offset, ts });
      max = Math.max(max, ts);
      if (i % 10 === 0) anchors.push(anchor(offset, max));
    }
    await putAll(topicId, 0, anchors);
    for (const t of [0, 1000, 1001, 1500, 2222, 3000, 3995, 4100]) {
      const start = await index.firstAtOrAfterTimestamp(topicId, 0, t);
      assert.ok(start !== undefined);
      const expected = records.find((r) => r.ts >= t);
      const found = records.find((r) => r.offset >= start.offset && r.ts >= t);
      assert.deepEqual(found, expected, `t=${t}`);
    }
  });

  test('firstAtOrAfterTimestamp finds anchors the time index has not caught up with', async () => {
    // An item without its time key is invisible to the by-time index, as a fresh anchor is
    // while the global secondary index lags.
    const topicId = randomUUID();
    const log = `${topicId}#0`;
    const visible = [anchor(0n, 100), anchor(100n, 200), anchor(200n, 300)];
    await putAll(topicId, 0, visible);
    const lagging = [anchor(300n, 400), anchor(400n, 500), anchor(500n, 600), anchor(600n, 700)];
    for (const a of lagging) {
      await dynamo.client.send(
        new PutItemCommand({
          TableName: dynamo.tables.offsetIndex,
          Item: {
            log: { S: log },
            offset: { N: a.offset.toString() },
            shardId: { S: a.shardId },
            sequenceNumber: { S: a.sequenceNumber },
            subIndex: { N: String(a.subIndex) },
            timestampMs: { N: String(a.timestampMs) },
          },
        }),
      );
    }
    const all = [...visible, ...lagging];
    for (const t of [50, 150, 250, 350, 450, 550, 650, 750]) {
      assert.deepEqual(await index.firstAtOrAfterTimestamp(topicId, 0, t), expectedForTimestamp(all, t), `t=${t}`);
    }
    // A partition whose anchors are all lagging: the walk covers them all.
    const other = randomUUID();
    for (const a of lagging) {
      await dynamo.client.send(
        new PutItemCommand({
          TableName: dynamo.tables.offsetIndex,
          Item: {
            log: { S: `${other}#0` },
            offset: { N: a.offset.toString() },
            shardId: { S: a.shardId },
            sequenceNumber: { S: a.sequenceNumber },
            subIndex: { N: String(a.subIndex) },
            timestampMs: { N: String(a.timestampMs) },
          },
        }),
      );
    }
    assert.deepEqual(await index.firstAtOrAfterTimestamp(other, 0, 0), lagging[0]);
    assert.deepEqual(await index.firstAtOrAfterTimestamp(other, 0, 550), lagging[1]);
  });

  test('deletePartition removes every anchor of that partition only', async () => {
    const topicId = randomUUID();
    const anchors = Array.from({ length: 130 }, (_, i) => anchor(BigInt(i), i));
    await putAll(topicId, 4, anchors);
    await index.put(topicId, 5, anchor(1n, 1));
    await index.deletePartition(topicId, 4);
    assert.equal(await index.first(topicId, 4), undefined);
    assert.equal(await index.last(topicId, 4), undefined);
    assert.equal(await index.firstAtOrAfterTimestamp(topicId, 4, 50), undefined);
    assert.deepEqual(await index.last(topicId, 5), anchor(1n, 1));
    await index.deletePartition(topicId, 4);
  });

  test('below lists the anchors under an offset, oldest first; deleteAnchors removes just those', async () => {
    const topicId = randomUUID();
    const anchors = Array.from({ length: 30 }, (_, i) => anchor(BigInt(i * 10), i));
    await putAll(topicId, 0, anchors);
    await index.put(topicId, 1, anchor(5n, 5));
    assert.deepEqual(await index.below(topicId, 0, 95n, 1000), anchors.slice(0, 10));
    assert.deepEqual(await index.below(topicId, 0, 95n, 4), anchors.slice(0, 4));
    assert.deepEqual(await index.below(topicId, 0, 0n, 1000), []);
    await index.deleteAnchors(topicId, 0, anchors.slice(0, 27).map((a) => a.offset));
    assert.deepEqual(await index.below(topicId, 0, 1000n, 1000), anchors.slice(27));
    assert.deepEqual(await index.first(topicId, 1), anchor(5n, 5));
  });

  test('the log end only moves forward, is kept apart from the anchors and goes with the partition', async () => {
    const topicId = randomUUID();
    assert.equal(await index.end(topicId, 0), undefined);
    const end: LogEnd = { nextOffset: 20n, shardId: 'shardId-000000000001', afterSequenceNumber: '4963001', maxTimestampMs: 1_700_000_000_000 };
    await index.putEnd(topicId, 0, end);
    assert.deepEqual(await index.end(topicId, 0), end);
    // An older end (a leader that lost its lease) is not written over a newer one.
    await index.putEnd(topicId, 0, { ...end, nextOffset: 12n, afterSequenceNumber: '4963000' });
    assert.deepEqual(await index.end(topicId, 0), end);
    const fresh: LogEnd = { nextOffset: 25n, shardId: 'shardId-000000000003', maxTimestampMs: 1_700_000_000_500 };
    await index.putEnd(topicId, 0, fresh);
    assert.deepEqual(await index.end(topicId, 0), fresh);
    assert.equal(await index.end(topicId, 1), undefined);
    // Not an anchor: anchor queries do not see it.
    assert.equal(await index.last(topicId, 0), undefined);
    assert.equal(await index.firstAtOrAfterTimestamp(topicId, 0, 0), undefined);
    await index.put(topicId, 0, anchor(3n, 3));
    await index.deletePartition(topicId, 0);
    assert.equal(await index.end(topicId, 0), undefined);
    assert.equal(await index.last(topicId, 0), undefined);
  });
});
