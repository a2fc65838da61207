/**
 * The gateway's metrics (DESIGN.md section 7): Kafka broker metrics under the names MSK's open
 * monitoring serves (the JMX exporter's default rendering of Kafka's MBeans, see jmx.ts), and
 * the gateway's own under `kafka_kinesis_gateway_`.
 *
 * One GatewayMetrics per gateway, with that gateway's prom-client Registry (its counters and
 * histograms live there; the scrape-time families are rendered by metrics()). The data path, the
 * connection layer and the AWS clients report events through its methods; state that already
 * lives elsewhere (offsets, leadership, committed offsets) is read at scrape time through the
 * providers of providers.ts.
 */
import { performance } from 'node:perf_hooks';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { ErrorCode, errorName } from '../protocol/errors.js';
import type { ProduceRequest, ProduceResponse } from '../protocol/messages/index.js';
import type { CallObserver, CallOutcome, ObservedCall } from './aws-observer.js';
import { escapeLabelValue, HISTOGRAM_ATTRIBUTES, METER_ATTRIBUTES, ScrapedFamilies, type FamilyDefinition, type Labels, type SampleSink } from './jmx.js';
import { DecayingHistogram, Meter, monotonicClock, type Clock, type HistogramValues, type MeterValues } from './meters.js';
import type { BrokerStateProvider, CommittedOffsetState, LagProvider, LogStateProvider, PartitionLogState } from './providers.js';

/** kafka.server:type=BrokerTopicMetrics meters, per topic and broker-wide. */
export const BROKER_TOPIC_METERS = [
  'MessagesInPerSec',
  'BytesInPerSec',
  'BytesOutPerSec',
  'BytesRejectedPerSec',
  'TotalProduceRequestsPerSec',
  'TotalFetchRequestsPerSec',
  'FailedProduceRequestsPerSec',
  'FailedFetchRequestsPerSec',
] as const;
export type BrokerTopicMeter = (typeof BROKER_TOPIC_METERS)[number];

/** Own metric names, for tests, dashboards and the lead's wiring. */
export const OWN_PREFIX = 'kafka_kinesis_gateway_';

/** The services whose calls are timed. */
export type Service = 'kinesis' | 'dynamodb' | 'redis';

/** What the Produce and Fetch handlers report (DataPath.metrics). */
export interface DataPathMetrics {
  /** After a Produce request is answered (or dropped, acks=0): one call per request. */
  produceAnswered(request: ProduceRequest, response: ProduceResponse): void;
  /** Once per partition of an answered Fetch; `topic` undefined when the topic is unknown. */
  fetchPartition(topic: string | undefined, errorCode: number, bytes: number): void;
  /** Whether a read was served from the in-memory tail (true) or had to go to Kinesis. */
  tailCache(hit: boolean): void;
  /** An idempotent producer's retried batch, answered with its original offset and not written again. */
  deduplicatedBatch(): void;
  /** An idempotent producer's batch refused: the Kafka error code (or a name for the kind). */
  sequenceError(kind: number | string): void;
}

export interface GatewayMetricsOptions {
  readonly clock?: Clock;
  /** Wall clock, for time lag (default Date.now). */
  readonly wallClock?: () => number;
  readonly random?: () => number;
  readonly log?: Logger;
  /** How long a scrape waits for a provider before leaving its families out (default 2000). */
  readonly providerTimeoutMs?: number;
}

export interface MetricsProviders {
  readonly logState?: LogStateProvider;
  readonly lag?: LagProvider;
  readonly brokerState?: BrokerStateProvider;
}

/**
 * Partition errors that are routine in a healthy cluster (a client with stale metadata, a
 * consumer reset): Kafka does not count them as failed requests either.
 */
const ROUTINE_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.OFFSET_OUT_OF_RANGE,
]);

/** Errors that say the topic does not exist: no per-topic series is made for such a name. */
const UNKNOWN_TOPIC_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.UNKNOWN_TOPIC_ID,
  ErrorCode.INVALID_TOPIC_EXCEPTION,
]);

/** Kafka marks BytesRejectedPerSec for batches refused as too large. */
const REJECTED_ERRORS: ReadonlySet<number> = new Set([ErrorCode.MESSAGE_TOO_LARGE, ErrorCode.RECORD_LIST_TOO_LARGE]);

/** Kinesis bills PUT payload units of 25 KB per record, rounded up. */
const PUT_PAYLOAD_UNIT_BYTES = 25_000;

