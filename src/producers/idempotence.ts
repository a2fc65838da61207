/**
 * What the Produce handler calls around each idempotent batch's Kinesis write (DESIGN.md
 * section 6). It wraps a ProducerStateStore with the policies that need this process's knowledge:
 * which reservations it is still writing, waiting for an in-flight original instead of failing its
 * retry, never writing behind a reservation that may not be written, recording outcomes in the
 * background when the store is briefly unreachable, and resolving unknown outcomes through the
 * log layer's `locate` hook.
 *
 * Produce integration, per partition whose batch has producerId >= 0 (non-idempotent batches skip
 * all of this):
 *
 *   // in the ordered section (after `await previous`), before writer.reserve(partition):
 *   const begun = await guard.begin(producerPartitionKey(topic.id, p), {
 *     producerId: h.producerId, producerEpoch: h.producerEpoch,
 *     baseSequence: h.baseSequence, recordCount: h.lastOffsetDelta + 1,
 *   }, { deadlineMs: Date.now() + Math.min(request.timeoutMs, 5000) });
 *   'duplicate' -> answer NONE with begun.baseOffset (and the log start offset); write nothing.
 *   'error'     -> answer begun.errorCode / begun.message; write nothing.
 *   'write'     -> writer.reserve(partition) as today, keep begun.ticket;
 *                  if begun.ticket.signal is aborted before the records are sent, cancel the writer
 *                  reservation, call guard.failed(ticket, { maybeWritten: false }) and answer
 *                  CANCELLED_FOLLOWER_ERROR.
 *   // after the write:
 *   success          -> guard.committed(ticket, baseOffset)   (a bigint, or the promise of it)
 *   failure          -> guard.failed(ticket, { maybeWritten })  maybeWritten: some record of the
 *                       batch may have reached Kinesis (a PutRecords call carrying it ended
 *                       without a per-record answer, or part of a split batch was written).
 * committed() and failed() never reject and need not be awaited, but one of them must be called for
 * every ticket (until then the reservation counts as being written). A ProducerStateUnavailableError
 * never escapes begin(): it becomes { kind: 'error', errorCode: NOT_ENOUGH_REPLICAS }.
 *
 * A partition payload holding several idempotent batches (no mainstream client sends that): Kafka
 * validates each and appends none if one fails; call begin() for each in order and, when one is
 * not 'write', failed(.., { maybeWritten: false }) the earlier tickets and answer that result.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/errors.js';
import {
  ProducerStateUnavailableError,
  type BatchReservation,
  type ProducerStateStore,
  type ReserveResult,
} from './producer-state-store.js';
import { lastSequenceOf } from './sequence-state.js';

/** Identity fields of an idempotent batch (from its header). */
export interface IdempotentBatch {
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  /** header.lastOffsetDelta + 1 */
  readonly recordCount: number;
}

export interface WriteTicket {
  readonly reservation: BatchReservation;
  /**
   * Aborted when the batch must not be written after all: an earlier batch of the same producer,
   * partition and epoch failed, and Kafka never appends a batch after a missing one.
   */
  readonly signal: AbortSignal;
}

export type BeginResult =
  | { readonly kind: 'write'; readonly ticket: WriteTicket }
  | { readonly kind: 'duplicate'; readonly baseOffset: bigint }
  | { readonly kind: 'error'; readonly errorCode: number; readonly message: string };

/**
 * Looks for a reserved batch in the partition's log (see sequence-state.ts, crash safety):
 * { baseOffset } found, null certainly not there, undefined cannot tell (yet).
 */
export type LocateBatch = (reservation: BatchReservation) => Promise<{ baseOffset: bigint } | null | undefined>;

/** Hooks for metrics. */
export interface IdempotenceEvents {
  /** A retried batch answered with its original offset. */
  duplicate?(partitionKey: string): void;
  /** A batch refused: OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH, UNKNOWN_PRODUCER_ID, ... */
  sequenceError?(errorCode: number, partitionKey: string): void;
  /** begin() had to wait for an earlier attempt's outcome. */
  inFlightWait?(partitionKey: string): void;
  /** The state store could not be reached. */
  unavailable?(err: ProducerStateUnavailableError): void;
  /** A batch was written although it had been cancelled as the follower of a failed one. */
  lateCommit?(reservation: BatchReservation): void;
}

