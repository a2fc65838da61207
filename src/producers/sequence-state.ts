/**
 * The idempotent-producer sequence state machine for one (producer id, partition) (DESIGN.md
 * section 6): Kafka's ProducerStateManager/ProducerAppendInfo rules, split in two phases because
 * the append (a Kinesis PutRecords) happens between the check and the update.
 *
 * ## What is kept
 *
 * `entries`, in reservation order (`ordinal`):
 * - committed batches: the last 5 written batches of the newest committed epoch, each with its
 *   first and last sequence and base offset (Kafka keeps the same 5 in ProducerStateEntry);
 * - pending batches: reserved, written or being written, outcome not yet recorded. Each carries a
 *   random id, the owner (the gateway process that reserved it) and when it was reserved.
 *
 * ## Decisions for an incoming batch (epoch e, sequences s..l)
 *
 * In this order, as Kafka checks them (UnifiedLog.analyzeAndValidateProducerState, then
 * ProducerAppendInfo.checkProducerEpoch and checkSequence):
 * 1. no entries at all (new producer, state expired, Redis lost its data): accept when s == 0,
 *    else UNKNOWN_PRODUCER_ID. Kafka since KIP-360 accepts any sequence here because it rebuilds
 *    producer state from its own log; our state can vanish while the log keeps the batches, so a
 *    retry of a written batch would be accepted again. UNKNOWN_PRODUCER_ID makes the Java client
 *    and librdkafka bump the epoch and restart at sequence 0 (accepted), so nothing acknowledged
 *    is written twice.
 * 2. an entry with the same epoch, first and last sequence: committed -> DUPLICATE (Kafka answers
 *    NONE with the original base offset); pending -> IN_FLIGHT (see below).
 * 3. e < newest epoch -> INVALID_PRODUCER_EPOCH.
 * 4. e > newest epoch -> accepted only at s == 0 (a bumped epoch restarts its sequences), else
 *    OUT_OF_ORDER_SEQUENCE_NUMBER.
 * 5. same epoch: s must follow the last sequence of the newest entry, committed or pending
 *    (pipelined batches chain behind reservations still being written), with wrap-around from
 *    Int32.MAX to 0; else OUT_OF_ORDER_SEQUENCE_NUMBER. A retry of a batch already evicted from
 *    the 5-batch window therefore gets OUT_OF_ORDER_SEQUENCE_NUMBER, as from Kafka 1.0 on
 *    (0.11 answered DUPLICATE_SEQUENCE_NUMBER).
 * Also: more than MAX_PENDING unresolved reservations -> NOT_ENOUGH_REPLICAS (retriable).
 *
 * ## Two phases
 *
 * reserve(batch) before the write adds a pending entry; commit(reservation, baseOffset) after a
 * successful write turns it into a committed batch; abort(reservation) after a failed write
 * (nothing of it reached Kinesis) removes it and every later pending reservation of the same epoch,
 * because those were accepted only as followers of this one and Kafka would have refused them
 * (OUT_OF_ORDER_SEQUENCE_NUMBER). The caller must not write the cancelled followers (see
 * IdempotenceGuard's ticket signal). commit() accepts a reservation that is no longer pending
 * (cascaded away, or resolved): the batch is in the log, so it is recorded ("late") and its
 * retries stay de-duplicated. The outcome order of commit/abort calls does not matter: ordinals
 * keep the log order.
 *
 * ## A retry while the original is still pending (IN_FLIGHT)
 *
 * Happens when a client's request timed out (or its connection dropped) while our PutRecords was
 * still running. It must be neither written a second time nor refused in a way that makes the
 * client renumber. The guard first waits for the original's outcome (it is usually in this same
 * process and resolves within one PutRecords) and then re-reserves, getting DUPLICATE (answered
 * NONE with the original offset) or, if the original failed, a fresh acceptance. Only when the wait
 * runs out does it answer REQUEST_TIMED_OUT, chosen because every client retries it unchanged:
 * - Java client: TimeoutException is a RetriableException with no special idempotence handling
 *   (TransactionManager.canRetry), so the batch is re-enqueued with the same sequence; whereas
 *   OUT_OF_ORDER_SEQUENCE_NUMBER on the next expected batch makes it bump the epoch and renumber
 *   (a second copy), and UNKNOWN_PRODUCER_ID bumps as well.
 * - librdkafka: REQUEST_TIMED_OUT is RETRY + MSG_POSSIBLY_PERSISTED (the truth here); it drains
 *   the partition and resends the same sequence, "expecting DUPLICATE_SEQUENCE_NUMBER in case it
 *   was persisted or NO_ERROR in case it wasn't". OUT_OF_ORDER_SEQUENCE_NUMBER on the head-of-line
 *   batch is a *fatal* "sequence desynchronization" error in librdkafka.
 *   NOT_ENOUGH_REPLICAS would also be retried but reports MSG_NOT_PERSISTED, which is false.
 * - kafkajs: REQUEST_TIMED_OUT is retriable; it resends the same request.
 * CONCURRENT_TRANSACTIONS is not retried by librdkafka on Produce (a permanent error there, which
 * on an idempotent producer bumps the epoch and fails the messages).
 *
 * ## Crash safety: reservations whose outcome is unknown
 *
 * A gateway that dies between reserve and commit leaves a pending entry. Its batch may or may not
 * be in Kinesis. Protocol for the log layer, on taking over a partition (before serving Produce
 * for it) and whenever the guard asks through its `locate` hook:
 * 1. list the partition's pending reservations (ProducerStateStore.partitionPendingReservations,
 *    or pendingReservations(pid, partition) for one producer);
 * 2. for each one not owned by a live writer of this process, wait until it is settled: no write
 *    of it can still land, i.e. createdAtMs + the writer's longest retry window + one PutRecords
 *    timeout has passed (or its owner is known dead and fenced by the partition lease);
 * 3. look for the batch identity (producer id, epoch, base sequence; in kpl format the batch tag on
 *    the first sub-record, in kafka format the batch header) among the partition's records written
 *    since createdAtMs (minus clock skew); raw format carries no identity (at-least-once);
 * 4. resolve(reservation, { baseOffset }) when found, resolve(reservation, null) when not.
 * resolve(.., null) removes only that entry (no cascade): later batches that were found are in the
 * log and stay recorded. Until resolved, a retry of that batch gets IN_FLIGHT, and a new batch that
 * would chain behind an unresolved reservation of another owner is held back (see the guard), so a
 * batch is never acknowledged behind one that may be lost.
 */
