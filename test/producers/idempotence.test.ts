import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ErrorCode } from '../../src/protocol/errors.js';
import {
  CANCELLED_FOLLOWER_ERROR,
  IdempotenceGuard,
  type BeginResult,
  type IdempotenceGuardOptions,
  type IdempotentBatch,
  type LocateBatch,
  type WriteTicket,
} from '../../src/producers/idempotence.js';
import {
  MemoryProducerStateBackend,
  MemoryProducerStateStore,
  RedisProducerStateStore,
  producerPartitionKey,
  type BatchReservation,
} from '../../src/producers/producer-state-store.js';
import { freePort } from '../support/ports.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let counter = 0;
const partition = (): string => producerPartitionKey(`guard-topic-${counter++}`, 3);
const b = (baseSequence: number, recordCount = 10, producerEpoch = 0, producerId = 7n): IdempotentBatch => ({
  producerId,
  producerEpoch,
  baseSequence,
  recordCount,
});

function ticketOf(result: BeginResult): WriteTicket {
  assert.equal(result.kind, 'write', JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  if (result.kind !== 'write') throw new Error('unreachable');
  return result.ticket;
}

interface Recorded {
  duplicate: number;
  sequenceErrors: number[];
  inFlight: number;
  unavailable: number;
  late: number;
}

function setup(options: IdempotenceGuardOptions = {}): {
  guard: IdempotenceGuard;
  store: MemoryProducerStateStore;
  other: MemoryProducerStateStore;
  events: Recorded;
} {
  const backend = new MemoryProducerStateBackend();
  const store = new MemoryProducerStateStore({ backend, owner: 'gw-1' });
  const other = new MemoryProducerStateStore({ backend, owner: 'gw-2' });
  const events: Recorded = { duplicate: 0, sequenceErrors: [], inFlight: 0, unavailable: 0, late: 0 };
  const guard = new IdempotenceGuard(store, {
    pollIntervalMs: 10,
    inFlightWaitMs: 1000,
    ...options,
    events: {
      duplicate: () => events.duplicate++,
      sequenceError: (code) => events.sequenceErrors.push(code),
      inFlightWait: () => events.inFlight++,
      unavailable: () => events.unavailable++,
      lateCommit: () => events.late++,
    },
  });
  return { guard, store, other, events };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('IdempotenceGuard', () => {
  test('write, commit; a retry answers the original offset; refusals carry their codes', async () => {
    const { guard, events } = setup();
    const p = partition();
    const t = ticketOf(await guard.begin(p, b(0)));
    assert.equal(t.signal.aborted, false);
    assert.equal(guard.unrecorded, 1);
    await guard.committed(t, 100n);
    assert.equal(guard.unrecorded, 0);
    assert.deepEqual(await guard.begin(p, b(0)), { kind: 'duplicate', baseOffset: 100n });
    assert.equal(events.duplicate, 1);
    const gap = await guard.begin(p, b(20));
    assert.ok(gap.kind === 'error' && gap.errorCode === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    const unknown = await guard.begin(partition(), b(50));
    assert.ok(unknown.kind === 'error' && unknown.errorCode === ErrorCode.UNKNOWN_PRODUCER_ID);
    const invalid = await guard.begin(p, b(10, 0));
    assert.ok(invalid.kind === 'error' && invalid.errorCode === ErrorCode.INVALID_RECORD);
    assert.deepEqual(events.sequenceErrors, [
      ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
      ErrorCode.UNKNOWN_PRODUCER_ID,
      ErrorCode.INVALID_RECORD,
    ]);
    ticketOf(await guard.begin(p, b(10)));
  });

  test('a retry while the original is being written waits, then gets the original offset', async () => {
    const { guard, events } = setup();
    const p = partition();
    const original = ticketOf(await guard.begin(p, b(0)));
    const retry = guard.begin(p, b(0));
    await sleep(50);
    await guard.committed(original, 42n);
    assert.deepEqual(await retry, { kind: 'duplicate', baseOffset: 42n });
    assert.ok(events.inFlight >= 1);
  });

  test('a retry while the original is being written: the original fails, so the retry writes', async () => {
    const { guard } = setup();
    const p = partition();
    const original = ticketOf(await guard.begin(p, b(0)));
    const retry = guard.begin(p, b(0));
    await sleep(30);
    await guard.failed(original, { maybeWritten: false });
    const t = ticketOf(await retry);
    assert.notEqual(t.reservation.id, original.reservation.id);
  });

  test('the wait is bounded: REQUEST_TIMED_OUT', async () => {
    const { guard } = setup({ inFlightWaitMs: 100 });
    const p = partition();
    ticketOf(await guard.begin(p, b(0)));
    const started = Date.now();
    const retry = await guard.begin(p, b(0));
    assert.ok(retry.kind === 'error' && retry.errorCode === ErrorCode.REQUEST_TIMED_OUT);
    assert.ok(Date.now() - started < 500);
    const withDeadline = await guard.begin(p, b(0), { deadlineMs: Date.now() + 20 });
    assert.ok(withDeadline.kind === 'error' && withDeadline.errorCode === ErrorCode.REQUEST_TIMED_OUT);
  });

  test('pipelined batches: a failure cancels the followers (signal) so they are not written', async () => {
    const { guard, store, events } = setup();
    const p = partition();
    const a = ticketOf(await guard.begin(p, b(0)));
    const next = ticketOf(await guard.begin(p, b(10)));
    const last = ticketOf(await guard.begin(p, b(20)));
    const otherPartition = ticketOf(await guard.begin(partition(), b(0)));
    await guard.failed(a, { maybeWritten: false });
    assert.equal(next.signal.aborted, true);
    assert.equal(last.signal.aborted, true);
    assert.equal(otherPartition.signal.aborted, false);
    assert.deepEqual(await store.pendingReservations(7n, p), []);
    // The handler cancels their writes and reports them failed.
    await guard.failed(next, { maybeWritten: false });
    await guard.failed(last, { maybeWritten: false });
    assert.equal(CANCELLED_FOLLOWER_ERROR.errorCode, ErrorCode.NOT_ENOUGH_REPLICAS);
    // The client retries all three, in order.
    const a2 = ticketOf(await guard.begin(p, b(0)));
    const next2 = ticketOf(await guard.begin(p, b(10)));
    await guard.committed(a2, 0n);
    await guard.committed(next2, 10n);
    // A cancelled follower whose write landed anyway is recorded late (and reported).
    const c = ticketOf(await guard.begin(p, b(20)));
    const d = ticketOf(await guard.begin(p, b(30)));
    await guard.failed(c, { maybeWritten: false });
    assert.equal(d.signal.aborted, true);
    await guard.committed(d, 30n);
    assert.equal(events.late, 1);
    assert.deepEqual(await guard.begin(p, b(30)), { kind: 'duplicate', baseOffset: 30n });
    await guard.committed(otherPartition, 0n);
    assert.equal(guard.unrecorded, 0);
  });

  test('a follower of a batch whose outcome is unknown is cancelled too; the unknown one is settled through locate', async () => {
    const located: BatchReservation[] = [];
    let answer: { baseOffset: bigint } | null | undefined = undefined;
    const locate: LocateBatch = async (r) => {
      located.push(r);
      return answer;
    };
    const { guard } = setup({ settleMs: 0, locate, retryDelayMs: [20, 50] });
    const p = partition();
    const a = ticketOf(await guard.begin(p, b(0)));
    const follower = ticketOf(await guard.begin(p, b(10)));
    await guard.failed(a, { maybeWritten: true });
    assert.equal(follower.signal.aborted, true);
    await guard.failed(follower, { maybeWritten: false });
    // While locate cannot tell, a retry waits (bounded).
    const early = await guard.begin(p, b(0), { deadlineMs: Date.now() + 60 });
    assert.ok(early.kind === 'error' && early.errorCode === ErrorCode.REQUEST_TIMED_OUT);
    answer = { baseOffset: 77n };
    assert.deepEqual(await guard.begin(p, b(0)), { kind: 'duplicate', baseOffset: 77n });
    assert.ok(located.some((r) => r.id === a.reservation.id));
    ticketOf(await guard.begin(p, b(10)));
  });

  test('an unknown outcome is also settled in the background; not found means the retry writes', async () => {
    let answer: { baseOffset: bigint } | null | undefined = undefined;
    const { guard, store } = setup({ settleMs: 0, locate: async () => answer, retryDelayMs: [10, 20] });
    const p = partition();
    const a = ticketOf(await guard.begin(p, b(0)));
    await guard.failed(a, { maybeWritten: true });
    assert.equal(guard.unrecorded, 1);
    await sleep(50);
    assert.equal(guard.unrecorded, 1);
    answer = null;
    for (let i = 0; i < 50 && guard.unrecorded > 0; i++) await sleep(10);
    assert.equal(guard.unrecorded, 0);
    assert.deepEqual(await store.pendingReservations(7n, p), []);
    ticketOf(await guard.begin(p, b(0)));
  });

  test('committed() with the promise of an offset; a rejected promise is an unknown outcome', async () => {
    const { guard, store } = setup({ settleMs: 60_000 });
    const p = partition();
    const a = ticketOf(await guard.begin(p, b(0)));
    await guard.committed(a, Promise.resolve(5n));
    assert.deepEqual(await guard.begin(p, b(0)), { kind: 'duplicate', baseOffset: 5n });
    const c = ticketOf(await guard.begin(p, b(10)));
    await guard.committed(c, Promise.reject(new Error('not read back in time')));
    assert.deepEqual(
      (await store.pendingReservations(7n, p)).map((r) => r.id),
      [c.reservation.id],
    );
    assert.equal(guard.unrecorded, 1);
  });

  test("another gateway's pending batch: wait until settled, then locate decides", async () => {
    let answer: { baseOffset: bigint } | null | undefined = { baseOffset: 900n };
    const { guard, other } = setup({ settleMs: 150, locate: async () => answer });
    const p = partition();
    const foreign = await other.reserve({ partitionKey: p, ...b(0) });
    assert.equal(foreign.kind, 'accepted');
    const tooEarly = await guard.begin(p, b(0), { deadlineMs: Date.now() + 50 });
    assert.ok(tooEarly.kind === 'error' && tooEarly.errorCode === ErrorCode.REQUEST_TIMED_OUT);
    assert.deepEqual(await guard.begin(p, b(0)), { kind: 'duplicate', baseOffset: 900n });
    // Not found: the batch is written by this gateway.
    const p2 = partition();
    await other.reserve({ partitionKey: p2, ...b(0) });
    answer = null;
    await sleep(160);
    ticketOf(await guard.begin(p2, b(0)));
  });

  test("no batch is written behind another gateway's unresolved batch", async () => {
    let answer: { baseOffset: bigint } | null = { baseOffset: 0n };
    const { guard, store, other } = setup({ settleMs: 0, locate: async () => answer });
    const p = partition();
    const first = await store.reserve({ partitionKey: p, ...b(0) });
    assert.equal(first.kind, 'accepted');
    if (first.kind === 'accepted') await store.commit(first.reservation, 0n);
    // The old leader reserved 10..19 and died.
    await other.reserve({ partitionKey: p, ...b(10) });
    // Found in the log: 20.. chains behind it.
    const t = ticketOf(await guard.begin(p, b(20)));
    assert.deepEqual(await store.reserve({ partitionKey: p, ...b(10) }), { kind: 'duplicate', baseOffset: 0n });
    await guard.committed(t, 20n);
    // Not found: the next batch is refused as a gap instead of being written after a hole.
    await other.reserve({ partitionKey: p, ...b(30) });
    answer = null;
    const gap = await guard.begin(p, b(40));
    assert.ok(gap.kind === 'error' && gap.errorCode === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    ticketOf(await guard.begin(p, b(30)));
  });

  test('a reservation of ours that was never handed out (its call failed) is dropped, not waited for', async () => {
    const { guard, store } = setup({ settleMs: 60_000 });
    const p = partition();
    const base = ticketOf(await guard.begin(p, b(0)));
    await guard.committed(base, 0n);
    // Stored although the guard never saw the reply.
    const orphan = await store.reserve({ partitionKey: p, ...b(10) });
    assert.equal(orphan.kind, 'accepted');
    ticketOf(await guard.begin(p, b(10)));
    const p2 = partition();
    await guard.committed(ticketOf(await guard.begin(p2, b(0))), 0n);
    await store.reserve({ partitionKey: p2, ...b(10) });
    const next = await guard.begin(p2, b(20));
    assert.ok(next.kind === 'error' && next.errorCode === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert.deepEqual(await store.pendingReservations(7n, p2), []);
  });

  test('recoverPartition settles what other processes left', async () => {
    const answers = new Map<string, { baseOffset: bigint } | null | undefined>();
    const locate: LocateBatch = async (r) => answers.get(r.id);
    const { guard, store, other } = setup({ settleMs: 60_000 });
    const p = partition();
    const found = await other.reserve({ partitionKey: p, ...b(0, 10, 0, 1n) });
    const lost = await other.reserve({ partitionKey: p, ...b(0, 10, 0, 2n) });
    const unsure = await other.reserve({ partitionKey: p, ...b(0, 10, 0, 3n) });
    const mine = await store.reserve({ partitionKey: p, ...b(0, 10, 0, 4n) }); // ours, untracked
    const live = ticketOf(await guard.begin(p, b(0, 10, 0, 5n)));
    assert.ok(found.kind === 'accepted' && lost.kind === 'accepted' && unsure.kind === 'accepted' && mine.kind === 'accepted');
    answers.set(found.reservation.id, { baseOffset: 10n });
    answers.set(lost.reservation.id, null);
    answers.set(unsure.reservation.id, undefined);
    // Too young: only our own orphan is settled.
    assert.deepEqual(await guard.recoverPartition(p, locate), { committed: 0, removed: 1, skipped: 4 });
    assert.deepEqual(await guard.recoverPartition(p, locate, { ignoreSettle: true }), { committed: 1, removed: 1, skipped: 2 });
    assert.deepEqual(
      (await store.partitionPendingReservations(p)).map((r) => r.producerId).sort(),
      [3n, 5n],
    );
    assert.deepEqual(await guard.begin(p, b(0, 10, 0, 1n)), { kind: 'duplicate', baseOffset: 10n });
    await guard.committed(live, 0n);
  });

  test('close() records known outcomes one last time', async () => {
    const { guard, store } = setup();
    const p = partition();
    const t = ticketOf(await guard.begin(p, b(0)));
    await guard.committed(t, 3n);
    await guard.close();
    assert.deepEqual(await store.reserve({ partitionKey: p, ...b(0) }), { kind: 'duplicate', baseOffset: 3n });
  });
});

describe('IdempotenceGuard on Redis', () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.stop();
  });

  test('Redis unreachable: NOT_ENOUGH_REPLICAS at once, never an accept', async () => {
    const port = await freePort();
    const store = new RedisProducerStateStore({ url: `redis://127.0.0.1:${port}`, owner: 'gw-x' });
    let unavailable = 0;
    const guard = new IdempotenceGuard(store, { events: { unavailable: () => unavailable++ } });
    try {
      const started = Date.now();
      const r = await guard.begin(partition(), b(0));
      assert.ok(r.kind === 'error' && r.errorCode === ErrorCode.NOT_ENOUGH_REPLICAS, JSON.stringify(r));
      assert.ok(Date.now() - started < 1500);
      assert.equal(unavailable, 1);
      assert.equal(guard.unrecorded, 0);
    } finally {
      await guard.close();
      await store.close();
    }
  });

  test('an outcome that cannot be recorded (Redis frozen) is recorded in the background once it answers', async () => {
    const store = new RedisProducerStateStore({ url: redis.url, owner: 'gw-bg' });
    const guard = new IdempotenceGuard(store, { retryDelayMs: [50, 200] });
    try {
      assert.ok(await store.waitReady());
      const p = partition();
      const t = ticketOf(await guard.begin(p, b(0)));
      redis.pause();
      await guard.committed(t, 11n); // never rejects
      assert.equal(guard.unrecorded, 1);
      redis.resume();
      for (let i = 0; i < 100 && guard.unrecorded > 0; i++) await sleep(50);
      assert.equal(guard.unrecorded, 0);
      let retry: BeginResult | undefined;
      for (let i = 0; i < 40; i++) {
        retry = await guard.begin(p, b(0));
        if (retry.kind !== 'error') break;
        await sleep(50);
      }
      assert.deepEqual(retry, { kind: 'duplicate', baseOffset: 11n });
    } finally {
      redis.resume();
      await guard.close();
      await store.close();
    }
  });

  test('two gateways on one Redis: a retry sent to the other gateway waits for the original', async () => {
    const store1 = new RedisProducerStateStore({ url: redis.url, owner: 'gw-a' });
    const store2 = new RedisProducerStateStore({ url: redis.url, owner: 'gw-b' });
    const guard1 = new IdempotenceGuard(store1, { pollIntervalMs: 10 });
    const guard2 = new IdempotenceGuard(store2, { pollIntervalMs: 10, settleMs: 60_000 });
    try {
      assert.ok((await store1.waitReady()) && (await store2.waitReady()));
      const p = partition();
      const t = ticketOf(await guard1.begin(p, b(0)));
      const retry = guard2.begin(p, b(0));
      await sleep(50);
      await guard1.committed(t, 64n);
      assert.deepEqual(await retry, { kind: 'duplicate', baseOffset: 64n });
    } finally {
      await guard1.close();
      await guard2.close();
      await store1.close();
      await store2.close();
    }
  });
});
