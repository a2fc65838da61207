/**
 * Idempotent producers for the idempotence end-to-end tests, and the exactly-once check.
 *
 * Each producer has a name and sends numbered records: record i has key "<name>-k<i % keys>"
 * and value "<name>|<i>|" (padded), so that whatever ends up in the log names its producer and
 * its place in that producer's order. What each producer was told (acknowledgements with
 * partition and offset, failures, client errors) is kept for the check:
 *
 * - every acknowledged record is in the log exactly once, at the partition and offset it was
 *   acknowledged at;
 * - no record is in the log twice (unacknowledged ones may be there, at most once);
 * - per partition, each producer's records are in the order it produced them.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { pythonConsume } from './client-drivers.js';
import { DEBIAN_PYTHON } from './librdkafka.js';

export interface Ack {
  readonly partition: number;
  /**
   * Undefined when the client knows the record is written but not where: librdkafka, after a
   * request timed out, takes the success of a later batch of the partition as proof that the
   * earlier one was written too, and reports it delivered without an offset.
   */
  readonly offset: bigint | undefined;
}

/** What a producer reports to the check. */
export interface ProducerOutcome {
  readonly name: string;
  /** Record index -> where it was acknowledged. */
  readonly acked: ReadonlyMap<number, Ack>;
  /** Records handed to the client (indexes 0 .. produced-1). */
  readonly produced: number;
  /** The errors the client reported so far, counted by kind (for failure messages). */
  describeErrors(): string;
}

export function recordKey(name: string, index: number, keys: number): Buffer {
  return Buffer.from(`${name}-k${index % keys}`);
}

export function recordValue(name: string, index: number, bytes = 64): Buffer {
  const head = `${name}|${index}|`;
  return Buffer.from(head + 'v'.repeat(Math.max(0, bytes - head.length)));
}

export function parseValue(value: Buffer | null): { name: string; index: number } | undefined {
  if (value === null) return undefined;
  const [name, index] = value.toString('utf8').split('|');
  if (name === undefined || index === undefined || !/^\d+$/.test(index)) return undefined;
  return { name, index: Number(index) };
}

/** Counts of something by name, for diagnostics. */
export class Tally {
  readonly counts = new Map<string, number>();
  add(name: string): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
  }
  toString(): string {
    return [...this.counts].map(([k, v]) => `${k}×${v}`).join(', ') || 'none';
  }
}

// ---------------------------------------------------------------------------------------------
// kafkajs

export interface KafkajsProducerOptions {
  readonly name: string;
  readonly topic: string;
  readonly partitionCount: number;
  /** Records to produce (the loop stops earlier when stopped). */
  readonly count: number;
  /** Records per send() (default 30). */
  readonly batchSize?: number;
  readonly keys?: number;
  readonly maxInFlightRequests: number;
  /** kafkajs requestTimeout (default 2000). */
  readonly requestTimeoutMs?: number;
  /**
   * kafkajs has no recovery of its own for UNKNOWN_PRODUCER_ID (it is not retriable there, and
   * its producer keeps the id and sequence): with this set, the application does what it can,
   * i.e. creates a new producer (a new producer id, sequences from 0) and sends the refused
   * records again. Otherwise the loop stops with the error.
   */
  readonly newProducerOnUnknownProducerId?: boolean;
  /**
   * Each send() to one partition (the records of a batch go out as one send per partition, in
   * turn). kafkajs fails a whole send() when any partition of it fails, and hides which
   * partitions were written: sending refused records again with a new producer is safe only
   * when a send() is one partition's batch.
   */
  readonly onePartitionPerSend?: boolean;
}

/**
 * An idempotent kafkajs producer sending one send() at a time (records round robin over keys,
 * key k to partition k % partitionCount), as fast as they are answered. A failed send() is sent
 * again with the same records: kafkajs gives the sequence numbers of a failed attempt back, so
 * the same records go out with the same sequences. One send() at a time because kafkajs gives
 * the sequences back even when another send() took the next ones meanwhile: concurrent sends on
 * one idempotent kafkajs producer can reuse sequences for other records after a failure.
 */