import { ErrorCode } from '../protocol/errors.js';

/** Largest sequence number; the next one is 0. */
export const MAX_SEQUENCE = 2147483647;
/** Committed batches kept per (producer, partition), as Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN. */
export const BATCHES_TO_RETAIN = 5;
/** Unresolved reservations allowed per (producer, partition); clients keep at most 5 in flight. */
export const MAX_PENDING = 64;
/** Largest producer epoch. */
export const MAX_EPOCH = 32767;

/** The last sequence of a batch of `recordCount` records starting at `baseSequence`, wrapping past Int32.MAX. */
export function lastSequenceOf(baseSequence: number, recordCount: number): number {
  const delta = recordCount - 1;
  return baseSequence > MAX_SEQUENCE - delta ? delta - (MAX_SEQUENCE - baseSequence) - 1 : baseSequence + delta;
}

/** Whether `next` directly follows `last` (Kafka's ProducerAppendInfo.inSequence). */
export function inSequence(last: number, next: number): boolean {
  return next === last + 1 || (next === 0 && last === MAX_SEQUENCE);
}

export interface CommittedEntry {
  readonly status: 'committed';
  readonly ordinal: number;
  readonly epoch: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly baseOffset: bigint;
}

export interface PendingEntry {
  readonly status: 'pending';
  readonly ordinal: number;
  readonly epoch: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly id: string;
  readonly owner: string;
  readonly createdAtMs: number;
}

export type StateEntry = CommittedEntry | PendingEntry;

/** The state of one (producer id, partition); entries sorted by ordinal. Never empty when stored. */
export interface SequenceState {
  readonly nextOrdinal: number;
  readonly entries: readonly StateEntry[];
}

/** What a batch claims, after validation. */
export interface SequenceRange {
  readonly epoch: number;
  readonly firstSeq: number;
  readonly lastSeq: number;
}

