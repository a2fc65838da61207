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
 * These families are computed from the gateway's state at each scrape and can run to tens of
 * thousands of series (consumer lag per partition), so they are rendered straight to the text
 * exposition format here rather than through prom-client's per-series formatting, which costs
 * some ten times more; /metrics serves them after the prom-client registry's output.
 */

export type Labels = Record<string, string>;

export interface FamilyDefinition {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
}

const NEEDS_ESCAPE = /[\\"\n]/;

export function escapeLabelValue(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : value;
}

function formatValue(value: number): string {
  if (Number.isFinite(value)) return String(value);
  if (Number.isNaN(value)) return 'NaN';
  return value > 0 ? '+Inf' : '-Inf';
}

/** Where a scrape's producer puts its samples; each is rendered as it comes. */
export class SampleSink {
  private readonly lines = new Map<string, string[]>();

  constructor(private readonly known: ReadonlySet<string>) {}

  add(family: string, labels: Labels, value: number): void {
    let rendered = '';
    for (const key in labels) rendered += `${rendered === '' ? '' : ','}${key}="${escapeLabelValue(labels[key] as string)}"`;
    this.linesFor(family).push(`${rendered === '' ? family : `${family}{${rendered}}`} ${formatValue(value)}`);
  }

  /**
   * A sample whose labels are already rendered (`a="x",b="y"`, values escaped with
   * escapeLabelValue): for the many series of one shape that lag makes.
   */
  addRendered(family: string, labels: string, value: number): void {
    this.linesFor(family).push(`${family}{${labels}} ${formatValue(value)}`);
  }

  private linesFor(family: string): string[] {
    if (!this.known.has(family)) throw new Error(`metric family ${family} is not declared`);
    let lines = this.lines.get(family);
    if (lines === undefined) {
      lines = [];
      this.lines.set(family, lines);
    }
    return lines;
  }

  linesOf(family: string): readonly string[] {
    return this.lines.get(family) ?? [];
  }
}

/**
 * Families whose samples a producer function computes at each scrape. `render` runs it once and
 * returns the text exposition of every family (HELP and TYPE even when a family has no sample).
 */
export class ScrapedFamilies {
  private readonly names: ReadonlySet<string>;

  constructor(
    private readonly families: readonly FamilyDefinition[],
    private readonly produce: (sink: SampleSink) => Promise<void>,
  ) {
    this.names = new Set(families.map((f) => f.name));
  }

  async render(): Promise<string> {
    const sink = new SampleSink(this.names);
    await this.produce(sink);
    const out: string[] = [];
    for (const family of this.families) {
      out.push(`# HELP ${family.name} ${family.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${family.name} ${family.type}`);
      for (const line of sink.linesOf(family.name)) out.push(line);
    }
    return out.length === 0 ? '' : `${out.join('\n')}\n`;
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
