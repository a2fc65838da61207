/**
 * GatewayMetrics on its own registry, driven through the methods the data path, the connection
 * layer and the AWS observers call, with providers standing in for the LogManager, the topic
 * catalog and (a real) group coordinator.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { SingleNodeCluster } from '../../src/cluster/cluster.js';
import { GroupCoordinator } from '../../src/groups/coordinator.js';
import { InMemoryOffsetStore } from '../../src/groups/offset-store.js';
import { StaticTopicCatalog } from '../../src/log/catalog.js';
import { GatewayMetrics, countRecords } from '../../src/metrics/broker-metrics.js';
import { MetricsServer } from '../../src/metrics/http.js';
import { brokerStateFrom, lagFromCoordinator, logStateFrom, type PartitionLogState } from '../../src/metrics/providers.js';
import { Readiness, leasesCheck, type ReadinessCheck } from '../../src/metrics/readiness.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import {
  createProduceResponsePartitionProduceResponse,
  produceRequest,
  produceResponse,
  type ProduceRequest,
  type ProduceResponse,
} from '../../src/protocol/messages/index.js';
import { encodeBatchSync } from '../../src/protocol/records/record-batch.js';
import { parseExposition, select, sumOf, valueOf, type Exposition } from './exposition.js';

class ManualClock {
  now = 50_000;
  readonly read = (): number => this.now;
}

function newMetrics(clock = new ManualClock(), wallClock = () => 1_700_000_000_000): { metrics: GatewayMetrics; registry: Registry } {
  const registry = new Registry();
  return { metrics: new GatewayMetrics(registry, { clock: clock.read, wallClock, random: () => 0.5 }), registry };
}

async function read(metrics: GatewayMetrics): Promise<Exposition> {
  return parseExposition(await metrics.exposition());
}

function batch(count: number, valueBytes = 10): Buffer {
  return encodeBatchSync({
    records: Array.from({ length: count }, (_, i) => ({
      offsetDelta: i,
      timestampDelta: 0,
      key: null,
      value: Buffer.alloc(valueBytes, 'v'),
      headers: [],
    })),
    baseTimestamp: 1_700_000_000_000n,
  });
}

/** A Produce request of `(topic, partition, records)` and its answer with the given error codes. */
function produceExchange(parts: { topic: string; partition: number; records: Buffer | null; errorCode: number }[]): {
  request: ProduceRequest;
  response: ProduceResponse;
} {
  const request = produceRequest.create();
  const response = produceResponse.create();
  for (const part of parts) {
    let topicData = request.topicData.find((t) => t.name === part.topic);
    let topicResponse = response.responses.find((t) => t.name === part.topic);
    if (topicData === undefined || topicResponse === undefined) {
      topicData = { name: part.topic, partitionData: [] };
      topicResponse = { name: part.topic, partitionResponses: [] };
      request.topicData.push(topicData);
      response.responses.push(topicResponse);
    }
    topicData.partitionData.push({ index: part.partition, records: part.records });
    const answer = createProduceResponsePartitionProduceResponse();
    answer.index = part.partition;
    answer.errorCode = part.errorCode;
    topicResponse.partitionResponses.push(answer);
  }
  return { request, response };
}

const BTM = 'kafka_server_BrokerTopicMetrics_Count';
const LAG = 'kafka_consumer_group_ConsumerLagMetrics_Value';

