import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { KinesisRecordsClient } from '../kinesis/records-client.js';
import { partitionLeaseResource, type Lease, type LeaseStore } from '../cluster/leases.js';
import type { IndexAnchor, OffsetIndex } from './offset-index.js';
import { PartitionLog } from './partition-log.js';
import { ColdReader, ExpiredPositionError, PartitionReader, startAt, type PartitionSource } from './partition-reader.js';
import { PartitionTailer } from './partition-tailer.js';
import { isProducerBatch, type ProducerBatchIdentity, type StoredBatch } from './stored-batch.js';
import { StreamWriter } from './stream-writer.js';
import type { Topic } from './topics.js';

export interface LogManagerOptions {
  /** Bytes of recent batches kept in memory per node, shared out per partition. */
  readonly tailCacheBytes: number;
  readonly leaseTtlMs: number;
  readonly pollIntervalMs: number;
  readonly indexIntervalBytes: number;
  readonly indexIntervalMs: number;
  readonly writeTimeoutMs: number;
  /** Lease owner id of this process (the node's registry incarnation); default a random one. */
  readonly leaseOwner?: number;
  /** Which partitions this node should lead (rendezvous over live nodes); absent: every partition. */
  readonly placement?: PartitionPlacement;
  /** How often led partitions that belong elsewhere are looked for and handed over (default 1000 ms). */
  readonly rebalanceIntervalMs?: number;
  /** Handovers started per rebalance round (default: an eighth of the led partitions, at least 1). */
  readonly maxHandoversPerRound?: number;
  /** How long a handover waits for writes under way to finish and be read back (default 3000 ms). */
  readonly handoverDrainMs?: number;
}

/** Where partitions belong (DESIGN.md section 5): the cluster view's rendezvous placement. */
export interface PartitionPlacement {
  /**
   * Whether this node should lead the partition now. False when another live node is designated
   * (that node takes the lease once it is free) or when this node is unsure of its own
   * membership. A partition this node leads that becomes false is handed over, gradually.
   */
  shouldLead(topic: string, partition: number): boolean;
}

/** A partition this node leads: its lease, in-memory log and tailer. */
export interface LedPartition {
  readonly topic: Topic;
  readonly partition: number;
  readonly log: PartitionLog;
  readonly tailer: PartitionTailer;
  lease: Lease;
  /** Being handed over or closed: requests get NOT_LEADER_OR_FOLLOWER while writes under way finish. */
  handingOver?: boolean;
  /** The lease is given up or lost: nothing more may be written. */
  released?: boolean;
}

/** Why this node cannot serve a partition. */
export type PartitionUnavailable = 'not-leader' | 'unknown-partition';

/** Cold readers kept for sequential consumers below the tail, per partition. */
const COLD_READERS_PER_PARTITION = 4;

/**
 * How much earlier than its reservation (by the reserving gateway's clock) a batch's write may
 * carry as its Kinesis arrival time: clock skew between gateway hosts and Kinesis.
 */
const LOCATE_CLOCK_SKEW_MS = 5000;
/** Index anchors locateProducerBatch reads back from, at most, below the tail. */
const LOCATE_MAX_ANCHORS = 32;
/** How often a leader looks for index anchors whose records Kinesis has expired (also at open). */
const PRUNE_INTERVAL_MS = 10 * 60_000;
/** Anchors looked at per partition and round, oldest first. */
const PRUNE_MAX_ANCHORS = 1000;

/**
 * The partitions this node leads. A partition is opened on first use, if the placement gives it
 * to this node: its lease is taken (conditional write, epoch + 1), then its tail is rebuilt from
 * the last index anchor; while open the lease is renewed, and a lost lease closes it. Nothing is
 * written for a partition whose lease is not safely live (it runs out within a quarter of the
 * lease time: renewals failing, or this process was paused), so a node that comes back from a
 * pause never writes as a leader it no longer is. Led partitions the placement gives to another
 * node are handed over a few at a time: new requests are refused, writes under way finish and
 * are read back, then the lease is released for the new leader.
 */