export class KafkajsIdempotentProducer implements ProducerOutcome {
  readonly acked = new Map<number, Ack>();
  produced = 0;
  /** Errors send() threw (kafkajs gave up retrying), by kafkajs error type. */
  readonly sendErrors = new Tally();
  describeErrors(): string {
    return this.sendErrors.toString();
  }
  /** Producer instances used (more than 1: new producer ids after UNKNOWN_PRODUCER_ID). */
  producers = 0;
  /** The error that stopped the loop, if any. */
  fatal: Error | undefined;
  /** stop() gave up waiting for a send. */
  abandoned = false;
  private stopped = false;
  private current: kafkajs.Producer | undefined;
  private readonly done: Promise<void>;
  private readonly keys: number;

  constructor(
    private readonly bootstrap: string,
    private readonly options: KafkajsProducerOptions,
  ) {
    this.keys = options.keys ?? 24;
    this.done = this.run().catch((err: unknown) => {
      this.fatal = err instanceof Error ? err : new Error(String(err));
    });
  }

  get name(): string {
    return this.options.name;
  }

  /**
   * Stops after the send under way; resolves when the loop ended. A send still not answered
   * after `graceMs` is abandoned (the producer disconnects; `abandoned` is set).
   */
  async stop(graceMs = 60_000): Promise<void> {
    this.stopped = true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), graceMs)));
    const result = await Promise.race([this.done, timeout]);
    clearTimeout(timer);
    if (result !== 'timeout') return;
    this.abandoned = true;
    await this.current?.disconnect().catch(() => undefined);
    await Promise.race([this.done, sleep(5000)]);
  }

  /** Resolves when every record was produced (or the loop stopped). */
  finished(): Promise<void> {
    return this.done;
  }

  private newProducer(): kafkajs.Producer {
    this.producers++;
    this.current = undefined;
    const kafka = new kafkajs.Kafka({
      clientId: this.options.name,
      brokers: [this.bootstrap],
      logLevel: process.env.KAFKAJS_LOG === '1' ? kafkajs.logLevel.DEBUG : kafkajs.logLevel.NOTHING,
      connectionTimeout: 1000,
      requestTimeout: this.options.requestTimeoutMs ?? 2000,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 50, maxRetryTime: 1000 },
    });
    this.current = kafka.producer({
      idempotent: true,
      maxInFlightRequests: this.options.maxInFlightRequests,
      allowAutoTopicCreation: false,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 50, maxRetryTime: 1000 },
    });
    return this.current;
  }

  private async connect(producer: kafkajs.Producer): Promise<void> {
    for (;;) {
      try {
        await producer.connect();
        return;
      } catch (err) {
        if (this.stopped) throw err;
        this.sendErrors.add(`connect:${(err as Error).name}`);
        await sleep(200);
      }
    }
  }

  /** Sends these records until they are acknowledged; returns the producer to go on with. */
  private async send(producer: kafkajs.Producer, indexes: number[], partitionOf: (i: number) => number): Promise<kafkajs.Producer> {
    const messages = indexes.map((i) => ({
      partition: partitionOf(i),
      key: recordKey(this.options.name, i, this.keys),
      value: recordValue(this.options.name, i),
    }));
    for (;;) {
      try {
        const result = await producer.send({ topic: this.options.topic, acks: -1, messages });
        const base = new Map(result.map((m) => [m.partition, BigInt(m.baseOffset ?? '-1')]));
        const position = new Map<number, bigint>();
        messages.forEach((m, j) => {
          const at = position.get(m.partition) ?? 0n;
          position.set(m.partition, at + 1n);
          const b = base.get(m.partition);
          // kafkajs leaves a partition out of send()'s result (and does not send it) when,
          // on a retry, its new leader is a broker that had already answered for others.
          if (b === undefined) throw new Error(`kafkajs's send() result has no entry for partition ${m.partition}`);
          if (b < 0n) throw new Error(`kafkajs reported no offset for partition ${m.partition}`);
          this.acked.set(indexes[j] as number, { partition: m.partition, offset: b + at });
        });
        return producer;
      } catch (err) {
        const type = (err as { type?: string }).type ?? (err as Error).name;
        this.sendErrors.add(type);
        if (type === 'UNKNOWN_PRODUCER_ID' && this.options.newProducerOnUnknownProducerId === true) {
          await producer.disconnect().catch(() => undefined);
          producer = this.newProducer();
          await this.connect(producer);
          continue;
        }
        const retriable = (err as { retriable?: boolean }).retriable === true || /Connection|Timeout|NumberOfRetries/i.test(type);
        if (!retriable || this.stopped) throw err;
        await sleep(100);
      }
    }
  }

  private async run(): Promise<void> {
    let producer = this.newProducer();
    await this.connect(producer);
    const batchSize = this.options.batchSize ?? 30;
    try {
      while (!this.stopped && this.produced < this.options.count) {
        const first = this.produced;
        const count = Math.min(batchSize, this.options.count - first);
        this.produced += count;
        const indexes = Array.from({ length: count }, (_, j) => first + j);
        const partitionOf = (i: number): number => (i % this.keys) % this.options.partitionCount;
        const sends =
          this.options.onePartitionPerSend === true
            ? [...new Set(indexes.map(partitionOf))].map((p) => indexes.filter((i) => partitionOf(i) === p))
            : [indexes];
        for (const send of sends) producer = await this.send(producer, send, partitionOf);
      }
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// librdkafka (python confluent-kafka)

export interface LibrdkafkaProducerOptions {
  readonly name: string;
  readonly topic: string;
  readonly count: number;
  readonly keys?: number;
  /** Records handed to librdkafka per second, at most (default: as fast as it takes them). */
  readonly ratePerSecond?: number;
  /** Producing stops once this file exists (then the producer flushes). */
  readonly stopFile?: string;
  /** More librdkafka properties. */
  readonly config?: Readonly<Record<string, string | number | boolean>>;
  readonly flushTimeoutS?: number;
  /**
   * After a fatal error, recover as librdkafka asks applications to: a new producer (a new
   * producer id) sends the records the old one failed, in order, and goes on. Otherwise a
   * fatal error ends producing.
   */
  readonly newProducerOnFatal?: boolean;
  /** librdkafka's `debug` contexts ("eos,msg,topic"), logged to `debugLogFile` (see debugLines). */
  readonly debug?: string;
  readonly debugLogFile?: string;
}

const PRODUCE_SCRIPT = fileURLToPath(new URL('../e2e/clients/librdkafka_idempotent_produce.py', import.meta.url));

/**
 * KafkaError{code=_TRANSPORT,val=-195,str="127.0.0.1:1234/0: 3 request(s) timed out: ..."}:
 * the code and the text without the broker name, numbers as N.
 */
function errorSummary(error: string): string {
  const match = /code=(\w+).*?str="(?:[^"]*?\/\d+: )?([^"]*)"/.exec(error);
  const text = match === null ? error : `${match[1]}: ${match[2]}`;
  return text.replace(/\d+/g, 'N').replace(/ \(after .*$/, '').slice(0, 100);
}

/** librdkafka_idempotent_produce.py as a child process, its reports followed as they come. */
export class LibrdkafkaIdempotentProducer implements ProducerOutcome {
  readonly acked = new Map<number, Ack>();
  /** Failed deliveries not sent again successfully: index -> error. */
  readonly nacked = new Map<number, string>();
  /** Every failed delivery, by error. */
  readonly failures = new Tally();
  /** Producer instances used (more than 1: new producers after fatal errors). */
  producers = 1;
  /** error_cb reports, by message (connection errors are expected while a gateway is down). */
  readonly clientErrors = new Tally();
  describeErrors(): string {
    return `${this.clientErrors.toString()}; delivery failures: ${this.failures.toString()}`;
  }
  readonly fatalErrors: string[] = [];
  produced = 0;
  unflushed = -1;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private stderr = '';

  constructor(bootstrap: string, options: LibrdkafkaProducerOptions) {
    this.name = options.name;
    const spec = {
      bootstrap,
      topic: options.topic,
      name: options.name,
      count: options.count,
      keys: options.keys ?? 24,
      stop_file: options.stopFile ?? null,
      rate: options.ratePerSecond ?? null,
      flush_timeout_s: options.flushTimeoutS ?? 150,
      new_producer_on_fatal: options.newProducerOnFatal === true,
      config: {
        ...options.config,
        // librdkafka's debug log (e.g. "eos,msg,protocol") goes to KKG_TEST_LIBRDKAFKA_STDERR.
        ...(options.debug !== undefined ? { debug: options.debug } : {}),
        ...(process.env.KKG_TEST_LIBRDKAFKA_DEBUG !== undefined ? { debug: process.env.KKG_TEST_LIBRDKAFKA_DEBUG } : {}),
      },
    };
    this.debugLogFile = process.env.KKG_TEST_LIBRDKAFKA_STDERR ?? options.debugLogFile;
    this.child = spawn(DEBIAN_PYTHON, [PRODUCE_SCRIPT, JSON.stringify(spec)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const stderrFile = this.debugLogFile;
    this.child.stderr?.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-5000);
      // With librdkafka's `debug` property set, its log goes here.
      if (stderrFile !== undefined) appendFileSync(stderrFile, d);
    });
    const lines = createInterface({ input: this.child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => this.onLine(line));
    this.exited = new Promise((resolve) => this.child.once('close', () => resolve()));
  }

  readonly name: string;
  private readonly debugLogFile: string | undefined;

  /** The last `count` lines of librdkafka's debug log that match `pattern`. */
  debugLines(pattern: RegExp, count: number): string[] {
    if (this.debugLogFile === undefined || !existsSync(this.debugLogFile)) return [];
    return readFileSync(this.debugLogFile, 'utf8').split('\n').filter((line) => pattern.test(line)).slice(-count);
  }

  private onLine(line: string): void {
    const event = JSON.parse(line) as {
      ack?: number;
      nack?: number;
      p?: number;
      o?: number | null;
      error?: string;
      fatal?: boolean;
      done?: number;
      unflushed?: number;
      fatal_error?: string | null;
      new_producer?: number;
    };
    if (event.ack !== undefined) {
      this.acked.set(event.ack, { partition: event.p as number, offset: event.o === null || event.o === undefined ? undefined : BigInt(event.o) });
      this.nacked.delete(event.ack);
    } else if (event.nack !== undefined) {
      this.nacked.set(event.nack, `partition ${event.p ?? '?'}: ${event.error ?? '?'}`);
      this.failures.add(errorSummary(event.error ?? '?'));
    } else if (event.new_producer !== undefined) {
      this.producers = event.new_producer;
    } else if (event.done !== undefined) {
      this.produced = event.done;
      this.unflushed = event.unflushed ?? -1;
      if (event.fatal_error) this.fatalErrors.push(event.fatal_error);
    } else if (event.error !== undefined) {
      this.clientErrors.add(errorSummary(event.error));
      if (event.fatal === true) this.fatalErrors.push(event.error);
    }
  }

  /** Resolves when the script has flushed and exited. */
  async finished(timeoutMs = 200_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    const result = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (result === 'timeout') {
      this.child.kill('SIGKILL');
      throw new Error(`${this.name}: librdkafka producer did not finish in ${timeoutMs} ms; stderr: ${this.stderr}`);
    }
    if (this.unflushed < 0) throw new Error(`${this.name}: librdkafka producer ended without its summary; stderr: ${this.stderr}`);
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------------
// Reading the log back and checking it

export interface LoggedRecord {
  readonly partition: number;
  readonly offset: bigint;
  readonly name: string;
  readonly index: number;
}

/**
 * The whole topic, every partition from offset 0 to its high watermark, read with librdkafka
 * (assign(), no group). Offsets must be dense.
 */
export async function readWholeTopic(bootstrap: string, topic: string): Promise<LoggedRecord[]> {
  const offsets = await latestOffsets(bootstrap, topic);
  const out: LoggedRecord[] = [];
  for (const o of offsets) {
    const high = Number(o.high);
    const records =
      high === 0
        ? []
        : await pythonConsume(bootstrap, {
            clientId: `kkg-idem-reader-${o.partition}`,
            topic,
            partition: o.partition,
            offset: 0,
            count: high,
            timeoutMs: 60_000,
          });
    assert.equal(records.length, high, `partition ${o.partition}: read ${records.length} of ${high} records`);
    records.forEach((r, i) => {
      assert.equal(r.offset, BigInt(i), `partition ${o.partition}: offsets dense from 0`);
      const parsed = parseValue(r.value);
      assert.ok(parsed !== undefined, `partition ${o.partition} offset ${r.offset}: not a test record`);
      out.push({ partition: o.partition, offset: r.offset, ...parsed });
    });
  }
  return out;
}

/**
 * Every partition's high watermark. kafkajs's admin keeps the leaders it looked up first and
 * retries a NOT_LEADER_OR_FOLLOWER against the same broker, so a partition moving meanwhile (a
 * node taking its share back) fails the call: it is asked again with a fresh admin client.
 */
async function latestOffsets(bootstrap: string, topic: string): Promise<{ partition: number; high: string }[]> {
  for (let attempt = 1; ; attempt++) {
    const admin = new kafkajs.Kafka({ clientId: 'kkg-idem-reader', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      return await admin.fetchTopicOffsets(topic);
    } catch (err) {
      // kafkajs gives up with KafkaJSNumberOfRetriesExceeded, the protocol error as its cause.
      const { type, cause } = err as { type?: string; cause?: { type?: string } };
      const moved = /NOT_LEADER|LEADER_NOT_AVAILABLE/.test(`${type ?? ''} ${cause?.type ?? ''}`);
      if (!moved || attempt === 10) throw err;
    } finally {
      await admin.disconnect();
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

export interface ExactlyOnceSummary {
  readonly records: number;
  readonly acknowledged: number;
  /** In the log although never acknowledged (in flight when the producer stopped or failed). */
  readonly unacknowledgedPresent: number;
}

/**
 * The exactly-once check (see the file comment). `allAcknowledged`: every produced record must
 * have been acknowledged too (runs where the producers finish normally).
 */
export function checkExactlyOnce(
  log: readonly LoggedRecord[],
  producers: readonly ProducerOutcome[],
  options: { allAcknowledged?: boolean } = {},
): ExactlyOnceSummary {
  const byName = new Map(producers.map((p) => [p.name, p]));
  const seen = new Map<string, LoggedRecord>();
  const duplicates: string[] = [];
  const strangers: string[] = [];
  const outOfOrder: string[] = [];
  /** `${name}/${partition}` -> last index seen. */
  const lastIndex = new Map<string, number>();
  const sorted = [...log].sort((a, b) => a.partition - b.partition || (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
  for (const r of sorted) {
    const id = `${r.name}|${r.index}`;
    const producer = byName.get(r.name);
    if (producer === undefined || r.index >= producer.produced) strangers.push(`${id} at ${r.partition}/${r.offset}`);
    const earlier = seen.get(id);
    if (earlier !== undefined) duplicates.push(`${id} at ${earlier.partition}/${earlier.offset} and ${r.partition}/${r.offset}`);
    seen.set(id, r);
    const lane = `${r.name}/${r.partition}`;
    const last = lastIndex.get(lane);
    if (last !== undefined && r.index <= last) outOfOrder.push(`${r.name} partition ${r.partition}: ${r.index} after ${last} (offset ${r.offset})`);
    lastIndex.set(lane, Math.max(last ?? -1, r.index));
  }
  const missing: string[] = [];
  const misplaced: string[] = [];
  const unacknowledged: string[] = [];
  let acknowledged = 0;
  for (const p of producers) {
    for (const [index, ack] of p.acked) {
      acknowledged++;
      const r = seen.get(`${p.name}|${index}`);
      if (r === undefined) missing.push(`${p.name}|${index} (acknowledged at ${ack.partition}/${ack.offset})`);
      else if (r.partition !== ack.partition || (ack.offset !== undefined && r.offset !== ack.offset)) {
        misplaced.push(`${p.name}|${index}: acknowledged at ${ack.partition}/${ack.offset}, found at ${r.partition}/${r.offset}`);
      }
    }
    if (options.allAcknowledged === true) {
      for (let i = 0; i < p.produced; i++) if (!p.acked.has(i)) unacknowledged.push(`${p.name}|${i}`);
    }
  }
  const sample = (list: string[]): string => `${list.length}: ${list.slice(0, 8).join('; ')}${list.length > 8 ? '; ...' : ''}`;
  assert.deepEqual(strangers, [], `records no producer produced: ${sample(strangers)}`);
  assert.deepEqual(duplicates, [], `records in the log twice: ${sample(duplicates)}`);
  assert.deepEqual(missing, [], `acknowledged records missing from the log: ${sample(missing)}`);
  assert.deepEqual(misplaced, [], `acknowledged records elsewhere than acknowledged: ${sample(misplaced)}`);
  assert.deepEqual(outOfOrder, [], `records out of their producer's order: ${sample(outOfOrder)}`);
  assert.deepEqual(unacknowledged, [], `records never acknowledged: ${sample(unacknowledged)}`);
  let unacknowledgedPresent = 0;
  for (const r of log) if (!byName.get(r.name)?.acked.has(r.index)) unacknowledgedPresent++;
  return { records: log.length, acknowledged, unacknowledgedPresent };
}