/** GetShardIterator/GetRecords iterators remembered to know which shard a GetRecords read. */
const MAX_TRACKED_ITERATORS = 10_000;

/** MillisBehindLatest of a shard nobody read for this long is dropped. */
const SHARD_LAG_EXPIRY_MS = 60_000;

const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const BROKER_TOPIC = 'kafka_server_BrokerTopicMetrics';
const REQUEST_METRICS = 'kafka_network_RequestMetrics';
const REPLICA_MANAGER = 'kafka_server_ReplicaManager';
const CONTROLLER_VALUE = 'kafka_controller_KafkaController_Value';
const LOG_VALUE = 'kafka_log_Log_Value';
const LAG_VALUE = 'kafka_consumer_group_ConsumerLagMetrics_Value';
const SOCKET_SERVER_VALUE = 'kafka_network_SocketServer_Value';
const MILLIS_BEHIND_LATEST = `${OWN_PREFIX}millis_behind_latest`;

function families(): FamilyDefinition[] {
  const out: FamilyDefinition[] = [];
  const attributeFamilies = (prefix: string, attributes: readonly string[], help: string): void => {
    for (const attribute of attributes) {
      out.push({ name: `${prefix}_${attribute}`, help: `${help} (${attribute})`, type: attribute === 'Count' ? 'counter' : 'gauge' });
    }
  };
  attributeFamilies(BROKER_TOPIC, METER_ATTRIBUTES, 'kafka.server:type=BrokerTopicMetrics, per topic and broker-wide (no topic label)');
  attributeFamilies(
    REQUEST_METRICS,
    [...new Set([...METER_ATTRIBUTES, ...HISTOGRAM_ATTRIBUTES])],
    'kafka.network:type=RequestMetrics: RequestsPerSec by request and version, TotalTimeMs by request',
  );
  attributeFamilies(REPLICA_MANAGER, METER_ATTRIBUTES, 'kafka.server:type=ReplicaManager meters');
  out.push(
    { name: `${REPLICA_MANAGER}_Value`, help: 'kafka.server:type=ReplicaManager gauges', type: 'gauge' },
    { name: CONTROLLER_VALUE, help: 'kafka.controller:type=KafkaController gauges', type: 'gauge' },
    { name: LOG_VALUE, help: 'kafka.log:type=Log gauges per partition led by this node', type: 'gauge' },
    { name: LAG_VALUE, help: 'kafka.consumer.group:type=ConsumerLagMetrics (MSK): committed offsets against high watermarks', type: 'gauge' },
    { name: SOCKET_SERVER_VALUE, help: 'kafka.network:type=SocketServer gauges (idle share of the event loop since the last scrape)', type: 'gauge' },
    { name: MILLIS_BEHIND_LATEST, help: 'GetRecords MillisBehindLatest per shard (least reported since the last scrape)', type: 'gauge' },
  );
  return out;
}

function meterSamples(sink: SampleSink, prefix: string, labels: Labels, values: MeterValues): void {
  sink.add(`${prefix}_Count`, labels, values.count);
  sink.add(`${prefix}_MeanRate`, labels, values.meanRate);
  sink.add(`${prefix}_OneMinuteRate`, labels, values.oneMinuteRate);
  sink.add(`${prefix}_FiveMinuteRate`, labels, values.fiveMinuteRate);
  sink.add(`${prefix}_FifteenMinuteRate`, labels, values.fifteenMinuteRate);
}

function histogramSamples(sink: SampleSink, prefix: string, labels: Labels, values: HistogramValues): void {
  sink.add(`${prefix}_Count`, labels, values.count);
  sink.add(`${prefix}_Min`, labels, values.min);
  sink.add(`${prefix}_Max`, labels, values.max);
  sink.add(`${prefix}_Mean`, labels, values.mean);
  sink.add(`${prefix}_StdDev`, labels, values.stdDev);
  sink.add(`${prefix}_50thPercentile`, labels, values.p50);
  sink.add(`${prefix}_75thPercentile`, labels, values.p75);
  sink.add(`${prefix}_95thPercentile`, labels, values.p95);
  sink.add(`${prefix}_98thPercentile`, labels, values.p98);
  sink.add(`${prefix}_99thPercentile`, labels, values.p99);
  sink.add(`${prefix}_999thPercentile`, labels, values.p999);
}

const ZERO_METER: MeterValues = { count: 0, meanRate: 0, oneMinuteRate: 0, fiveMinuteRate: 0, fifteenMinuteRate: 0 };

