/**
 * Data-path throughput (issue 3): 1 KiB records through the gateway, beside what an application
 * gets writing and reading the same kinesalite directly with the AWS SDK.
 *
 * - kinesalite and dynalite run in processes of their own (test/support/local-aws-process.ts), the gateway
 *   in another (the CLI, as deployed), the clients here and in python (librdkafka). Each
 *   producer (direct, kafkajs, librdkafka) starts on fresh, empty stand-ins: kinesalite gets
 *   slower as it fills, and no path should pay for another's data.
 * - direct produce: the records, in per-partition batches the size a Kafka producer sends, made
 *   into KPL aggregates (src/kinesis/record-formats.ts toKplRecords, as the gateway stores them)
 *   and written with PutRecords in calls of up to 500 records and 1 MiB, 4 in flight: the
 *   gateway's writer's limits (src/log/stream-writer.ts). The KPL's default calls of up to 5 MiB
 *   are half as fast here: kinesalite joins a request body's chunks one at a time, so its cost
 *   per byte grows with the call.
 * - direct consume: GetRecords of every shard from TRIM_HORIZON in parallel, de-aggregated.
 * - gateway produce: kafkajs (sends of 256 records, 8 in flight, acks=-1) and librdkafka
 *   (linger.ms=5, acks=-1); each to its own 4-partition topic, with produce.ack.mode observed
 *   (the default: a Produce is answered once its records are read back) and again immediate
 *   (answered once Kinesis has them).
 * - gateway consume, of what kafkajs wrote: librdkafka (assign(), all partitions) and a kafkajs
 *   group consumer (timed from its first record, so joining is not counted) while the records
 *   are in the gateway's tail cache; librdkafka again after a gateway restart (reading from
 *   Kinesis through the offset index; the restarted gateway's partitions are opened first,
 *   untimed).
 *
 * The produce rows also give the PutRecords and GetRecords calls made (the gateway's, from its
 * /metrics, reading back included): per-call costs on both sides are what separates producers
 * that send many small requests from those that send few large ones.
 *
 * Each producer first sends 5,000 records of the same data untimed, to the same topic or stream
 * (WARM_UP_RECORDS): a run of about a second would otherwise time the processes' compilation,
 * the first connections and the gateway's opening of its partitions (lease, index, tailer)
 * rather than throughput. The consumers read them too.
 *
 * Every path runs once per round, three rounds by default: the table gives medians, and each
 * gateway path's ratio to the direct path of the same round (median and range), because this
 * machine's speed drifts from run to run more than within one round.
 *
 * Ratios are gateway / direct; the issue's target is >= 0.8 for produce and consume.
 * KKG_BENCH_CPU_PROF=DIR runs the gateway under `node --cpu-prof` and writes profiles to DIR.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordsCommand,
  type KinesisClient,
  type PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import kafkajs from 'kafkajs';
import type { LocalService } from '../src/embedded-aws.js';
import { createKinesisClient } from '../src/kinesis/client.js';
import { decodeAggregate } from '../src/kinesis/kpl.js';
import { toKplRecords, type GatewayRecord, type KinesisPutEntry } from '../src/kinesis/record-formats.js';
import { MAX_BYTES_PER_CALL, MAX_RECORDS_PER_CALL } from '../src/log/stream-writer.js';
import type { ProduceAckMode } from '../src/log/topic-configs.js';
import { startGatewayProcess, type GatewayProcess } from '../test/support/gateway-process.js';
import { startLocalAwsProcess } from '../test/support/local-aws-process.js';
import { freePort } from '../test/support/ports.js';
import type { BenchRow } from './table.js';

const RECORD_BYTES = 1024;
const PARTITIONS = 4;
/** Records per send() of the kafkajs producer, and so per partition batch: 256 / 4. */
const SEND_RECORDS = 256;
const SENDS_IN_FLIGHT = 8;
const PUT_CALLS_IN_FLIGHT = 4;
const KINESIS_MAX_RECORD_BYTES = 1024 * 1024;
const PYTHON = '/usr/bin/python3';
/**
 * Records each producer sends, untimed, to the same topic (or stream) before its timed run: the
 * processes' code is compiled, connections are open and the gateway leads the partitions, as
 * for a producer that has been running, on both sides of the ratio alike. The consumers read
 * them too (their rows count every record in the topic).
 */
const WARM_UP_RECORDS = 5_000;

const run = promisify(execFile);

interface Measured {
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
}

