import { performance } from 'node:perf_hooks';
import { ErrorCode } from '../src/protocol/errors.js';
import { GatewayMetrics } from '../src/metrics/broker-metrics.js';
import { MetricsServer } from '../src/metrics/http.js';
import type { CommittedOffsetState, PartitionLogState } from '../src/metrics/providers.js';
import { createMetricsRegistry } from '../src/metrics/registry.js';
import type { BenchRow } from './table.js';

const TOPICS = 100;
const PARTITIONS_PER_TOPIC = 10;
const GROUPS = 100;
/** Each group consumes this many topics (all their partitions). */
const TOPICS_PER_GROUP = 10;
const REQUESTS = ['Produce', 'Fetch', 'ListOffsets', 'Metadata', 'OffsetCommit', 'OffsetFetch', 'FindCoordinator', 'JoinGroup', 'Heartbeat', 'LeaveGroup', 'SyncGroup', 'ApiVersions', 'InitProducerId'];

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/**
 * /metrics with the state of a busy node: 1,000 partitions (100 topics of 10) with traffic on
 * every topic, their log offsets and shard readers, and 100 consumer groups of 10 topics each
 * (10,000 committed offsets, so 10,000 OffsetLag series). Scraped over HTTP as Prometheus does.
 */
export async function benchMetricsScrape(scrapes = 50): Promise<BenchRow[]> {
  const registry = createMetricsRegistry();
  const metrics = new GatewayMetrics(registry);
  const now = Date.now();
  const partitions: PartitionLogState[] = [];
  for (let t = 0; t < TOPICS; t++) {
    for (let p = 0; p < PARTITIONS_PER_TOPIC; p++) {
      const end = BigInt(1_000_000 + t * 1000 + p);
      partitions.push({
        topic: `topic-${t}`,
        partition: p,
        logEndOffset: end,
        logStartOffset: 1000n,
        leaseExpiresAtMs: now + 30_000,
        appendTimeMs: (offset) => now - Number(end - offset),
      });
      metrics.millisBehindLatest(`topic-${t}`, `shardId-${String(p).padStart(12, '0')}`, p * 10);
    }
  }
  const committed: CommittedOffsetState[] = [];
  for (let g = 0; g < GROUPS; g++) {
    for (let i = 0; i < TOPICS_PER_GROUP; i++) {
      const t = (g + i * 7) % TOPICS;
      for (let p = 0; p < PARTITIONS_PER_TOPIC; p++) {
        committed.push({ group: `group-${g}`, topic: `topic-${t}`, partition: p, offset: BigInt(1_000_000 + t * 1000 - g) });
      }
    }
  }
  for (let t = 0; t < TOPICS; t++) {
    for (let i = 0; i < 20; i++) {
      metrics.produce(`topic-${t}`, 100, 100_000);
      metrics.fetchPartition(`topic-${t}`, ErrorCode.NONE, 100_000);
    }
    metrics.produceFailed(`topic-${t}`);
    metrics.fetchPartition(`topic-${t}`, ErrorCode.KAFKA_STORAGE_ERROR, 0);
  }
  for (const request of REQUESTS) for (let i = 0; i < 2000; i++) metrics.requestCompleted(request, Math.random() * 50, 9);
  metrics.provide({
    logState: { partitions: () => partitions },
    lag: { committedOffsets: () => committed },
    brokerState: {
      brokerState: () => ({
        partitionCount: partitions.length,
        leaderCount: partitions.length,
        isController: true,
        offlinePartitionsCount: 0,
        globalTopicCount: TOPICS,
        globalPartitionCount: partitions.length,
      }),
    },
  });

  const server = new MetricsServer(registry, { extra: [metrics] });
  const port = await server.listen('127.0.0.1', 0);
  try {
    const url = `http://127.0.0.1:${port}/metrics`;
    let bytes = 0;
    let series = 0;
    for (let i = 0; i < 3; i++) {
      const text = await (await fetch(url)).text();
      bytes = text.length;
      series = text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length;
    }
    const times: number[] = [];
    for (let i = 0; i < scrapes; i++) {
      const started = performance.now();
      await (await fetch(url)).text();
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    const mean = times.reduce((a, b) => a + b, 0) / times.length;
    // CPU time of producing the text alone (what a scrape costs the gateway; wall time above
    // also includes HTTP and, on a busy machine, waiting for a core).
    const cpu = process.cpuUsage();
    for (let i = 0; i < scrapes; i++) await metrics.exposition();
    const used = process.cpuUsage(cpu);
    const cpuMs = (used.user + used.system) / 1000 / scrapes;
    return [
      { benchmark: `/metrics series (${partitions.length} partitions, ${GROUPS} groups)`, value: String(series), unit: 'series' },
      { benchmark: '/metrics response size', value: (bytes / 1024 / 1024).toFixed(2), unit: 'MiB' },
      { benchmark: `/metrics latency, mean of ${scrapes}`, value: mean.toFixed(1), unit: 'ms' },
      { benchmark: '/metrics latency, p50', value: quantile(times, 0.5).toFixed(1), unit: 'ms' },
      { benchmark: '/metrics latency, p99', value: quantile(times, 0.99).toFixed(1), unit: 'ms' },
      { benchmark: 'render CPU time per scrape', value: cpuMs.toFixed(1), unit: 'ms' },
    ];
  } finally {
    await server.close();
  }
}
