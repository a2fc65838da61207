/**
 * A real Prometheus server (Debian's `prometheus` package; .ci/run installs it) scrapes a running
 * gateway every second, with the repository's alert rules loaded, and answers the MSK queries:
 * MessagesInPerSec per topic and broker-wide (also selected as topic=""), rates computed by
 * PromQL, and every alert rule evaluating without error against the gateway's series.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { freePort } from '../support/ports.js';

const RULES = new URL('../../alerts/prometheus-rules.yaml', import.meta.url).pathname;
const MESSAGES = 25;

interface VectorResult {
  readonly metric: Record<string, string>;
  readonly value: [number, string];
}

let gw: RunningGateway;
let prometheus: ChildProcess;
let prometheusUrl: string;
let dir: string;
let output = '';

async function query(expr: string): Promise<VectorResult[]> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = (await response.json()) as { status: string; error?: string; data: { resultType: string; result: VectorResult[] } };
  assert.equal(body.status, 'success', `${expr}: ${body.error ?? ''}`);
  return body.data.result;
}

/** Retries `check` until it passes: Prometheus needs a scrape or two (1 s apart) to see changes. */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kkg-prometheus-'));
  gw = await startGateway();
  const kafka = new Kafka({ clientId: 'prometheus-test', brokers: [gw.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: 'scraped', numPartitions: 2 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic: 'scraped', messages: Array.from({ length: MESSAGES }, (_, i) => ({ partition: i % 2, value: `m${i}` })) });
  await producer.disconnect();

  const port = await freePort();
  prometheusUrl = `http://127.0.0.1:${port}`;
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      `  - ${JSON.stringify(RULES)}`,
      'scrape_configs:',
      '  - job_name: kafka-kinesis-gateway',
      '    static_configs:',
      `      - targets: ["127.0.0.1:${gw.gateway.addresses.metricsPort}"]`,
      '',
    ].join('\n'),
  );
  prometheus = spawn(
    'prometheus',
    [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  prometheus.on('error', (err) => (output += `\n${err.message} (is Debian's prometheus package installed? .ci/run installs it)`));
  prometheus.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  prometheus.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  await eventually(async () => {
    if (prometheus.exitCode !== null || prometheus.pid === undefined) throw new Error(`prometheus exited: ${output}`);
    const ready = await fetch(`${prometheusUrl}/-/ready`);
    assert.equal(ready.status, 200);
  }, 30_000).catch((err: unknown) => {
    throw new Error(`prometheus did not become ready: ${String(err)}\n${output}`);
  });
});

after(async () => {
  if (prometheus?.exitCode === null) {
    const exited = new Promise((resolve) => prometheus.once('exit', resolve));
    prometheus.kill('SIGTERM');
    await exited;
  }
  await gw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a real Prometheus scraping the gateway', () => {
  test('the target is up', async () => {
    const up = await eventually(async () => {
      const result = await query('up{job="kafka-kinesis-gateway"}');
      assert.equal(result[0]?.value[1], '1', JSON.stringify(result));
      return result;
    });
    assert.equal(up.length, 1);
  });

  test('answers kafka_server_BrokerTopicMetrics_Count{name="MessagesInPerSec"} per topic and broker-wide', async () => {
    const result = await eventually(async () => {
      const r = await query('kafka_server_BrokerTopicMetrics_Count{name="MessagesInPerSec"}');
      assert.ok(r.some((s) => s.metric.topic === 'scraped'), JSON.stringify(r));
      return r;
    });
    const topic = result.find((s) => s.metric.topic === 'scraped');
    const brokerWide = result.find((s) => s.metric.topic === undefined);
    assert.equal(topic?.value[1], String(MESSAGES));
    assert.equal(brokerWide?.value[1], String(MESSAGES));
    assert.equal(topic?.metric.job, 'kafka-kinesis-gateway');
    // MSK-style selection of the broker-wide value: an empty label is a missing one.
    const empty = await query('kafka_server_BrokerTopicMetrics_Count{name="MessagesInPerSec",topic=""}');
    assert.equal(empty.length, 1);
    assert.equal(empty[0]?.value[1], String(MESSAGES));
  });

  test('PromQL over the series: increase() of the Count, request rates, log end offsets', async () => {
    const sum = await query('sum(kafka_log_Log_Value{name="LogEndOffset",topic="scraped"})');
    assert.equal(sum[0]?.value[1], String(MESSAGES));
    const produce = await query('sum(kafka_network_RequestMetrics_Count{name="RequestsPerSec",request="Produce"})');
    assert.equal(produce[0]?.value[1], '1');
    // increase() needs two scrapes in its window.
    const increase = await eventually(async () => {
      const r = await query('increase(kafka_server_BrokerTopicMetrics_Count{name="MessagesInPerSec",topic="scraped"}[1m])');
      assert.equal(r.length, 1);
      return r;
    });
    assert.ok(Number(increase[0]?.value[1]) >= 0);
  });

  test('every alert rule loads and evaluates without error', async () => {
    const groups = await eventually(async () => {
      const response = await fetch(`${prometheusUrl}/api/v1/rules?type=alert`);
      const body = (await response.json()) as {
        data: { groups: { name: string; rules: { name: string; health: string; lastError?: string; state: string }[] }[] };
      };
      const rules = body.data.groups.flatMap((g) => g.rules);
      assert.ok(rules.length > 0, 'rules loaded');
      assert.ok(rules.every((r) => r.health !== 'unknown'), 'every rule evaluated once');
      return body.data.groups;
    });
    const rules = groups.flatMap((g) => g.rules);
    const failing = rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.lastError ?? r.health}`);
    assert.deepEqual(failing, []);
    // A healthy single gateway fires none of the critical cluster alarms.
    const firing = rules.filter((r) => r.state === 'firing').map((r) => r.name);
    for (const alarm of ['KafkaNoActiveController', 'KafkaOfflinePartitions', 'KafkaKinesisGatewayDown']) {
      assert.ok(!firing.includes(alarm), `${alarm} fires`);
    }
  });
});