/** What a cancelled follower (ticket.signal aborted) is answered: retriable, "not persisted". */
export const CANCELLED_FOLLOWER_ERROR = {
  errorCode: ErrorCode.NOT_ENOUGH_REPLICAS,
  message: 'not written: an earlier batch of this producer failed; retry',
} as const;

export interface IdempotenceGuardOptions {
  /** How long begin() waits for an earlier attempt of the same batch by default, ms (5000). */
  readonly inFlightWaitMs?: number;
  /** Polling interval while waiting for a reservation of another process, ms (50). */
  readonly pollIntervalMs?: number;
  /**
   * How long after its reservation a batch's write can still land: the writer's retry window
   * (StreamWriter retryTimeoutMs) plus one PutRecords request timeout, ms (default 45000). Only
   * then is `locate` asked about a reservation of another process or of unknown outcome.
   */
  readonly settleMs?: number;
  readonly locate?: LocateBatch;
  readonly events?: IdempotenceEvents;
  readonly log?: Logger;
  /** Backoff bounds for recording outcomes in the background, ms ([100, 5000]). */
  readonly retryDelayMs?: readonly [number, number];
  readonly now?: () => number;
}

type Outcome = { kind: 'committed'; baseOffset: bigint } | { kind: 'aborted' } | { kind: 'unknown' };

/** A reservation of this process whose outcome is not recorded in the store yet. */
interface Local {
  reservation: BatchReservation;
  /** Creation order in this process. */
  readonly seq: number;
  readonly controller: AbortController;
  outcome: Outcome | undefined;
  /** Resolves when the outcome is known here (not necessarily recorded). */
  readonly known: Promise<void>;
  markKnown(): void;
  retryTimer: NodeJS.Timeout | undefined;
  retryDelayMs: number;
  flushing: Promise<void> | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** One guard per store instance: it alone knows which of the store owner's reservations are live. */
export class IdempotenceGuard {
  private readonly local = new Map<string, Local>();
  private nextSeq = 0;
  private closed = false;
  private readonly inFlightWaitMs: number;
  private readonly pollIntervalMs: number;
  private readonly settleMs: number;
  private readonly retryDelayMs: readonly [number, number];
  private readonly now: () => number;
  private locateBatch: LocateBatch | undefined;

  constructor(
    readonly store: ProducerStateStore,
    private readonly options: IdempotenceGuardOptions = {},
  ) {
    this.inFlightWaitMs = options.inFlightWaitMs ?? 5000;
    this.pollIntervalMs = options.pollIntervalMs ?? 50;
    this.settleMs = options.settleMs ?? 45_000;
    this.retryDelayMs = options.retryDelayMs ?? [100, 5000];
    this.now = options.now ?? Date.now;
    this.locateBatch = options.locate;
  }

  /** Sets (or replaces) the log layer's lookup, when it is built after the guard. */
  setLocator(locate: LocateBatch | undefined): void {
    this.locateBatch = locate;
  }

  /** Reservations of this process whose outcome is not recorded yet (tests, shutdown logs). */
  get unrecorded(): number {
    return this.local.size;
  }

