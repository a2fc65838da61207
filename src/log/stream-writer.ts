import type { PutRecordsRequestEntry, PutRecordsResultEntry } from '@aws-sdk/client-kinesis';
import type { Logger } from 'pino';
import { isNotFound, isThrottle, isThrottleCode } from '../kinesis/client.js';
import type { KinesisPutEntry } from '../kinesis/record-formats.js';
import type { KinesisRecordsClient } from '../kinesis/records-client.js';

/** Where Kinesis put a record. */
export interface PutResult {
  readonly shardId: string;
  readonly sequenceNumber: string;
}

/** Why a write failed; the Produce handler turns it into a Kafka error code. */
export class WriteError extends Error {
  override name = 'WriteError';
  constructor(
    readonly reason: 'throttled' | 'timeout' | 'stream-missing' | 'kms' | 'failed' | 'not-leader',
    message: string,
    /** false when none of the write's records was ever sent to Kinesis. */
    readonly maybeWritten = true,
  ) {
    super(message);
  }
}

/** PutRecords's limit: 500 records per call. */
export const MAX_RECORDS_PER_CALL = 500;
/**
 * A call carries at most this much (data plus partition keys; a Kinesis record is at most as
 * large), well below PutRecords's 5 MiB: it is a shard's write budget for a second (1 MiB), so one
 * partition's records beyond it would be throttled in part; a call's records are all answered
 * when the last is written, so smaller calls let the next records of its partitions go out
 * sooner; and kinesalite, which joins a request body's chunks one at a time, takes several times
 * longer per byte for calls of several MiB. What does not fit goes in other calls, alongside.
 */
export const MAX_BYTES_PER_CALL = 1024 * 1024;

export interface StreamWriterOptions {
  readonly maxConcurrentCalls: number;
  /** How long a write may keep retrying throttled or failed records. */
  readonly retryTimeoutMs: number;
  /**
   * Asked right before each PutRecords for every partition in it: false fails the partition's
   * waiting writes with reason 'not-leader' instead of sending them (its lease is lost or about
   * to run out). Absent: always true.
   */
  readonly mayWrite?: (partition: number) => boolean;
}

interface Job {
  readonly partition: number;
  entries: KinesisPutEntry[] | undefined;
  readonly results: (PutResult | undefined)[];
  /** Index of the first entry without a result. */
  sent: number;
  /** Some of its records were in a PutRecords call. */
  attempted: boolean;
  readonly deadline: number;
  resolve(results: PutResult[]): void;
  reject(err: WriteError): void;
}

/** A claimed place in a partition's write order, filled once its records are ready. */
export interface Reservation {
  fill(entries: KinesisPutEntry[]): void;
  /** Gives the place up (the request failed before writing): later writes go ahead. */
  cancel(): void;
  readonly done: Promise<PutResult[]>;
}

/**
 * Writes one stream with PutRecords, keeping each partition's order: a partition's records go
 * out in the order their places were reserved, a partition has at most one call in flight, and
 * records that fail (throttling, internal errors) are retried before anything after them.
 * Calls carry records of many partitions at once.
 */
export class StreamWriter {
  private readonly queues = new Map<number, Job[]>();
  private inFlightCalls = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private pumpScheduled = false;
  /** Per partition with a PutRecords call in flight (at most one), that call. */
  private readonly callOf = new Map<number, Promise<void>>();

  constructor(
    private readonly kinesis: KinesisRecordsClient,
    private readonly streamName: string,
    private readonly options: StreamWriterOptions,
    private readonly log: Logger,
  ) {}

  /** Claims the partition's next place now; call this before any await to keep request order. */
  reserve(partition: number): Reservation {
    let resolve!: (results: PutResult[]) => void;
    let reject!: (err: WriteError) => void;
    const done = new Promise<PutResult[]>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const job: Job = {
      partition,
      entries: undefined,
      results: [],
      sent: 0,
      attempted: false,
      deadline: Date.now() + this.options.retryTimeoutMs,
      resolve,
      reject,
    };
    const queue = this.queues.get(partition) ?? [];
    queue.push(job);
    this.queues.set(partition, queue);
    return {
      done,
      fill: (entries) => {
        job.entries = entries;
        if (entries.length === 0) this.finishJob(job);
        this.pumpSoon();
      },
      cancel: () => {
        this.removeJob(job);
        this.pump();
      },
    };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    for (const queue of this.queues.values()) {
      for (const job of queue) job.reject(new WriteError('failed', 'the gateway is shutting down'));
    }
    this.queues.clear();
  }

  /**
   * Pumps once the current event-loop turn is over: the batches of one Produce request (and of
   * the other requests read with it) are filled one by one, and go out together.
   */
  private pumpSoon(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (!this.closed && this.inFlightCalls < this.options.maxConcurrentCalls) {
      const call = this.collectCall();
      if (call.length === 0) return;
      this.inFlightCalls++;
      const sent = this.send(call).finally(() => {
        this.inFlightCalls--;
        for (const { job } of call) this.callOf.delete(job.partition);
        this.pump();
      });
      for (const { job } of call) this.callOf.set(job.partition, sent);
    }
  }

  /**
   * Resolves once the partition's call now in flight (if any) has been answered and what waited
   * for it has run: records read from Kinesis meanwhile may be that call's.
   */
  callAnswered(partition: number): Promise<void> {
    const call = this.callOf.get(partition);
    if (call === undefined) return Promise.resolve();
    return call.then(() => new Promise((resolve) => setImmediate(resolve)));
  }