export class LogManager {
  private readonly partitions = new Map<string, Promise<LedPartition | PartitionUnavailable>>();
  /** The open partitions (those of `partitions` that resolved to a led partition). */
  private readonly led = new Map<string, LedPartition>();
  /** Every partition whose lease this process holds: the open ones and those still opening (renewed alike). */
  private readonly held = new Map<string, LedPartition>();
  private readonly writers = new Map<string, StreamWriter>();
  private readonly coldReaders = new Map<string, ColdReader[]>();
  /** How many partition maps the topic had when each partition was opened. */
  private readonly openedWith = new Map<string, number>();
  private readonly renewTimer: NodeJS.Timeout;
  private readonly rebalanceTimer: NodeJS.Timeout;
  private readonly pruneTimer: NodeJS.Timeout;
  /** Partitions whose expired anchors are being looked for. */
  private readonly pruning = new Set<LedPartition>();
  private rebalancing: Promise<void> | undefined;
  /** When this node last stopped leading each partition (lease lost or handed over; performance.now()). */
  private readonly leftAtMs = new Map<string, number>();
  /** Lease renewals under way, per partition. */
  private readonly renewals = new Map<LedPartition, Promise<boolean>>();
  private stopped = false;
  /** Lease owner id of this process: a second process with the same node id must not share leases. */
  readonly leaseOwner: number;
  /** A lease closer than this to its expiry is not written under. */
  private readonly leaseGuardMs: number;