describe('BrokerTopicMetrics', () => {
  test('countRecords sums the record counts of every batch', () => {
    assert.equal(countRecords(Buffer.concat([batch(3), batch(4), batch(1)])), 8);
    assert.equal(countRecords(null), 0);
    assert.equal(countRecords(Buffer.alloc(5)), 0);
  });

  test('produce answers count messages, bytes and requests per topic and broker-wide; errors by kind', async () => {
    const { metrics } = newMetrics();
    const a0 = batch(5);
    const a1 = Buffer.concat([batch(2), batch(3)]);
    const b0 = batch(7, 100);
    const tooLarge = batch(1, 500);
    const { request, response } = produceExchange([
      { topic: 'a', partition: 0, records: a0, errorCode: ErrorCode.NONE },
      { topic: 'a', partition: 1, records: a1, errorCode: ErrorCode.NONE },
      { topic: 'b', partition: 0, records: b0, errorCode: ErrorCode.NONE },
      { topic: 'b', partition: 1, records: batch(1), errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER },
      { topic: 'b', partition: 2, records: tooLarge, errorCode: ErrorCode.MESSAGE_TOO_LARGE },
      { topic: 'b', partition: 3, records: batch(1), errorCode: ErrorCode.KAFKA_STORAGE_ERROR },
      { topic: 'nope', partition: 0, records: batch(9), errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
    ]);
    metrics.produceAnswered(request, response);
    const m = await read(metrics);

    assert.equal(valueOf(m, BTM, { name: 'MessagesInPerSec', topic: 'a' }), 10);
    assert.equal(valueOf(m, BTM, { name: 'MessagesInPerSec', topic: 'b' }), 7);
    assert.equal(valueOf(m, BTM, { name: 'MessagesInPerSec', topic: undefined }), 17);
    assert.equal(valueOf(m, BTM, { name: 'BytesInPerSec', topic: 'a' }), a0.length + a1.length);
    assert.equal(valueOf(m, BTM, { name: 'BytesInPerSec', topic: 'b' }), b0.length);
    assert.equal(valueOf(m, BTM, { name: 'BytesInPerSec', topic: undefined }), a0.length + a1.length + b0.length);
    assert.equal(valueOf(m, BTM, { name: 'TotalProduceRequestsPerSec', topic: 'a' }), 2);
    assert.equal(valueOf(m, BTM, { name: 'TotalProduceRequestsPerSec', topic: 'b' }), 4);
    assert.equal(valueOf(m, BTM, { name: 'TotalProduceRequestsPerSec', topic: undefined }), 7);
    // NOT_LEADER is routine (stale metadata), as in Kafka; too large and storage errors are failures.
    assert.equal(valueOf(m, BTM, { name: 'FailedProduceRequestsPerSec', topic: 'b' }), 2);
    assert.equal(valueOf(m, BTM, { name: 'FailedProduceRequestsPerSec', topic: undefined }), 3);
    assert.equal(valueOf(m, BTM, { name: 'BytesRejectedPerSec', topic: 'b' }), tooLarge.length);
    // No series is minted for a topic that does not exist.
    assert.equal(select(m, BTM, { topic: 'nope' }).length, 0);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_partition_errors_total', { request: 'Produce', error: 'UNKNOWN_TOPIC_OR_PARTITION' }), 1);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_partition_errors_total', { request: 'Produce', error: 'KAFKA_STORAGE_ERROR' }), 1);
    // Every BrokerTopicMetrics meter reports all five attributes.
    for (const attribute of ['Count', 'MeanRate', 'OneMinuteRate', 'FiveMinuteRate', 'FifteenMinuteRate']) {
      assert.equal(select(m, `kafka_server_BrokerTopicMetrics_${attribute}`, { name: 'MessagesInPerSec', topic: 'a' }).length, 1);
    }
    assert.equal(m.types.get(BTM), 'counter');
    assert.equal(m.types.get('kafka_server_BrokerTopicMetrics_OneMinuteRate'), 'gauge');
  });

  test('broker-wide meters exist before any traffic, with no topic label', async () => {
    const { metrics } = newMetrics();
    const m = await read(metrics);
    for (const name of [
      'MessagesInPerSec',
      'BytesInPerSec',
      'BytesOutPerSec',
      'TotalProduceRequestsPerSec',
      'TotalFetchRequestsPerSec',
      'FailedProduceRequestsPerSec',
      'FailedFetchRequestsPerSec',
    ]) {
      const found = select(m, BTM, { name });
      assert.equal(found.length, 1, name);
      assert.deepEqual(found[0]?.labels, { name });
    }
  });

  test('fetch answers count bytes out and requests; unknown topics stay broker-wide', async () => {
    const { metrics } = newMetrics();
    metrics.fetchPartition('a', ErrorCode.NONE, 1000);
    metrics.fetchPartition('a', ErrorCode.NONE, 0);
    metrics.fetchPartition('a', ErrorCode.OFFSET_OUT_OF_RANGE, 0);
    metrics.fetchPartition('a', ErrorCode.KAFKA_STORAGE_ERROR, 0);
    metrics.fetchPartition(undefined, ErrorCode.UNKNOWN_TOPIC_ID, 0);
    const m = await read(metrics);
    assert.equal(valueOf(m, BTM, { name: 'BytesOutPerSec', topic: 'a' }), 1000);
    assert.equal(valueOf(m, BTM, { name: 'TotalFetchRequestsPerSec', topic: 'a' }), 4);
    assert.equal(valueOf(m, BTM, { name: 'TotalFetchRequestsPerSec', topic: undefined }), 5);
    assert.equal(valueOf(m, BTM, { name: 'FailedFetchRequestsPerSec', topic: 'a' }), 1);
    assert.equal(valueOf(m, BTM, { name: 'FailedFetchRequestsPerSec', topic: undefined }), 2);
  });

  test('forgetTopic drops the topic series', async () => {
    const { metrics } = newMetrics();
    metrics.fetchPartition('gone', ErrorCode.NONE, 10);
    metrics.forgetTopic('gone');
    assert.equal(select(await read(metrics), BTM, { topic: 'gone' }).length, 0);
  });
});