function value(): Buffer {
  // Half random, half repeated, like the protocol benchmark's records.
  return Buffer.concat([randomBytes(RECORD_BYTES / 2), Buffer.alloc(RECORD_BYTES / 2, 'a')]);
}

async function timed(work: () => Promise<{ records: number; bytes: number }>): Promise<Measured> {
  const started = process.hrtime.bigint();
  const { records, bytes } = await work();
  return { records, bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9 };
}

// ---------------------------------------------------------------------------------------------
// services

/** CPU seconds (user + system) a process has used so far, from /proc; undefined elsewhere. */
function cpuSecondsOf(pid: number): number | undefined {
  try {
    // Fields after the command name: state is field 3, utime 14 and stime 15 (clock ticks of 1/100 s).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks / 100 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds each process used during a measurement, by process name. */
type CpuUse = Map<string, number>;

/**
 * Runs `work` and notes the CPU seconds each named process used meanwhile: on this machine's
 * two cores, who does the work explains the ratios (the gateway reads back from Kinesis what it
 * wrote, so kinesalite serves every record twice).
 */
async function withCpu<T>(pids: Readonly<Record<string, number>>, work: () => Promise<T>): Promise<{ result: T; cpu: CpuUse }> {
  const before = Object.entries(pids).map(([name, pid]) => [name, pid, cpuSecondsOf(pid)] as const);
  const ownBefore = process.cpuUsage();
  const result = await work();
  const own = process.cpuUsage(ownBefore);
  const cpu: CpuUse = new Map();
  for (const [name, pid, start] of before) {
    const end = cpuSecondsOf(pid);
    if (start !== undefined && end !== undefined) cpu.set(name, end - start);
  }
  cpu.set('this process (AWS SDK or kafkajs client)', (own.user + own.system) / 1e6);
  return { result, cpu };
}

/** kinesalite and dynalite, each in a process of its own: no path shares its event loop with them. */
async function startServices(): Promise<Services> {
  const [kinesis, dynamodb] = await Promise.all([startLocalAwsProcess('kinesalite'), startLocalAwsProcess('dynalite')]);
  return {
    kinesis,
    dynamodb,
    async close() {
      await Promise.all([kinesis.close(), dynamodb.close()]);
    },
  };
}

interface Services {
  readonly kinesis: LocalService & { readonly pid: number };
  readonly dynamodb: LocalService & { readonly pid: number };
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// direct AWS SDK

async function createStream(kinesis: KinesisClient, name: string): Promise<void> {
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: PARTITIONS }));
  for (;;) {
    const summary = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await sleep(50);
  }
}

async function directProduce(
  kinesis: KinesisClient,
  stream: string,
  values: readonly Buffer[],
  made: { putRecords: number },
): Promise<{ records: number; bytes: number }> {
  // Per partition batches of SEND_RECORDS / PARTITIONS, aggregated as the gateway stores them.
  const perBatch = SEND_RECORDS / PARTITIONS;
  const entries: KinesisPutEntry[] = [];
  const now = BigInt(Date.now());
  for (let start = 0; start < values.length; start += SEND_RECORDS) {
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const batch: GatewayRecord[] = [];
      for (let i = start + partition * perBatch; i < Math.min(values.length, start + (partition + 1) * perBatch); i++) {
        batch.push({ key: Buffer.from(`key-${i}`), value: values[i] as Buffer, headers: [], timestamp: now });
      }
      if (batch.length > 0) entries.push(...toKplRecords(partition, PARTITIONS, batch, null, KINESIS_MAX_RECORD_BYTES));
    }
  }
  const calls: PutRecordsRequestEntry[][] = [];
  let call: PutRecordsRequestEntry[] = [];
  let callBytes = 0;
  for (const entry of entries) {
    const size = entry.data.length + entry.partitionKey.length;
    if (call.length === MAX_RECORDS_PER_CALL || (call.length > 0 && callBytes + size > MAX_BYTES_PER_CALL)) {
      calls.push(call);
      call = [];
      callBytes = 0;
    }
    call.push({ Data: entry.data, PartitionKey: entry.partitionKey, ExplicitHashKey: entry.explicitHashKey });
    callBytes += size;
  }
  if (call.length > 0) calls.push(call);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < calls.length) {
      let pending = calls[next++] as PutRecordsRequestEntry[];
      while (pending.length > 0) {
        const result = await kinesis.send(new PutRecordsCommand({ StreamName: stream, Records: pending }));
        made.putRecords++;
        pending = pending.filter((_, i) => result.Records?.[i]?.ErrorCode !== undefined);
      }
    }
  };
  await Promise.all(Array.from({ length: PUT_CALLS_IN_FLIGHT }, lane));
  return { records: values.length, bytes: values.length * RECORD_BYTES };
}

