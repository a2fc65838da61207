/**
 * Drives real Kafka clients (kafkajs in this process; librdkafka through kcat and Debian's
 * python confluent-kafka) to produce and consume a given set of records, for interop tests and
 * the frame-capture script. Records go in and come out as plain values so that results from
 * different clients compare with deepEqual.
 */
import kafkajs from 'kafkajs';
import type { IHeaders, KafkaMessage } from 'kafkajs';
import { kcat, runPythonClient } from './librdkafka.js';

/** A record to produce. */
export interface ClientRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly (readonly [string, Buffer | null])[];
  /** CreateTime to set, or null to let the client choose. */
  readonly timestamp: bigint | null;
}

/** A record as a client returned it. */
export interface ConsumedRecord {
  readonly partition: number;
  readonly offset: bigint;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: (readonly [string, Buffer | null])[];
  readonly timestamp: bigint;
  /** 1 CreateTime, 2 LogAppendTime, where the client reports it. */
  readonly timestampType?: number;
}

export type CodecName = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export const CODEC_NAMES: readonly CodecName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];

const KAFKAJS_COMPRESSION: Record<CodecName, kafkajs.CompressionTypes> = {
  none: kafkajs.CompressionTypes.None,
  gzip: kafkajs.CompressionTypes.GZIP,
  snappy: kafkajs.CompressionTypes.Snappy,
  lz4: kafkajs.CompressionTypes.LZ4,
  zstd: kafkajs.CompressionTypes.ZSTD,
};

let codecsLoaded: Promise<ReadonlySet<CodecName>> | undefined;

/**
 * Installs the kafkajs codec plugins that load here and returns the codecs kafkajs then has.
 * kafkajs ships gzip; snappy is kafkajs-snappy (snappyjs, pure JS), lz4 is kafkajs-lz4 (node-lz4,
 * native), zstd is @sensejs/kafkajs-zstd-support (zstd-napi, native). (@kafkajs/zstd does not
 * build on Node 20: its cppzst dependency fails to compile.)
 */
export function kafkajsCodecs(): Promise<ReadonlySet<CodecName>> {
  codecsLoaded ??= (async () => {
    const available = new Set<CodecName>(['none', 'gzip']);
    const codecs = kafkajs.CompressionCodecs;
    try {
      const { default: SnappyCodec } = await import('kafkajs-snappy');
      codecs[kafkajs.CompressionTypes.Snappy] = SnappyCodec;
      available.add('snappy');
    } catch {
      // not installed
    }
    try {
      const { default: LZ4Codec } = await import('kafkajs-lz4');
      codecs[kafkajs.CompressionTypes.LZ4] = new LZ4Codec().codec;
      available.add('lz4');
    } catch {
      // native build missing
    }
    try {
      // registers itself on kafkajs.CompressionCodecs
      await import('@sensejs/kafkajs-zstd-support');
      available.add('zstd');
    } catch {
      // native build missing
    }
    return available;
  })();
  return codecsLoaded;
}

/** KAFKAJS_LOG=1 prints kafkajs's own debug log. */
function kafkajsClient(bootstrap: string, clientId: string, requestTimeoutMs?: number): kafkajs.Kafka {
  return new kafkajs.Kafka({
    clientId,
    brokers: [bootstrap],
    ...(requestTimeoutMs !== undefined ? { requestTimeout: requestTimeoutMs } : {}),
    logLevel: process.env.KAFKAJS_LOG === '1' ? kafkajs.logLevel.DEBUG : kafkajs.logLevel.NOTHING,
    retry: { retries: 3, initialRetryTime: 100 },
  });
}

function toKafkajsHeaders(headers: ClientRecord['headers']): IHeaders {
  const out: IHeaders = {};
  for (const [name, value] of headers) {
    if (value === null) throw new Error('kafkajs cannot produce a null header value');
    const existing = out[name];
    if (existing === undefined) out[name] = value;
    else out[name] = [...(Array.isArray(existing) ? existing : [existing]), value] as Buffer[];
  }
  return out;
}