  constructor(
    private readonly kinesis: KinesisRecordsClient,
    readonly index: OffsetIndex,
    private readonly leases: LeaseStore,
    private readonly options: LogManagerOptions,
    private readonly logger: Logger,
    /** Called once a partition's tail is rebuilt, before it serves requests. */
    private readonly onPartitionOpened: (partitionKey: string, log: PartitionLog) => Promise<void> = async () => undefined,
  ) {
    this.leaseOwner = options.leaseOwner ?? randomInt(1, 2 ** 31 - 1);
    this.leaseGuardMs = Math.floor(options.leaseTtlMs / 4);
    this.renewTimer = setInterval(() => this.renewLeases(), Math.max(200, Math.floor(options.leaseTtlMs / 3)));
    this.renewTimer.unref();
    this.rebalanceTimer = setInterval(() => void this.rebalance(), options.rebalanceIntervalMs ?? 1000);
    this.rebalanceTimer.unref();
    this.pruneTimer = setInterval(() => void this.pruneAll(), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
  }

  /** Whether the partition may be served and written now: open, not being handed over, its lease safely live. */
  private serving(led: LedPartition): boolean {
    return !led.handingOver && !led.released && Date.now() < led.lease.expiresAtMs - this.leaseGuardMs;
  }

  /** The lease of a partition this node leads and serves, for Metadata. */
  ledLease(topicId: string, partition: number): Lease | undefined {
    const led = this.led.get(`${topicId}/${partition}`);
    return led !== undefined && this.serving(led) ? led.lease : undefined;
  }

  /**
   * The led partition, opening it on first use. `requestReadAtMs` (performance.now()) is when the
   * asking request was read: if this node has lost or given up the partition's lease since, the
   * request is refused even when the lease could be taken again now. It may have waited in the
   * socket of a paused leader, and its client must look the leader up afresh.
   */
  partition(topic: Topic, partition: number, requestReadAtMs: number): Promise<LedPartition | PartitionUnavailable> {
    if (partition < 0 || partition >= topic.partitionCount) return Promise.resolve('unknown-partition');
    const key = partitionKey(topic, partition);
    const open = this.led.get(key);
    if (open !== undefined && !this.serving(open)) {
      if (open.handingOver === true) return Promise.resolve('not-leader');
      if (open.released !== true && Date.now() < open.lease.expiresAtMs) {
        // Close to its expiry (renewals late: a busy process): renew now, then decide.
        return this.renewLease(key, open).then((held) => {
          if (held && this.serving(open)) return open;
          return this.led.get(key) === open ? 'not-leader' : this.partition(topic, partition, requestReadAtMs);
        });
      }
      // The lease ran out under us (renewals failed, or the process was paused): whoever holds
      // it now may have written since. Start over: a fresh lease and a rebuilt tail, if ours.
      this.logger.warn({ topic: topic.name, partition }, 'partition lease ran out; no longer leading');
      this.drop(key, open);
    }
    if ((this.leftAtMs.get(key) ?? -Infinity) >= requestReadAtMs) return Promise.resolve('not-leader');
    let opening = this.partitions.get(key);
    const current = this.openedWith.get(key);
    if (opening !== undefined && current !== undefined && current !== topic.partitionMaps.length) {
      // CreatePartitions added a partition map: reopen under the new one.
      this.partitions.delete(key);
      this.led.delete(key);
      this.held.delete(key);
      void opening.then((led) => (typeof led === 'string' ? undefined : this.close(led)));
      opening = undefined;
    }
    if (opening === undefined) {
      if (this.stopped) return Promise.resolve('not-leader');
      this.openedWith.set(key, topic.partitionMaps.length);
      opening = this.open(topic, partition);
      this.partitions.set(key, opening);
      // A node that could not lead may be able to later (the other lease expires).
      const settled = opening;
      void settled.then(
        (result) => {
          if (this.partitions.get(key) !== settled) return;
          if (typeof result === 'string') this.partitions.delete(key);
          else this.led.set(key, result);
        },
        () => {
          if (this.partitions.get(key) === settled) this.partitions.delete(key);
        },
      );
    }
    return opening;
  }

  writer(topic: Topic): StreamWriter {
    let writer = this.writers.get(topic.topicId);
    if (writer === undefined) {
      const topicId = topic.topicId;
      writer = new StreamWriter(
        this.kinesis,
        topic.streamName,
        {
          maxConcurrentCalls: 4,
          retryTimeoutMs: this.options.writeTimeoutMs,
          // Fencing: records go out only under a lease that is safely live. Nor after the tailer
          // found another writer's record before one answered at once: the partition is being
          // given up, and what waits is answered NOT_LEADER_OR_FOLLOWER unwritten.
          mayWrite: (partition) => {
            const led = this.led.get(`${topicId}/${partition}`);
            return led !== undefined && !led.released && !led.log.orderConflictFound && Date.now() < led.lease.expiresAtMs - this.leaseGuardMs;
          },
        },
        this.logger,
      );
      this.writers.set(topic.topicId, writer);
    }
    return writer;
  }

  /**
   * Whole batches from `offset` on, read from Kinesis through the offset index: for offsets
   * older than the in-memory tail. Keeps the reader for the consumer's next fetch.
   */
  async readBelowTail(led: LedPartition, offset: bigint, maxBytes: number): Promise<StoredBatch[]> {
    const key = partitionKey(led.topic, led.partition);
    const readers = this.coldReaders.get(key) ?? [];
    const cached = readers.find((r) => r.covers(offset));
    if (cached !== undefined) {
      readers.splice(readers.indexOf(cached), 1);
      return this.keepColdReader(key, cached, await cached.read(offset, maxBytes, led.log.tailStartOffset));
    }
    const anchor = await this.index.floor(led.topic.topicId, led.partition, offset);
    if (anchor === undefined) return [];
    const reader = new ColdReader(this.readerAt(led, anchor, { mustExist: true }));
    try {
      return this.keepColdReader(key, reader, await reader.read(offset, maxBytes, led.log.tailStartOffset));
    } catch (err) {
      if (!(err instanceof ExpiredPositionError)) throw err;
      await this.moveLogStartPast(led, anchor.offset, err.message);
      return [];
    }
  }

  private async pruneAll(): Promise<void> {
    for (const led of [...this.led.values()]) await this.pruneExpiredAnchors(led);
  }

  /**
   * Removes the index anchors whose records Kinesis has expired, oldest first, and moves the log
   * start past them (as Kafka deletes whole segments), so that ListOffsets(earliest) and the
   * LogStartOffset metric follow retention and the index does not grow without bound. Records
   * expire by arrival time, so in offset order: a binary search over the anchors below the tail
   * finds the first one still there in a few reads.
   */
  private async pruneExpiredAnchors(led: LedPartition): Promise<void> {
    if (this.pruning.has(led) || led.released === true) return;
    this.pruning.add(led);
    try {
      const anchors = await this.index.below(led.topic.topicId, led.partition, led.log.tailStartOffset, PRUNE_MAX_ANCHORS);
      // Usually the oldest is still there: one read.
      if (anchors[0] === undefined || !(await this.anchorExpired(led, anchors[0]))) return;
      let expired = 1;
      let present = anchors.length;
      while (expired < present) {
        const middle = (expired + present) >> 1;
        if (await this.anchorExpired(led, anchors[middle] as IndexAnchor)) expired = middle + 1;
        else present = middle;
      }
      const last = anchors[expired - 1] as IndexAnchor;
      // Anchors first: once the log start has moved, nothing in the index is below it (after a
      // crash in between, the next leader takes its log start from the first anchor left).
      await this.index.deleteAnchors(led.topic.topicId, led.partition, anchors.slice(0, expired).map((a) => a.offset));
      await this.moveLogStartPast(led, last.offset, `the record of the anchor at offset ${last.offset} expired`);
    } catch (err) {
      this.logger.warn({ err, topic: led.topic.name, partition: led.partition }, 'looking for expired index anchors failed');
    } finally {
      this.pruning.delete(led);
    }
  }

  /** Whether Kinesis no longer has the anchor's record. */
  private async anchorExpired(led: LedPartition, anchor: IndexAnchor): Promise<boolean> {
    try {
      await this.readerAt(led, anchor, { mustExist: true }).step(1);
      return false;
    } catch (err) {
      if (err instanceof ExpiredPositionError) return true;
      throw err;
    }
  }

  /** A reader of a led partition from an index anchor. */
  private readerAt(led: LedPartition, anchor: IndexAnchor, options: { mustExist?: boolean } = {}): PartitionReader {
    return new PartitionReader(this.kinesis, this.source(led.topic, led.partition), startAt(anchor, options), () => led.lease.epoch);
  }

  /**
   * Records Kinesis has expired (the anchor's record is gone): the log now starts at the next
   * anchor, or at the tail. Like Kafka deleting a whole segment, the records between the two
   * anchors that Kinesis still holds are given up with it.
   */
  private async moveLogStartPast(led: LedPartition, anchorOffset: bigint, reason: string): Promise<void> {
    const next = await this.index.after(led.topic.topicId, led.partition, anchorOffset);
    const start = next === undefined || next.offset > led.log.tailStartOffset ? led.log.tailStartOffset : next.offset;
    if (start <= led.log.logStartOffset) return;
    this.logger.warn(
      { topic: led.topic.name, partition: led.partition, logStartOffset: start.toString(), reason },
      'records expired from Kinesis: the log start offset moves up',
    );
    led.log.logStartOffset = start;
  }

  /** Keeps a cold reader for the fetch that continues where this one ended. */
  private keepColdReader(key: string, reader: ColdReader, out: StoredBatch[]): StoredBatch[] {
    const readers = this.coldReaders.get(key) ?? [];
    const last = out[out.length - 1];
    if (last !== undefined && reader.covers(last.lastOffset + 1n) && !readers.includes(reader)) {
      readers.push(reader);
      if (readers.length > COLD_READERS_PER_PARTITION) readers.shift();
      this.coldReaders.set(key, readers);
    }
    return out;
  }

  /**
   * Looks for a producer's batch in a led partition's log (idempotence crash recovery):
   * { baseOffset } found, null certainly not there, undefined cannot tell (yet).
   * `partitionKey` is `${topicId}/${partition}`. The caller asks only once no write of the batch
   * can still land. With `reservedAtMs` (when the batch was reserved, before its write began),
   * "not there" is decided by looking at every record that reached Kinesis since then, less
   * LOCATE_CLOCK_SKEW_MS: in the tail, and below it, anchor by anchor, when the tail starts later
   * (a leader rebuilds its tail from the last anchor). Without it, only a tail that holds the
   * whole log can tell.
   */
  async locateProducerBatch(
    partitionKey: string,
    identity: ProducerBatchIdentity & { reservedAtMs?: number },
  ): Promise<{ baseOffset: bigint } | null | undefined> {
    const opening = this.partitions.get(partitionKey);
    const led = opening === undefined ? undefined : await opening.catch(() => undefined);
    if (led === undefined || typeof led === 'string') return undefined;
    // Everything that reached Kinesis before this call must be in the tail first.
    if (!(await this.caughtUpSince(led, Date.now()))) return undefined;
    const found = led.log.findProducerBatch(identity);
    if (found !== undefined) return found;
    if (identity.reservedAtMs === undefined) return undefined;
    const sinceMs = BigInt(identity.reservedAtMs - LOCATE_CLOCK_SKEW_MS);
    const tailArrival = led.log.tailStartArrivalMs;
    if (tailArrival !== undefined && tailArrival <= sinceMs) return null;
    try {
      return await this.locateBelowTail(led, identity, sinceMs);
    } catch (err) {
      this.logger.warn({ err, topic: led.topic.name, partition: led.partition }, 'looking for a producer batch below the tail failed');
      return undefined;
    }
  }

  /** Waits (briefly) for a tailer read that began at or after `ms` and found the tip. */
  private async caughtUpSince(led: LedPartition, ms: number): Promise<boolean> {
    const deadline = Date.now() + Math.max(2000, 10 * this.options.pollIntervalMs);
    while (led.tailer.caughtUpAtMs < ms) {
      if (Date.now() > deadline || led.released === true) return false;
      led.tailer.kick();
      await new Promise((resolve) => setTimeout(resolve, Math.min(50, this.options.pollIntervalMs)));
    }
    return true;
  }

  /** The part of locateProducerBatch below the tail: reads back from anchor to anchor. */
  private async locateBelowTail(
    led: LedPartition,
    identity: ProducerBatchIdentity,
    sinceMs: bigint,
  ): Promise<{ baseOffset: bigint } | null | undefined> {
    let end = led.log.tailStartOffset;
    for (let step = 0; step < LOCATE_MAX_ANCHORS && end > led.log.logStartOffset; step++) {
      const anchor = await this.index.floor(led.topic.topicId, led.partition, end - 1n);
      if (anchor === undefined) return undefined;
      // An expired anchor would count offsets from the wrong record: fail (cannot tell) instead.
      const reader = this.readerAt(led, anchor, { mustExist: true });
      let earliestArrival: bigint | undefined;
      while (reader.nextOffset < end) {
        const read = await reader.step();
        for (const batch of read.batches) {
          if (batch.baseOffset >= end) break;
          if (earliestArrival === undefined || (batch.arrivalMs !== undefined && batch.arrivalMs < earliestArrival)) {
            earliestArrival = batch.arrivalMs;
          }
          if (isProducerBatch(batch, identity)) return { baseOffset: batch.baseOffset };
        }
        if (read.caughtUp) break;
      }
      if (anchor.offset <= led.log.logStartOffset || (earliestArrival !== undefined && earliestArrival <= sinceMs)) return null;
      end = anchor.offset;
    }
    return undefined;
  }

  /** The partitions this node leads and has open (for metrics and /readyz); those still opening are left out. */
  async openPartitions(): Promise<LedPartition[]> {
    const pending = Symbol('pending');
    // A settled promise wins the race against the already-resolved marker; a pending one loses.
    const settled = await Promise.all([...this.partitions.values()].map((p) => Promise.race([p, pending]).catch(() => pending)));
    return settled.filter((led): led is LedPartition => typeof led === 'object');
  }

  /** Drops a deleted topic's state. */
  async forgetTopic(topicId: string): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [key, opening] of this.partitions) {
      if (!key.startsWith(`${topicId}/`)) continue;
      this.partitions.delete(key);
      this.led.delete(key);
      this.held.delete(key);
      closing.push(opening.then((led) => (typeof led === 'string' ? undefined : this.close(led))));
    }
    this.writers.get(topicId)?.close();
    this.writers.delete(topicId);
    // Topic ids are never reused: what is kept per partition of the topic is not needed again.
    for (const perPartition of [this.coldReaders, this.openedWith, this.leftAtMs]) {
      for (const key of perPartition.keys()) if (key.startsWith(`${topicId}/`)) perPartition.delete(key);
    }
    await Promise.all(closing);
  }

  /**
   * Removes a deleted topic's offset index (anchors and log ends), a few partitions at a time;
   * failures are logged (what is left is never read again: topic ids are not reused).
   */
  async dropOffsetIndex(topicId: string, partitionCount: number): Promise<void> {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < partitionCount) {
        const partition = next++;
        await this.index.deletePartition(topicId, partition).catch((err: unknown) => {
          this.logger.warn({ err, topicId, partition }, 'removing the offset index of a deleted topic failed');
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(4, partitionCount) }, worker));
  }

  /** Stops tailers and gives leases up so another node can lead at once. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.renewTimer);
    clearInterval(this.rebalanceTimer);
    clearInterval(this.pruneTimer);
    await this.rebalancing;
    const open = await Promise.all([...this.partitions.values()].map((p) => p.catch(() => undefined)));
    // Writes already under way finish (and are read back) before the leases go.
    await Promise.all(
      open.map((led) => (led === undefined || typeof led === 'string' ? undefined : this.handOver(partitionKey(led.topic, led.partition), led))),
    );
    for (const writer of this.writers.values()) writer.close();
    this.partitions.clear();
    this.led.clear();
    this.held.clear();
  }

  /** Runs a rebalance round now (the cluster's membership changed) instead of at the next tick. */
  rebalanceSoon(): void {
    setImmediate(() => void this.rebalance());
  }

  /**
   * Hands over led partitions the placement gives to another node: at most
   * `maxHandoversPerRound` per round, so that a node joining takes its share gradually, and
   * clients move a few partitions at a time.
   */
  rebalance(): Promise<void> {
    const placement = this.options.placement;
    if (placement === undefined || this.stopped || this.rebalancing !== undefined) return this.rebalancing ?? Promise.resolve();
    const misplaced = [...this.led].filter(
      ([, led]) => led.handingOver !== true && !led.released && !placement.shouldLead(led.topic.name, led.partition),
    );
    if (misplaced.length === 0) return Promise.resolve();
    const budget = this.options.maxHandoversPerRound ?? Math.max(1, Math.ceil(this.led.size / 8));
    const round = misplaced.slice(0, budget);
    this.logger.info(
      { partitions: round.map(([, led]) => `${led.topic.name}-${led.partition}`), waiting: misplaced.length - round.length },
      'handing partitions over to their designated leaders',
    );
    this.rebalancing = Promise.all(round.map(([key, led]) => this.handOver(key, led)))
      .then(() => undefined)
      .finally(() => {
        this.rebalancing = undefined;
      });
    return this.rebalancing;
  }

  /**
   * Gives a led partition up cleanly: new requests are refused at once (NOT_LEADER_OR_FOLLOWER),
   * writes already accepted finish and are read back so their producers learn their offsets,
   * then the tailer stops and the lease is released for the next leader.
   */
  private async handOver(key: string, led: LedPartition): Promise<void> {
    if (led.handingOver === true) return;
    led.handingOver = true;
    this.leftAtMs.set(key, performance.now());
    const deadline = Date.now() + (this.options.handoverDrainMs ?? 3000);
    const writer = this.writers.get(led.topic.topicId);
    while (Date.now() < deadline && (writer?.hasPending(led.partition) === true || led.log.awaitedSequences > 0)) {
      led.tailer.kick();
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (this.led.get(key) === led) {
      this.partitions.delete(key);
      this.led.delete(key);
    }
    if (this.held.get(key) === led) this.held.delete(key);
    await this.close(led);
    this.logger.info({ topic: led.topic.name, partition: led.partition, leaderEpoch: led.lease.epoch }, 'partition handed over');
  }

  /**
   * Forgets a partition whose lease is lost: nothing is written for it any more and its tailer
   * stops (one still opening stops at the end of open()).
   */
  private drop(key: string, led: LedPartition): void {
    led.released = true;
    this.leftAtMs.set(key, performance.now());
    if (this.held.get(key) === led) this.held.delete(key);
    if (this.led.get(key) === led) {
      this.led.delete(key);
      this.partitions.delete(key);
      void led.tailer.stop().then(() => led.log.leadershipEnded());
    }
  }

  private source(topic: Topic, partition: number): PartitionSource {
    return {
      streamName: topic.streamName,
      partition,
      partitionMaps: topic.partitionMaps,
      listShards: () => topic.listShards(true),
    };
  }

  private async open(topic: Topic, partition: number): Promise<LedPartition | PartitionUnavailable> {
    // Never take a partition that belongs to another live node: the two would take it in turns.
    if (this.options.placement?.shouldLead(topic.name, partition) === false) return 'not-leader';
    const lease = await this.leases.acquire(
      partitionLeaseResource(topic.topicId, partition),
      this.leaseOwner,
      this.options.leaseTtlMs,
    );
    if (lease === undefined) return 'not-leader';
    const perPartitionCache = Math.max(1 << 20, Math.floor(this.options.tailCacheBytes / Math.max(1, this.partitions.size)));
    const log = new PartitionLog(topic.name, partition, 0n, perPartitionCache);
    let current = lease;
    const tailer = new PartitionTailer(
      this.kinesis,
      this.source(topic, partition),
      topic.topicId,
      log,
      this.index,
      {
        pollIntervalMs: this.options.pollIntervalMs,
        indexIntervalBytes: this.options.indexIntervalBytes,
        indexIntervalMs: this.options.indexIntervalMs,
        writesUnderWay: () => this.writers.get(topic.topicId)?.hasPending(partition) === true,
        // The tail is rebuilt in Kinesis order by whoever opens the partition next.
        onOrderConflict: () => void this.handOver(partitionKey(topic, partition), led),
        ...(topic.produceAckMode === 'immediate'
          ? { ownWritesAnswered: () => this.writers.get(topic.topicId)?.callAnswered(partition) ?? Promise.resolve() }
          : {}),
      },
      () => current.epoch,
      this.logger,
    );
    const led: LedPartition = {
      topic,
      partition,
      log,
      tailer,
      get lease() {
        return current;
      },
      set lease(renewed: Lease) {
        current = renewed;
      },
    };
    // Renewed from now on: rebuilding the tail may take longer than the lease lasts.
    const key = partitionKey(topic, partition);
    this.held.set(key, led);
    try {
      const first = await this.index.first(topic.topicId, partition);
      if (first !== undefined) log.logStartOffset = first.offset;
      await tailer.start();
      await this.onPartitionOpened(key, log);
    } catch (err) {
      if (this.held.get(key) === led) this.held.delete(key);
      await tailer.stop().catch(() => undefined);
      led.released = true;
      await this.leases.release(current).catch(() => undefined);
      throw err;
    }
    if (led.released === true || this.held.get(key) !== led) {
      // Lost while opening (renewal failed, or the topic was forgotten): never served.
      if (this.held.get(key) === led) this.held.delete(key);
      led.released = true;
      await tailer.stop();
      log.leadershipEnded();
      return 'not-leader';
    }
    this.logger.info(
      { topic: topic.name, partition, leaderEpoch: lease.epoch, highWatermark: String(log.highWatermark) },
      'partition opened',
    );
    void this.pruneExpiredAnchors(led);
    return led;
  }

  private async close(led: LedPartition): Promise<void> {
    led.handingOver = true;
    await led.tailer.stop();
    led.released = true;
    led.log.leadershipEnded();
    await this.leases.release(led.lease).catch((err: unknown) => {
      this.logger.warn({ err, topic: led.topic.name, partition: led.partition }, 'releasing the lease failed');
    });
    await led.tailer.recordFinalEnd();
  }

  /** Renews every held lease; a renewal still under way for a partition is not started twice. */
  private renewLeases(): void {
    for (const [key, led] of this.held) void this.renewLease(key, led);
  }

  /** Renews one lease (joining a renewal under way); false when the partition is no longer held. */
  private renewLease(key: string, led: LedPartition): Promise<boolean> {
    let renewal = this.renewals.get(led);
    if (renewal === undefined) {
      renewal = this.renewOnce(key, led).finally(() => this.renewals.delete(led));
      this.renewals.set(led, renewal);
    }
    return renewal;
  }

  private async renewOnce(key: string, led: LedPartition): Promise<boolean> {
    if (led.released === true || this.held.get(key) !== led) return false;
    try {
      const renewed = await this.leases.renew(led.lease, this.options.leaseTtlMs);
      if (renewed !== undefined) {
        led.lease = renewed;
        return true;
      }
      this.logger.warn({ topic: led.topic.name, partition: led.partition }, 'partition lease lost; no longer leading');
    } catch (err) {
      // Unsure whether it is still ours: stop serving before the lease could have expired.
      if (Date.now() < led.lease.expiresAtMs - this.options.leaseTtlMs / 3) return true;
      this.logger.warn({ err, topic: led.topic.name, partition: led.partition }, 'cannot renew the partition lease; no longer leading');
    }
    if (this.held.get(key) === led) this.drop(key, led);
    return false;
  }
}

function partitionKey(topic: Topic, partition: number): string {
  return `${topic.topicId}/${partition}`;
}