describe('RequestMetrics', () => {
  test('RequestsPerSec by request and version, TotalTimeMs by request; Fetch also as FetchConsumer', async () => {
    const clock = new ManualClock();
    const { metrics } = newMetrics(clock);
    for (let i = 1; i <= 100; i++) metrics.requestCompleted('Produce', i, 9);
    metrics.requestCompleted('Produce', 50, 7);
    metrics.requestCompleted('Fetch', 500, 13);
    clock.now += 10_000;
    const m = await read(metrics);
    const C = 'kafka_network_RequestMetrics_Count';
    assert.equal(valueOf(m, C, { name: 'RequestsPerSec', request: 'Produce', version: '9' }), 100);
    assert.equal(valueOf(m, C, { name: 'RequestsPerSec', request: 'Produce', version: '7' }), 1);
    assert.equal(valueOf(m, C, { name: 'TotalTimeMs', request: 'Produce' }), 101);
    assert.equal(valueOf(m, C, { name: 'RequestsPerSec', request: 'Fetch', version: '13' }), 1);
    assert.equal(valueOf(m, C, { name: 'RequestsPerSec', request: 'FetchConsumer', version: '13' }), 1);
    assert.equal(valueOf(m, 'kafka_network_RequestMetrics_Max', { name: 'TotalTimeMs', request: 'Produce' }), 100);
    assert.equal(valueOf(m, 'kafka_network_RequestMetrics_Min', { name: 'TotalTimeMs', request: 'Produce' }), 1);
    assert.equal(valueOf(m, 'kafka_network_RequestMetrics_50thPercentile', { name: 'TotalTimeMs', request: 'Produce' }), 50);
    assert.equal(valueOf(m, 'kafka_network_RequestMetrics_999thPercentile', { name: 'TotalTimeMs', request: 'FetchConsumer' }), 500);
    assert.ok(valueOf(m, 'kafka_network_RequestMetrics_MeanRate', { name: 'RequestsPerSec', request: 'Produce', version: '9' }) > 0);
    // TotalTimeMs carries no version label (Kafka's MBean has none).
    assert.equal(select(m, 'kafka_network_RequestMetrics_Mean', { name: 'TotalTimeMs' }).every((s) => !('version' in s.labels)), true);
    assert.equal(sumOf(m, 'kafka_kinesis_gateway_request_duration_seconds_count', { request: 'Produce' }), 101);
  });
});

