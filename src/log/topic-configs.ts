/**
 * The topic configs the gateway supports, how each maps onto the Kinesis stream (DESIGN.md
 * section 1), their validation, and how they are described (DescribeConfigs, CreateTopics v5+).
 *
 * A topic's config value comes, in order of precedence, from the topic itself (set with
 * CreateTopics or AlterConfigs: DYNAMIC_TOPIC_CONFIG), from the gateway's own settings (the
 * operator's topic defaults, reported as the broker setting that supplies them:
 * STATIC_BROKER_CONFIG), or from the built-in default (DEFAULT_CONFIG). Only topic-level values
 * are stored with the topic. Settings that live on the stream (retention, stream mode, record
 * size) are applied to it when the topic is created or altered; changing an operator default
 * later does not touch existing streams.
 *
 * Anything else Kafka knows (cleanup.policy=compact, segment.*, min.insync.replicas, ...) is
 * refused with INVALID_CONFIG: the gateway cannot honour it on Kinesis and does not pretend to.
 */
import { RECORD_FORMATS, type RecordFormat } from '../kinesis/record-formats.js';
import { ErrorCode } from '../protocol/errors.js';
import { TopicError } from './topic-error.js';

/** DescribeConfigs ConfigSource (org.apache.kafka.common.requests.DescribeConfigsResponse.ConfigSource). */
export const ConfigSource = {
  UNKNOWN: 0,
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
} as const;

/** DescribeConfigs v3+ config_type (KIP-492). */
export const ConfigType = {
  UNKNOWN: 0,
  BOOLEAN: 1,
  STRING: 2,
  INT: 3,
  SHORT: 4,
  LONG: 5,
  DOUBLE: 6,
  LIST: 7,
  CLASS: 8,
  PASSWORD: 9,
} as const;

export type StreamMode = 'PROVISIONED' | 'ON_DEMAND';
export const STREAM_MODES: readonly StreamMode[] = ['PROVISIONED', 'ON_DEMAND'];

/**
 * When a Produce is answered (DESIGN.md section 3): `observed` once the partition's reader has
 * read the records back from Kinesis, so the offsets are those Kinesis order gives whoever else
 * writes the stream; `immediate` as soon as Kinesis has the records, with the offsets that follow
 * this leader's own writes, which are right only while nothing else writes the partition's shards.
 */
export const PRODUCE_ACK_MODES = ['observed', 'immediate'] as const;
export type ProduceAckMode = (typeof PRODUCE_ACK_MODES)[number];

export const COMPRESSION_TYPES = ['producer', 'gzip', 'snappy', 'lz4', 'zstd', 'uncompressed'] as const;
export type CompressionType = (typeof COMPRESSION_TYPES)[number];

export const HOUR_MS = 3_600_000;
/** Kinesis RetentionPeriodHours bounds. */
export const MIN_RETENTION_HOURS = 24;
export const MAX_RETENTION_HOURS = 8760;
/** Kinesis records are at most 1 MiB unless the stream's MaxRecordSizeInKiB is raised (up to 10 MiB). */
export const DEFAULT_MAX_RECORD_KIB = 1024;
export const MAX_MESSAGE_BYTES_LIMIT = 10 * 1024 * 1024;

/** One entry of a DescribeConfigs answer (also CreateTopics v5+ configs). */
export interface ConfigSynonym {
  readonly name: string;
  readonly value: string | null;
  readonly source: number;
}

export interface ConfigEntry {
  readonly name: string;
  readonly value: string | null;
  readonly source: number;
  readonly readOnly: boolean;
  readonly sensitive: boolean;
  readonly type: number;
  readonly documentation: string;
  /** Highest precedence first; the entry's own value is the first synonym. */
  readonly synonyms: readonly ConfigSynonym[];
}

export type TopicConfigName =
  | 'retention.ms'
  | 'max.message.bytes'
  | 'compression.type'
  | 'cleanup.policy'
  | 'kinesis.record.format'
  | 'kinesis.stream.mode'
  | 'produce.ack.mode';

interface TopicConfigDefinition {
  readonly name: TopicConfigName;
  /** The broker (gateway) setting that supplies the topic's default, as Kafka names it. */
  readonly brokerName: string;
  readonly type: number;
  readonly builtInDefault: string;
  /** Read-only configs have one possible value; setting it is accepted and not stored. */
  readonly readOnly: boolean;
  readonly documentation: string;
  /** Why the value is not acceptable, or null. */
  check(value: string): string | null;
}

