import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { ErrorCode } from '../../src/protocol/errors.js';
import {
  MemoryProducerStateBackend,
  MemoryProducerStateStore,
  ProducerStateUnavailableError,
  RedisProducerStateStore,
  createProducerStateStore,
  producerPartitionKey,
  type BatchReservation,
  type BatchToReserve,
  type ProducerStateStore,
  type ReserveResult,
} from '../../src/producers/producer-state-store.js';
import { MAX_PENDING, MAX_SEQUENCE } from '../../src/producers/sequence-state.js';
import { freePort } from '../support/ports.js';
import { startRedis, type RedisServer } from '../support/redis.js';

let redis: RedisServer;
const opened: ProducerStateStore[] = [];

before(async () => {
  redis = await startRedis();
});

after(async () => {
  await Promise.all(opened.map((s) => s.close()));
  await redis.stop();
});

interface StoreOptions {
  owner?: string;
  expirationMs?: number;
}

/** A way to get stores that share one backend (several "gateways"). */
interface Backend {
  readonly name: string;
  store(options?: StoreOptions): Promise<ProducerStateStore>;
}

function memoryBackend(): Backend {
  const shared = new MemoryProducerStateBackend();
  return {
    name: 'memory',
    async store(options = {}) {
      return new MemoryProducerStateStore({ backend: shared, ...options });
    },
  };
}

function redisBackend(): Backend {
  return {
    name: 'redis',
    async store(options = {}) {
      const store = new RedisProducerStateStore({ url: redis.url, ...options });
      opened.push(store);
      assert.ok(await store.waitReady(5000), 'redis store connects');
      return store;
    },
  };
}

let partitionCounter = 0;
const freshPartition = (): string => producerPartitionKey(`topic-${process.pid}-${partitionCounter++}`, 0);

const batch = (partitionKey: string, baseSequence: number, recordCount = 10, producerEpoch = 0, producerId = 42n): BatchToReserve => ({
  partitionKey,
  producerId,
  producerEpoch,
  baseSequence,
  recordCount,
});