/** Sum of the record counts of the batches in a Produce partition's records (0 if unreadable). */
export function countRecords(records: Buffer | null): number {
  if (records === null) return 0;
  let count = 0;
  let at = 0;
  // RecordBatch v2: baseOffset int64, batchLength int32, ..., recordCount int32 at byte 57.
  while (at + 61 <= records.length) {
    const batchLength = records.readInt32BE(at + 8);
    if (batchLength < 49) break;
    count += Math.max(0, records.readInt32BE(at + 57));
    at += 12 + batchLength;
  }
  return count;
}

interface ServiceMetrics {
  readonly duration: Histogram<'operation'>;
  readonly calls: Counter<'operation' | 'outcome'>;
  readonly errors: Counter<'operation' | 'error'>;
  readonly seen: Set<string>;
}

interface RequestStats {
  readonly ratesByVersion: Map<number, Meter>;
  readonly time: DecayingHistogram;
}

interface ShardLag {
  readonly stream: string;
  readonly shard: string;
  leastSinceScrape: number | undefined;
  last: number;
  lastReportMs: number;
}

export class GatewayMetrics implements DataPathMetrics {
  private readonly clock: Clock;
  private readonly wallClock: () => number;
  private readonly random: () => number;
  private readonly log: Logger | undefined;
  private readonly providerTimeoutMs: number;
  private providers: MetricsProviders = {};

  private readonly brokerMeters = new Map<BrokerTopicMeter, Meter>();
  private readonly topicMeters = new Map<string, Map<BrokerTopicMeter, Meter>>();
  private readonly requests = new Map<string, RequestStats>();
  private readonly shardLags = new Map<string, ShardLag>();
  private readonly iterators = new Map<string, { stream: string; shard: string }>();
  private eventLoop = performance.eventLoopUtilization();

  private readonly services: Record<Service, ServiceMetrics>;
  private readonly requestDuration: Histogram<'request'>;
  private readonly putPayloadUnitsTotal: Counter;
  private readonly putRecordsTotal: Counter<'result'>;
  private readonly tailCacheReads: Counter<'result'>;
  private readonly connections: Gauge;
  private readonly connectionsOpened: Counter;
  private readonly deduplicatedBatches: Counter;
  private readonly sequenceErrors: Counter<'kind'>;
  private readonly partitionErrors: Counter<'request' | 'error'>;
  private readonly providerFailures: Counter<'provider'>;
  private readonly scraped: ScrapedFamilies;