  /** Checks and reserves a batch; see the file comment. Rejects only on programming errors. */
  async begin(partitionKey: string, batch: IdempotentBatch, options: { deadlineMs?: number } = {}): Promise<BeginResult> {
    const deadline = options.deadlineMs ?? this.now() + this.inFlightWaitMs;
    try {
      for (;;) {
        const result = await this.reserveTracked(partitionKey, batch);
        if (result.kind === 'duplicate') {
          this.options.events?.duplicate?.(partitionKey);
          return result;
        }
        if (result.kind === 'rejected') {
          this.options.events?.sequenceError?.(result.errorCode, partitionKey);
          this.options.log?.info(
            {
              partitionKey,
              producerId: batch.producerId.toString(),
              producerEpoch: batch.producerEpoch,
              baseSequence: batch.baseSequence,
              recordCount: batch.recordCount,
              reason: result.reason,
            },
            `idempotent batch refused: ${result.message}`,
          );
          return { kind: 'error', errorCode: result.errorCode, message: result.message };
        }
        if (result.kind === 'accepted') {
          const local = this.local.get(result.reservation.id) as Local;
          if (result.predecessor === null || this.isSafePredecessor(result.predecessor)) {
            return { kind: 'write', ticket: { reservation: result.reservation, signal: local.controller.signal } };
          }
          // Never write behind a reservation that may not be written: take ours back, settle it.
          await this.dropOwn(local);
          this.options.events?.inFlightWait?.(partitionKey);
          await this.settle(result.predecessor, deadline);
        } else {
          this.options.events?.inFlightWait?.(partitionKey);
          await this.settle(result.pending, deadline);
        }
        if (this.now() >= deadline) {
          return {
            kind: 'error',
            errorCode: ErrorCode.REQUEST_TIMED_OUT,
            message: 'an earlier attempt of this batch (or of the one before it) is still being written; retry',
          };
        }
      }
    } catch (err) {
      if (!(err instanceof ProducerStateUnavailableError)) throw err;
      this.options.events?.unavailable?.(err);
      return { kind: 'error', errorCode: err.errorCode, message: err.message };
    }
  }

  /** The batch was written at baseOffset (or at the offset the promise gives). Never rejects. */
  async committed(ticket: WriteTicket, baseOffset: bigint | Promise<bigint>): Promise<void> {
    const local = this.local.get(ticket.reservation.id);
    if (local === undefined || local.outcome !== undefined) return;
    let offset: bigint;
    try {
      offset = await baseOffset;
    } catch {
      return this.failed(ticket, { maybeWritten: true });
    }
    this.setOutcome(local, { kind: 'committed', baseOffset: offset });
    await this.flush(local);
  }

  /**
   * The write failed. maybeWritten false: nothing of it is in Kinesis. true: some of it may be
   * (the outcome is then settled through `locate`, or by partition recovery). Never rejects.
   */
  async failed(ticket: WriteTicket, options: { maybeWritten: boolean }): Promise<void> {
    const local = this.local.get(ticket.reservation.id);
    if (local === undefined || local.outcome !== undefined) return;
    this.setOutcome(local, options.maybeWritten ? { kind: 'unknown' } : { kind: 'aborted' });
    // Followers reserved here after it must not be written (whatever the store says).
    for (const other of this.local.values()) {
      const r = other.reservation;
      if (
        other.seq > local.seq &&
        other.outcome === undefined &&
        r.partitionKey === ticket.reservation.partitionKey &&
        r.producerId === ticket.reservation.producerId &&
        r.producerEpoch === ticket.reservation.producerEpoch
      ) {
        other.controller.abort();
      }
    }
    await this.flush(local);
  }

  /**
   * Settles the partition's reservations left by other processes (or earlier runs): call when
   * taking over a partition, before serving Produce for it, and again later for those skipped.
   * `locate` should answer undefined while it cannot tell. Unless `ignoreSettle`, reservations
   * younger than settleMs are skipped (their writer may still be running).
   */
  async recoverPartition(
    partitionKey: string,
    locate: LocateBatch | undefined = this.locateBatch,
    options: { ignoreSettle?: boolean } = {},
  ): Promise<{ committed: number; removed: number; skipped: number }> {
    const counts = { committed: 0, removed: 0, skipped: 0 };
    for (const pending of await this.store.partitionPendingReservations(partitionKey)) {
      const local = pending.owner === this.store.owner ? this.local.get(pending.id) : undefined;
      if (local !== undefined && local.outcome?.kind !== 'unknown') {
        counts.skipped++; // being written, or its outcome is being recorded
        continue;
      }
      if (pending.owner === this.store.owner && local === undefined) {
        await this.store.resolve(pending, null); // ours and never written
        counts.removed++;
        continue;
      }
      const settled = options.ignoreSettle === true || this.now() - pending.createdAtMs >= this.settleMs;
      const found = settled && locate !== undefined ? await locate(pending) : undefined;
      if (found === undefined) {
        counts.skipped++;
        continue;
      }
      const outcome = await this.store.resolve(pending, found);
      if (local !== undefined) this.untrack(local);
      if (found === null) counts.removed++;
      else if (outcome !== 'stale') counts.committed++;
    }
    return counts;
  }