  /** Whether the partition has writes waiting or under way. */
  hasPending(partition: number): boolean {
    return this.queues.has(partition) || this.callOf.has(partition);
  }

  /**
   * Picks ready records, up to a call's limits: for each idle partition, its queue's filled jobs
   * in order. Every ready partition goes into the same call, and the other call slots are used
   * only for what does not fit: the partitions of one call finish together and are ready again
   * together, so under load each call carries what all of them gathered meanwhile. Spread over
   * the slots instead, each partition would keep its own cycle of small calls.
   */
  private collectCall(): { job: Job; index: number }[] {
    const picked: { job: Job; index: number }[] = [];
    let bytes = 0;
    const ready = [...this.queues].filter(([partition, queue]) => !this.callOf.has(partition) && queue[0]?.entries !== undefined);
    for (const [partition, queue] of ready) {
      if (this.options.mayWrite?.(partition) === false) {
        for (const job of queue.filter((j) => j.entries !== undefined)) {
          this.failJobs([{ job }], new WriteError('not-leader', `this gateway no longer leads partition ${partition}`, job.attempted));
        }
        continue;
      }
      for (const job of queue) {
        if (job.entries === undefined) break; // keeps order: later jobs wait for this one
        for (let index = job.sent; index < job.entries.length; index++) {
          if (job.results[index] !== undefined) continue; // written already; only failures go again
          const entry = job.entries[index] as KinesisPutEntry;
          const size = entry.data.length + Buffer.byteLength(entry.partitionKey);
          if (picked.length >= MAX_RECORDS_PER_CALL || (picked.length > 0 && bytes + size > MAX_BYTES_PER_CALL)) {
            return picked;
          }
          picked.push({ job, index });
          job.attempted = true;
          bytes += size;
        }
      }
    }
    return picked;
  }

  private async send(call: { job: Job; index: number }[]): Promise<void> {
    const entries: PutRecordsRequestEntry[] = call.map(({ job, index }) => {
      const entry = (job.entries as KinesisPutEntry[])[index] as KinesisPutEntry;
      return { Data: entry.data, PartitionKey: entry.partitionKey, ExplicitHashKey: entry.explicitHashKey };
    });
    let records: PutRecordsResultEntry[];
    try {
      const response = await this.kinesis.putRecords({ StreamName: this.streamName, Records: entries });
      records = response.Records ?? [];
    } catch (err) {
      if (isNotFound(err)) {
        this.failJobs(call, new WriteError('stream-missing', `stream ${this.streamName} does not exist`));
      } else {
        if (!isThrottle(err)) this.log.warn({ err, stream: this.streamName }, 'PutRecords failed; retrying');
        this.retryLater(call, isThrottle(err) ? 'throttled' : 'failed', err instanceof Error ? err.message : String(err));
      }
      return;
    }
    const failed: { job: Job; index: number }[] = [];
    const brokenOrder = new Set<number>();
    call.forEach((slot, i) => {
      const result = records[i];
      if (result?.SequenceNumber !== undefined && result.ShardId !== undefined && result.ErrorCode === undefined) {
        if (failed.some((f) => f.job.partition === slot.job.partition)) brokenOrder.add(slot.job.partition);
        slot.job.results[slot.index] = { shardId: result.ShardId, sequenceNumber: result.SequenceNumber };
      } else if (result?.ErrorCode?.startsWith('KMS') === true) {
        this.failJobs([slot], new WriteError('kms', `${result.ErrorCode}: ${result.ErrorMessage ?? ''}`));
      } else {
        failed.push(slot);
      }
    });
    for (const partition of brokenOrder) {
      this.log.warn({ stream: this.streamName, partition }, 'PutRecords partly failed: a later record of the partition was written before a retried one');
    }
    for (const slot of call) this.advance(slot.job);
    if (failed.length > 0) {
      const code = records.find((r) => r.ErrorCode !== undefined)?.ErrorCode;
      this.retryLater(failed, isThrottleCode(code) ? 'throttled' : 'failed', code ?? 'record not written');
    }
  }

  /** Moves `sent` past consecutive results and completes the job when every record is written. */
  private advance(job: Job): void {
    const entries = job.entries as KinesisPutEntry[];
    while (job.sent < entries.length && job.results[job.sent] !== undefined) job.sent++;
    if (job.sent === entries.length) this.finishJob(job);
  }

  private finishJob(job: Job): void {
    this.removeJob(job);
    job.resolve(job.results as PutResult[]);
  }

  private failJobs(slots: { job: Job }[], err: WriteError): void {
    for (const { job } of slots) {
      this.removeJob(job);
      job.reject(err);
    }
  }

  private retryLater(slots: { job: Job; index: number }[], reason: 'throttled' | 'failed', message: string): void {
    const now = Date.now();
    const expired = slots.filter((s) => s.job.deadline <= now);
    if (expired.length > 0) {
      this.failJobs(expired, new WriteError(reason === 'throttled' ? 'throttled' : 'timeout', message));
    }
    if (this.retryTimer === undefined && !this.closed) {
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.pump();
      }, reason === 'throttled' ? 100 : 250);
    }
  }

  private removeJob(job: Job): void {
    const queue = this.queues.get(job.partition);
    if (queue === undefined) return;
    const index = queue.indexOf(job);
    if (index >= 0) queue.splice(index, 1);
    if (queue.length === 0) this.queues.delete(job.partition);
  }
}