describe('scrape-time gauges', () => {
  const partitions: PartitionLogState[] = [
    { topic: 't', partition: 0, logEndOffset: 100n, logStartOffset: 10n, appendTimeMs: (o) => 1_700_000_000_000 - Number(100n - o) * 1000 },
    { topic: 't', partition: 1, logEndOffset: 50n, logStartOffset: 0n, appendTimeMs: () => undefined },
    { topic: 'u', partition: 0, logEndOffset: 7n, logStartOffset: 0n },
  ];

  test('kafka_log_Log_Value per led partition', async () => {
    const { metrics } = newMetrics();
    metrics.provide({ logState: { partitions: () => partitions } });
    const m = await read(metrics);
    assert.equal(valueOf(m, 'kafka_log_Log_Value', { name: 'LogEndOffset', topic: 't', partition: '0' }), 100);
    assert.equal(valueOf(m, 'kafka_log_Log_Value', { name: 'LogStartOffset', topic: 't', partition: '0' }), 10);
    assert.equal(valueOf(m, 'kafka_log_Log_Value', { name: 'LogEndOffset', topic: 'u', partition: '0' }), 7);
  });

  test('consumer lag from a real group coordinator\'s committed offsets against high watermarks', async () => {
    const coordinator = new GroupCoordinator({ store: new InMemoryOffsetStore() });
    await coordinator.start();
    const commit = async (groupId: string, offsets: [string, number, bigint][]): Promise<void> => {
      const codes = await coordinator.commitOffsets({
        groupId,
        generationId: -1,
        memberId: '',
        groupInstanceId: null,
        offsets: offsets.map(([topic, partition, offset]) => ({ topic, partition, offset, leaderEpoch: -1, metadata: null })),
      });
      assert.deepEqual(codes, offsets.map(() => ErrorCode.NONE));
    };
    await commit('g1', [
      ['t', 0, 40n], // lag 60, its first unconsumed record appended 60 s ago
      ['t', 1, 50n], // caught up
      ['u', 0, 2n], // lag 5, no append time known
      ['x', 0, 1n], // not led here: no lag reported
    ]);
    await commit('g2', [['t', 1, 45n]]);

    const { metrics } = newMetrics();
    metrics.provide({ logState: { partitions: () => partitions }, lag: lagFromCoordinator(coordinator) });
    const m = await read(metrics);
    assert.equal(valueOf(m, LAG, { name: 'OffsetLag', groupId: 'g1', topic: 't', partition: '0' }), 60);
    assert.equal(valueOf(m, LAG, { name: 'OffsetLag', groupId: 'g1', topic: 't', partition: '1' }), 0);
    assert.equal(valueOf(m, LAG, { name: 'OffsetLag', groupId: 'g1', topic: 'u', partition: '0' }), 5);
    assert.equal(valueOf(m, LAG, { name: 'OffsetLag', groupId: 'g2', topic: 't', partition: '1' }), 5);
    assert.equal(select(m, LAG, { topic: 'x' }).length, 0);
    assert.equal(valueOf(m, LAG, { name: 'SumOffsetLag', groupId: 'g1', topic: 't', partition: undefined }), 60);
    assert.equal(valueOf(m, LAG, { name: 'MaxOffsetLag', groupId: 'g1', topic: 't', partition: undefined }), 60);
    assert.equal(valueOf(m, LAG, { name: 'SumOffsetLag', groupId: 'g1', topic: 'u', partition: undefined }), 5);
    assert.equal(valueOf(m, LAG, { name: 'EstimatedTimeLag', groupId: 'g1', topic: 't', partition: '0' }), 60);
    assert.equal(valueOf(m, LAG, { name: 'EstimatedTimeLag', groupId: 'g1', topic: 't', partition: '1' }), 0);
    assert.equal(valueOf(m, LAG, { name: 'EstimatedMaxTimeLag', groupId: 'g1', topic: 't', partition: undefined }), 60);
    // No time estimate without an append time.
    assert.equal(select(m, LAG, { name: 'EstimatedTimeLag', topic: 'u' }).length, 0);
    await coordinator.close();
  });

  test('ReplicaManager and KafkaController gauges from the topic catalog and the cluster view', async () => {
    const { metrics } = newMetrics();
    const catalog = new StaticTopicCatalog([
      { name: 't', topicId: 'id-t', partitionCount: 3, replicationFactor: 3, internal: false },
      { name: 'u', topicId: 'id-u', partitionCount: 2, replicationFactor: 1, internal: false },
    ]);
    const cluster = new SingleNodeCluster('cluster', { nodeId: 4, host: 'h', port: 1, rack: null });
    metrics.provide({ brokerState: brokerStateFrom(catalog, cluster) });
    const m = await read(metrics);
    const RM = 'kafka_server_ReplicaManager_Value';
    const KC = 'kafka_controller_KafkaController_Value';
    assert.equal(valueOf(m, RM, { name: 'PartitionCount' }), 5);
    assert.equal(valueOf(m, RM, { name: 'LeaderCount' }), 5);
    assert.equal(valueOf(m, RM, { name: 'UnderReplicatedPartitions' }), 0);
    assert.equal(valueOf(m, KC, { name: 'ActiveControllerCount' }), 1);
    assert.equal(valueOf(m, KC, { name: 'OfflinePartitionsCount' }), 0);
    assert.equal(valueOf(m, KC, { name: 'GlobalTopicCount' }), 2);
    assert.equal(valueOf(m, KC, { name: 'GlobalPartitionCount' }), 5);
  });

  test('a failing or slow provider leaves its families out and is counted; the rest of the scrape is served', async () => {
    const registry = new Registry();
    const metrics = new GatewayMetrics(registry, { providerTimeoutMs: 50 });
    metrics.provide({
      logState: { partitions: () => new Promise(() => undefined) },
      brokerState: {
        brokerState: () => {
          throw new Error('catalog unreachable');
        },
      },
    });
    const m = await read(metrics);
    assert.equal(select(m, 'kafka_log_Log_Value').length, 0);
    assert.equal(select(m, 'kafka_server_ReplicaManager_Value').length, 0);
    assert.equal(select(m, BTM, { name: 'MessagesInPerSec' }).length, 1);
    // Counted as the scrape runs, so reported by the next one (which fails too).
    const next = await read(metrics);
    assert.equal(valueOf(next, 'kafka_kinesis_gateway_metrics_provider_failures_total', { provider: 'logState' }), 1);
    assert.equal(valueOf(next, 'kafka_kinesis_gateway_metrics_provider_failures_total', { provider: 'brokerState' }), 1);
  });

  test('logStateFrom reads led partitions: offsets, lease expiry and append times from the tail', async () => {
    const batches = [
      { baseOffset: 10n, lastOffset: 19n, maxTimestamp: 1000n },
      { baseOffset: 20n, lastOffset: 29n, maxTimestamp: 2000n },
    ];
    const log = {
      highWatermark: 30n,
      logStartOffset: 0n,
      tailStartOffset: 10n,
      read(offset: bigint) {
        if (offset < 10n) return { kind: 'below-tail' };
        return { kind: 'batches', batches: batches.filter((b) => b.lastOffset >= offset) };
      },
    };
    const provider = logStateFrom(() => [{ topic: { name: 't' }, partition: 3, log, lease: { expiresAtMs: 99 } }]);
    const [state] = await provider.partitions();
    assert.ok(state !== undefined);
    assert.equal(state.logEndOffset, 30n);
    assert.equal(state.leaseExpiresAtMs, 99);
    assert.equal(state.appendTimeMs?.(25n), 2000);
    assert.equal(state.appendTimeMs?.(12n), 1000);
    assert.equal(state.appendTimeMs?.(3n), 1000, 'below the tail: the oldest cached batch bounds it');
    assert.equal(state.appendTimeMs?.(30n), undefined);
  });
});