  /** Stops background work after one last attempt to record every known outcome. */
  async close(): Promise<void> {
    this.closed = true;
    const pending = [...this.local.values()].filter((l) => l.outcome !== undefined && l.outcome.kind !== 'unknown');
    for (const local of pending) clearTimeout(local.retryTimer);
    await Promise.allSettled(pending.map((local) => this.record(local)));
    for (const local of this.local.values()) clearTimeout(local.retryTimer);
  }

  // -------------------------------------------------------------------------------------------

  private async reserveTracked(partitionKey: string, batch: IdempotentBatch): Promise<ReserveResult> {
    const id = randomUUID();
    const createdAtMs = this.now();
    // Tracked before the call: a concurrent begin() that sees it pending knows it is live here.
    const local = this.track({
      id,
      partitionKey,
      producerId: batch.producerId,
      producerEpoch: batch.producerEpoch,
      firstSequence: batch.baseSequence,
      lastSequence: lastSequenceOf(batch.baseSequence, batch.recordCount),
      owner: this.store.owner,
      createdAtMs,
    });
    let result: ReserveResult;
    try {
      result = await this.store.reserve({ partitionKey, ...batch }, { id, nowMs: createdAtMs });
    } catch (err) {
      // It may have been stored anyway (a reply lost): never written, so take it back later.
      this.untrack(local);
      this.cleanUpLater(local.reservation);
      throw err;
    }
    if (result.kind === 'accepted') {
      local.reservation = result.reservation;
    } else {
      this.untrack(local);
    }
    return result;
  }

  private track(reservation: BatchReservation): Local {
    let markKnown!: () => void;
    const known = new Promise<void>((resolve) => (markKnown = resolve));
    const local: Local = {
      reservation,
      seq: this.nextSeq++,
      controller: new AbortController(),
      outcome: undefined,
      known,
      markKnown,
      retryTimer: undefined,
      retryDelayMs: this.retryDelayMs[0],
      flushing: undefined,
    };
    this.local.set(reservation.id, local);
    return local;
  }

  private untrack(local: Local): void {
    clearTimeout(local.retryTimer);
    local.markKnown();
    this.local.delete(local.reservation.id);
  }

  private setOutcome(local: Local, outcome: Outcome): void {
    local.outcome = outcome;
    local.markKnown();
  }

  /** A pending predecessor we may chain behind: ours, being written (or written) by this process. */
  private isSafePredecessor(predecessor: BatchReservation): boolean {
    if (predecessor.owner !== this.store.owner) return false;
    const local = this.local.get(predecessor.id);
    return local !== undefined && (local.outcome === undefined || local.outcome.kind === 'committed');
  }

  /** Takes back a reservation of ours that will not be written. */
  private async dropOwn(local: Local): Promise<void> {
    this.setOutcome(local, { kind: 'aborted' });
    try {
      await this.record(local);
    } catch (err) {
      this.untrack(local);
      this.cleanUpLater(local.reservation);
      throw err;
    }
  }