const INTEGER = /^-?[0-9]{1,19}$/;

function oneOf(values: readonly string[]): (value: string) => string | null {
  return (value) => (values.includes(value) ? null : `must be one of ${values.join(', ')}`);
}

function checkRetention(value: string): string | null {
  if (!INTEGER.test(value)) return 'must be an integer number of milliseconds';
  const ms = Number(value);
  if (ms === -1) return null;
  if (ms < MIN_RETENTION_HOURS * HOUR_MS) {
    return `Kinesis keeps records for at least ${MIN_RETENTION_HOURS} hours (${MIN_RETENTION_HOURS * HOUR_MS} ms)`;
  }
  if (ms > MAX_RETENTION_HOURS * HOUR_MS) {
    return `Kinesis keeps records for at most ${MAX_RETENTION_HOURS} hours (${MAX_RETENTION_HOURS * HOUR_MS} ms; -1 means that maximum)`;
  }
  return null;
}

function checkMaxMessageBytes(value: string): string | null {
  if (!INTEGER.test(value)) return 'must be an integer number of bytes';
  const bytes = Number(value);
  if (bytes < 1 || bytes > MAX_MESSAGE_BYTES_LIMIT) {
    return `must be between 1 and ${MAX_MESSAGE_BYTES_LIMIT} (10 MiB, the largest Kinesis record)`;
  }
  return null;
}

function checkCleanupPolicy(value: string): string | null {
  const policies = value.split(',').map((p) => p.trim());
  return policies.length === 1 && policies[0] === 'delete'
    ? null
    : 'only "delete" is supported: Kinesis expires records by age and cannot compact a stream';
}

const DEFINITIONS: readonly TopicConfigDefinition[] = [
  {
    name: 'cleanup.policy',
    brokerName: 'log.cleanup.policy',
    type: ConfigType.LIST,
    builtInDefault: 'delete',
    readOnly: true,
    documentation: 'Always "delete": Kinesis drops records once they are older than the retention period.',
    check: checkCleanupPolicy,
  },
  {
    name: 'compression.type',
    brokerName: 'compression.type',
    type: ConfigType.STRING,
    builtInDefault: 'producer',
    readOnly: false,
    documentation: 'Compression of stored batches: "producer" keeps what the producer sent; the others name a codec.',
    check: oneOf(COMPRESSION_TYPES),
  },
  {
    name: 'kinesis.record.format',
    brokerName: 'kinesis.record.format',
    type: ConfigType.STRING,
    builtInDefault: 'kpl',
    readOnly: false,
    documentation:
      'How produced batches are written to Kinesis: kpl (KPL aggregates, readable by KCL, Lambda and Firehose), ' +
      'kafka (the Kafka record batch as produced) or raw (one Kinesis record per Kafka record). ' +
      'A change applies to records written from then on; every format stays readable.',
    check: oneOf(RECORD_FORMATS),
  },
  {
    name: 'kinesis.stream.mode',
    brokerName: 'kinesis.stream.mode',
    type: ConfigType.STRING,
    builtInDefault: 'PROVISIONED',
    readOnly: false,
    documentation:
      'The stream capacity mode: PROVISIONED (one shard per partition at creation) or ON_DEMAND (Kinesis scales the shards).',
    check: oneOf(STREAM_MODES),
  },
  {
    name: 'max.message.bytes',
    brokerName: 'message.max.bytes',
    type: ConfigType.INT,
    builtInDefault: '1048576',
    readOnly: false,
    documentation:
      'The largest record batch a producer may send, at most 10 MiB. Above 1 MiB the stream\'s MaxRecordSizeInKiB is raised to match.',
    check: checkMaxMessageBytes,
  },
  {
    name: 'produce.ack.mode',
    brokerName: 'produce.ack.mode',
    type: ConfigType.STRING,
    builtInDefault: 'observed',
    readOnly: false,
    documentation:
      'When a Produce is answered: observed (once the records are read back from Kinesis: right offsets whoever else writes the stream) ' +
      'or immediate (once Kinesis has them: lower latency, for streams only the gateway writes; another writer makes ' +
      'the partition reopen, and offsets answered before then may differ from the ones read later).',
    check: oneOf(PRODUCE_ACK_MODES),
  },
  {
    name: 'retention.ms',
    brokerName: 'log.retention.ms',
    type: ConfigType.LONG,
    builtInDefault: String(24 * HOUR_MS),
    readOnly: false,
    documentation:
      'How long records are kept: the stream\'s RetentionPeriodHours, 24 to 8760 hours, rounded up to whole hours; -1 means 8760 hours.',
    check: checkRetention,
  },
];