export type RejectReason = 'unknown-producer' | 'stale-epoch' | 'new-epoch-sequence' | 'out-of-order' | 'too-many-pending';

export type Decision =
  | { readonly kind: 'accept'; readonly predecessor: PendingEntry | null }
  | { readonly kind: 'duplicate'; readonly baseOffset: bigint }
  | { readonly kind: 'in-flight'; readonly pending: PendingEntry }
  | { readonly kind: 'reject'; readonly reason: RejectReason; readonly currentEpoch: number; readonly lastSeq: number };

const REJECT_CODES: Record<RejectReason, number> = {
  'unknown-producer': ErrorCode.UNKNOWN_PRODUCER_ID,
  'stale-epoch': ErrorCode.INVALID_PRODUCER_EPOCH,
  'new-epoch-sequence': ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  'out-of-order': ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
  'too-many-pending': ErrorCode.NOT_ENOUGH_REPLICAS,
};

/** The Kafka error code answering a rejection. */
export function rejectErrorCode(reason: RejectReason): number {
  return REJECT_CODES[reason];
}

/** A log/response message for a rejection, in the spirit of Kafka's. */
export function rejectMessage(reason: RejectReason, batch: SequenceRange, currentEpoch: number, lastSeq: number): string {
  switch (reason) {
    case 'unknown-producer':
      return `no state for this producer (expired or lost); a new producer must start at sequence 0, not ${batch.firstSeq}`;
    case 'stale-epoch':
      return `producer epoch ${batch.epoch} is older than the current epoch ${currentEpoch}`;
    case 'new-epoch-sequence':
      return `a new producer epoch ${batch.epoch} (current ${currentEpoch}) must start at sequence 0, not ${batch.firstSeq}`;
    case 'out-of-order':
      return `out of order sequence number ${batch.firstSeq} (expected the one after ${lastSeq}, epoch ${currentEpoch})`;
    case 'too-many-pending':
      return `more than ${MAX_PENDING} batches of this producer are awaiting their outcome`;
  }
}

/** Checks a batch's identity fields and computes its last sequence; a message when invalid. */
export function sequenceRange(producerEpoch: number, baseSequence: number, recordCount: number): SequenceRange | string {
  if (!Number.isInteger(producerEpoch) || producerEpoch < 0 || producerEpoch > MAX_EPOCH) {
    return `invalid producer epoch ${producerEpoch}`;
  }
  if (!Number.isInteger(baseSequence) || baseSequence < 0 || baseSequence > MAX_SEQUENCE) {
    return `invalid base sequence ${baseSequence}`;
  }
  if (!Number.isInteger(recordCount) || recordCount < 1 || recordCount > MAX_SEQUENCE) {
    return `invalid record count ${recordCount}`;
  }
  return { epoch: producerEpoch, firstSeq: baseSequence, lastSeq: lastSequenceOf(baseSequence, recordCount) };
}

function sameRange(entry: StateEntry, batch: SequenceRange): boolean {
  return entry.epoch === batch.epoch && entry.firstSeq === batch.firstSeq && entry.lastSeq === batch.lastSeq;
}

/** The decision for a batch against the state (undefined: no state). Does not change anything. */
export function decide(state: SequenceState | undefined, batch: SequenceRange): Decision {
  const entries = state?.entries ?? [];
  const newest = entries[entries.length - 1];
  if (newest === undefined) {
    return batch.firstSeq === 0
      ? { kind: 'accept', predecessor: null }
      : { kind: 'reject', reason: 'unknown-producer', currentEpoch: -1, lastSeq: -1 };
  }
  for (const entry of entries) {
    if (!sameRange(entry, batch)) continue;
    return entry.status === 'committed'
      ? { kind: 'duplicate', baseOffset: entry.baseOffset }
      : { kind: 'in-flight', pending: entry };
  }
  const reject = (reason: RejectReason): Decision => ({
    kind: 'reject',
    reason,
    currentEpoch: newest.epoch,
    lastSeq: newest.lastSeq,
  });
  if (batch.epoch < newest.epoch) return reject('stale-epoch');
  if (batch.epoch > newest.epoch) {
    if (batch.firstSeq !== 0) return reject('new-epoch-sequence');
  } else if (!inSequence(newest.lastSeq, batch.firstSeq)) {
    return reject('out-of-order');
  }
  if (entries.filter((e) => e.status === 'pending').length >= MAX_PENDING) return reject('too-many-pending');
  return { kind: 'accept', predecessor: newest.status === 'pending' ? newest : null };
}