async function directConsume(kinesis: KinesisClient, stream: string): Promise<{ records: number; bytes: number }> {
  const shards = (await kinesis.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
  let records = 0;
  let bytes = 0;
  await Promise.all(
    shards.map(async (shard) => {
      let iterator = (
        await kinesis.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: shard.ShardId, ShardIteratorType: 'TRIM_HORIZON' }))
      ).ShardIterator;
      while (iterator !== undefined) {
        const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
        for (const record of page.Records ?? []) {
          const subRecords = decodeAggregate(record.Data as Uint8Array);
          if (subRecords === null) throw new Error('not an aggregate');
          for (const sub of subRecords) {
            records++;
            bytes += sub.data.length;
          }
        }
        if ((page.Records ?? []).length === 0 && (page.MillisBehindLatest ?? 0) === 0) break;
        iterator = page.NextShardIterator;
      }
    }),
  );
  return { records, bytes };
}

// ---------------------------------------------------------------------------------------------
// through the gateway

function kafka(bootstrap: string): kafkajs.Kafka {
  return new kafkajs.Kafka({ clientId: 'kkg-bench', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING, requestTimeout: 120_000 });
}

async function createTopics(bootstrap: string, topics: string[], ackMode: ProduceAckMode = 'observed'): Promise<void> {
  const admin = kafka(bootstrap).admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: topics.map((topic) => ({ topic, numPartitions: PARTITIONS, configEntries: [{ name: 'produce.ack.mode', value: ackMode }] })),
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

/** Asks for every partition's latest offset, which makes the gateway open them. */
async function leadersReady(bootstrap: string, topic: string): Promise<void> {
  const admin = kafka(bootstrap).admin();
  await admin.connect();
  try {
    await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
}

async function withKafkajsProducer<T>(bootstrap: string, work: (producer: kafkajs.Producer) => Promise<T>): Promise<T> {
  const producer = kafka(bootstrap).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    return await work(producer);
  } finally {
    await producer.disconnect();
  }
}

async function kafkajsSend(producer: kafkajs.Producer, topic: string, values: readonly Buffer[]): Promise<{ records: number; bytes: number }> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < values.length) {
      const start = next;
      next += SEND_RECORDS;
      await producer.send({
        topic,
        acks: -1,
        messages: values.slice(start, start + SEND_RECORDS).map((v, j) => ({ key: `key-${start + j}`, value: v })),
      });
    }
  };
  await Promise.all(Array.from({ length: SENDS_IN_FLIGHT }, lane));
  return { records: values.length, bytes: values.length * RECORD_BYTES };
}

async function kafkajsConsume(bootstrap: string, topic: string, count: number): Promise<Measured> {
  const consumer = kafka(bootstrap).consumer({ groupId: `kkg-bench-${topic}-${Date.now()}`, maxWaitTimeInMs: 100, maxBytes: 50 << 20 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    let records = 0;
    let bytes = 0;
    let finished: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (finished = resolve));
    // Timed from the first record: joining the group (and its initial rebalance delay) is not
    // throughput.
    let started: bigint | undefined;
    await consumer.run({
      eachBatch: async ({ batch }) => {
        started ??= process.hrtime.bigint();
        for (const message of batch.messages) {
          records++;
          bytes += message.value?.length ?? 0;
        }
        if (records >= count) finished();
      },
    });
    await Promise.race([done, sleep(120_000)]);
    return { records, bytes, seconds: Number(process.hrtime.bigint() - (started ?? process.hrtime.bigint())) / 1e9 };
  } finally {
    await consumer.disconnect();
  }
}

async function librdkafka(spec: Record<string, unknown>): Promise<Measured> {
  const script = fileURLToPath(new URL('./clients/librdkafka_bench.py', import.meta.url));
  const { stdout } = await run(PYTHON, [script, JSON.stringify(spec)], { timeout: 300_000, maxBuffer: 16 << 20 });
  const result = JSON.parse(stdout) as Measured & { errors: string[] };
  if (result.errors.length > 0) throw new Error(`librdkafka: ${result.errors.join('; ')}`);
  return result;
}