const BY_NAME: ReadonlyMap<string, TopicConfigDefinition> = new Map(DEFINITIONS.map((d) => [d.name, d]));

/** Every supported topic config name, in DescribeConfigs order. */
export const TOPIC_CONFIG_NAMES: readonly TopicConfigName[] = DEFINITIONS.map((d) => d.name);

export function isTopicConfigName(name: string): name is TopicConfigName {
  return BY_NAME.has(name);
}

/** Whether the config's value is a comma-separated list (APPEND and SUBTRACT apply to it). */
export function isListConfig(name: string): boolean {
  return BY_NAME.get(name)?.type === ConfigType.LIST;
}

function definition(name: string): TopicConfigDefinition {
  const found = BY_NAME.get(name);
  if (found === undefined) {
    throw new TopicError(
      ErrorCode.INVALID_CONFIG,
      `Unknown or unsupported topic config ${name}: the gateway supports ${TOPIC_CONFIG_NAMES.join(', ')}`,
    );
  }
  return found;
}

/** Why `value` is not valid for config `name` (unknown names included), or null. */
export function topicConfigProblem(name: string, value: string | null): string | null {
  try {
    checkValue(definition(name), value);
    return null;
  } catch (err) {
    if (err instanceof TopicError) return err.message;
    throw err;
  }
}

function checkValue(def: TopicConfigDefinition, value: string | null): string {
  if (value === null) throw new TopicError(ErrorCode.INVALID_CONFIG, `Null value not supported for topic config ${def.name}`);
  const problem = def.check(value);
  if (problem !== null) throw new TopicError(ErrorCode.INVALID_CONFIG, `Invalid value ${value} for configuration ${def.name}: ${problem}`);
  return value;
}

/**
 * Validates a topic's explicitly set configs and returns what is stored for it: read-only
 * configs at their one value are dropped. Throws TopicError(INVALID_CONFIG) on an unknown or
 * unsupported name, a null or invalid value, or a name given twice.
 */
export function validateTopicConfigs(configs: Iterable<readonly [string, string | null]>): Record<string, string> {
  const stored: Record<string, string> = {};
  const seen = new Set<string>();
  for (const [name, value] of configs) {
    if (seen.has(name)) throw new TopicError(ErrorCode.INVALID_CONFIG, `Topic config ${name} is given more than once`);
    seen.add(name);
    const def = definition(name);
    const checked = checkValue(def, value);
    if (!def.readOnly) stored[name] = checked;
  }
  return stored;
}

/** The operator's topic defaults and the built-in ones. */
export class TopicConfigDefaults {
  private readonly operator: ReadonlyMap<TopicConfigName, string>;

  /**
   * `operatorDefaults` are topic config names with the values the gateway is configured with;
   * `defaultStreamMode` counts as the operator's kinesis.stream.mode when not PROVISIONED.
   * Throws TopicError(INVALID_CONFIG) for an unsupported name or value.
   */
  constructor(operatorDefaults: Readonly<Record<string, string>>, defaultStreamMode: StreamMode = 'PROVISIONED') {
    const merged: Record<string, string> = {};
    if (defaultStreamMode !== 'PROVISIONED') merged['kinesis.stream.mode'] = defaultStreamMode;
    Object.assign(merged, operatorDefaults);
    const operator = new Map<TopicConfigName, string>();
    for (const [name, value] of Object.entries(merged)) {
      const def = definition(name);
      operator.set(def.name, checkValue(def, value));
    }
    this.operator = operator;
  }

  /** The value a topic without its own setting gets, and where it comes from. */
  value(name: TopicConfigName): { value: string; source: number } {
    const fromOperator = this.operator.get(name);
    if (fromOperator !== undefined) return { value: fromOperator, source: ConfigSource.STATIC_BROKER_CONFIG };
    return { value: definition(name).builtInDefault, source: ConfigSource.DEFAULT_CONFIG };
  }