  constructor(
    readonly registry: Registry,
    options: GatewayMetricsOptions = {},
  ) {
    this.clock = options.clock ?? monotonicClock;
    this.wallClock = options.wallClock ?? Date.now;
    this.random = options.random ?? Math.random;
    this.log = options.log;
    this.providerTimeoutMs = options.providerTimeoutMs ?? 2000;
    for (const name of BROKER_TOPIC_METERS) this.brokerMeters.set(name, new Meter(this.clock));

    const registers = [registry];
    const service = (name: Service, label: string): ServiceMetrics => ({
      duration: new Histogram({
        name: `${OWN_PREFIX}${name}_call_duration_seconds`,
        help: `${label} calls by operation: time the caller waited, SDK retries included`,
        labelNames: ['operation'],
        buckets: SECONDS_BUCKETS,
        registers,
      }),
      calls: new Counter({
        name: `${OWN_PREFIX}${name}_calls_total`,
        help: `${label} calls by operation and outcome (ok, error, throttled)`,
        labelNames: ['operation', 'outcome'],
        registers,
      }),
      errors: new Counter({
        name: `${OWN_PREFIX}${name}_call_errors_total`,
        help: `${label} calls that failed, by operation and error name (throttles included)`,
        labelNames: ['operation', 'error'],
        registers,
      }),
      seen: new Set(),
    });
    this.services = {
      kinesis: service('kinesis', 'Kinesis'),
      dynamodb: service('dynamodb', 'DynamoDB'),
      redis: service('redis', 'Redis'),
    };
    this.requestDuration = new Histogram({
      name: `${OWN_PREFIX}request_duration_seconds`,
      help: 'Kafka requests by name: from dispatch to response written (aggregatable across nodes, unlike TotalTimeMs percentiles)',
      labelNames: ['request'],
      buckets: SECONDS_BUCKETS,
      registers,
    });
    this.putPayloadUnitsTotal = new Counter({
      name: `${OWN_PREFIX}kinesis_put_payload_units_total`,
      help: 'Kinesis PUT payload units (25 KB per record, rounded up) of records written',
      registers,
    });
    this.putRecordsTotal = new Counter({
      name: `${OWN_PREFIX}kinesis_put_records_total`,
      help: 'Records sent in PutRecords calls that answered, by result (ok, throttled, error)',
      labelNames: ['result'],
      registers,
    });
    this.tailCacheReads = new Counter({
      name: `${OWN_PREFIX}tail_cache_reads_total`,
      help: 'Fetch reads by result: hit (served from the in-memory tail) or miss (read from Kinesis)',
      labelNames: ['result'],
      registers,
    });
    this.connections = new Gauge({ name: `${OWN_PREFIX}connections`, help: 'Open Kafka client connections', registers });
    this.connectionsOpened = new Counter({
      name: `${OWN_PREFIX}connections_opened_total`,
      help: 'Kafka client connections accepted',
      registers,
    });
    this.deduplicatedBatches = new Counter({
      name: `${OWN_PREFIX}deduplicated_batches_total`,
      help: 'Idempotent-producer batches recognised as retries and not written again',
      registers,
    });
    this.sequenceErrors = new Counter({
      name: `${OWN_PREFIX}producer_sequence_errors_total`,
      help: 'Idempotent-producer batches refused, by kind (Kafka error name: OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH, ...)',
      labelNames: ['kind'],
      registers,
    });
    this.partitionErrors = new Counter({
      name: `${OWN_PREFIX}partition_errors_total`,
      help: 'Produce and Fetch partitions answered with an error, by request and Kafka error name',
      labelNames: ['request', 'error'],
      registers,
    });
    this.providerFailures = new Counter({
      name: `${OWN_PREFIX}metrics_provider_failures_total`,
      help: 'Scrapes that left out a provider\'s metrics because it failed or was too slow',
      labelNames: ['provider'],
      registers,
    });
    for (const outcome of ['ok', 'throttled', 'error']) {
      for (const operation of ['PutRecords', 'GetRecords']) this.services.kinesis.calls.inc({ operation, outcome }, 0);
    }
    this.tailCacheReads.inc({ result: 'hit' }, 0);
    this.tailCacheReads.inc({ result: 'miss' }, 0);
    for (const result of ['ok', 'throttled', 'error']) this.putRecordsTotal.inc({ result }, 0);

    this.scraped = new ScrapedFamilies(families(), (sink) => this.scrape(sink));
  }

  /**
   * The text exposition of the MSK-named families and the other scrape-time gauges, computed
   * now; /metrics serves it after the registry's own output (see jmx.ts for why it is apart).
   */
  metrics(): Promise<string> {
    return this.scraped.render();
  }

  /** Everything /metrics serves: the registry (process metrics, own counters and histograms), then metrics(). */
  async exposition(): Promise<string> {
    const [registered, scraped] = await Promise.all([this.registry.metrics(), this.metrics()]);
    return registered + scraped;
  }

  /** Where scrape-time state comes from; may be called again as parts start. */
  provide(providers: MetricsProviders): void {
    this.providers = { ...this.providers, ...providers };
  }

  // -------------------------------------------------------------------------------------------
  // Requests and connections

  /**
   * A request answered: `api` is Kafka's request name (Produce, Fetch, Metadata, ...),
   * `totalTimeMs` from dispatch to response written.
   */
  requestCompleted(api: string, totalTimeMs: number, apiVersion?: number): void {
    this.requestStats(api).time.update(totalTimeMs);
    this.requestRate(api, apiVersion).mark();
    this.requestDuration.observe({ request: api }, totalTimeMs / 1000);
    // Kafka also counts consumer fetches (not from a follower) as FetchConsumer.
    if (api === 'Fetch') {
      this.requestStats('FetchConsumer').time.update(totalTimeMs);
      this.requestRate('FetchConsumer', apiVersion).mark();
    }
  }

  connectionOpened(): void {
    this.connections.inc();
    this.connectionsOpened.inc();
  }

  connectionClosed(): void {
    this.connections.dec();
  }

  // -------------------------------------------------------------------------------------------
  // BrokerTopicMetrics

  /** A partition's records appended: `messages` records, `bytes` of record batches. */
  produce(topic: string, messages: number, bytes: number): void {
    this.mark(topic, 'TotalProduceRequestsPerSec', 1);
    this.mark(topic, 'MessagesInPerSec', messages);
    this.mark(topic, 'BytesInPerSec', bytes);
  }

