/**
 * Every query of the Grafana dashboard and of the Prometheus alert rules is valid PromQL
 * (promtool parses it) and names only metrics a running gateway exports, with name="..." values
 * that the gateway reports; checked against a real scrape after produce, consume and a commit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { startRedis, type RedisServer } from '../support/redis.js';
import { scrape, type Exposition } from './exposition.js';
import { ruleExpressions, selectorsOf, selectorsOfTemplateQuery, substituteGrafanaVariables, type Selector } from './promql.js';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url);
const DASHBOARD = new URL('dashboards/grafana-kafka-kinesis-gateway.json', root);
const RULES = new URL('alerts/prometheus-rules.yaml', root);

/** Series Prometheus itself records for every target, not exported by the gateway. */
const PROMETHEUS_SERIES = new Set(['up']);

interface Query {
  readonly where: string;
  readonly expr: string;
  readonly selectors: Selector[];
}

function dashboardQueries(): Query[] {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    panels: { title?: string; targets?: { expr?: string }[]; panels?: unknown[] }[];
    templating: { list: { name: string; query?: string | { query?: string } }[] };
  };
  const queries: Query[] = [];
  const walk = (panels: readonly { title?: string; targets?: { expr?: string }[]; panels?: unknown[] }[]): void => {
    for (const panel of panels) {
      for (const target of panel.targets ?? []) {
        if (target.expr === undefined) continue;
        const expr = substituteGrafanaVariables(target.expr);
        queries.push({ where: `panel "${panel.title ?? '?'}"`, expr, selectors: selectorsOf(expr) });
      }
      walk((panel.panels ?? []) as typeof panels);
    }
  };
  walk(dashboard.panels);
  for (const variable of dashboard.templating.list) {
    const query = typeof variable.query === 'string' ? variable.query : variable.query?.query;
    if (query === undefined || !query.includes('(')) continue;
    queries.push({ where: `variable $${variable.name}`, expr: query, selectors: selectorsOfTemplateQuery(query) });
  }
  return queries;
}

function ruleQueries(): Query[] {
  return ruleExpressions(readFileSync(RULES, 'utf8')).map((expr, i) => ({ where: `rule #${i + 1}`, expr, selectors: selectorsOf(expr) }));
}

describe('PromQL reading (the test\'s own helper)', () => {
  test('finds metric names and equality matchers, not functions, labels, keywords or durations', () => {
    const selectors = selectorsOf(
      'histogram_quantile(0.99, sum by (le, operation) (rate(a_bucket{job=~".*",x="y"}[5m]))) / on (instance) group_left b offset 5m > bool 1e3 and c{name="N",topic=""}',
    );
    assert.deepEqual(selectors, [
      { metric: 'a_bucket', equals: { x: 'y' } },
      { metric: 'b', equals: {} },
      { metric: 'c', equals: { name: 'N', topic: '' } },
    ]);
    assert.deepEqual(selectorsOfTemplateQuery('label_values(m{job=~"$job"}, topic)'), [{ metric: 'm', equals: {} }]);
    assert.equal(substituteGrafanaVariables('rate(x{a=~"$a",b=~"${b}"}[$__rate_interval])'), 'rate(x{a=~".*",b=~".*"}[1m])');
    assert.deepEqual(ruleExpressions('  - alert: A\n    expr: up == 0\n  - alert: B\n    expr: |\n      x\n        / y\n    for: 1m\n'), ['up == 0', 'x / y']);
  });
});