describe('the gateway\'s own metrics', () => {
  test('Kinesis observer: call timings, PUT payload units, records by result, MillisBehindLatest per shard', async () => {
    const clock = new ManualClock();
    const { metrics } = newMetrics(clock);
    const observe = metrics.kinesisObserver();
    observe({
      operation: 'PutRecords',
      durationMs: 12,
      outcome: 'ok',
      input: {
        StreamName: 's',
        Records: [
          { Data: new Uint8Array(10), PartitionKey: 'k' },
          { Data: new Uint8Array(60_000), PartitionKey: 'k' },
          { Data: new Uint8Array(10), PartitionKey: 'k' },
        ],
      },
      output: { Records: [{ SequenceNumber: '1' }, { SequenceNumber: '2' }, { ErrorCode: 'ProvisionedThroughputExceededException' }] },
    });
    observe({ operation: 'PutRecords', durationMs: 3000, outcome: 'throttled', errorName: 'LimitExceededException', input: {} });
    observe({ operation: 'GetShardIterator', durationMs: 1, outcome: 'ok', input: { StreamName: 's', ShardId: 'shardId-0' }, output: { ShardIterator: 'it-1' } });
    observe({ operation: 'GetRecords', durationMs: 1, outcome: 'ok', input: { ShardIterator: 'it-1' }, output: { NextShardIterator: 'it-2', MillisBehindLatest: 9000 } });
    observe({ operation: 'GetRecords', durationMs: 1, outcome: 'ok', input: { ShardIterator: 'it-2' }, output: { NextShardIterator: 'it-3', MillisBehindLatest: 0 } });
    observe({ operation: 'GetRecords', durationMs: 1, outcome: 'ok', input: { ShardIterator: 'unknown' }, output: { MillisBehindLatest: 5 } });

    let m = await read(metrics);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_kinesis_put_payload_units_total'), 1 + 3);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_kinesis_put_records_total', { result: 'ok' }), 2);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_kinesis_put_records_total', { result: 'throttled' }), 1);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_kinesis_calls_total', { operation: 'PutRecords', outcome: 'ok' }), 1);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_kinesis_calls_total', { operation: 'PutRecords', outcome: 'throttled' }), 1);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_kinesis_call_errors_total', { operation: 'PutRecords', error: 'LimitExceededException' }), 1);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_kinesis_call_duration_seconds_count', { operation: 'PutRecords' }), 2);
    // The least MillisBehindLatest since the last scrape (the tailer is the most current reader).
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_millis_behind_latest', { stream: 's', shard: 'shardId-0' }), 0);
    observe({ operation: 'GetRecords', durationMs: 1, outcome: 'ok', input: { ShardIterator: 'it-3' }, output: { NextShardIterator: 'it-4', MillisBehindLatest: 700 } });
    m = await read(metrics);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_millis_behind_latest', { stream: 's', shard: 'shardId-0' }), 700);
    clock.now += 120_000; // nobody reads the shard any more
    m = await read(metrics);
    assert.equal(select(m, 'kafka_kinesis_gateway_millis_behind_latest').length, 0);
  });

  test('connections, tail cache, de-duplicated batches and sequence errors', async () => {
    const { metrics } = newMetrics();
    metrics.connectionOpened();
    metrics.connectionOpened();
    metrics.connectionClosed();
    metrics.tailCache(true);
    metrics.tailCache(true);
    metrics.tailCache(false);
    metrics.deduplicatedBatch();
    metrics.sequenceError(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    metrics.redisCall('evalsha', 2, 'error', 'MaxRetriesPerRequestError');
    const m = await read(metrics);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_connections'), 1);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_connections_opened_total'), 2);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_tail_cache_reads_total', { result: 'hit' }), 2);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_tail_cache_reads_total', { result: 'miss' }), 1);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_deduplicated_batches_total'), 1);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_producer_sequence_errors_total', { kind: 'OUT_OF_ORDER_SEQUENCE_NUMBER' }), 1);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_redis_calls_total', { operation: 'evalsha', outcome: 'error' }), 1);
    assert.equal(valueOf(m, 'kafka_kinesis_gateway_redis_calls_total', { operation: 'evalsha', outcome: 'ok' }), 0);
  });
});