  /** A partition's produce failed; `topic` undefined when no such topic exists (broker-wide only). */
  produceFailed(topic: string | undefined): void {
    this.mark(topic, 'TotalProduceRequestsPerSec', 1);
    this.mark(topic, 'FailedProduceRequestsPerSec', 1);
  }

  /** A partition fetched, `bytes` of record batches returned. */
  fetch(topic: string, bytes: number): void {
    this.mark(topic, 'TotalFetchRequestsPerSec', 1);
    this.mark(topic, 'BytesOutPerSec', bytes);
  }

  fetchFailed(topic: string | undefined): void {
    this.mark(topic, 'TotalFetchRequestsPerSec', 1);
    this.mark(topic, 'FailedFetchRequestsPerSec', 1);
  }

  produceAnswered(request: ProduceRequest, response: ProduceResponse): void {
    request.topicData.forEach((topicData, t) => {
      const topicResponse = response.responses[t];
      topicData.partitionData.forEach((partitionData, p) => {
        const errorCode = topicResponse?.partitionResponses[p]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
        const records = partitionData.records;
        if (errorCode === ErrorCode.NONE) {
          this.produce(topicData.name, countRecords(records), records?.length ?? 0);
          return;
        }
        this.partitionErrors.inc({ request: 'Produce', error: errorName(errorCode) });
        const topic = UNKNOWN_TOPIC_ERRORS.has(errorCode) ? undefined : topicData.name;
        if (REJECTED_ERRORS.has(errorCode)) this.mark(topic, 'BytesRejectedPerSec', records?.length ?? 0);
        if (ROUTINE_ERRORS.has(errorCode)) this.mark(topic, 'TotalProduceRequestsPerSec', 1);
        else this.produceFailed(topic);
      });
    });
  }

  fetchPartition(topic: string | undefined, errorCode: number, bytes: number): void {
    if (errorCode === ErrorCode.NONE) {
      if (topic === undefined) this.mark(undefined, 'TotalFetchRequestsPerSec', 1);
      else this.fetch(topic, bytes);
      return;
    }
    this.partitionErrors.inc({ request: 'Fetch', error: errorName(errorCode) });
    const known = UNKNOWN_TOPIC_ERRORS.has(errorCode) ? undefined : topic;
    if (ROUTINE_ERRORS.has(errorCode)) this.mark(known, 'TotalFetchRequestsPerSec', 1);
    else this.fetchFailed(known);
  }

  /** Drops a deleted topic's series. */
  forgetTopic(topic: string): void {
    this.topicMeters.delete(topic);
  }

  // -------------------------------------------------------------------------------------------
  // The gateway's own

  tailCache(hit: boolean): void {
    this.tailCacheReads.inc({ result: hit ? 'hit' : 'miss' });
  }

  kinesisCall(operation: string, ms: number, outcome: CallOutcome, error?: string): void {
    this.serviceCall('kinesis', operation, ms, outcome, error);
  }

  dynamodbCall(operation: string, ms: number, outcome: CallOutcome, error?: string): void {
    this.serviceCall('dynamodb', operation, ms, outcome, error);
  }

  redisCall(operation: string, ms: number, outcome: CallOutcome, error?: string): void {
    this.serviceCall('redis', operation, ms, outcome, error);
  }

  putPayloadUnits(units: number): void {
    this.putPayloadUnitsTotal.inc(units);
  }

  /** Records of a PutRecords call that answered: written (ok) or refused in its per-record results. */
  putRecords(result: 'ok' | 'throttled' | 'error', records = 1): void {
    this.putRecordsTotal.inc({ result }, records);
  }

  deduplicatedBatch(): void {
    this.deduplicatedBatches.inc();
  }

  sequenceError(kind: number | string): void {
    this.sequenceErrors.inc({ kind: typeof kind === 'number' ? errorName(kind) : kind });
  }

  /** GetRecords' MillisBehindLatest for a shard; the scrape reports the least since the last one. */
  millisBehindLatest(stream: string, shardId: string, ms: number): void {
    const key = `${stream}\u0000${shardId}`;
    let entry = this.shardLags.get(key);
    if (entry === undefined) {
      entry = { stream, shard: shardId, leastSinceScrape: undefined, last: ms, lastReportMs: 0 };
      this.shardLags.set(key, entry);
    }
    entry.last = ms;
    entry.lastReportMs = this.clock();
    entry.leastSinceScrape = entry.leastSinceScrape === undefined ? ms : Math.min(entry.leastSinceScrape, ms);
  }

