/**
 * Where idempotent-producer state lives (DESIGN.md section 6): per (producer id, partition), the
 * sequence state of sequence-state.ts, expiring producer.id.expiration.ms after its last change.
 *
 * - RedisProducerStateStore: shared by every gateway; one Lua script per operation checks and
 *   updates a key atomically, so two gateways (or two connections) cannot both accept the same
 *   sequence.
 * - MemoryProducerStateStore: the same semantics in this process, for embedded mode without a
 *   Redis URL.
 *
 * When Redis cannot be reached (or does not answer within ~1 s) every operation rejects with
 * ProducerStateUnavailableError. Produce answers it with NOT_ENOUGH_REPLICAS (its `errorCode`):
 * nothing was written, and every client retries it unchanged (Java: a RetriableException with no
 * idempotence side effects; librdkafka: RETRY + MSG_NOT_PERSISTED, the truth; kafkajs: retriable).
 * COORDINATOR_NOT_AVAILABLE, the other error DESIGN.md section 8 names, is a coordinator error:
 * on Produce it says nothing true, and the Java client's InitProducerId handler answers it by
 * looking up a transaction coordinator.
 */
import { createHash, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { ErrorCode } from '../protocol/errors.js';
import { ABORT_LUA, COMMIT_LUA, RESERVE_LUA, RESOLVE_LUA } from './redis-scripts.js';
import {
  abort as abortState,
  commit as commitState,
  decodeState,
  pendingEntries,
  rejectErrorCode,
  rejectMessage,
  reserve as reserveState,
  resolve as resolveState,
  sequenceRange,
  type CommitOutcome,
  type Decision,
  type PendingEntry,
  type RejectReason,
  type ResolveOutcome,
  type SequenceRange,
  type SequenceState,
} from './sequence-state.js';

export type { CommitOutcome, ResolveOutcome } from './sequence-state.js';

/** Kafka's producer.id.expiration.ms default: 1 day. */
export const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 86_400_000;

/** The partition key the stores use: topic id (not name: a re-created topic is another log) and partition. */
export function producerPartitionKey(topicId: string, partition: number): string {
  return `${topicId}/${partition}`;
}

/** A produced batch's identity, from its header. */
export interface BatchToReserve {
  /** producerPartitionKey(topic id, partition). */
  readonly partitionKey: string;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  /** Records in the batch: the header's lastOffsetDelta + 1 (Kafka derives the last sequence from it). */
  readonly recordCount: number;
}

/** A batch reserved before its write; pass it back to commit/abort/resolve. Plain data (serialisable). */
export interface BatchReservation {
  readonly id: string;
  readonly partitionKey: string;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly firstSequence: number;
  readonly lastSequence: number;
  /** The store instance (gateway process) that reserved it. */
  readonly owner: string;
  readonly createdAtMs: number;
}

export type ReserveResult =
  /** Write it, then commit or abort. `predecessor`: the pending reservation it chains behind, if any. */
  | { readonly kind: 'accepted'; readonly reservation: BatchReservation; readonly predecessor: BatchReservation | null }
  /** Already written: answer NONE with this base offset, write nothing. */
  | { readonly kind: 'duplicate'; readonly baseOffset: bigint }
  /** The same batch is reserved and its outcome is not recorded yet. */
  | { readonly kind: 'in-flight'; readonly pending: BatchReservation }
  /** Refused with a Kafka error code (sequence, epoch, unknown producer, invalid identity). */
  | { readonly kind: 'rejected'; readonly errorCode: number; readonly reason: RejectReason | 'invalid'; readonly message: string };

export interface ReserveOptions {
  /** The reservation id (default: a random UUID); a repeated reserve with the same id is idempotent. */
  readonly id?: string;
  readonly nowMs?: number;
}

export interface ProducerStateStore {
  /** Identifies this store instance (gateway process) in reservations. */
  readonly owner: string;
  /** Checks a batch and, when it may be written, reserves it. */
  reserve(batch: BatchToReserve, options?: ReserveOptions): Promise<ReserveResult>;
  /** The batch was written at baseOffset. */
  commit(reservation: BatchReservation, baseOffset: bigint): Promise<CommitOutcome>;
  /**
   * Nothing of the batch was written: removes it and the later pending reservations of the same
   * producer, partition and epoch; returns their ids (which must not be written either).
   */
  abort(reservation: BatchReservation): Promise<string[]>;
  /** Crash recovery: the batch was found in the log at baseOffset, or (null) it is not there. */
  resolve(reservation: BatchReservation, found: { baseOffset: bigint } | null): Promise<ResolveOutcome>;
  /** Unresolved reservations of one producer on a partition, oldest first. */
  pendingReservations(producerId: bigint, partitionKey: string): Promise<BatchReservation[]>;
  /** Unresolved reservations of every producer on a partition. */
  partitionPendingReservations(partitionKey: string): Promise<BatchReservation[]>;
  close(): Promise<void>;
}

/** The state store cannot be reached: Produce answers `errorCode` (retriable; nothing was written). */
export class ProducerStateUnavailableError extends Error {
  override name = 'ProducerStateUnavailableError';
  readonly errorCode = ErrorCode.NOT_ENOUGH_REPLICAS;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export function defaultStoreOwner(): string {
  return `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
}

function checkPartitionKey(partitionKey: string): void {
  if (partitionKey.length === 0 || /[{}]/.test(partitionKey)) {
    throw new RangeError(`invalid producer state partition key "${partitionKey}"`);
  }
}

function checkExpiration(ms: number): void {
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new RangeError(`producer id expiration must be a positive integer, got ${ms}`);
}

/** Validates the batch identity; a rejection when invalid. */
function validate(batch: BatchToReserve): SequenceRange | ReserveResult {
  checkPartitionKey(batch.partitionKey);
  if (batch.producerId < 0n || batch.producerId >= 1n << 63n) {
    return { kind: 'rejected', errorCode: ErrorCode.INVALID_RECORD, reason: 'invalid', message: `invalid producer id ${batch.producerId}` };
  }
  const range = sequenceRange(batch.producerEpoch, batch.baseSequence, batch.recordCount);
  if (typeof range === 'string') return { kind: 'rejected', errorCode: ErrorCode.INVALID_RECORD, reason: 'invalid', message: range };
  return range;
}

function toReservation(partitionKey: string, producerId: bigint, entry: PendingEntry): BatchReservation {
  return {
    id: entry.id,
    partitionKey,
    producerId,
    producerEpoch: entry.epoch,
    firstSequence: entry.firstSeq,
    lastSequence: entry.lastSeq,
    owner: entry.owner,
    createdAtMs: entry.createdAtMs,
  };
}

function toResult(batch: BatchToReserve, range: SequenceRange, decision: Decision, reservation: BatchReservation): ReserveResult {
  switch (decision.kind) {
    case 'accept':
      return {
        kind: 'accepted',
        reservation,
        predecessor: decision.predecessor === null ? null : toReservation(batch.partitionKey, batch.producerId, decision.predecessor),
      };
    case 'duplicate':
      return { kind: 'duplicate', baseOffset: decision.baseOffset };
    case 'in-flight':
      return { kind: 'in-flight', pending: toReservation(batch.partitionKey, batch.producerId, decision.pending) };
    case 'reject':
      return {
        kind: 'rejected',
        errorCode: rejectErrorCode(decision.reason),
        reason: decision.reason,
        message: rejectMessage(decision.reason, range, decision.currentEpoch, decision.lastSeq),
      };
  }
}

function refOf(reservation: BatchReservation): { id: string; epoch: number; firstSeq: number; lastSeq: number } {
  return {
    id: reservation.id,
    epoch: reservation.producerEpoch,
    firstSeq: reservation.firstSequence,
    lastSeq: reservation.lastSequence,
  };
}

// ---------------------------------------------------------------------------------------------
// In memory

interface MemoryItem {
  state: SequenceState;
  expiresAtMs: number;
}

/** State shared by MemoryProducerStateStore instances (tests model two gateways with it). */
export class MemoryProducerStateBackend {
  /** partition key -> producer id -> state */
  readonly partitions = new Map<string, Map<string, MemoryItem>>();
}

export interface MemoryProducerStateStoreOptions {
  readonly expirationMs?: number;
  readonly owner?: string;
  /** Clock for expiry and reservation times (default Date.now). */
  readonly now?: () => number;
  readonly backend?: MemoryProducerStateBackend;
}

/** The store in this process's memory: same semantics as Redis, lost on restart. */
export class MemoryProducerStateStore implements ProducerStateStore {
  readonly owner: string;
  private readonly expirationMs: number;
  private readonly now: () => number;
  private readonly backend: MemoryProducerStateBackend;
  private operations = 0;

  constructor(options: MemoryProducerStateStoreOptions = {}) {
    this.expirationMs = options.expirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS;
    checkExpiration(this.expirationMs);
    this.owner = options.owner ?? defaultStoreOwner();
    this.now = options.now ?? Date.now;
    this.backend = options.backend ?? new MemoryProducerStateBackend();
  }

  private get(partitionKey: string, producerId: bigint): SequenceState | undefined {
    if (++this.operations % 1024 === 0) this.sweep();
    const item = this.backend.partitions.get(partitionKey)?.get(producerId.toString());
    if (item === undefined) return undefined;
    if (item.expiresAtMs <= this.now()) {
      this.put(partitionKey, producerId, undefined);
      return undefined;
    }
    return item.state;
  }

  private put(partitionKey: string, producerId: bigint, state: SequenceState | undefined): void {
    let producers = this.backend.partitions.get(partitionKey);
    if (state === undefined) {
      producers?.delete(producerId.toString());
      if (producers?.size === 0) this.backend.partitions.delete(partitionKey);
      return;
    }
    if (producers === undefined) {
      producers = new Map();
      this.backend.partitions.set(partitionKey, producers);
    }
    producers.set(producerId.toString(), { state, expiresAtMs: this.now() + this.expirationMs });
  }

  private sweep(): void {
    const now = this.now();
    for (const [partitionKey, producers] of this.backend.partitions) {
      for (const [pid, item] of producers) if (item.expiresAtMs <= now) producers.delete(pid);
      if (producers.size === 0) this.backend.partitions.delete(partitionKey);
    }
  }

  async reserve(batch: BatchToReserve, options: ReserveOptions = {}): Promise<ReserveResult> {
    const range = validate(batch);
    if ('kind' in range) return range;
    const meta = { id: options.id ?? randomUUID(), owner: this.owner, createdAtMs: options.nowMs ?? this.now() };
    const before = this.get(batch.partitionKey, batch.producerId);
    const { state, decision } = reserveState(before, range, meta);
    if (state !== before) this.put(batch.partitionKey, batch.producerId, state);
    const reservation: BatchReservation = {
      id: meta.id,
      partitionKey: batch.partitionKey,
      producerId: batch.producerId,
      producerEpoch: range.epoch,
      firstSequence: range.firstSeq,
      lastSequence: range.lastSeq,
      owner: meta.owner,
      createdAtMs: meta.createdAtMs,
    };
    return toResult(batch, range, decision, reservation);
  }

  async commit(reservation: BatchReservation, baseOffset: bigint): Promise<CommitOutcome> {
    const before = this.get(reservation.partitionKey, reservation.producerId);
    const { state, outcome } = commitState(before, refOf(reservation), baseOffset);
    if (state !== before) this.put(reservation.partitionKey, reservation.producerId, state);
    return outcome;
  }

  async abort(reservation: BatchReservation): Promise<string[]> {
    const before = this.get(reservation.partitionKey, reservation.producerId);
    const { state, found, cancelled } = abortState(before, reservation.id);
    if (found) this.put(reservation.partitionKey, reservation.producerId, state);
    return cancelled;
  }

  async resolve(reservation: BatchReservation, found: { baseOffset: bigint } | null): Promise<ResolveOutcome> {
    const before = this.get(reservation.partitionKey, reservation.producerId);
    const { state, outcome } = resolveState(before, refOf(reservation), found);
    if (state !== before) this.put(reservation.partitionKey, reservation.producerId, state);
    return outcome;
  }

  async pendingReservations(producerId: bigint, partitionKey: string): Promise<BatchReservation[]> {
    return pendingEntries(this.get(partitionKey, producerId)).map((e) => toReservation(partitionKey, producerId, e));
  }

  async partitionPendingReservations(partitionKey: string): Promise<BatchReservation[]> {
    const producers = [...(this.backend.partitions.get(partitionKey)?.keys() ?? [])];
    const found: BatchReservation[] = [];
    for (const pid of producers) found.push(...(await this.pendingReservations(BigInt(pid), partitionKey)));
    return found;
  }

  async close(): Promise<void> {}
}

// ---------------------------------------------------------------------------------------------
// Redis

export interface RedisProducerStateStoreOptions {
  /** redis:// or rediss:// URL. */
  readonly url: string;
  readonly expirationMs?: number;
  /** Key prefix (default "kkg:producer:"). */
  readonly keyPrefix?: string;
  readonly owner?: string;
  /** TCP connect timeout and per-command timeout, ms (default 1000). */
  readonly timeoutMs?: number;
  /** Called with connection errors (ioredis 'error' events), at most once per second. */
  readonly onError?: (err: Error) => void;
}

interface LuaScript {
  readonly lua: string;
  readonly sha: string;
}

function script(lua: string): LuaScript {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') };
}

const SCRIPTS = {
  reserve: script(RESERVE_LUA),
  commit: script(COMMIT_LUA),
  abort: script(ABORT_LUA),
  resolve: script(RESOLVE_LUA),
};

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

function asStrings(reply: unknown): string[] {
  const list = Array.isArray(reply) ? reply : [reply];
  return list.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
}

function refFromReply(partitionKey: string, producerId: bigint, reply: string[], at: number): BatchReservation {
  const field = (i: number): string => {
    const v = reply[at + i];
    if (v === undefined) throw new Error(`malformed producer state reply: ${reply.join(' ')}`);
    return v;
  };
  return {
    id: field(0),
    partitionKey,
    producerId,
    owner: field(1),
    createdAtMs: Number(field(2)),
    producerEpoch: Number(field(3)),
    firstSequence: Number(field(4)),
    lastSequence: Number(field(5)),
  };
}

/**
 * The store in Redis (standalone, or a cluster: a partition's keys share a hash slot). The client
 * fails fast instead of queueing: no offline queue, a 1 s command timeout, no resending of
 * commands whose reply was lost (every script is idempotent anyway), reconnects in the background.
 */
export class RedisProducerStateStore implements ProducerStateStore {
  readonly owner: string;
  readonly redis: Redis;
  private readonly expirationMs: number;
  private readonly keyPrefix: string;
  private lastErrorReport = 0;

  constructor(options: RedisProducerStateStoreOptions) {
    this.expirationMs = options.expirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS;
    checkExpiration(this.expirationMs);
    this.owner = options.owner ?? defaultStoreOwner();
    this.keyPrefix = options.keyPrefix ?? 'kkg:producer:';
    const timeoutMs = options.timeoutMs ?? 1000;
    this.redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 5), 1000),
    });
    this.redis.on('error', (err: Error) => {
      const now = Date.now();
      if (now - this.lastErrorReport < 1000) return;
      this.lastErrorReport = now;
      options.onError?.(err);
    });
    this.redis.connect().catch(() => {
      // Reconnection continues in the background; operations fail fast until it succeeds.
    });
  }

  /** Resolves true once connected (false after `timeoutMs`): for startup logs and tests. */
  async waitReady(timeoutMs = 2000): Promise<boolean> {
    if (this.redis.status === 'ready') return true;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.redis.off('ready', onReady);
        resolve(false);
      }, timeoutMs);
      const onReady = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.redis.once('ready', onReady);
    });
  }

  private stateKey(partitionKey: string, producerId: bigint): string {
    return `${this.keyPrefix}{${partitionKey}}:${producerId}`;
  }

  private pendingKey(partitionKey: string): string {
    return `${this.keyPrefix}{${partitionKey}}:pending`;
  }

  private async run(s: LuaScript, partitionKey: string, args: (string | number)[]): Promise<string[]> {
    const keys = [this.stateKey(partitionKey, BigInt(args[0] as string)), this.pendingKey(partitionKey)];
    try {
      try {
        return asStrings(await this.redis.evalsha(s.sha, 2, ...keys, ...args));
      } catch (err) {
        // Redis restarted (or SCRIPT FLUSH): load it again. NOSCRIPT means nothing ran.
        if (!isNoScript(err)) throw err;
        return asStrings(await this.redis.eval(s.lua, 2, ...keys, ...args));
      }
    } catch (err) {
      throw this.unavailable(err);
    }
  }

  private unavailable(err: unknown): ProducerStateUnavailableError {
    const message = err instanceof Error ? err.message : String(err);
    return new ProducerStateUnavailableError(`producer state store (Redis) unavailable: ${message}`, { cause: err });
  }

  async reserve(batch: BatchToReserve, options: ReserveOptions = {}): Promise<ReserveResult> {
    const range = validate(batch);
    if ('kind' in range) return range;
    const id = options.id ?? randomUUID();
    const createdAtMs = options.nowMs ?? Date.now();
    const reply = await this.run(SCRIPTS.reserve, batch.partitionKey, [
      batch.producerId.toString(),
      range.epoch,
      range.firstSeq,
      range.lastSeq,
      id,
      this.owner,
      createdAtMs,
      this.expirationMs,
    ]);
    const reservation: BatchReservation = {
      id,
      partitionKey: batch.partitionKey,
      producerId: batch.producerId,
      producerEpoch: range.epoch,
      firstSequence: range.firstSeq,
      lastSequence: range.lastSeq,
      owner: this.owner,
      createdAtMs,
    };
    const kind = reply[0];
    switch (kind) {
      case 'accept':
        return {
          kind: 'accepted',
          reservation,
          predecessor: reply.length > 1 ? refFromReply(batch.partitionKey, batch.producerId, reply, 1) : null,
        };
      case 'duplicate':
        return { kind: 'duplicate', baseOffset: BigInt(reply[1] ?? '-1') };
      case 'in-flight':
        return { kind: 'in-flight', pending: refFromReply(batch.partitionKey, batch.producerId, reply, 1) };
      case 'reject': {
        const reason = reply[1] as RejectReason;
        return {
          kind: 'rejected',
          errorCode: rejectErrorCode(reason),
          reason,
          message: rejectMessage(reason, range, Number(reply[2]), Number(reply[3])),
        };
      }
      default:
        throw new Error(`unexpected producer state reply: ${reply.join(' ')}`);
    }
  }

  async commit(reservation: BatchReservation, baseOffset: bigint): Promise<CommitOutcome> {
    const reply = await this.run(SCRIPTS.commit, reservation.partitionKey, [
      reservation.producerId.toString(),
      reservation.id,
      reservation.producerEpoch,
      reservation.firstSequence,
      reservation.lastSequence,
      baseOffset.toString(),
      this.expirationMs,
    ]);
    return reply[0] as CommitOutcome;
  }

  async abort(reservation: BatchReservation): Promise<string[]> {
    const reply = await this.run(SCRIPTS.abort, reservation.partitionKey, [
      reservation.producerId.toString(),
      reservation.id,
      this.expirationMs,
    ]);
    return reply.slice(1);
  }

  async resolve(reservation: BatchReservation, found: { baseOffset: bigint } | null): Promise<ResolveOutcome> {
    const reply = await this.run(SCRIPTS.resolve, reservation.partitionKey, [
      reservation.producerId.toString(),
      reservation.id,
      reservation.producerEpoch,
      reservation.firstSequence,
      reservation.lastSequence,
      found === null ? '0' : '1',
      found === null ? '-1' : found.baseOffset.toString(),
      this.expirationMs,
    ]);
    return reply[0] as ResolveOutcome;
  }

  async pendingReservations(producerId: bigint, partitionKey: string): Promise<BatchReservation[]> {
    checkPartitionKey(partitionKey);
    let raw: string | null;
    try {
      raw = await this.redis.get(this.stateKey(partitionKey, producerId));
    } catch (err) {
      throw this.unavailable(err);
    }
    if (raw === null) return [];
    return pendingEntries(decodeState(raw)).map((e) => toReservation(partitionKey, producerId, e));
  }

  async partitionPendingReservations(partitionKey: string): Promise<BatchReservation[]> {
    checkPartitionKey(partitionKey);
    let pids: string[];
    let states: (string | null)[];
    try {
      pids = (await this.redis.smembers(this.pendingKey(partitionKey))).sort();
      if (pids.length === 0) return [];
      states = await this.redis.mget(pids.map((pid) => this.stateKey(partitionKey, BigInt(pid))));
    } catch (err) {
      throw this.unavailable(err);
    }
    const found: BatchReservation[] = [];
    pids.forEach((pid, i) => {
      const raw = states[i];
      if (raw === null || raw === undefined) return;
      found.push(...pendingEntries(decodeState(raw)).map((e) => toReservation(partitionKey, BigInt(pid), e)));
    });
    return found;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}

export interface ProducerStateStoreConfig {
  /** Redis URL (--redis-url / KKG_REDIS_URL); without one, the in-memory store. */
  readonly redisUrl?: string;
  /** producer.id.expiration.ms (default 1 day). */
  readonly expirationMs?: number;
  readonly keyPrefix?: string;
  readonly onError?: (err: Error) => void;
}

export function createProducerStateStore(config: ProducerStateStoreConfig): ProducerStateStore {
  if (config.redisUrl === undefined || config.redisUrl === '') {
    return new MemoryProducerStateStore({ ...(config.expirationMs !== undefined ? { expirationMs: config.expirationMs } : {}) });
  }
  return new RedisProducerStateStore({
    url: config.redisUrl,
    ...(config.expirationMs !== undefined ? { expirationMs: config.expirationMs } : {}),
    ...(config.keyPrefix !== undefined ? { keyPrefix: config.keyPrefix } : {}),
    ...(config.onError !== undefined ? { onError: config.onError } : {}),
  });
}