  /** Waits for, or works towards, the outcome of a pending reservation; returns to re-check. */
  private async settle(pending: BatchReservation, deadline: number): Promise<void> {
    if (pending.owner === this.store.owner) {
      const local = this.local.get(pending.id);
      if (local === undefined) {
        // Ours, but begin() never handed it out (its reserve or abort call failed): never written.
        await this.store.resolve(pending, null);
        return;
      }
      if (local.outcome === undefined) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([local.known, new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadline - this.now()))))]);
        clearTimeout(timer);
        return;
      }
      if (local.outcome.kind !== 'unknown') {
        await this.record(local);
        return;
      }
    }
    const locate = this.locateBatch;
    if (locate !== undefined && this.now() - pending.createdAtMs >= this.settleMs) {
      const found = await locate(pending);
      if (found !== undefined) {
        await this.store.resolve(pending, found);
        const local = this.local.get(pending.id);
        if (local !== undefined) this.untrack(local);
        return;
      }
    }
    await sleep(Math.min(this.pollIntervalMs, deadline - this.now()));
  }

  /** Records a known outcome in the store; on failure retries in the background. Never rejects. */
  private async flush(local: Local): Promise<void> {
    if (local.outcome?.kind === 'unknown') {
      this.scheduleLocate(local);
      return;
    }
    try {
      await this.record(local);
    } catch (err) {
      if (!(err instanceof ProducerStateUnavailableError)) {
        this.options.log?.error({ err, reservation: local.reservation.id }, 'recording a produce outcome failed');
      }
      this.scheduleRetry(local);
    }
  }

  /** One attempt to record the outcome (shared by concurrent callers). */
  private record(local: Local): Promise<void> {
    local.flushing ??= (async () => {
      try {
        const outcome = local.outcome;
        if (outcome === undefined || outcome.kind === 'unknown') return;
        if (outcome.kind === 'committed') {
          const result = await this.store.commit(local.reservation, outcome.baseOffset);
          if (result === 'late') {
            this.options.events?.lateCommit?.(local.reservation);
            this.options.log?.warn(
              { reservation: local.reservation },
              'a batch was written after an earlier batch of its producer had failed (its order may be broken)',
            );
          }
        } else {
          const cancelled = await this.store.abort(local.reservation);
          for (const id of cancelled) this.local.get(id)?.controller.abort();
        }
        this.untrack(local);
      } finally {
        local.flushing = undefined;
      }
    })();
    return local.flushing;
  }

  private scheduleRetry(local: Local): void {
    if (this.closed || local.retryTimer !== undefined) return;
    const delay = local.retryDelayMs;
    local.retryDelayMs = Math.min(delay * 2, this.retryDelayMs[1]);
    local.retryTimer = setTimeout(() => {
      local.retryTimer = undefined;
      if (!this.local.has(local.reservation.id)) return;
      void this.flush(local);
    }, delay);
    local.retryTimer.unref();
  }

  private scheduleLocate(local: Local): void {
    if (this.closed || local.retryTimer !== undefined || this.locateBatch === undefined) return;
    const due = local.reservation.createdAtMs + this.settleMs - this.now();
    local.retryTimer = setTimeout(
      () => {
        local.retryTimer = undefined;
        void this.locateAndResolve(local);
      },
      Math.max(due, this.retryDelayMs[0]),
    );
    local.retryTimer.unref();
  }

  private async locateAndResolve(local: Local): Promise<void> {
    const locate = this.locateBatch;
    if (locate === undefined || !this.local.has(local.reservation.id)) return;
    try {
      const found = await locate(local.reservation);
      if (found !== undefined) {
        await this.store.resolve(local.reservation, found);
        this.untrack(local);
        return;
      }
    } catch (err) {
      if (!(err instanceof ProducerStateUnavailableError)) {
        this.options.log?.warn({ err, reservation: local.reservation.id }, 'locating a batch of unknown outcome failed');
      }
    }
    local.retryDelayMs = Math.min(local.retryDelayMs * 2, this.retryDelayMs[1]);
    if (!this.closed) {
      local.retryTimer = setTimeout(() => {
        local.retryTimer = undefined;
        void this.locateAndResolve(local);
      }, local.retryDelayMs);
      local.retryTimer.unref();
    }
  }

  /** Best-effort removal of a reservation that may have been stored although its call failed. */
  private cleanUpLater(reservation: BatchReservation): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.store.resolve(reservation, null).catch(() => {
        // The next batch of this producer finds it pending, ours and untracked, and removes it.
      });
    }, this.retryDelayMs[0]);
    timer.unref();
  }
}