async function pythonAvailable(): Promise<boolean> {
  try {
    await run(PYTHON, ['-c', 'import confluent_kafka']);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------

/** KKG_BENCH_VERBOSE=1 prints each measurement as it is taken. */
function progress(message: string): void {
  if (process.env.KKG_BENCH_VERBOSE === '1') process.stderr.write(`[bench] ${message}\n`);
}

interface GatewayRun {
  readonly gateway: GatewayProcess;
  /** The gateway's /metrics port (the same after a restart). */
  readonly metricsPort: number;
  /** The gateway's and the stand-ins' processes, by name. */
  cpuPids(): Record<string, number>;
  restart(): Promise<GatewayProcess>;
  close(): Promise<void>;
}

/** Fresh, empty stand-ins and a gateway on them, so that no path inherits another's data. */
async function gatewayOnFreshServices(): Promise<GatewayRun> {
  const services = await startServices();
  const dataDir = mkdtempSync(join(tmpdir(), 'kkg-bench-'));
  const port = await freePort();
  const metricsPort = await freePort();
  const profileDir = process.env.KKG_BENCH_CPU_PROF;
  const start = (): Promise<GatewayProcess> =>
    startGatewayProcess(
      port,
      {
        'kinesis-endpoint': services.kinesis.endpoint,
        'dynamodb-endpoint': services.dynamodb.endpoint,
        'data-dir': dataDir,
        'kinesis-poll-interval-ms': '20', // as with the embedded stand-ins
        'log-level': 'error',
        'metrics-port': String(metricsPort),
      },
      { nodeArgs: profileDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', profileDir] },
    );
  let gateway = await start();
  return {
    get gateway() {
      return gateway;
    },
    metricsPort,
    cpuPids: () => ({ kinesalite: services.kinesis.pid, dynalite: services.dynamodb.pid, gateway: gateway.pid }),
    async restart() {
      await gateway.stop();
      gateway = await start();
      return gateway;
    },
    async close() {
      await gateway.stop();
      await services.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

type PathName =
  | 'produce: direct'
  | 'produce: kafkajs'
  | 'produce: librdkafka'
  | 'produce: kafkajs, immediate acks'
  | 'produce: librdkafka, immediate acks'
  | 'consume: direct'
  | 'consume: librdkafka, tail cache'
  | 'consume: kafkajs group, tail cache'
  | 'consume: librdkafka, after restart';

/** What one round measured, per path. */
interface Round {
  readonly measured: Map<PathName, Measured>;
  readonly cpu: Map<PathName, CpuUse>;
  /** PutRecords and GetRecords calls made, per produce path (the gateway's, or the direct writer's). */
  readonly calls: Map<PathName, KinesisCalls>;
}

interface KinesisCalls {
  readonly putRecords: number;
  readonly getRecords: number;
}

/** The gateway's PutRecords and GetRecords calls so far, from its /metrics. */
async function kinesisCallsOf(metricsPort: number): Promise<KinesisCalls> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  let putRecords = 0;
  let getRecords = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith('kafka_kinesis_gateway_kinesis_calls_total{')) continue;
    const count = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.includes('operation="PutRecords"')) putRecords += count;
    if (line.includes('operation="GetRecords"')) getRecords += count;
  }
  return { putRecords, getRecords };
}

/** Runs `work` and notes the Kinesis calls the gateway made meanwhile (the gateway's reading back included). */
async function withCalls<T>(metricsPort: number, work: () => Promise<T>): Promise<{ result: T; calls: KinesisCalls }> {
  const before = await kinesisCallsOf(metricsPort);
  const result = await work();
  // The tailer's reads of the last writes have been made: every acknowledgement waited for one.
  const after = await kinesisCallsOf(metricsPort);
  return { result, calls: { putRecords: after.putRecords - before.putRecords, getRecords: after.getRecords - before.getRecords } };
}

/** One round: every path once, each producer on fresh stand-ins (kinesalite slows down as it fills). */
async function runRound(values: readonly Buffer[], warmUp: readonly Buffer[], python: boolean): Promise<Round> {
  const count = values.length;
  /** What a consumer reads: the warm-up records and the timed ones. */
  const inTopic = count + warmUp.length;
  const measured = new Map<PathName, Measured>();
  const cpu = new Map<PathName, CpuUse>();
  const calls = new Map<PathName, KinesisCalls>();
  const note = (path: PathName, m: Measured): void => {
    progress(`${path}: ${m.records} records in ${m.seconds.toFixed(2)} s`);
    measured.set(path, m);
  };
  const consumeSpec = (bootstrap: string, topic: string): Record<string, unknown> => ({
    mode: 'consume',
    bootstrap,
    topic,
    partitions: PARTITIONS,
    records: inTopic,
    record_bytes: RECORD_BYTES,
  });

  // Direct: PutRecords, then GetRecords of the same data.
  const services = await startServices();
  const kinesis = createKinesisClient({ endpoint: services.kinesis.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    await createStream(kinesis, 'bench-direct');
    await directProduce(kinesis, 'bench-direct', warmUp, { putRecords: 0 });
    const directCalls = { putRecords: 0 };
    const put = await withCpu({ kinesalite: services.kinesis.pid, dynalite: services.dynamodb.pid }, () =>
      timed(() => directProduce(kinesis, 'bench-direct', values, directCalls)),
    );
    note('produce: direct', put.result);
    cpu.set('produce: direct', put.cpu);
    calls.set('produce: direct', { ...directCalls, getRecords: 0 });
    note('consume: direct', await timed(() => directConsume(kinesis, 'bench-direct')));
  } finally {
    kinesis.destroy();
    await services.close();
  }

  /** On `run`'s gateway: a 4-partition topic, the producer's warm-up, then its timed run. */
  const produceOn = async (run: GatewayRun, path: PathName, ackMode: ProduceAckMode, client: 'kafkajs' | 'librdkafka'): Promise<void> => {
    const bootstrap = run.gateway.bootstrap;
    await createTopics(bootstrap, ['bench'], ackMode);
    const measure = (work: () => Promise<Measured>): Promise<{ result: { result: Measured; cpu: CpuUse }; calls: KinesisCalls }> =>
      withCalls(run.metricsPort, () => withCpu(run.cpuPids(), work));
    let via;
    if (client === 'kafkajs') {
      via = await withKafkajsProducer(bootstrap, async (producer) => {
        await kafkajsSend(producer, 'bench', warmUp);
        return measure(() => timed(() => kafkajsSend(producer, 'bench', values)));
      });
    } else {
      const produceSpec = (records: number): Record<string, unknown> => ({
        mode: 'produce',
        bootstrap,
        topic: 'bench',
        partitions: PARTITIONS,
        records,
        record_bytes: RECORD_BYTES,
      });
      await librdkafka(produceSpec(warmUp.length));
      via = await measure(() => librdkafka(produceSpec(count)));
    }
    note(path, via.result.result);
    cpu.set(path, via.result.cpu);
    calls.set(path, via.calls);
  };

  // kafkajs produce; then the consumers on what it wrote.
  const run = await gatewayOnFreshServices();
  try {
    await produceOn(run, 'produce: kafkajs', 'observed', 'kafkajs');
    if (python) note('consume: librdkafka, tail cache', await librdkafka(consumeSpec(run.gateway.bootstrap, 'bench')));
    note('consume: kafkajs group, tail cache', await kafkajsConsume(run.gateway.bootstrap, 'bench', inTopic));
    if (python) {
      await run.restart();
      // The restarted gateway opens a partition (lease, tail rebuilt from the last anchor) on
      // first use: done here, untimed, so that the row measures reads through the offset index.
      await leadersReady(run.gateway.bootstrap, 'bench');
      note('consume: librdkafka, after restart', await librdkafka(consumeSpec(run.gateway.bootstrap, 'bench')));
    }
  } finally {
    await run.close();
  }

  /** A producer alone on fresh stand-ins and gateway. */
  const produceOnly = async (path: PathName, ackMode: ProduceAckMode, client: 'kafkajs' | 'librdkafka'): Promise<void> => {
    const fresh = await gatewayOnFreshServices();
    try {
      await produceOn(fresh, path, ackMode, client);
    } finally {
      await fresh.close();
    }
  };
  if (python) await produceOnly('produce: librdkafka', 'observed', 'librdkafka');
  await produceOnly('produce: kafkajs, immediate acks', 'immediate', 'kafkajs');
  if (python) await produceOnly('produce: librdkafka, immediate acks', 'immediate', 'librdkafka');
  return { measured, cpu, calls };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

const DIRECT_OF: Readonly<Record<PathName, PathName>> = {
  'produce: direct': 'produce: direct',
  'produce: kafkajs': 'produce: direct',
  'produce: librdkafka': 'produce: direct',
  'produce: kafkajs, immediate acks': 'produce: direct',
  'produce: librdkafka, immediate acks': 'produce: direct',
  'consume: direct': 'consume: direct',
  'consume: librdkafka, tail cache': 'consume: direct',
  'consume: kafkajs group, tail cache': 'consume: direct',
  'consume: librdkafka, after restart': 'consume: direct',
};

/** A path's rows over all rounds: median throughput, median CPU, and the ratio to direct of each round. */
function pathRows(path: PathName, rounds: readonly Round[], label: string, expected: number): BenchRow[] {
  const name = `${path.split(':')[0]} ${label}: ${path.split(': ')[1]}`;
  const runs = rounds.map((r) => r.measured.get(path)).filter((m): m is Measured => m !== undefined);
  if (runs.length === 0) return [];
  const incomplete = runs.find((m) => m.records !== expected);
  if (incomplete !== undefined) {
    return [{ benchmark: name, value: `${incomplete.records}/${expected}`, unit: `records only, in ${incomplete.seconds.toFixed(0)} s: INCOMPLETE` }];
  }
  const of = `median of ${runs.length}`;
  const out: BenchRow[] = [
    { benchmark: name, value: Math.round(median(runs.map((m) => m.records / m.seconds))).toLocaleString('en-US'), unit: `records/s, ${of}` },
    { benchmark: name, value: median(runs.map((m) => m.bytes / m.seconds / 1e6)).toFixed(1), unit: `MB/s, ${of}` },
  ];
  for (const process of rounds[0]?.cpu.get(path)?.keys() ?? []) {
    const seconds = rounds.map((r) => r.cpu.get(path)?.get(process)).filter((v): v is number => v !== undefined);
    out.push({ benchmark: name, value: median(seconds).toFixed(1), unit: `CPU s, ${process}, ${of}` });
  }
  const calls = rounds.map((r) => r.calls.get(path)).filter((c): c is KinesisCalls => c !== undefined);
  if (calls.length > 0) {
    const put = median(calls.map((c) => c.putRecords));
    const get = median(calls.map((c) => c.getRecords));
    out.push({ benchmark: name, value: `${put} + ${get}`, unit: `PutRecords + GetRecords calls, ${of}` });
  }
  const direct = DIRECT_OF[path];
  if (direct !== path) {
    // Each round's gateway path against the same round's direct path: the machine's speed
    // drifts between rounds more than within one.
    const ratios = rounds.flatMap((r) => {
      const gateway = r.measured.get(path);
      const baseline = r.measured.get(direct);
      return gateway === undefined || baseline === undefined ? [] : [gateway.records / gateway.seconds / (baseline.records / baseline.seconds)];
    });
    const middle = median(ratios);
    const range = ratios.length > 1 ? ` (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})` : '';
    out.push({
      benchmark: name,
      value: middle.toFixed(2),
      unit: `gateway/direct, ${of}${range} (target >= 0.8)${middle < 0.8 ? ' BELOW' : ''}`,
    });
  }
  return out;
}

/**
 * Produce and consume throughput of `count` 1 KiB records, direct and through the gateway, in
 * `rounds` rounds (every path once per round): medians, and each round's gateway/direct ratio.
 */
export async function benchDataPath(count: number, rounds = 3): Promise<BenchRow[]> {
  const values = Array.from({ length: count }, value);
  const warmUp = values.slice(0, Math.min(WARM_UP_RECORDS, count));
  const python = await pythonAvailable();
  const results: Round[] = [];
  for (let round = 1; round <= rounds; round++) {
    progress(`round ${round} of ${rounds}`);
    results.push(await runRound(values, warmUp, python));
  }
  const produced = `${count.toLocaleString('en-US')} x 1 KiB`;
  const consumed = `${(count + warmUp.length).toLocaleString('en-US')} x 1 KiB`;
  const produce: PathName[] = [
    'produce: direct',
    'produce: kafkajs',
    'produce: librdkafka',
    'produce: kafkajs, immediate acks',
    'produce: librdkafka, immediate acks',
  ];
  const consume: PathName[] = [
    'consume: direct',
    'consume: librdkafka, tail cache',
    'consume: kafkajs group, tail cache',
    'consume: librdkafka, after restart',
  ];
  return [
    ...produce.flatMap((path) => pathRows(path, results, produced, count)),
    ...consume.flatMap((path) => pathRows(path, results, consumed, count + warmUp.length)),
  ];
}