  /** For observeAwsClient on the Kinesis client: call timings, PUT payload units, shard lag. */
  kinesisObserver(): CallObserver {
    return (call) => {
      this.kinesisCall(call.operation, call.durationMs, call.outcome, call.errorName);
      if (call.outcome === 'ok') this.observeKinesisResult(call);
    };
  }

  /** For observeAwsClient on the DynamoDB client. */
  dynamodbObserver(): CallObserver {
    return (call) => this.dynamodbCall(call.operation, call.durationMs, call.outcome, call.errorName);
  }

  /** For observeRedis on an ioredis client. */
  redisObserver(): CallObserver {
    return (call) => this.redisCall(call.operation, call.durationMs, call.outcome, call.errorName);
  }

  // -------------------------------------------------------------------------------------------
  // Internals

  private mark(topic: string | undefined, name: BrokerTopicMeter, n: number): void {
    (this.brokerMeters.get(name) as Meter).mark(n);
    if (topic === undefined) return;
    let meters = this.topicMeters.get(topic);
    if (meters === undefined) {
      meters = new Map();
      this.topicMeters.set(topic, meters);
    }
    let meter = meters.get(name);
    if (meter === undefined) {
      meter = new Meter(this.clock);
      meters.set(name, meter);
    }
    meter.mark(n);
  }

  private requestStats(api: string): RequestStats {
    let stats = this.requests.get(api);
    if (stats === undefined) {
      stats = { ratesByVersion: new Map(), time: new DecayingHistogram(this.clock, this.random) };
      this.requests.set(api, stats);
    }
    return stats;
  }

  private requestRate(api: string, apiVersion: number | undefined): Meter {
    const { ratesByVersion } = this.requestStats(api);
    const version = apiVersion ?? -1;
    let meter = ratesByVersion.get(version);
    if (meter === undefined) {
      meter = new Meter(this.clock);
      ratesByVersion.set(version, meter);
    }
    return meter;
  }

  private serviceCall(service: Service, operation: string, ms: number, outcome: CallOutcome, error: string | undefined): void {
    const metrics = this.services[service];
    if (!metrics.seen.has(operation)) {
      // Every outcome of an operation exists from its first call on, so rates read 0, not absent.
      metrics.seen.add(operation);
      for (const o of ['ok', 'error', 'throttled']) metrics.calls.inc({ operation, outcome: o }, 0);
    }
    metrics.duration.observe({ operation }, ms / 1000);
    metrics.calls.inc({ operation, outcome });
    if (outcome !== 'ok') metrics.errors.inc({ operation, error: error ?? 'Error' });
  }

  private observeKinesisResult(call: ObservedCall): void {
    const input = (call.input ?? {}) as Record<string, unknown>;
    const output = (call.output ?? {}) as Record<string, unknown>;
    switch (call.operation) {
      case 'PutRecords': {
        const entries = (input.Records ?? []) as { Data?: Uint8Array; PartitionKey?: string }[];
        const results = (output.Records ?? []) as { ErrorCode?: string }[];
        let units = 0;
        let ok = 0;
        entries.forEach((entry, i) => {
          const code = results[i]?.ErrorCode;
          if (code === undefined || code === null) {
            units += payloadUnits(entry);
            ok++;
          } else {
            this.putRecords(THROTTLE_CODES.has(code) ? 'throttled' : 'error');
          }
        });
        if (ok > 0) this.putRecords('ok', ok);
        if (units > 0) this.putPayloadUnits(units);
        break;
      }
      case 'PutRecord':
        this.putRecords('ok');
        this.putPayloadUnits(payloadUnits(input as { Data?: Uint8Array; PartitionKey?: string }));
        break;
      case 'GetShardIterator': {
        const iterator = output.ShardIterator;
        const shard = input.ShardId;
        const stream = streamNameOf(input);
        if (typeof iterator === 'string' && typeof shard === 'string' && stream !== undefined) this.trackIterator(iterator, stream, shard);
        break;
      }
      case 'GetRecords': {
        const iterator = input.ShardIterator;
        if (typeof iterator !== 'string') break;
        const where = this.iterators.get(iterator);
        if (where === undefined) break;
        this.iterators.delete(iterator);
        const next = output.NextShardIterator;
        if (typeof next === 'string') this.trackIterator(next, where.stream, where.shard);
        const behind = output.MillisBehindLatest;
        if (typeof behind === 'number') this.millisBehindLatest(where.stream, where.shard, behind);
        break;
      }
      default:
        break;
    }
  }