/** kafkajs groups headers by name (repeats become arrays, in order): undo that. */
function fromKafkajsHeaders(headers: IHeaders | undefined): (readonly [string, Buffer | null])[] {
  const out: (readonly [string, Buffer | null])[] = [];
  for (const [name, value] of Object.entries(headers ?? {})) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) out.push([name, v === undefined || v === null ? null : Buffer.from(v)]);
  }
  return out;
}

/** The headers as kafkajs will hand them back: grouped by first appearance of each name. */
export function kafkajsHeaderOrder(headers: ClientRecord['headers']): (readonly [string, Buffer | null])[] {
  const names: string[] = [];
  for (const [name] of headers) if (!names.includes(name)) names.push(name);
  return names.flatMap((name) => headers.filter(([n]) => n === name));
}

export interface ProduceOptions {
  readonly clientId: string;
  readonly topic: string;
  readonly partition: number;
  readonly compression: CodecName;
  readonly records: readonly ClientRecord[];
}

/** One kafkajs send: one batch. */
export async function kafkajsProduce(bootstrap: string, options: ProduceOptions): Promise<void> {
  await kafkajsCodecs();
  const producer = kafkajsClient(bootstrap, options.clientId).producer({
    createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  try {
    await producer.send({
      topic: options.topic,
      acks: -1,
      compression: KAFKAJS_COMPRESSION[options.compression],
      messages: options.records.map((r) => ({
        partition: options.partition,
        key: r.key,
        value: r.value,
        headers: toKafkajsHeaders(r.headers),
        ...(r.timestamp === null ? {} : { timestamp: r.timestamp.toString() }),
      })),
    });
  } finally {
    await producer.disconnect();
  }
}

export interface KafkajsBulkProduceOptions {
  readonly clientId: string;
  readonly topic: string;
  readonly partitionCount: number;
  readonly compression: CodecName;
  readonly records: readonly ClientRecord[];
  /** Records per send() (default 500). */
  readonly batchSize?: number;
  /** send() calls in flight at once (default 4); sends start in order. */
  readonly inFlight?: number;
  readonly acks?: number;
  /** kafkajs's requestTimeout (its default, 30 s, is short for slow Kinesis stand-ins). */
  readonly requestTimeoutMs?: number;
  /** An idempotent producer (InitProducerId, sequence numbers; retries cannot duplicate). */
  readonly idempotent?: boolean;
}

/**
 * Produces keyed records with kafkajs's default (Java-compatible murmur2) partitioner, several
 * sends in flight, and returns where each record went: the partitioner's choice, and the offset
 * base offset + position among that send's records for the partition.
 */
export async function kafkajsProduceReported(bootstrap: string, options: KafkajsBulkProduceOptions): Promise<DeliveryReport[]> {
  await kafkajsCodecs();
  const partitioner = kafkajs.Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: options.partitionCount }, (_, partitionId) => ({
    partitionId,
    leader: 0,
    replicas: [0],
    isr: [0],
    partitionErrorCode: 0,
  }));
  const producer = kafkajsClient(bootstrap, options.clientId, options.requestTimeoutMs).producer({
    createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    ...(options.idempotent === true ? { idempotent: true, retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 100, maxRetryTime: 2000 } } : {}),
  });
  const batchSize = options.batchSize ?? 500;
  const inFlight = options.inFlight ?? 4;
  const reports: DeliveryReport[] = [];
  await producer.connect();
  try {
    const sendChunk = async (start: number): Promise<void> => {
      const chunk = options.records.slice(start, start + batchSize);
      const messages = chunk.map((r) => ({
        key: r.key,
        value: r.value,
        headers: toKafkajsHeaders(r.headers),
        ...(r.timestamp === null ? {} : { timestamp: r.timestamp.toString() }),
      }));
      const result = await producer.send({
        topic: options.topic,
        acks: options.acks ?? -1,
        compression: KAFKAJS_COMPRESSION[options.compression],
        messages,
      });
      const baseOffsets = new Map(result.map((m) => [m.partition, BigInt(m.baseOffset ?? '-1')]));
      const next = new Map<number, bigint>();
      messages.forEach((message, i) => {
        const partition = partitioner({ topic: options.topic, partitionMetadata, message });
        const base = baseOffsets.get(partition);
        if (base === undefined) throw new Error(`kafkajs reported no offset for partition ${partition}`);
        const position = next.get(partition) ?? 0n;
        next.set(partition, position + 1n);
        reports.push({ index: start + i, partition, offset: base + position });
      });
    };
    const running = new Set<Promise<void>>();
    for (let start = 0; start < options.records.length; start += batchSize) {
      const sent: Promise<void> = sendChunk(start).finally(() => running.delete(sent));
      sent.catch(() => undefined); // reported by the race or the final wait
      running.add(sent);
      if (running.size >= inFlight) await Promise.race(running);
    }
    await Promise.all(running);
  } finally {
    await producer.disconnect();
  }
  return reports.sort((a, b) => a.index - b.index);
}

