import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ErrorCode } from '../../src/protocol/errors.js';
import {
  BATCHES_TO_RETAIN,
  MAX_EPOCH,
  MAX_PENDING,
  MAX_SEQUENCE,
  abort,
  commit,
  decide,
  decodeState,
  encodeState,
  inSequence,
  lastSequenceOf,
  pendingEntries,
  rejectErrorCode,
  rejectMessage,
  reserve,
  resolve,
  sequenceRange,
  type Decision,
  type SequenceRange,
  type SequenceState,
} from '../../src/producers/sequence-state.js';

const T = 1_700_000_000_000;
let nextId = 0;
const meta = (owner = 'gw-a'): { id: string; owner: string; createdAtMs: number } => ({
  id: `r${nextId++}`,
  owner,
  createdAtMs: T,
});

function range(epoch: number, first: number, count = 10): SequenceRange {
  const r = sequenceRange(epoch, first, count);
  assert.ok(typeof r !== 'string', r as string);
  return r;
}

/** Reserves and commits a batch; returns the new state. */
function write(state: SequenceState | undefined, batch: SequenceRange, baseOffset: bigint): SequenceState {
  const m = meta();
  const r = reserve(state, batch, m);
  assert.equal(r.decision.kind, 'accept', JSON.stringify(r.decision, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
  const c = commit(r.state, { id: m.id, ...batch }, baseOffset);
  assert.equal(c.outcome, 'committed');
  assert.ok(c.state);
  return c.state;
}

function rejected(decision: Decision): { reason: string; code: number } {
  assert.equal(decision.kind, 'reject');
  if (decision.kind !== 'reject') throw new Error('unreachable');
  return { reason: decision.reason, code: rejectErrorCode(decision.reason) };
}

describe('sequence arithmetic', () => {
  test('lastSequenceOf follows Kafka incrementSequence, wrapping after Int32.MAX', () => {
    assert.equal(lastSequenceOf(0, 1), 0);
    assert.equal(lastSequenceOf(0, 10), 9);
    assert.equal(lastSequenceOf(MAX_SEQUENCE, 1), MAX_SEQUENCE);
    assert.equal(lastSequenceOf(MAX_SEQUENCE, 2), 0);
    assert.equal(lastSequenceOf(MAX_SEQUENCE - 1, 5), 2);
    assert.equal(lastSequenceOf(MAX_SEQUENCE - 9, 10), MAX_SEQUENCE);
  });

  test('inSequence: the next number, or 0 after Int32.MAX', () => {
    assert.ok(inSequence(9, 10));
    assert.ok(inSequence(MAX_SEQUENCE, 0));
    assert.ok(inSequence(-1, 0));
    assert.ok(!inSequence(9, 11));
    assert.ok(!inSequence(9, 9));
    assert.ok(!inSequence(9, 0));
  });

  test('sequenceRange validates the identity fields', () => {
    assert.deepEqual(sequenceRange(3, 5, 10), { epoch: 3, firstSeq: 5, lastSeq: 14 });
    assert.deepEqual(sequenceRange(MAX_EPOCH, MAX_SEQUENCE, 3), { epoch: MAX_EPOCH, firstSeq: MAX_SEQUENCE, lastSeq: 1 });
    for (const [epoch, seq, count] of [
      [-1, 0, 1],
      [MAX_EPOCH + 1, 0, 1],
      [1.5, 0, 1],
      [0, -1, 1],
      [0, MAX_SEQUENCE + 1, 1],
      [0, 0.5, 1],
      [0, 0, 0],
      [0, 0, -3],
    ] as const) {
      assert.equal(typeof sequenceRange(epoch, seq, count), 'string', `${epoch} ${seq} ${count}`);
    }
  });
});

describe('decide', () => {
  test('no state: sequence 0 is accepted, anything else is UNKNOWN_PRODUCER_ID', () => {
    assert.deepEqual(decide(undefined, range(0, 0)), { kind: 'accept', predecessor: null });
    assert.deepEqual(decide(undefined, range(7, 0)), { kind: 'accept', predecessor: null });
    const r = rejected(decide(undefined, range(0, 10)));
    assert.deepEqual(r, { reason: 'unknown-producer', code: ErrorCode.UNKNOWN_PRODUCER_ID });
  });

  test('the next batch of the same epoch is accepted; a gap or a repeat of an older range is OUT_OF_ORDER', () => {
    const s = write(undefined, range(0, 0), 100n);
    assert.deepEqual(decide(s, range(0, 10)), { kind: 'accept', predecessor: null });
    assert.deepEqual(rejected(decide(s, range(0, 11))), { reason: 'out-of-order', code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
    assert.equal(rejected(decide(s, range(0, 5))).reason, 'out-of-order'); // overlaps, not identical
    assert.equal(rejected(decide(s, range(0, 0, 5))).reason, 'out-of-order'); // same first, other last
    assert.equal(rejected(decide(s, range(0, 0, 11))).reason, 'out-of-order');
  });

  test('an identical committed batch is a DUPLICATE with its base offset', () => {
    const s = write(write(undefined, range(0, 0), 100n), range(0, 10), 110n);
    assert.deepEqual(decide(s, range(0, 0)), { kind: 'duplicate', baseOffset: 100n });
    assert.deepEqual(decide(s, range(0, 10)), { kind: 'duplicate', baseOffset: 110n });
  });

  test('an identical pending batch is IN_FLIGHT, naming the pending reservation', () => {
    const s = write(undefined, range(0, 0), 100n);
    const m = meta('gw-b');
    const r = reserve(s, range(0, 10), m);
    const d = decide(r.state, range(0, 10));
    assert.equal(d.kind, 'in-flight');
    if (d.kind !== 'in-flight') return;
    assert.equal(d.pending.id, m.id);
    assert.equal(d.pending.owner, 'gw-b');
    assert.equal(d.pending.createdAtMs, T);
  });

  test('an older epoch is INVALID_PRODUCER_EPOCH, also for a range the older epoch wrote', () => {
    const s = write(write(undefined, range(0, 0), 100n), range(1, 0), 110n);
    assert.deepEqual(rejected(decide(s, range(0, 10))), { reason: 'stale-epoch', code: ErrorCode.INVALID_PRODUCER_EPOCH });
    assert.equal(rejected(decide(s, range(0, 0))).reason, 'stale-epoch');
  });

  test('a newer epoch must restart at sequence 0', () => {
    const s = write(undefined, range(0, 0), 100n);
    assert.deepEqual(decide(s, range(1, 0)), { kind: 'accept', predecessor: null });
    assert.deepEqual(decide(s, range(5, 0)), { kind: 'accept', predecessor: null });
    assert.deepEqual(rejected(decide(s, range(1, 10))), {
      reason: 'new-epoch-sequence',
      code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
  });

  test('sequence 0 in the same epoch is out of order unless the last sequence was Int32.MAX', () => {
    const s = write(undefined, range(0, 0), 100n);
    assert.equal(rejected(decide(s, range(0, 0, 3))).reason, 'out-of-order');
    const atMax = write(s, range(0, 10, MAX_SEQUENCE - 9), 110n); // 10 .. MAX
    assert.deepEqual(decide(atMax, range(0, 0, 3)), { kind: 'accept', predecessor: null });
  });

  test('a batch that wraps past Int32.MAX is followed by the sequence after its wrapped last', () => {
    let s = write(undefined, range(0, 0), 0n);
    s = write(s, range(0, 10, MAX_SEQUENCE - 14), 10n); // 10 .. MAX-5
    s = write(s, range(0, MAX_SEQUENCE - 4, 10), 20n); // MAX-4 .. 4
    assert.deepEqual(decide(s, range(0, 5)), { kind: 'accept', predecessor: null });
    assert.deepEqual(decide(s, range(0, MAX_SEQUENCE - 4, 10)), { kind: 'duplicate', baseOffset: 20n });
    assert.equal(rejected(decide(s, range(0, 0, 3))).reason, 'out-of-order');
  });

  test('pipelined batches chain behind pending reservations, which are named as predecessor', () => {
    const s = write(undefined, range(0, 0), 100n);
    const a = meta();
    const r1 = reserve(s, range(0, 10), a);
    assert.deepEqual(r1.decision, { kind: 'accept', predecessor: null });
    const r2 = reserve(r1.state, range(0, 20), meta());
    assert.equal(r2.decision.kind, 'accept');
    if (r2.decision.kind !== 'accept') return;
    assert.equal(r2.decision.predecessor?.id, a.id);
    assert.equal(rejected(decide(r2.state, range(0, 20, 5))).reason, 'out-of-order');
    assert.deepEqual(decide(r2.state, range(0, 30)).kind, 'accept');
  });

  test(`at most ${MAX_PENDING} pending reservations: then NOT_ENOUGH_REPLICAS`, () => {
    let s: SequenceState | undefined;
    for (let i = 0; i < MAX_PENDING; i++) {
      const r = reserve(s, range(0, i * 10), meta());
      assert.equal(r.decision.kind, 'accept');
      s = r.state;
    }
    assert.deepEqual(rejected(decide(s, range(0, MAX_PENDING * 10))), {
      reason: 'too-many-pending',
      code: ErrorCode.NOT_ENOUGH_REPLICAS,
    });
    // A retry of a pending one is still recognised.
    assert.equal(decide(s, range(0, 0)).kind, 'in-flight');
  });

  test('messages name what was expected', () => {
    const b = range(2, 30);
    assert.match(rejectMessage('unknown-producer', b, -1, -1), /sequence 0, not 30/);
    assert.match(rejectMessage('stale-epoch', b, 3, 9), /epoch 2 is older than the current epoch 3/);
    assert.match(rejectMessage('new-epoch-sequence', b, 1, 9), /must start at sequence 0, not 30/);
    assert.match(rejectMessage('out-of-order', b, 2, 9), /30 \(expected the one after 9/);
    assert.match(rejectMessage('too-many-pending', b, 2, 9), /awaiting/);
  });
});

describe('reserve', () => {
  test('adds a pending entry with the next ordinal; refusals leave the state as it was', () => {
    const m = meta('gw-x');
    const r = reserve(undefined, range(0, 0), m);
    assert.deepEqual(r.state, {
      nextOrdinal: 1,
      entries: [{ status: 'pending', ordinal: 0, epoch: 0, firstSeq: 0, lastSeq: 9, id: m.id, owner: 'gw-x', createdAtMs: T }],
    });
    const refused = reserve(r.state, range(0, 50), meta());
    assert.equal(refused.state, r.state);
    const dup = reserve(r.state, range(0, 0), meta());
    assert.equal(dup.decision.kind, 'in-flight');
    assert.equal(dup.state, r.state);
  });

  test('is idempotent per reservation id (a resent call)', () => {
    const a = meta();
    const r1 = reserve(undefined, range(0, 0), a);
    const b = meta();
    const r2 = reserve(r1.state, range(0, 10), b);
    const again = reserve(r2.state, range(0, 10), b);
    assert.equal(again.state, r2.state);
    assert.equal(again.decision.kind, 'accept');
    if (again.decision.kind === 'accept') assert.equal(again.decision.predecessor?.id, a.id);
    const first = reserve(r2.state, range(0, 0), a);
    assert.deepEqual(first.decision, { kind: 'accept', predecessor: null });
  });
});

describe('commit', () => {
  test(`keeps the last ${BATCHES_TO_RETAIN} batches: a retry of an evicted one is OUT_OF_ORDER, of a kept one DUPLICATE`, () => {
    let s: SequenceState | undefined;
    for (let i = 0; i < 7; i++) s = write(s, range(0, i * 10), BigInt(1000 + i * 10));
    assert.equal(s?.entries.length, BATCHES_TO_RETAIN);
    assert.equal(rejected(decide(s, range(0, 0))).reason, 'out-of-order');
    assert.equal(rejected(decide(s, range(0, 10))).reason, 'out-of-order');
    assert.deepEqual(decide(s, range(0, 20)), { kind: 'duplicate', baseOffset: 1020n });
    assert.deepEqual(decide(s, range(0, 60)), { kind: 'duplicate', baseOffset: 1060n });
    assert.equal(decide(s, range(0, 70)).kind, 'accept');
  });

  test('pending reservations are not evicted by the window', () => {
    const a = meta();
    let s = reserve(undefined, range(0, 0), a).state;
    const ids = [a.id];
    for (let i = 1; i < 8; i++) {
      const m = meta();
      ids.push(m.id);
      s = reserve(s, range(0, i * 10), m).state;
    }
    for (let i = 7; i >= 1; i--) s = commit(s, { id: ids[i] as string, ...range(0, i * 10) }, BigInt(i * 10)).state;
    assert.deepEqual(
      s?.entries.map((e) => [e.status, e.firstSeq]),
      [
        ['pending', 0],
        ['committed', 30],
        ['committed', 40],
        ['committed', 50],
        ['committed', 60],
        ['committed', 70],
      ],
    );
    s = commit(s, { id: a.id, ...range(0, 0) }, 0n).state;
    assert.deepEqual(
      s?.entries.map((e) => e.firstSeq),
      [30, 40, 50, 60, 70],
    );
  });

  test('commits out of order keep the log order (ordinals)', () => {
    const a = meta();
    const b = meta();
    let s = reserve(undefined, range(0, 0), a).state;
    s = reserve(s, range(0, 10), b).state;
    s = commit(s, { id: b.id, ...range(0, 10) }, 10n).state;
    assert.equal(decide(s, range(0, 20)).kind, 'accept');
    s = commit(s, { id: a.id, ...range(0, 0) }, 0n).state;
    assert.deepEqual(
      s?.entries.map((e) => [e.status, e.firstSeq, e.ordinal]),
      [
        ['committed', 0, 0],
        ['committed', 10, 1],
      ],
    );
    assert.deepEqual(decide(s, range(0, 20)), { kind: 'accept', predecessor: null });
  });

  test('a repeated commit is already-committed and changes nothing', () => {
    const a = meta();
    const s = commit(reserve(undefined, range(0, 0), a).state, { id: a.id, ...range(0, 0) }, 5n).state;
    const again = commit(s, { id: a.id, ...range(0, 0) }, 5n);
    assert.equal(again.outcome, 'already-committed');
    assert.equal(again.state, s);
  });

  test('a commit of a reservation no longer pending is recorded late; of an older epoch, ignored as stale', () => {
    // The state expired meanwhile.
    const late = commit(undefined, { id: 'gone', ...range(3, 40) }, 77n);
    assert.equal(late.outcome, 'late');
    assert.deepEqual(decide(late.state, range(3, 40)), { kind: 'duplicate', baseOffset: 77n });
    assert.equal(decide(late.state, range(3, 50)).kind, 'accept');
    // Cascaded away, then written anyway.
    const a = meta();
    const b = meta();
    let s = reserve(write(undefined, range(0, 0), 0n), range(0, 10), a).state;
    s = reserve(s, range(0, 20), b).state;
    s = abort(s, a.id).state;
    const c = commit(s, { id: b.id, ...range(0, 20) }, 20n);
    assert.equal(c.outcome, 'late');
    assert.deepEqual(decide(c.state, range(0, 20)), { kind: 'duplicate', baseOffset: 20n });
    // Older epoch than committed.
    const newer = write(undefined, range(2, 0), 0n);
    const stale = commit(newer, { id: 'old', ...range(1, 10) }, 9n);
    assert.equal(stale.outcome, 'stale');
    assert.equal(stale.state, newer);
  });

  test('committing a new epoch drops the older epoch batches, not pending ones', () => {
    const old = meta();
    let s = write(undefined, range(0, 0), 0n);
    s = reserve(s, range(0, 10), old).state as SequenceState;
    const bump = meta();
    s = reserve(s, range(1, 0), bump).state as SequenceState;
    // Until the new epoch is committed, the old epoch's batches still answer as duplicates.
    assert.deepEqual(decide(s, range(0, 0)), { kind: 'duplicate', baseOffset: 0n });
    s = commit(s, { id: bump.id, ...range(1, 0) }, 20n).state as SequenceState;
    assert.deepEqual(
      s.entries.map((e) => [e.status, e.epoch, e.firstSeq]),
      [
        ['pending', 0, 10],
        ['committed', 1, 0],
      ],
    );
    assert.equal(rejected(decide(s, range(0, 0))).reason, 'stale-epoch');
    assert.equal(commit(s, { id: old.id, ...range(0, 10) }, 10n).state?.entries.length, 1);
  });
});

describe('abort', () => {
  test('removes the reservation and the later pending ones of its epoch, and returns their ids', () => {
    const before = meta();
    const target = meta();
    const after1 = meta();
    const after2 = meta();
    let s = write(undefined, range(0, 0), 0n);
    s = reserve(s, range(0, 10), before).state as SequenceState;
    s = reserve(s, range(0, 20), target).state as SequenceState;
    s = reserve(s, range(0, 30), after1).state as SequenceState;
    s = reserve(s, range(0, 40), after2).state as SequenceState;
    const r = abort(s, target.id);
    assert.equal(r.found, true);
    assert.deepEqual(r.cancelled, [after1.id, after2.id]);
    assert.deepEqual(
      r.state?.entries.map((e) => [e.status, e.firstSeq]),
      [
        ['committed', 0],
        ['pending', 10],
      ],
    );
    // The failed batch may now be sent again.
    assert.deepEqual(decide(r.state, range(0, 20)).kind, 'accept');
  });

  test('does not cancel pending reservations of another epoch', () => {
    const a = meta();
    const bumped = meta();
    let s = reserve(write(undefined, range(0, 0), 0n), range(0, 10), a).state;
    s = reserve(s, range(1, 0), bumped).state;
    const r = abort(s, a.id);
    assert.deepEqual(r.cancelled, []);
    assert.deepEqual(pendingEntries(r.state).map((e) => e.id), [bumped.id]);
  });

  test('an aborted new epoch no longer fences the old one', () => {
    const bump = meta();
    const s = reserve(write(undefined, range(0, 0), 0n), range(1, 0), bump).state;
    assert.equal(rejected(decide(s, range(0, 10))).reason, 'stale-epoch');
    const r = abort(s, bump.id);
    assert.equal(decide(r.state, range(0, 10)).kind, 'accept');
  });

  test('aborting the only entry leaves no state; an unknown id changes nothing', () => {
    const a = meta();
    const s = reserve(undefined, range(0, 0), a).state;
    assert.deepEqual(abort(s, 'nope'), { state: s, found: false, cancelled: [] });
    assert.deepEqual(abort(undefined, a.id), { state: undefined, found: false, cancelled: [] });
    assert.deepEqual(abort(s, a.id), { state: undefined, found: true, cancelled: [] });
  });
});

describe('resolve', () => {
  test('found: recorded as a commit; not found: only that entry is removed', () => {
    const a = meta();
    const b = meta();
    let s = reserve(write(undefined, range(0, 0), 0n), range(0, 10), a).state;
    s = reserve(s, range(0, 20), b).state;
    const notFound = resolve(s, { id: a.id, ...range(0, 10) }, null);
    assert.equal(notFound.outcome, 'removed');
    assert.deepEqual(pendingEntries(notFound.state).map((e) => e.id), [b.id]);
    const found = resolve(s, { id: a.id, ...range(0, 10) }, { baseOffset: 10n });
    assert.equal(found.outcome, 'committed');
    assert.deepEqual(decide(found.state, range(0, 10)), { kind: 'duplicate', baseOffset: 10n });
    assert.equal(resolve(notFound.state, { id: a.id, ...range(0, 10) }, null).outcome, 'not-pending');
    assert.equal(resolve(undefined, { id: a.id, ...range(0, 10) }, null).outcome, 'not-pending');
    const only = reserve(undefined, range(0, 0), meta());
    const onlyId = pendingEntries(only.state)[0]?.id as string;
    assert.equal(resolve(only.state, { id: onlyId, ...range(0, 0) }, null).state, undefined);
  });
});

describe('stored form', () => {
  test('round-trips, int64 offsets included; an empty Lua list ({}) reads as empty', () => {
    const a = meta('gw/1');
    let s = write(undefined, range(4, 0), (1n << 62n) + 3n);
    s = reserve(s, range(4, 10), a).state as SequenceState;
    assert.deepEqual(decodeState(encodeState(s)), s);
    assert.deepEqual(decodeState('{"n":3,"e":{}}'), { nextOrdinal: 3, entries: [] });
  });
});
