import { collectDefaultMetrics, Registry } from 'prom-client';

/** One registry per gateway, so that several gateways in one test process stay apart. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}