describe('/readyz', () => {
  test('200 when every check passes, 503 with the first reason otherwise; results are cached', async () => {
    const clock = new ManualClock();
    let storageCalls = 0;
    let storageUp = true;
    const storage: ReadinessCheck = {
      name: 'dynamodb',
      async check() {
        storageCalls++;
        return storageUp ? null : 'connection refused';
      },
    };
    let expiresAt = 2_000;
    const leases = leasesCheck({ partitions: () => [{ topic: 't', partition: 0, logEndOffset: 0n, logStartOffset: 0n, leaseExpiresAtMs: expiresAt }] }, () => 1_000);
    const readiness = new Readiness([storage, leases], { cacheMs: 3000, clock: clock.read });
    const server = new MetricsServer(new Registry(), { readiness });
    const port = await server.listen('127.0.0.1', 0);
    try {
      const probe = async (): Promise<{ status: number; body: { ready: boolean; reason?: string } }> => {
        const response = await fetch(`http://127.0.0.1:${port}/readyz`);
        return { status: response.status, body: (await response.json()) as { ready: boolean; reason?: string } };
      };
      assert.deepEqual((await probe()).status, 200);
      storageUp = false;
      assert.equal((await probe()).status, 200, 'cached for 3 s');
      assert.equal(storageCalls, 1);
      clock.now += 3000;
      const down = await probe();
      assert.equal(down.status, 503);
      assert.equal(down.body.ready, false);
      assert.equal(down.body.reason, 'dynamodb: connection refused');
      storageUp = true;
      expiresAt = 500; // renewals failed: the lease ran out
      clock.now += 3000;
      const leaseLost = await probe();
      assert.equal(leaseLost.status, 503);
      assert.match(leaseLost.body.reason ?? '', /^leases: 1 partition lease\(s\) expired, e.g. t-0$/);
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    } finally {
      await server.close();
    }
  });

  test('a check that does not answer in time fails with a timeout reason', async () => {
    const hanging: ReadinessCheck = { name: 'kinesis', check: () => new Promise(() => undefined) };
    const status = await new Readiness([hanging], { timeoutMs: 50 }).status();
    assert.equal(status.ready, false);
    assert.equal(status.reason, 'kinesis: no answer within 50 ms');
  });
});