export interface KafkajsConsumeOptions {
  readonly clientId: string;
  readonly groupId: string;
  readonly topic: string;
  readonly count: number;
  readonly timeoutMs?: number;
  /** Fetch size limits (kafkajs defaults: 1 MiB per partition, 10 MiB per fetch). */
  readonly maxBytesPerPartition?: number;
  readonly maxBytes?: number;
  /**
   * Called once `count` records are in, before the consumer disconnects; the consumer keeps
   * fetching until it resolves (for captures that want the fetch after the last record).
   */
  readonly beforeDisconnect?: () => Promise<void>;
}

/**
 * A kafkajs group consumer reading the topic from the beginning until `count` different offsets
 * arrived. Records delivered again (after a rebalance) are returned again.
 */
export async function kafkajsConsume(bootstrap: string, options: KafkajsConsumeOptions): Promise<ConsumedRecord[]> {
  await kafkajsCodecs();
  const consumer = kafkajsClient(bootstrap, options.clientId).consumer({
    groupId: options.groupId,
    maxWaitTimeInMs: 200,
    sessionTimeout: 30_000,
    heartbeatInterval: 500,
    allowAutoTopicCreation: false,
    ...(options.maxBytesPerPartition !== undefined ? { maxBytesPerPartition: options.maxBytesPerPartition } : {}),
    ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
  });
  const records: ConsumedRecord[] = [];
  let done: () => void = () => undefined;
  let crashed: (err: Error) => void = () => undefined;
  const enough = new Promise<void>((resolve, reject) => {
    done = resolve;
    crashed = reject;
  });
  // A group member may be handed records again (a rebalance before its offsets were
  // committed): stop once `count` different offsets came in; the caller sees every delivery.
  const distinct = new Set<string>();
  consumer.on(consumer.events.CRASH, (event) => {
    crashed(new Error(`kafkajs consumer crashed: ${event.payload.error.message}`));
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [options.topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }: { partition: number; message: KafkaMessage }) => {
        records.push({
          partition,
          offset: BigInt(message.offset),
          key: message.key,
          value: message.value,
          headers: fromKafkajsHeaders(message.headers),
          timestamp: BigInt(message.timestamp),
        });
        distinct.add(`${partition}/${message.offset}`);
        if (distinct.size >= options.count) done();
      },
    });
    const timeoutMs = options.timeoutMs ?? 20_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([enough, timedOut]);
    clearTimeout(timer);
    if (options.beforeDisconnect !== undefined) await options.beforeDisconnect();
  } finally {
    await consumer.disconnect();
  }
  return records;
}

// ---------------------------------------------------------------------------------------------
// librdkafka: kcat

export interface KcatProduceOptions extends ProduceOptions {
  /** Extra -X properties. */
  readonly properties?: Readonly<Record<string, string>>;
}

/**
 * kcat -P with -K: keys and values are text lines, and -H headers apply to every record, so the
 * records must share their headers, have text keys and values without ':' or newlines, and leave
 * timestamps to librdkafka.
 */