  private trackIterator(iterator: string, stream: string, shard: string): void {
    this.iterators.set(iterator, { stream, shard });
    // Iterators of abandoned readers are never used again: forget the oldest.
    while (this.iterators.size > MAX_TRACKED_ITERATORS) {
      const oldest = this.iterators.keys().next().value as string;
      this.iterators.delete(oldest);
    }
  }

  private async fromProvider<T>(name: string, get: () => T | Promise<T>): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), this.providerTimeoutMs);
      });
      const result = await Promise.race([Promise.resolve().then(get), timeout]);
      if (result === 'timeout') throw new Error(`no answer in ${this.providerTimeoutMs} ms`);
      return result;
    } catch (err) {
      this.providerFailures.inc({ provider: name });
      this.log?.warn({ err, provider: name }, 'metrics provider failed; its metrics are left out of this scrape');
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  private async scrape(sink: SampleSink): Promise<void> {
    const [logState, committed, broker] = await Promise.all([
      this.providers.logState === undefined ? undefined : this.fromProvider('logState', () => this.providers.logState?.partitions() ?? []),
      this.providers.lag === undefined ? undefined : this.fromProvider('lag', () => this.providers.lag?.committedOffsets() ?? []),
      this.providers.brokerState === undefined
        ? undefined
        : this.fromProvider('brokerState', () => (this.providers.brokerState as BrokerStateProvider).brokerState()),
    ]);

    for (const [name, meter] of this.brokerMeters) meterSamples(sink, BROKER_TOPIC, { name }, meter.values());
    for (const [topic, meters] of this.topicMeters) {
      for (const [name, meter] of meters) meterSamples(sink, BROKER_TOPIC, { name, topic }, meter.values());
    }

    for (const [request, stats] of this.requests) {
      for (const [version, meter] of stats.ratesByVersion) {
        const labels: Labels = version < 0 ? { name: 'RequestsPerSec', request } : { name: 'RequestsPerSec', request, version: String(version) };
        meterSamples(sink, REQUEST_METRICS, labels, meter.values());
      }
      histogramSamples(sink, REQUEST_METRICS, { name: 'TotalTimeMs', request }, stats.time.values());
    }

    if (broker !== undefined) {
      const replicaValue = `${REPLICA_MANAGER}_Value`;
      sink.add(replicaValue, { name: 'PartitionCount' }, broker.partitionCount);
      sink.add(replicaValue, { name: 'LeaderCount' }, broker.leaderCount);
      // Kinesis keeps three copies of every record itself: nothing is ever under-replicated.
      for (const name of ['UnderReplicatedPartitions', 'UnderMinIsrPartitionCount', 'AtMinIsrPartitionCount', 'OfflineReplicaCount']) {
        sink.add(replicaValue, { name }, 0);
      }
      for (const name of ['IsrShrinksPerSec', 'IsrExpandsPerSec']) meterSamples(sink, REPLICA_MANAGER, { name }, ZERO_METER);
      const controller = broker.isController;
      sink.add(CONTROLLER_VALUE, { name: 'ActiveControllerCount' }, controller ? 1 : 0);
      sink.add(CONTROLLER_VALUE, { name: 'OfflinePartitionsCount' }, controller ? broker.offlinePartitionsCount : 0);
      sink.add(CONTROLLER_VALUE, { name: 'GlobalTopicCount' }, controller ? broker.globalTopicCount : 0);
      sink.add(CONTROLLER_VALUE, { name: 'GlobalPartitionCount' }, controller ? broker.globalPartitionCount : 0);
      sink.add(CONTROLLER_VALUE, { name: 'PreferredReplicaImbalanceCount' }, 0);
    }

    if (logState !== undefined) {
      for (const p of logState) {
        const partition = String(p.partition);
        sink.add(LOG_VALUE, { name: 'LogEndOffset', topic: p.topic, partition }, Number(p.logEndOffset));
        sink.add(LOG_VALUE, { name: 'LogStartOffset', topic: p.topic, partition }, Number(p.logStartOffset));
      }
      if (committed !== undefined) this.lagSamples(sink, logState, committed);
    }

    const eventLoop = performance.eventLoopUtilization();
    const sinceLast = performance.eventLoopUtilization(eventLoop, this.eventLoop);
    this.eventLoop = eventLoop;
    sink.add(SOCKET_SERVER_VALUE, { name: 'NetworkProcessorAvgIdlePercent' }, 1 - sinceLast.utilization);

    const now = this.clock();
    for (const [key, entry] of this.shardLags) {
      if (now - entry.lastReportMs > SHARD_LAG_EXPIRY_MS) {
        this.shardLags.delete(key);
        continue;
      }
      sink.add(MILLIS_BEHIND_LATEST, { stream: entry.stream, shard: entry.shard }, entry.leastSinceScrape ?? entry.last);
      entry.leastSinceScrape = undefined;
    }
  }

  /**
   * ConsumerLagMetrics as MSK reports them: OffsetLag and EstimatedTimeLag per partition,
   * SumOffsetLag, MaxOffsetLag and EstimatedMaxTimeLag per group and topic. Lag is the high
   * watermark minus the committed offset, for partitions this node leads. Time lag (seconds) is
   * the age of the first record the group has not consumed.
   */
  private lagSamples(sink: SampleSink, logState: readonly PartitionLogState[], committed: readonly CommittedOffsetState[]): void {
    // Tens of thousands of series at scale (groups x partitions): labels are rendered once per
    // group, topic and partition, and nothing is looked up by built strings.
    const byTopic = new Map<string, Map<number, PartitionLogState>>();
    for (const p of logState) {
      let partitions = byTopic.get(p.topic);
      if (partitions === undefined) {
        partitions = new Map();
        byTopic.set(p.topic, partitions);
      }
      partitions.set(p.partition, p);
    }
    const escaped = new Map<string, string>();
    const escape = (value: string): string => {
      let e = escaped.get(value);
      if (e === undefined) {
        e = escapeLabelValue(value);
        escaped.set(value, e);
      }
      return e;
    };
    const perTopic = new Map<string, Map<string, { sum: number; max: number; maxTime: number | undefined }>>();
    const now = this.wallClock();
    for (const c of committed) {
      const p = byTopic.get(c.topic)?.get(c.partition);
      if (p === undefined) continue;
      const lag = c.offset >= p.logEndOffset ? 0 : Number(p.logEndOffset - c.offset);
      const labels = `groupId="${escape(c.group)}",topic="${escape(c.topic)}",partition="${c.partition}"`;
      sink.addRendered(LAG_VALUE, `${labels},name="OffsetLag"`, lag);
      let timeLag: number | undefined = 0;
      if (lag > 0) {
        const appended = p.appendTimeMs?.(c.offset < p.logStartOffset ? p.logStartOffset : c.offset);
        timeLag = appended === undefined ? undefined : Math.max(0, (now - appended) / 1000);
      }
      if (timeLag !== undefined) sink.addRendered(LAG_VALUE, `${labels},name="EstimatedTimeLag"`, timeLag);
      let topics = perTopic.get(c.group);
      if (topics === undefined) {
        topics = new Map();
        perTopic.set(c.group, topics);
      }
      let total = topics.get(c.topic);
      if (total === undefined) {
        total = { sum: 0, max: 0, maxTime: undefined };
        topics.set(c.topic, total);
      }
      total.sum += lag;
      if (lag > total.max) total.max = lag;
      if (timeLag !== undefined && (total.maxTime === undefined || timeLag > total.maxTime)) total.maxTime = timeLag;
    }
    for (const [group, topics] of perTopic) {
      for (const [topic, t] of topics) {
        const labels = `groupId="${escape(group)}",topic="${escape(topic)}"`;
        sink.addRendered(LAG_VALUE, `${labels},name="SumOffsetLag"`, t.sum);
        sink.addRendered(LAG_VALUE, `${labels},name="MaxOffsetLag"`, t.max);
        if (t.maxTime !== undefined) sink.addRendered(LAG_VALUE, `${labels},name="EstimatedMaxTimeLag"`, t.maxTime);
      }
    }
  }
}

const THROTTLE_CODES: ReadonlySet<string> = new Set(['ProvisionedThroughputExceededException', 'LimitExceededException', 'KMSThrottlingException', 'ThrottlingException']);

function payloadUnits(entry: { Data?: Uint8Array; PartitionKey?: string }): number {
  const bytes = (entry.Data?.length ?? 0) + Buffer.byteLength(entry.PartitionKey ?? '');
  return Math.max(1, Math.ceil(bytes / PUT_PAYLOAD_UNIT_BYTES));
}

function streamNameOf(input: Record<string, unknown>): string | undefined {
  if (typeof input.StreamName === 'string') return input.StreamName;
  if (typeof input.StreamARN === 'string') return input.StreamARN.slice(input.StreamARN.lastIndexOf('/') + 1);
  return undefined;
}
