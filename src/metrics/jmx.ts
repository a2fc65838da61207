/**
 * Metric families named the way the Prometheus JMX exporter's default format renders Kafka's
 * MBeans, which is what MSK's open monitoring serves on port 11001:
 *
 *     domain_typeValue_attribute{otherKey="otherValue", ...}
 *
 * e.g. kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec,topic=t, attribute Count,
 * becomes kafka_server_BrokerTopicMetrics_Count{name="MessagesInPerSec",topic="t"}. An MBean
 * without a key has no such label (the broker-wide BrokerTopicMetrics have no topic label;
 * in PromQL `topic=""` selects them, since an empty label and a missing one are the same).
 *
 * The values are computed once per scrape by a producer function and shared by every family
 * of the scrape; they are handed to prom-client as plain metric objects, so thousands of series
 * cost a pass over the gateway's state rather than label hashing per series.
 */
import type { Metric, Registry } from 'prom-client';

export type Labels = Record<string, string>;

export interface Sample {
  readonly labels: Labels;
  readonly value: number;
}

/** Where a scrape's producer puts its samples. */
export class SampleSink {
  private readonly byFamily = new Map<string, Sample[]>();

  add(family: string, labels: Labels, value: number): void {
    let samples = this.byFamily.get(family);
    if (samples === undefined) {
      samples = [];
      this.byFamily.set(family, samples);
    }
    samples.push({ labels, value });
  }

  samples(family: string): readonly Sample[] {
    return this.byFamily.get(family) ?? [];
  }

  families(): IterableIterator<string> {
    return this.byFamily.keys();
  }
}

export interface FamilyDefinition {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
}

/**
 * Registers `families` with `registry`; each scrape calls `produce` once (however many families
 * it reads) and each family reports its share.
 */
export function registerScrapedFamilies(
  registry: Registry,
  families: readonly FamilyDefinition[],
  produce: (sink: SampleSink) => Promise<void>,
): void {
  let current: Promise<SampleSink> | undefined;
  const scrape = (): Promise<SampleSink> => {
    if (current === undefined) {
      const sink = new SampleSink();
      current = produce(sink).then(() => sink);
      // Registry.metrics() asks every family in the same turn; the next scrape starts afresh.
      const done = (): void => {
        setImmediate(() => (current = undefined));
      };
      current.then(done, done);
    }
    return current;
  };
  for (const family of families) {
    const metric = {
      name: family.name,
      help: family.help,
      type: family.type,
      aggregator: 'sum',
      async get() {
        const sink = await scrape();
        return { name: family.name, help: family.help, type: family.type, aggregator: 'sum', values: sink.samples(family.name) };
      },
      reset() {
        // Values are computed from state at each scrape: nothing to reset.
      },
    };
    // prom-client takes any object with name, help, type and get(); its types list only its own classes.
    registry.registerMetric(metric as unknown as Metric);
  }
}

/** Yammer Meter attributes, as the JMX exporter names them. */
export const METER_ATTRIBUTES = ['Count', 'MeanRate', 'OneMinuteRate', 'FiveMinuteRate', 'FifteenMinuteRate'] as const;

/** Yammer Histogram attributes, as the JMX exporter names them. */
export const HISTOGRAM_ATTRIBUTES = [
  'Count',
  'Min',
  'Max',
  'Mean',
  'StdDev',
  '50thPercentile',
  '75thPercentile',
  '95thPercentile',
  '98thPercentile',
  '99thPercentile',
  '999thPercentile',
] as const;

/** The family name of an MBean attribute in the default format: `domain_type_attribute`. */
export function jmxFamily(domain: string, type: string, attribute: string): string {
  return `${domain.replace(/[^a-zA-Z0-9:_]/g, '_')}_${type}_${attribute}`;
}