export interface ReservationMeta {
  readonly id: string;
  readonly owner: string;
  readonly createdAtMs: number;
}

/**
 * decide() and, when accepted, the state with the new pending entry. Idempotent per reservation
 * id: a reservation already pending under `meta.id` is accepted again unchanged (a resent call).
 */
export function reserve(
  state: SequenceState | undefined,
  batch: SequenceRange,
  meta: ReservationMeta,
): { state: SequenceState | undefined; decision: Decision } {
  const entries = state?.entries ?? [];
  const index = entries.findIndex((e) => e.status === 'pending' && e.id === meta.id);
  if (index >= 0) {
    const before = entries[index - 1];
    return { state, decision: { kind: 'accept', predecessor: before?.status === 'pending' ? before : null } };
  }
  const decision = decide(state, batch);
  if (decision.kind !== 'accept') return { state, decision };
  const nextOrdinal = state?.nextOrdinal ?? 0;
  const entry: PendingEntry = {
    status: 'pending',
    ordinal: nextOrdinal,
    epoch: batch.epoch,
    firstSeq: batch.firstSeq,
    lastSeq: batch.lastSeq,
    id: meta.id,
    owner: meta.owner,
    createdAtMs: meta.createdAtMs,
  };
  return { state: { nextOrdinal: nextOrdinal + 1, entries: [...entries, entry] }, decision };
}

/** What a batch whose outcome is being recorded is: the reservation's id and range. */
export interface ReservationRef extends SequenceRange {
  readonly id: string;
}

/**
 * - committed: it was pending and is now a committed batch;
 * - already-committed: a committed batch with the same range is there (a repeated commit);
 * - late: it was no longer pending (cascaded away, resolved, or the state expired) and has been
 *   recorded as the newest batch, because the log holds it;
 * - stale: not recorded, its epoch is older than the committed epoch.
 */
export type CommitOutcome = 'committed' | 'already-committed' | 'late' | 'stale';

/** Drops committed batches of older epochs and all but the newest BATCHES_TO_RETAIN committed ones. */
function trim(entries: StateEntry[]): StateEntry[] {
  let epoch = -1;
  for (const e of entries) if (e.status === 'committed' && e.epoch > epoch) epoch = e.epoch;
  let keep = BATCHES_TO_RETAIN;
  const kept: StateEntry[] = [];
  for (let i = entries.length - 1; i >= 0; i--) {
    const e = entries[i] as StateEntry;
    if (e.status === 'committed') {
      if (e.epoch < epoch || keep === 0) continue;
      keep--;
    }
    kept.push(e);
  }
  return kept.reverse();
}

function committedEpoch(entries: readonly StateEntry[]): number {
  let epoch = -1;
  for (const e of entries) if (e.status === 'committed' && e.epoch > epoch) epoch = e.epoch;
  return epoch;
}

function withEntries(nextOrdinal: number, entries: StateEntry[]): SequenceState | undefined {
  return entries.length === 0 ? undefined : { nextOrdinal, entries };
}

/** Records a written batch (see CommitOutcome). */
export function commit(
  state: SequenceState | undefined,
  ref: ReservationRef,
  baseOffset: bigint,
): { state: SequenceState | undefined; outcome: CommitOutcome } {
  const entries = [...(state?.entries ?? [])];
  const nextOrdinal = state?.nextOrdinal ?? 0;
  const index = entries.findIndex((e) => e.status === 'pending' && e.id === ref.id);
  if (index >= 0) {
    const pending = entries[index] as PendingEntry;
    entries[index] = {
      status: 'committed',
      ordinal: pending.ordinal,
      epoch: pending.epoch,
      firstSeq: pending.firstSeq,
      lastSeq: pending.lastSeq,
      baseOffset,
    };
    return { state: withEntries(nextOrdinal, trim(entries)), outcome: 'committed' };
  }
  if (entries.some((e) => e.status === 'committed' && sameRange(e, ref))) return { state, outcome: 'already-committed' };
  if (ref.epoch < committedEpoch(entries)) return { state, outcome: 'stale' };
  entries.push({
    status: 'committed',
    ordinal: nextOrdinal,
    epoch: ref.epoch,
    firstSeq: ref.firstSeq,
    lastSeq: ref.lastSeq,
    baseOffset,
  });
  return { state: withEntries(nextOrdinal + 1, trim(entries)), outcome: 'late' };
}