describe('dashboard and alert queries', () => {
  let gw: RunningGateway;
  let redis: RedisServer;
  let exported: Exposition;
  let dir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kkg-queries-'));
    // With Redis, so that the idempotent producer's commands are timed too.
    redis = await startRedis();
    gw = await startGateway({ 'redis-url': redis.url });
    const kafka = new Kafka({ clientId: 'queries-test', brokers: [gw.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: 'queries', numPartitions: 2 }] });
    const producer = kafka.producer({ idempotent: true });
    await producer.connect();
    await producer.send({ topic: 'queries', messages: Array.from({ length: 20 }, (_, i) => ({ partition: i % 2, value: `v${i}` })) });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'queries-group', maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'queries', fromBeginning: true });
    let seen = 0;
    const done = new Promise<void>((resolve) => {
      void consumer.run({
        eachMessage: async () => {
          if (++seen === 20) resolve();
        },
      });
    });
    await done;
    await consumer.disconnect();
    // A lagging group too, so every lag series exists.
    await admin.setOffsets({ groupId: 'queries-lagging', topic: 'queries', partitions: [{ partition: 0, offset: '1' }, { partition: 1, offset: '0' }] });
    await admin.disconnect();
    // The next scrape computes lag from the commits above; scrape twice so counters bumped during
    // the first scrape (provider failures, if any) are listed as well.
    await scrape(gw.gateway.addresses.metricsPort);
    exported = await scrape(gw.gateway.addresses.metricsPort);
  });

  after(async () => {
    await gw.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sample names, and the series names of every declared family (histograms: _bucket, _sum, _count). */
  function exportedNames(): Set<string> {
    const names = new Set(exported.samples.map((s) => s.name));
    for (const [family, type] of exported.types) {
      names.add(family);
      if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(family + suffix);
      if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(family + suffix);
    }
    return names;
  }

  const cases: [string, () => Query[]][] = [
    ['dashboard', dashboardQueries],
    ['alert rules', ruleQueries],
  ];
  for (const [label, load] of cases) {
    test(`${label}: every metric name is exported by the gateway`, () => {
      const queries = load();
      assert.ok(queries.length >= 10, `${queries.length} queries found`);
      const names = exportedNames();
      const missing: string[] = [];
      for (const query of queries) {
        assert.ok(query.selectors.length > 0, `${query.where} selects no metric: ${query.expr}`);
        for (const { metric } of query.selectors) {
          if (!names.has(metric) && !PROMETHEUS_SERIES.has(metric)) missing.push(`${query.where}: ${metric}`);
        }
      }
      assert.deepEqual(missing, []);
    });

    test(`${label}: every name="..." an MSK-named query selects is reported`, () => {
      const missing: string[] = [];
      for (const query of load()) {
        for (const { metric, equals } of query.selectors) {
          if (!metric.startsWith('kafka_') || metric.startsWith('kafka_kinesis_gateway_') || equals.name === undefined) continue;
          const found = exported.samples.some((s) => s.name === metric && s.labels.name === equals.name);
          if (!found) missing.push(`${query.where}: ${metric}{name="${equals.name}"}`);
        }
      }
      assert.deepEqual(missing, []);
    });
  }

  test('the Redis commands of the idempotent producer were timed (observeRedis)', () => {
    const ok = exported.samples.filter((s) => s.name === 'kafka_kinesis_gateway_redis_calls_total' && s.labels.outcome === 'ok');
    assert.ok(ok.reduce((total, s) => total + s.value, 0) > 0, JSON.stringify(ok));
  });

  test('promtool parses every dashboard query, and checks the alert rules file', async () => {
    const queries = dashboardQueries().filter((q) => !q.where.startsWith('variable'));
    const rules = ['groups:', '  - name: dashboard', '    rules:'];
    queries.forEach((q, i) => rules.push(`      - record: dashboard:query_${i}`, `        expr: ${JSON.stringify(q.expr)}`));
    const file = join(dir, 'dashboard-rules.yaml');
    writeFileSync(file, `${rules.join('\n')}\n`);
    const dashboard = await run('promtool', ['check', 'rules', file]);
    assert.match(dashboard.stdout, new RegExp(`SUCCESS: ${queries.length} rules found`));
    const alerts = await run('promtool', ['check', 'rules', RULES.pathname]);
    assert.match(alerts.stdout, new RegExp(`SUCCESS: ${ruleQueries().length} rules found`));
  });
});