function accepted(result: ReserveResult): { reservation: BatchReservation; predecessor: BatchReservation | null } {
  assert.equal(result.kind, 'accepted', JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  if (result.kind !== 'accepted') throw new Error('unreachable');
  return result;
}

function rejectedCode(result: ReserveResult): number {
  assert.equal(result.kind, 'rejected');
  if (result.kind !== 'rejected') throw new Error('unreachable');
  return result.errorCode;
}

async function write(store: ProducerStateStore, b: BatchToReserve, baseOffset: bigint): Promise<BatchReservation> {
  const { reservation } = accepted(await store.reserve(b));
  assert.equal(await store.commit(reservation, baseOffset), 'committed');
  return reservation;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

for (const make of [memoryBackend, redisBackend]) {
  describe(`ProducerStateStore (${make().name})`, () => {
    let backend: Backend;
    let store: ProducerStateStore;
    before(async () => {
      backend = make();
      store = await backend.store({ owner: 'gw-1' });
    });

    test('reserve, commit; a retry is a duplicate with the original offset; the next batch follows', async () => {
      const p = freshPartition();
      const first = accepted(await store.reserve(batch(p, 0)));
      assert.equal(first.predecessor, null);
      assert.equal(first.reservation.owner, 'gw-1');
      assert.equal(first.reservation.lastSequence, 9);
      assert.equal(await store.commit(first.reservation, 500n), 'committed');
      assert.deepEqual(await store.reserve(batch(p, 0)), { kind: 'duplicate', baseOffset: 500n });
      const second = accepted(await store.reserve(batch(p, 10, 5)));
      assert.equal(await store.commit(second.reservation, 510n), 'committed');
      assert.deepEqual(await store.reserve(batch(p, 10, 5)), { kind: 'duplicate', baseOffset: 510n });
      assert.deepEqual(await store.reserve(batch(p, 0)), { kind: 'duplicate', baseOffset: 500n });
      assert.equal((await store.reserve(batch(p, 15))).kind, 'accepted');
    });

    test('a retry of a pending batch is in-flight and names the pending reservation', async () => {
      const p = freshPartition();
      const { reservation } = accepted(await store.reserve(batch(p, 0), { id: 'orig', nowMs: 1234 }));
      const retry = await store.reserve(batch(p, 0));
      assert.deepEqual(retry, { kind: 'in-flight', pending: reservation });
      assert.equal(reservation.createdAtMs, 1234);
      await store.commit(reservation, 7n);
      assert.deepEqual(await store.reserve(batch(p, 0)), { kind: 'duplicate', baseOffset: 7n });
    });

    test('pipelined batches name their pending predecessor; abort cascades to the followers', async () => {
      const p = freshPartition();
      await write(store, batch(p, 0), 0n);
      const a = accepted(await store.reserve(batch(p, 10)));
      const b = accepted(await store.reserve(batch(p, 20)));
      const c = accepted(await store.reserve(batch(p, 30)));
      assert.equal(a.predecessor, null);
      assert.deepEqual(b.predecessor, a.reservation);
      assert.deepEqual(c.predecessor, b.reservation);
      assert.deepEqual(await store.abort(b.reservation), [c.reservation.id]);
      assert.deepEqual(await store.abort(b.reservation), []);
      assert.deepEqual(await store.pendingReservations(42n, p), [a.reservation]);
      // The failed batch is accepted again, behind the still pending one.
      const again = accepted(await store.reserve(batch(p, 20)));
      assert.deepEqual(again.predecessor, a.reservation);
      // A follower written anyway is recorded late, so its retries stay de-duplicated.
      assert.equal(await store.commit(c.reservation, 30n), 'late');
      assert.deepEqual(await store.reserve(batch(p, 30)), { kind: 'duplicate', baseOffset: 30n });
    });

    test('rejections carry Kafka error codes', async () => {
      const p = freshPartition();
      assert.equal(rejectedCode(await store.reserve(batch(p, 10))), ErrorCode.UNKNOWN_PRODUCER_ID);
      await write(store, batch(p, 0, 10, 1), 0n);
      assert.equal(rejectedCode(await store.reserve(batch(p, 11, 10, 1))), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      assert.equal(rejectedCode(await store.reserve(batch(p, 10, 10, 0))), ErrorCode.INVALID_PRODUCER_EPOCH);
      assert.equal(rejectedCode(await store.reserve(batch(p, 10, 10, 2))), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      assert.equal(rejectedCode(await store.reserve(batch(p, 0, 0))), ErrorCode.INVALID_RECORD);
      assert.equal(rejectedCode(await store.reserve(batch(p, -1))), ErrorCode.INVALID_RECORD);
      assert.equal(rejectedCode(await store.reserve(batch(p, 0, 1, -1))), ErrorCode.INVALID_RECORD);
      assert.equal(rejectedCode(await store.reserve(batch(p, 0, 1, 0, -1n))), ErrorCode.INVALID_RECORD);
      const r = await store.reserve(batch(p, 11, 10, 1));
      assert.ok(r.kind === 'rejected' && /expected the one after 9/.test(r.message));
      // A bumped epoch restarts at 0.
      assert.equal((await store.reserve(batch(p, 0, 10, 2))).kind, 'accepted');
      await assert.rejects(store.reserve(batch('bad{key}', 0)), RangeError);
    });

    test(`at most ${MAX_PENDING} pending reservations`, async () => {
      const p = freshPartition();
      for (let i = 0; i < MAX_PENDING; i++) accepted(await store.reserve(batch(p, i, 1)));
      assert.equal(rejectedCode(await store.reserve(batch(p, MAX_PENDING, 1))), ErrorCode.NOT_ENOUGH_REPLICAS);
    });

    test('the last 5 batches are kept: an evicted retry is OUT_OF_ORDER', async () => {
      const p = freshPartition();
      for (let i = 0; i < 7; i++) await write(store, batch(p, i * 10), BigInt(i * 10));
      assert.equal(rejectedCode(await store.reserve(batch(p, 0))), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      assert.equal(rejectedCode(await store.reserve(batch(p, 10))), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      assert.deepEqual(await store.reserve(batch(p, 20)), { kind: 'duplicate', baseOffset: 20n });
    });

    test('sequences wrap from Int32.MAX to 0', async () => {
      const p = freshPartition();
      await write(store, batch(p, 0, MAX_SEQUENCE - 4), 0n); // 0 .. MAX-5
      const wrapping = await write(store, batch(p, MAX_SEQUENCE - 4, 10), 1n); // MAX-4 .. 4
      assert.equal(wrapping.lastSequence, 4);
      assert.equal((await store.reserve(batch(p, 5))).kind, 'accepted');
    });

    test('int64 base offsets survive', async () => {
      const p = freshPartition();
      const big = (1n << 62n) + 12345n;
      await write(store, batch(p, 0), big);
      assert.deepEqual(await store.reserve(batch(p, 0)), { kind: 'duplicate', baseOffset: big });
    });

    test('commit outcomes: already-committed, late (state gone), stale', async () => {
      const p = freshPartition();
      const r = await write(store, batch(p, 0, 10, 3), 100n);
      assert.equal(await store.commit(r, 100n), 'already-committed');
      const ghost: BatchReservation = { ...r, id: 'ghost', partitionKey: freshPartition(), firstSequence: 40, lastSequence: 49 };
      assert.equal(await store.commit(ghost, 40n), 'late');
      assert.deepEqual(await store.reserve({ ...batch(ghost.partitionKey, 40, 10, 3) }), { kind: 'duplicate', baseOffset: 40n });
      assert.equal(await store.commit({ ...r, id: 'old', producerEpoch: 2, firstSequence: 10, lastSequence: 19 }, 1n), 'stale');
    });

    test('a resent reserve with the same id is idempotent', async () => {
      const p = freshPartition();
      const a = accepted(await store.reserve(batch(p, 0), { id: 'same-a' }));
      const b = accepted(await store.reserve(batch(p, 10), { id: 'same-b' }));
      const b2 = accepted(await store.reserve(batch(p, 10), { id: 'same-b' }));
      assert.deepEqual(b2.predecessor, a.reservation);
      assert.equal(b2.reservation.id, b.reservation.id);
      assert.equal((await store.pendingReservations(42n, p)).length, 2);
    });

    test('pending reservations per producer and per partition; resolve settles them', async () => {
      const p = freshPartition();
      const other = freshPartition();
      const a = accepted(await store.reserve(batch(p, 0, 10, 0, 1n))).reservation;
      const b = accepted(await store.reserve(batch(p, 10, 10, 0, 1n))).reservation;
      const c = accepted(await store.reserve(batch(p, 0, 10, 0, 2n))).reservation;
      await write(store, batch(p, 0, 10, 0, 3n), 0n);
      await store.reserve(batch(other, 0, 10, 0, 1n));
      assert.deepEqual(await store.pendingReservations(1n, p), [a, b]);
      assert.deepEqual(await store.pendingReservations(3n, p), []);
      assert.deepEqual(await store.pendingReservations(9n, p), []);
      const all = await store.partitionPendingReservations(p);
      assert.deepEqual(
        all.map((r) => [r.producerId, r.id]).sort(),
        [
          [1n, a.id],
          [1n, b.id],
          [2n, c.id],
        ].sort(),
      );
      assert.equal(await store.resolve(a, { baseOffset: 0n }), 'committed');
      assert.equal(await store.resolve(b, null), 'removed');
      assert.equal(await store.resolve(b, null), 'not-pending');
      assert.equal(await store.resolve(c, null), 'removed');
      assert.deepEqual(await store.partitionPendingReservations(p), []);
      assert.deepEqual(await store.reserve(batch(p, 0, 10, 0, 1n)), { kind: 'duplicate', baseOffset: 0n });
      assert.equal(rejectedCode(await store.reserve(batch(p, 10, 10, 0, 2n))), ErrorCode.UNKNOWN_PRODUCER_ID);
      assert.equal((await store.reserve(batch(p, 10, 10, 0, 1n))).kind, 'accepted');
    });

    test('state expires after the expiration time without changes', async () => {
      const short = await backend.store({ owner: 'gw-ttl', expirationMs: 300 });
      const p = freshPartition();
      await write(short, batch(p, 0), 0n);
      await sleep(150);
      await write(short, batch(p, 10), 10n); // a change renews it
      await sleep(200);
      assert.deepEqual(await short.reserve(batch(p, 10)), { kind: 'duplicate', baseOffset: 10n });
      await sleep(350);
      assert.equal(rejectedCode(await short.reserve(batch(p, 20))), ErrorCode.UNKNOWN_PRODUCER_ID);
      assert.equal((await short.reserve(batch(p, 0))).kind, 'accepted');
      await sleep(350);
      assert.deepEqual(await short.partitionPendingReservations(p), []);
    });

    test('two gateways on one store: a batch is accepted by exactly one of them', async () => {
      const other = await backend.store({ owner: 'gw-2' });
      const p = freshPartition();
      await write(store, batch(p, 0), 0n);
      for (let i = 1; i <= 30; i++) {
        const attempts = await Promise.all([
          store.reserve(batch(p, i * 10)),
          other.reserve(batch(p, i * 10)),
          other.reserve(batch(p, i * 10)),
          store.reserve(batch(p, i * 10 + 1)), // competes for "next" with a wrong sequence
        ]);
        const winners = attempts.filter((r) => r.kind === 'accepted');
        assert.equal(winners.length, 1, `round ${i}`);
        assert.equal(attempts.filter((r) => r.kind === 'in-flight').length, 2);
        const winner = accepted(winners[0] as ReserveResult).reservation;
        const committer = winner.owner === 'gw-1' ? other : store; // either gateway may record it
        assert.equal(await committer.commit(winner, BigInt(i * 10)), 'committed');
      }
      assert.deepEqual(await other.reserve(batch(p, 300)), { kind: 'duplicate', baseOffset: 300n });
    });
  });
}

describe('RedisProducerStateStore', () => {
  test('a Redis restart without data: the producer gets UNKNOWN_PRODUCER_ID, then restarts at 0', async () => {
    const server = await startRedis();
    const store = new RedisProducerStateStore({ url: server.url, owner: 'gw-r' });
    try {
      assert.ok(await store.waitReady());
      const p = freshPartition();
      await write(store, batch(p, 0), 0n);
      await write(store, batch(p, 10), 10n);
      await server.stop();
      const restarted = await startRedis({ port: server.port });
      try {
        let result: ReserveResult | undefined;
        for (let i = 0; i < 100 && result === undefined; i++) {
          result = await store.reserve(batch(p, 20)).catch((err: unknown) => {
            assert.ok(err instanceof ProducerStateUnavailableError);
            return undefined;
          });
          if (result === undefined) await sleep(50);
        }
        assert.ok(result !== undefined, 'reconnected');
        assert.equal(rejectedCode(result), ErrorCode.UNKNOWN_PRODUCER_ID);
        // The client bumps its epoch and restarts at sequence 0 (scripts reload after NOSCRIPT).
        await write(store, batch(p, 0, 10, 1), 20n);
        assert.equal((await store.reserve(batch(p, 10, 10, 1))).kind, 'accepted');
      } finally {
        await restarted.stop();
      }
    } finally {
      await store.close();
    }
  });

  test('unreachable: operations reject quickly with ProducerStateUnavailableError (NOT_ENOUGH_REPLICAS)', async () => {
    const port = await freePort();
    const store = new RedisProducerStateStore({ url: `redis://127.0.0.1:${port}`, owner: 'gw-down' });
    try {
      const p = freshPartition();
      const started = Date.now();
      for (const op of [
        () => store.reserve(batch(p, 0)),
        () => store.pendingReservations(42n, p),
        () => store.partitionPendingReservations(p),
      ]) {
        await assert.rejects(op(), (err: unknown) => {
          assert.ok(err instanceof ProducerStateUnavailableError);
          assert.equal(err.errorCode, ErrorCode.NOT_ENOUGH_REPLICAS);
          return true;
        });
      }
      assert.ok(Date.now() - started < 2000, `took ${Date.now() - started} ms`);
    } finally {
      await store.close();
    }
  });

  test('a server that stops answering: operations time out within ~1 s, and work again after', async () => {
    const server = await startRedis();
    const store = new RedisProducerStateStore({ url: server.url, owner: 'gw-hang' });
    try {
      assert.ok(await store.waitReady());
      const p = freshPartition();
      await write(store, batch(p, 0), 0n);
      server.pause();
      const started = Date.now();
      await assert.rejects(store.reserve(batch(p, 10)), ProducerStateUnavailableError);
      const took = Date.now() - started;
      assert.ok(took >= 900 && took < 2000, `took ${took} ms`);
      server.resume();
      let result: ReserveResult | undefined;
      for (let i = 0; i < 100 && result === undefined; i++) {
        result = await store.reserve(batch(p, 10)).catch(() => undefined);
        if (result === undefined) await sleep(50);
      }
      // The timed-out reserve may have run after all: it is then pending under another id.
      assert.ok(result?.kind === 'accepted' || result?.kind === 'in-flight', result?.kind);
    } finally {
      await store.close();
      await server.stop();
    }
  });

  test('a server that accepts connections and never answers: quick typed failures', async () => {
    const sockets: import('node:net').Socket[] = [];
    const blackhole: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
    const address = blackhole.address();
    assert.ok(address !== null && typeof address !== 'string');
    const store = new RedisProducerStateStore({ url: `redis://127.0.0.1:${address.port}`, owner: 'gw-bh' });
    try {
      const started = Date.now();
      await assert.rejects(store.reserve(batch(freshPartition(), 0)), ProducerStateUnavailableError);
      assert.ok(Date.now() - started < 2000);
    } finally {
      await store.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => blackhole.close(r));
    }
  });

  test('createProducerStateStore: memory without a URL, Redis with one', async () => {
    const memory = createProducerStateStore({});
    assert.ok(memory instanceof MemoryProducerStateStore);
    const r = createProducerStateStore({ redisUrl: redis.url, expirationMs: 1000 });
    assert.ok(r instanceof RedisProducerStateStore);
    await r.close();
    await memory.close();
  });
});

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('Lua scripts and the TypeScript state machine agree', () => {
  test('600 random operations give the same answers from memory and Redis', async () => {
    const memory = new MemoryProducerStateStore({ owner: 'same' });
    const red = new RedisProducerStateStore({ url: redis.url, owner: 'same' });
    opened.push(red);
    assert.ok(await red.waitReady());
    const random = prng(20240611);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
    const p = freshPartition();
    const reservations: BatchReservation[] = [];
    const producers = new Map<bigint, { epoch: number; next: number }>([
      [1n, { epoch: 0, next: 0 }],
      [2n, { epoch: 0, next: MAX_SEQUENCE - 6 }],
    ]);
    const log: string[] = [];
    for (let step = 0; step < 600; step++) {
      const producerId = pick([1n, 2n]);
      const producer = producers.get(producerId) as { epoch: number; next: number };
      const op = random();
      let a: unknown;
      let b: unknown;
      if (op < 0.55 || reservations.length === 0) {
        let epoch = producer.epoch;
        let seq = producer.next;
        let count = pick([1, 2, 3]);
        const variant = random();
        const recent = reservations.filter((r) => r.producerId === producerId).slice(-6);
        if (variant < 0.15 && recent.length > 0) {
          const r = pick(recent); // a retry
          epoch = r.producerEpoch;
          seq = r.firstSequence;
          count = ((r.lastSequence - r.firstSequence + MAX_SEQUENCE + 1) % (MAX_SEQUENCE + 1)) + 1;
        } else if (variant < 0.2) {
          epoch = producer.epoch + 1; // a bump
          seq = pick([0, 0, 5]);
        } else if (variant < 0.25) {
          epoch = Math.max(0, producer.epoch - 1);
        } else if (variant < 0.3) {
          seq = pick([0, producer.next + 1, Math.max(0, producer.next - 3)]);
        }
        const input = batch(p, seq, count, epoch, producerId);
        const options = { id: `id-${step}`, nowMs: 1000 + step };
        a = await memory.reserve(input, options);
        b = await red.reserve(input, options);
        const result = a as ReserveResult;
        if (result.kind === 'accepted') {
          reservations.push(result.reservation);
          producer.epoch = epoch;
          producer.next = (result.reservation.lastSequence + 1) % (MAX_SEQUENCE + 1);
        }
        log.push(`reserve ${producerId}/${epoch} ${seq}+${count} -> ${result.kind === 'rejected' ? result.reason : result.kind}`);
      } else {
        const r = random() < 0.7 ? pick(reservations.slice(-4)) : pick(reservations);
        const offset = BigInt(step * 100);
        if (op < 0.8) {
          a = await memory.commit(r, offset);
          b = await red.commit(r, offset);
        } else if (op < 0.9) {
          a = await memory.abort(r);
          b = await red.abort(r);
        } else {
          const found = random() < 0.5 ? { baseOffset: offset } : null;
          a = await memory.resolve(r, found);
          b = await red.resolve(r, found);
        }
        log.push(`op on ${r.id} -> ${Array.isArray(a) ? (a.length > 0 ? 'cascade' : 'no-cascade') : String(a)}`);
      }
      assert.deepEqual(b, a, `step ${step}:\n${log.slice(-10).join('\n')}`);
    }
    for (const pid of [1n, 2n]) {
      assert.deepEqual(await red.pendingReservations(pid, p), await memory.pendingReservations(pid, p));
    }
    const sortById = (list: BatchReservation[]): BatchReservation[] => [...list].sort((x, y) => x.id.localeCompare(y.id));
    assert.deepEqual(sortById(await red.partitionPendingReservations(p)), sortById(await memory.partitionPendingReservations(p)));
    const kinds = new Set(log.map((l) => l.split(' -> ')[1]));
    for (const kind of ['accepted', 'duplicate', 'in-flight', 'out-of-order', 'stale-epoch', 'committed', 'late', 'cascade', 'removed']) {
      assert.ok(kinds.has(kind), `outcome ${kind} seen: ${[...kinds].join(', ')}`);
    }
  });
});