/**
 * Removes a failed reservation and the later pending reservations of the same epoch; returns the
 * ids removed besides its own (empty, and the state unchanged, when it was not pending).
 */
export function abort(
  state: SequenceState | undefined,
  id: string,
): { state: SequenceState | undefined; found: boolean; cancelled: string[] } {
  const entries = state?.entries ?? [];
  const target = entries.find((e) => e.status === 'pending' && e.id === id);
  if (state === undefined || target === undefined) return { state, found: false, cancelled: [] };
  const cancelled: string[] = [];
  const kept = entries.filter((e) => {
    if (e === target) return false;
    if (e.status === 'pending' && e.ordinal > target.ordinal && e.epoch === target.epoch) {
      cancelled.push(e.id);
      return false;
    }
    return true;
  });
  return { state: withEntries(state.nextOrdinal, kept), found: true, cancelled };
}

export type ResolveOutcome = CommitOutcome | 'removed' | 'not-pending';

/**
 * Settles a reservation whose outcome was unknown (crash recovery): found in the log -> commit();
 * not found -> its pending entry alone is removed ('removed'; 'not-pending' when it was not there).
 */
export function resolve(
  state: SequenceState | undefined,
  ref: ReservationRef,
  found: { baseOffset: bigint } | null,
): { state: SequenceState | undefined; outcome: ResolveOutcome } {
  if (found !== null) return commit(state, ref, found.baseOffset);
  const entries = state?.entries ?? [];
  if (state === undefined || !entries.some((e) => e.status === 'pending' && e.id === ref.id)) {
    return { state, outcome: 'not-pending' };
  }
  const kept = entries.filter((e) => !(e.status === 'pending' && e.id === ref.id));
  return { state: withEntries(state.nextOrdinal, kept), outcome: 'removed' };
}

export function pendingEntries(state: SequenceState | undefined): PendingEntry[] {
  return (state?.entries ?? []).filter((e): e is PendingEntry => e.status === 'pending');
}

// ---------------------------------------------------------------------------------------------
// Stored form, shared with the Redis Lua scripts:
// {"n": nextOrdinal, "e": [{"o","p","f","l","b"} committed | {"o","p","f","l","i","w","t"} pending]}
// with the base offset "b" as a decimal string (int64).

interface WireEntry {
  o: number;
  p: number;
  f: number;
  l: number;
  b?: string;
  i?: string;
  w?: string;
  t?: number;
}

export function encodeState(state: SequenceState): string {
  const e: WireEntry[] = state.entries.map((x) =>
    x.status === 'committed'
      ? { o: x.ordinal, p: x.epoch, f: x.firstSeq, l: x.lastSeq, b: x.baseOffset.toString() }
      : { o: x.ordinal, p: x.epoch, f: x.firstSeq, l: x.lastSeq, i: x.id, w: x.owner, t: x.createdAtMs },
  );
  return JSON.stringify({ n: state.nextOrdinal, e });
}

export function decodeState(text: string): SequenceState {
  const raw = JSON.parse(text) as { n: number; e: WireEntry[] | Record<string, never> };
  // Lua's cjson writes an empty array as {}.
  const list = Array.isArray(raw.e) ? raw.e : [];
  const entries: StateEntry[] = list.map((x) =>
    x.i !== undefined
      ? {
          status: 'pending',
          ordinal: x.o,
          epoch: x.p,
          firstSeq: x.f,
          lastSeq: x.l,
          id: x.i,
          owner: x.w ?? '',
          createdAtMs: x.t ?? 0,
        }
      : { status: 'committed', ordinal: x.o, epoch: x.p, firstSeq: x.f, lastSeq: x.l, baseOffset: BigInt(x.b ?? '-1') },
  );
  return { nextOrdinal: raw.n, entries };
}
