/**
 * A running gateway's /metrics against what real clients did: kafkajs produces known counts to
 * known partitions, a raw Produce carries a batch of known size, kcat (librdkafka) consumes
 * everything; then the MSK-named Count values per topic and broker-wide, byte counts, request
 * counts by request name, log end offsets per partition, and (when the gateway serves consumer
 * groups) lag per partition must match.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { MessageCodec } from '../../src/protocol/codec.js';
import { ApiKey, fetchRequest, fetchResponse, produceRequest, produceResponse, requestHeader, responseHeader } from '../../src/protocol/messages/index.js';
import { Reader, Writer } from '../../src/protocol/primitives.js';
import { encodeBatchSync } from '../../src/protocol/records/record-batch.js';
import { serverSupportsApi } from '../support/api-probe.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { kcat } from '../support/librdkafka.js';
import { RawClient } from '../support/raw-client.js';
import { scrape, select, sumOf, valueOf, type Exposition } from './exposition.js';

const BTM = 'kafka_server_BrokerTopicMetrics_Count';
const REQ = 'kafka_network_RequestMetrics_Count';

let gw: RunningGateway;
let metricsPort: number;
let kafka: Kafka;
let correlationId = 1;

/** Messages kafkajs sends: per (topic, partition), the size of each send. */
const SENDS: Record<string, Record<number, number[]>> = {
  'metrics-a': { 0: [2, 2, 2, 2, 2], 1: [4, 4, 4], 2: [7] },
  'metrics-b': { 0: [3, 3, 3, 3] },
};
const RAW_TOPIC = 'metrics-raw';
const RAW_RECORDS = 11;
const rawBatch = encodeBatchSync({
  records: Array.from({ length: RAW_RECORDS }, (_, i) => ({
    offsetDelta: i,
    timestampDelta: i,
    key: Buffer.from(`k${i}`),
    value: Buffer.alloc(100 + i, 'x'),
    headers: [],
  })),
  baseTimestamp: BigInt(Date.now()),
});

function total(counts: Record<number, number[]>): number {
  return Object.values(counts).flat().reduce((a, b) => a + b, 0);
}

/** One request of this version on a fresh connection; the decoded response. */
async function exchange<Req, Res>(req: MessageCodec<Req>, res: MessageCodec<Res>, version: number, body: Req): Promise<Res> {
  const flexible = req.firstFlexibleVersion !== null && version >= req.firstFlexibleVersion;
  const writer = new Writer();
  requestHeader.encode(writer, { requestApiKey: req.apiKey, requestApiVersion: version, correlationId: correlationId++, clientId: 'metrics-test' }, flexible ? 2 : 1);
  req.encode(writer, body, version);
  const client = await RawClient.connect(gw.port);
  try {
    client.sendFrame(writer.finish());
    const reader = new Reader(await client.nextFrame(30_000));
    responseHeader.decode(reader, flexible ? 1 : 0);
    return res.decode(reader, version);
  } finally {
    client.close();
  }
}

/** Scrapes until `check` passes (metrics that settle after the response, like connection counts). */
async function eventually(check: (m: Exposition) => void, timeoutMs = 10_000): Promise<Exposition> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await scrape(metricsPort);
    try {
      check(m);
      return m;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

before(async () => {
  gw = await startGateway();
  metricsPort = gw.gateway.addresses.metricsPort;
  kafka = new Kafka({ clientId: 'metrics-test', brokers: [gw.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: 'metrics-a', numPartitions: 3 },
      { topic: 'metrics-b', numPartitions: 1 },
      { topic: RAW_TOPIC, numPartitions: 1 },
    ],
  });
  await admin.disconnect();
});

after(async () => {
  await gw.stop();
});