export async function kcatProduce(bootstrap: string, options: KcatProduceOptions): Promise<void> {
  const first = options.records[0];
  if (first === undefined) return;
  const headerArgs: string[] = [];
  for (const [name, value] of first.headers) {
    if (value === null) throw new Error('kcat cannot produce a null header value');
    headerArgs.push('-H', `${name}=${value.toString('utf8')}`);
  }
  const lines = options.records.map((r) => {
    if (JSON.stringify(r.headers) !== JSON.stringify(first.headers)) throw new Error('kcat records must share headers');
    const key = r.key?.toString('utf8') ?? '';
    const value = r.value?.toString('utf8') ?? '';
    if (/[:\n]/.test(key) || /\n/.test(value)) throw new Error('kcat keys and values must be single lines; keys without ":"');
    return `${key}:${value}\n`;
  });
  const props = Object.entries({ 'client.id': options.clientId, 'linger.ms': '100', ...options.properties });
  await kcat([
    '-b', bootstrap, '-P', '-t', options.topic, '-p', String(options.partition), '-K', ':', '-z', options.compression,
    ...headerArgs,
    ...props.flatMap(([k, v]) => ['-X', `${k}=${v}`]),
  ], { input: lines.join('') });
}

interface KcatJsonRecord {
  partition: number;
  offset: number;
  ts: number;
  headers?: (string | null)[];
  key: string | null;
  payload: string | null;
}

/** kcat -C -o beginning -e -J on one partition, no group: every record up to the end. */
export async function kcatConsume(
  bootstrap: string,
  options: { clientId: string; topic: string; partition: number },
): Promise<ConsumedRecord[]> {
  const out = await kcat([
    '-b', bootstrap, '-C', '-t', options.topic, '-p', String(options.partition), '-o', 'beginning', '-e', '-J',
    '-X', `client.id=${options.clientId}`, '-X', 'fetch.wait.max.ms=100',
  ]);
  return out
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => {
      const r = JSON.parse(line) as KcatJsonRecord;
      const headers: (readonly [string, Buffer | null])[] = [];
      const flat = r.headers ?? [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        const value = flat[i + 1];
        headers.push([String(flat[i]), value === null || value === undefined ? null : Buffer.from(value, 'utf8')]);
      }
      return {
        partition: r.partition,
        offset: BigInt(r.offset),
        key: r.key === null ? null : Buffer.from(r.key, 'utf8'),
        value: r.payload === null ? null : Buffer.from(r.payload, 'utf8'),
        headers,
        timestamp: BigInt(r.ts),
      };
    });
}

// ---------------------------------------------------------------------------------------------
// librdkafka: python confluent-kafka

const hex = (b: Buffer | null): string | null => (b === null ? null : b.toString('hex'));
const unhex = (s: string | null): Buffer | null => (s === null ? null : Buffer.from(s, 'hex'));

/** A delivery report: where the record at `index` of the produced list was written. */
export interface DeliveryReport {
  readonly index: number;
  readonly partition: number;
  readonly offset: bigint;
}

export interface PythonProduceOptions extends Omit<ProduceOptions, 'partition'> {
  /** null: librdkafka's partitioner picks by key. */
  readonly partition: number | null;
  /** More librdkafka properties. */
  readonly config?: Readonly<Record<string, string | number | boolean>>;
  readonly acks?: number;
  readonly timeoutMs?: number;
}

/**
 * confluent-kafka produce (the spec goes through standard input, so any number of records fit);
 * throws unless every record was acknowledged. Returns the delivery reports, by record index.
 */