  /** The broker-level synonyms of a topic config, highest precedence first. */
  synonyms(name: TopicConfigName): ConfigSynonym[] {
    const def = definition(name);
    const out: ConfigSynonym[] = [];
    const fromOperator = this.operator.get(name);
    if (fromOperator !== undefined) out.push({ name: def.brokerName, value: fromOperator, source: ConfigSource.STATIC_BROKER_CONFIG });
    out.push({ name: def.brokerName, value: def.builtInDefault, source: ConfigSource.DEFAULT_CONFIG });
    return out;
  }

  /** The topic-default settings as broker configs (DescribeConfigs on a BROKER resource), read-only. */
  brokerEntries(): ConfigEntry[] {
    return DEFINITIONS.map((def) => {
      const { value, source } = this.value(def.name);
      return {
        name: def.brokerName,
        value,
        source,
        readOnly: true,
        sensitive: false,
        type: def.type,
        documentation: `Default ${def.name} of topics that do not set it. ${def.documentation}`,
        synonyms: this.synonyms(def.name),
      };
    });
  }
}

/** What the gateway does with a topic's configs: the effective values, parsed. */
export interface TopicSettings {
  /** The retention.ms value in force (as set, or the default), -1 allowed. */
  readonly retentionMs: number;
  /** What the stream's RetentionPeriodHours should be. */
  readonly retentionHours: number;
  readonly maxMessageBytes: number;
  readonly compressionType: CompressionType;
  readonly recordFormat: RecordFormat;
  readonly streamMode: StreamMode;
  readonly produceAckMode: ProduceAckMode;
}

/** retention.ms -> RetentionPeriodHours: rounded up to whole hours; -1 means the maximum. */
export function retentionHoursOf(retentionMs: number): number {
  if (retentionMs === -1) return MAX_RETENTION_HOURS;
  return Math.ceil(retentionMs / HOUR_MS);
}

/** The MaxRecordSizeInKiB a stream needs for max.message.bytes (never below the 1 MiB default). */
export function maxRecordKibFor(maxMessageBytes: number): number {
  return Math.max(DEFAULT_MAX_RECORD_KIB, Math.ceil(maxMessageBytes / 1024));
}

function effective(explicit: Readonly<Record<string, string>>, defaults: TopicConfigDefaults, name: TopicConfigName): string {
  return explicit[name] ?? defaults.value(name).value;
}

/** The settings in force for a topic whose explicitly set configs are `explicit` (already validated). */
export function topicSettings(explicit: Readonly<Record<string, string>>, defaults: TopicConfigDefaults): TopicSettings {
  const retentionMs = Number(effective(explicit, defaults, 'retention.ms'));
  return {
    retentionMs,
    retentionHours: retentionHoursOf(retentionMs),
    maxMessageBytes: Number(effective(explicit, defaults, 'max.message.bytes')),
    compressionType: effective(explicit, defaults, 'compression.type') as CompressionType,
    recordFormat: effective(explicit, defaults, 'kinesis.record.format') as RecordFormat,
    streamMode: effective(explicit, defaults, 'kinesis.stream.mode') as StreamMode,
    produceAckMode: effective(explicit, defaults, 'produce.ack.mode') as ProduceAckMode,
  };
}

/** Every topic config of a topic, as DescribeConfigs reports it. */
export function describeTopicConfigs(explicit: Readonly<Record<string, string>>, defaults: TopicConfigDefaults): ConfigEntry[] {
  return DEFINITIONS.map((def) => {
    const own = def.readOnly ? undefined : explicit[def.name];
    const inherited = defaults.value(def.name);
    const synonyms: ConfigSynonym[] = [];
    if (own !== undefined) synonyms.push({ name: def.name, value: own, source: ConfigSource.DYNAMIC_TOPIC_CONFIG });
    synonyms.push(...defaults.synonyms(def.name));
    return {
      name: def.name,
      value: own ?? inherited.value,
      source: own !== undefined ? ConfigSource.DYNAMIC_TOPIC_CONFIG : inherited.source,
      readOnly: def.readOnly,
      sensitive: false,
      type: def.type,
      documentation: def.documentation,
      synonyms,
    };
  });
}