describe('metrics of a running gateway', () => {
  let afterProduce: Exposition;

  test('produce: messages, bytes and requests per topic and broker-wide; Produce request counts', async () => {
    const before = await scrape(metricsPort);
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    let sends = 0;
    for (const [topic, partitions] of Object.entries(SENDS)) {
      for (const [partition, sizes] of Object.entries(partitions)) {
        for (const size of sizes) {
          await producer.send({
            topic,
            messages: Array.from({ length: size }, (_, i) => ({ partition: Number(partition), value: `${topic}-${partition}-${i}` })),
          });
          sends++;
        }
      }
    }
    await producer.disconnect();

    const request = produceRequest.create();
    request.acks = -1;
    request.timeoutMs = 30_000;
    request.topicData = [{ name: RAW_TOPIC, partitionData: [{ index: 0, records: rawBatch }] }];
    const response = await exchange(produceRequest, produceResponse, 9, request);
    assert.equal(response.responses[0]?.partitionResponses[0]?.errorCode, 0);

    const m = await scrape(metricsPort);
    afterProduce = m;
    const a = total(SENDS['metrics-a'] as Record<number, number[]>);
    const b = total(SENDS['metrics-b'] as Record<number, number[]>);
    assert.equal(valueOf(m, BTM, { name: 'MessagesInPerSec', topic: 'metrics-a' }), a);
    assert.equal(valueOf(m, BTM, { name: 'MessagesInPerSec', topic: 'metrics-b' }), b);
    assert.equal(valueOf(m, BTM, { name: 'MessagesInPerSec', topic: RAW_TOPIC }), RAW_RECORDS);
    assert.equal(valueOf(m, BTM, { name: 'MessagesInPerSec', topic: undefined }), a + b + RAW_RECORDS);

    // The raw batch's bytes exactly; kafkajs batches hold at least their values.
    assert.equal(valueOf(m, BTM, { name: 'BytesInPerSec', topic: RAW_TOPIC }), rawBatch.length);
    assert.ok(valueOf(m, BTM, { name: 'BytesInPerSec', topic: 'metrics-a' }) > a * 'metrics-a-0-0'.length);
    assert.equal(
      valueOf(m, BTM, { name: 'BytesInPerSec', topic: undefined }),
      sumOf(m, BTM, { name: 'BytesInPerSec' }) - valueOf(m, BTM, { name: 'BytesInPerSec', topic: undefined }),
      'broker-wide bytes in = the sum over topics',
    );

    assert.equal(valueOf(m, BTM, { name: 'TotalProduceRequestsPerSec', topic: 'metrics-a' }), 9);
    assert.equal(valueOf(m, BTM, { name: 'TotalProduceRequestsPerSec', topic: 'metrics-b' }), 4);
    assert.equal(valueOf(m, BTM, { name: 'TotalProduceRequestsPerSec', topic: undefined }), sends + 1);
    assert.equal(valueOf(m, BTM, { name: 'FailedProduceRequestsPerSec', topic: undefined }), 0);

    const produceRequests = sumOf(m, REQ, { name: 'RequestsPerSec', request: 'Produce' }) - sumOf(before, REQ, { name: 'RequestsPerSec', request: 'Produce' });
    assert.equal(produceRequests, sends + 1, 'one Produce request per send, plus the raw one');
    assert.equal(valueOf(m, REQ, { name: 'RequestsPerSec', request: 'Produce', version: '9' }), 1, 'the raw v9 request');
    assert.equal(valueOf(m, REQ, { name: 'TotalTimeMs', request: 'Produce' }), sumOf(m, REQ, { name: 'RequestsPerSec', request: 'Produce' }));
    assert.equal(valueOf(m, REQ, { name: 'RequestsPerSec', request: 'CreateTopics', version: select(m, REQ, { request: 'CreateTopics', name: 'RequestsPerSec' })[0]?.labels.version }), 1);
    assert.ok(sumOf(m, REQ, { name: 'RequestsPerSec', request: 'Metadata' }) >= 1);
    assert.ok(sumOf(m, REQ, { name: 'RequestsPerSec', request: 'ApiVersions' }) >= 1);
    assert.ok(valueOf(m, 'kafka_network_RequestMetrics_Max', { name: 'TotalTimeMs', request: 'Produce' }) > 0);
  });

  test('log end offsets per partition, and the broker gauges', async () => {
    const m = await scrape(metricsPort);
    const LOG = 'kafka_log_Log_Value';
    for (const [topic, partitions] of Object.entries(SENDS)) {
      for (const [partition, sizes] of Object.entries(partitions)) {
        const expected = sizes.reduce((x, y) => x + y, 0);
        assert.equal(valueOf(m, LOG, { name: 'LogEndOffset', topic, partition }), expected, `${topic}-${partition}`);
        assert.equal(valueOf(m, LOG, { name: 'LogStartOffset', topic, partition }), 0);
      }
    }
    assert.equal(valueOf(m, LOG, { name: 'LogEndOffset', topic: RAW_TOPIC, partition: '0' }), RAW_RECORDS);
    assert.equal(valueOf(m, 'kafka_server_ReplicaManager_Value', { name: 'PartitionCount' }), 5);
    assert.equal(valueOf(m, 'kafka_server_ReplicaManager_Value', { name: 'LeaderCount' }), 5);
    assert.equal(valueOf(m, 'kafka_server_ReplicaManager_Value', { name: 'UnderReplicatedPartitions' }), 0);
    assert.equal(valueOf(m, 'kafka_controller_KafkaController_Value', { name: 'ActiveControllerCount' }), 1);
    assert.equal(valueOf(m, 'kafka_controller_KafkaController_Value', { name: 'OfflinePartitionsCount' }), 0);
    assert.equal(valueOf(m, 'kafka_controller_KafkaController_Value', { name: 'GlobalTopicCount' }), 3);
  });

  test('consume with kcat: bytes out and fetch requests; a raw Fetch adds exactly the bytes it returned', async () => {
    for (const [topic, partitions] of Object.entries(SENDS)) {
      const out = await kcat(['-C', '-b', gw.bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o\\n']);
      const lines = out.split('\n').filter((l) => l !== '');
      assert.equal(lines.length, total(partitions), `kcat read all of ${topic}`);
    }
    const m = await scrape(metricsPort);
    for (const topic of Object.keys(SENDS)) {
      assert.ok(valueOf(m, BTM, { name: 'BytesOutPerSec', topic }) > 0, topic);
      assert.ok(valueOf(m, BTM, { name: 'TotalFetchRequestsPerSec', topic }) > 0, topic);
    }
    const fetches = sumOf(m, REQ, { name: 'RequestsPerSec', request: 'Fetch' });
    assert.ok(fetches > 0);
    assert.equal(sumOf(m, REQ, { name: 'RequestsPerSec', request: 'FetchConsumer' }), fetches, 'consumer fetches are also FetchConsumer');
    assert.equal(valueOf(m, REQ, { name: 'TotalTimeMs', request: 'Fetch' }), fetches);
    assert.equal(valueOf(m, BTM, { name: 'FailedFetchRequestsPerSec', topic: undefined }), 0);

    // Nobody fetched the raw topic yet: its meters do not exist (sumOf reads 0).
    const bytesOutBefore = sumOf(m, BTM, { name: 'BytesOutPerSec', topic: RAW_TOPIC });
    const fetchesBefore = sumOf(m, BTM, { name: 'TotalFetchRequestsPerSec', topic: RAW_TOPIC });
    const request = fetchRequest.create();
    request.maxWaitMs = 100;
    request.minBytes = 1;
    request.maxBytes = 1 << 20;
    request.sessionEpoch = -1;
    request.topics = [
      { topic: RAW_TOPIC, topicId: '00000000-0000-0000-0000-000000000000', partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: '00000000-0000-0000-0000-000000000000' }] },
    ];
    const response = await exchange(fetchRequest, fetchResponse, 12, request);
    const answer = response.responses[0]?.partitions[0];
    assert.equal(answer?.errorCode, 0);
    const returned = answer?.records?.length ?? 0;
    assert.ok(returned > 0);
    const after = await scrape(metricsPort);
    assert.equal(valueOf(after, BTM, { name: 'BytesOutPerSec', topic: RAW_TOPIC }) - bytesOutBefore, returned);
    assert.equal(valueOf(after, BTM, { name: 'TotalFetchRequestsPerSec', topic: RAW_TOPIC }) - fetchesBefore, 1);
    assert.ok(valueOf(after, 'kafka_kinesis_gateway_tail_cache_reads_total', { result: 'hit' }) > 0);
  });

  test('the gateway\'s own: Kinesis and DynamoDB calls, PUT payload units, shard readers, connections', async () => {
    const m = await eventually((x) => assert.equal(valueOf(x, 'kafka_kinesis_gateway_connections'), 0));
    assert.ok(valueOf(m, 'kafka_kinesis_gateway_kinesis_calls_total', { operation: 'PutRecords', outcome: 'ok' }) >= 1);
    assert.ok(valueOf(m, 'kafka_kinesis_gateway_kinesis_calls_total', { operation: 'GetRecords', outcome: 'ok' }) >= 1);
    assert.ok(valueOf(m, 'kafka_kinesis_gateway_kinesis_put_records_total', { result: 'ok' }) >= 1);
    assert.ok(sumOf(m, 'kafka_kinesis_gateway_dynamodb_calls_total', { outcome: 'ok' }) >= 1);
    // Every record is at least one 25 KB unit.
    assert.ok(valueOf(m, 'kafka_kinesis_gateway_kinesis_put_payload_units_total') >= valueOf(m, 'kafka_kinesis_gateway_kinesis_put_records_total', { result: 'ok' }));
    for (const stream of ['metrics-a', 'metrics-b', RAW_TOPIC]) {
      assert.ok(select(m, 'kafka_kinesis_gateway_millis_behind_latest', { stream }).length >= 1, `a shard reader of ${stream}`);
    }
    assert.ok(valueOf(m, 'kafka_kinesis_gateway_connections_opened_total') >= 3);
    assert.ok(select(m, 'process_cpu_seconds_total').length === 1, 'process metrics');
    assert.ok(select(m, 'nodejs_eventloop_lag_p99_seconds').length === 1, 'event-loop lag');
    assert.ok(afterProduce !== undefined);
  });

  test('/readyz: storage reachable and leases held', async () => {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/readyz`);
    const body = (await response.json()) as { ready: boolean; checks: Record<string, { ok: boolean }> };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.deepEqual(Object.keys(body.checks).sort(), ['dynamodb', 'kinesis', 'leases']);
    assert.ok(Object.values(body.checks).every((c) => c.ok));
  });

  test('consumer lag per partition from committed offsets', async (t) => {
    if (!(await serverSupportsApi(gw.port, ApiKey.JoinGroup))) {
      t.skip('this gateway does not serve consumer groups yet (the group coordinator is not in Gateway.start)');
      return;
    }
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.setOffsets({
        groupId: 'metrics-lag',
        topic: 'metrics-a',
        partitions: [
          { partition: 0, offset: '4' },
          { partition: 1, offset: '12' },
          { partition: 2, offset: '0' },
        ],
      });
    } finally {
      await admin.disconnect();
    }
    const LAG = 'kafka_consumer_group_ConsumerLagMetrics_Value';
    const m = await eventually((x) => assert.equal(select(x, LAG, { groupId: 'metrics-lag', name: 'OffsetLag' }).length, 3));
    assert.equal(valueOf(m, LAG, { groupId: 'metrics-lag', topic: 'metrics-a', partition: '0', name: 'OffsetLag' }), 6);
    assert.equal(valueOf(m, LAG, { groupId: 'metrics-lag', topic: 'metrics-a', partition: '1', name: 'OffsetLag' }), 0);
    assert.equal(valueOf(m, LAG, { groupId: 'metrics-lag', topic: 'metrics-a', partition: '2', name: 'OffsetLag' }), 7);
    assert.equal(valueOf(m, LAG, { groupId: 'metrics-lag', topic: 'metrics-a', partition: undefined, name: 'SumOffsetLag' }), 13);
    assert.equal(valueOf(m, LAG, { groupId: 'metrics-lag', topic: 'metrics-a', partition: undefined, name: 'MaxOffsetLag' }), 7);
    assert.ok(valueOf(m, LAG, { groupId: 'metrics-lag', topic: 'metrics-a', partition: undefined, name: 'EstimatedMaxTimeLag' }) >= 0);
  });
});