export async function pythonProduceReported(bootstrap: string, options: PythonProduceOptions): Promise<DeliveryReport[]> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const spec = JSON.stringify({
    bootstrap,
    client_id: options.clientId,
    topic: options.topic,
    partition: options.partition,
    compression: options.compression,
    acks: options.acks ?? -1,
    config: options.config ?? {},
    message_timeout_ms: timeoutMs,
    flush_timeout_s: timeoutMs / 1000 + 5,
    records: options.records.map((r) => ({
      key: hex(r.key),
      value: hex(r.value),
      headers: r.headers.map(([name, value]) => [name, hex(value)]),
      timestamp: r.timestamp === null ? null : Number(r.timestamp),
    })),
  });
  const result = await runPythonClient<{
    unflushed: number;
    reports: { index: number; error: string | null; partition: number; offset: number }[];
  }>('librdkafka_produce.py', ['-'], timeoutMs + 30_000, spec);
  const failed = result.reports.filter((r) => r.error !== null);
  if (result.unflushed !== 0 || failed.length > 0 || result.reports.length !== options.records.length) {
    const sample = { unflushed: result.unflushed, reports: result.reports.length, failed: failed.slice(0, 5) };
    throw new Error(`confluent-kafka produce failed: ${JSON.stringify(sample)}`);
  }
  return result.reports
    .map((r) => ({ index: r.index, partition: r.partition, offset: BigInt(r.offset) }))
    .sort((a, b) => a.index - b.index);
}

export async function pythonProduce(bootstrap: string, options: ProduceOptions): Promise<void> {
  await pythonProduceReported(bootstrap, options);
}

interface PythonRecord {
  partition: number;
  offset: number;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
  timestamp_type: number;
  timestamp: number;
}

/** confluent-kafka Consumer with assign() (no group membership, no commits) from `offset`. */
export async function pythonConsume(
  bootstrap: string,
  options: {
    clientId: string;
    topic: string;
    partition: number;
    offset: number;
    count: number;
    timeoutMs?: number;
    /** More librdkafka properties (e.g. fetch sizes). */
    config?: Readonly<Record<string, string | number | boolean>>;
  },
): Promise<ConsumedRecord[]> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const result = await runPythonClient<{ records: PythonRecord[]; errors: string[] }>('librdkafka_consume.py', [
    JSON.stringify({
      bootstrap,
      client_id: options.clientId,
      topic: options.topic,
      partition: options.partition,
      offset: options.offset,
      count: options.count,
      timeout_s: timeoutMs / 1000,
      config: options.config ?? {},
    }),
  ], timeoutMs + 30_000);
  if (result.errors.length > 0) throw new Error(`confluent-kafka consume errors: ${result.errors.join('; ')}`);
  return result.records.map(fromPythonRecord);
}

function fromPythonRecord(r: PythonRecord): ConsumedRecord {
  return {
    partition: r.partition,
    offset: BigInt(r.offset),
    key: unhex(r.key),
    value: unhex(r.value),
    headers: r.headers.map(([name, value]) => [name, unhex(value)] as const),
    timestamp: BigInt(r.timestamp),
    timestampType: r.timestamp_type,
  };
}

export interface PythonStreamOptions {
  readonly clientId: string;
  readonly topic: string;
  readonly partitions: readonly number[];
  /** The consumer stops once this file exists and no record came for `idleS` seconds. */
  readonly stopFile: string;
  readonly idleS?: number;
  readonly timeoutS?: number;
}

/**
 * A confluent-kafka consumer (assign() from offset 0, auto.offset.reset=error) that keeps
 * consuming, across broker restarts, until told to stop by `stopFile`. Errors (including
 * connection errors while the broker is down) are returned, not thrown.
 */
export async function pythonConsumeStream(
  bootstrap: string,
  options: PythonStreamOptions,
): Promise<{ records: ConsumedRecord[]; errors: string[] }> {
  const timeoutS = options.timeoutS ?? 120;
  const result = await runPythonClient<{ records: PythonRecord[]; errors: string[] }>(
    'librdkafka_consume_stream.py',
    [
      JSON.stringify({
        bootstrap,
        client_id: options.clientId,
        topic: options.topic,
        partitions: options.partitions,
        stop_file: options.stopFile,
        idle_s: options.idleS ?? 2,
        timeout_s: timeoutS,
      }),
    ],
    timeoutS * 1000 + 30_000,
  );
  return { records: result.records.map(fromPythonRecord), errors: result.errors };
}
