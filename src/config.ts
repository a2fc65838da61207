import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { PRODUCE_ACK_MODES } from './log/topic-configs.js';

/**
 * Every setting has one entry here: its flag (`--data-dir`), its environment twin
 * (`KKG_DATA_DIR`), its key in a JSON config file (`dataDir`), a validator and a default.
 * Precedence: defaults < config file < environment < flags.
 */
const port = z.coerce.number().int().min(0).max(65535);
/** A switch: `true`/`false` from flags and the environment, or a JSON boolean in a config file. */
const bool = z
  .preprocess((v) => (typeof v === 'boolean' ? String(v) : v), z.enum(['true', 'false']))
  .transform((v) => v === 'true');

const OPTIONS = {
  host: {
    flag: 'host',
    schema: z.string().min(1).default('0.0.0.0'),
    help: 'address the Kafka listener binds',
  },
  port: { flag: 'port', schema: port.default(9092), help: 'Kafka listener port (0 picks a free port)' },
  advertisedHost: {
    flag: 'advertised-host',
    schema: z.string().min(1).optional(),
    help: 'host name clients are told to connect to (default: --host, or 127.0.0.1 when binding all addresses)',
  },
  advertisedPort: {
    flag: 'advertised-port',
    schema: z.coerce.number().int().min(1).max(65535).optional(),
    help: 'port clients are told to connect to, when it differs from --port (a proxy, a NodePort; default: the listener port)',
  },
  rack: {
    flag: 'rack',
    schema: z.string().min(1).max(256).optional(),
    help: 'rack (e.g. availability zone) this node reports in Metadata (broker.rack)',
  },
  metricsPort: {
    flag: 'metrics-port',
    schema: port.default(11001),
    help: 'Prometheus /metrics port (MSK open monitoring uses 11001)',
  },
  dataDir: {
    flag: 'data-dir',
    schema: z.string().min(1).default('.data'),
    help: 'folder for local state: cluster id and the embedded Kinesis and DynamoDB stand-ins',
  },
  logLevel: {
    flag: 'log-level',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    help: 'how much the gateway logs (JSON lines on stdout)',
  },
  nodeId: {
    flag: 'node-id',
    schema: z.coerce.number().int().min(0).max(2147483647).optional(),
    help: 'broker id this gateway reports, unique per node (default: the StatefulSet ordinal of the pod name in Kubernetes, else the id this data folder had, else the lowest free id in the node registry)',
  },
  socketRequestMaxBytes: {
    flag: 'socket-request-max-bytes',
    schema: z.coerce.number().int().min(1024).max(2147483647).default(104857600),
    help: 'largest request accepted (socket.request.max.bytes); a larger frame closes the connection',
  },
  kinesisEndpoint: {
    flag: 'kinesis-endpoint',
    schema: z.string().url().optional(),
    help: 'Kinesis endpoint URL (default: AWS for --region; with no AWS settings an embedded kinesalite)',
  },
  dynamodbEndpoint: {
    flag: 'dynamodb-endpoint',
    schema: z.string().url().optional(),
    help: 'DynamoDB endpoint URL (default: AWS for --region; with no AWS settings an embedded dynalite)',
  },
  region: {
    flag: 'region',
    schema: z.string().min(1).optional(),
    help: 'AWS region (default: AWS_REGION or AWS_DEFAULT_REGION; none of these and no endpoints: embedded stand-ins)',
  },
  streamPrefix: {
    flag: 'stream-prefix',
    schema: z.string().regex(/^[a-zA-Z0-9_.-]{0,64}$/, 'letters, digits, "_", "." and "-", at most 64').default(''),
    help: 'prefix of the Kinesis stream names that are topics (topic t is stream <prefix>t)',
  },
  tablePrefix: {
    flag: 'table-prefix',
    schema: z.string().regex(/^[a-zA-Z0-9_.-]{1,200}$/, 'letters, digits, "_", "." and "-"').default('kkg-'),
    help: 'prefix of the gateway\'s DynamoDB table names',
  },
  createTables: {
    flag: 'create-tables',
    schema: bool.optional(),
    help: 'create missing DynamoDB tables at start (default: true in embedded mode or with a loopback --dynamodb-endpoint; against AWS the tables must exist, see deploy/)',
  },
  autoCreateTopics: {
    flag: 'auto-create-topics',
    schema: bool.default(true),
    help: 'create a topic when a client asks for one that does not exist (auto.create.topics.enable)',
  },
  numPartitions: {
    flag: 'num-partitions',
    schema: z.coerce.number().int().min(1).max(10000).default(1),
    help: 'partitions of auto-created topics and of CreateTopics with -1 (num.partitions)',
  },
  produceAckMode: {
    flag: 'produce-ack-mode',
    schema: z.enum(PRODUCE_ACK_MODES).default('observed'),
    help: 'produce.ack.mode of topics that do not set it: observed (answer once read back) or immediate (answer once written; for streams only the gateway writes)',
  },
  tailCacheBytes: {
    flag: 'tail-cache-bytes',
    schema: z.coerce.number().int().min(1 << 20).default(64 * 1024 * 1024),
    help: 'memory for recent record batches, shared by the partitions this node leads',
  },
  leaseTtlMs: {
    flag: 'lease-ttl-ms',
    schema: z.coerce.number().int().min(1000).default(10_000),
    help: 'partition lease duration; a crashed node\'s partitions move after this',
  },
  kinesisPollIntervalMs: {
    flag: 'kinesis-poll-interval-ms',
    schema: z.coerce.number().int().min(1).optional(),
    help: 'pause between GetRecords calls of a caught-up shard (default 200, Kinesis allows 5/s per shard; embedded 20)',
  },
  indexIntervalBytes: {
    flag: 'index-interval-bytes',
    schema: z.coerce.number().int().min(1024).default(1024 * 1024),
    help: 'write an offset index anchor after this many bytes of a partition (index.interval.bytes)',
  },
  redisUrl: {
    flag: 'redis-url',
    schema: z.string().regex(/^rediss?:\/\//, 'a redis:// or rediss:// URL').optional(),
    help: 'Redis for idempotent-producer state shared by gateway nodes (default: in memory, one node only)',
  },
  producerIdExpirationMs: {
    flag: 'producer-id-expiration-ms',
    schema: z.coerce.number().int().min(1000).default(86_400_000),
    help: 'how long an idle producer\'s sequence state is kept (producer.id.expiration.ms)',
  },
  groupInitialRebalanceDelayMs: {
    flag: 'group-initial-rebalance-delay-ms',
    schema: z.coerce.number().int().min(0).default(3000),
    help: 'how long a new group waits for more members before its first rebalance (group.initial.rebalance.delay.ms)',
  },
  groupMinSessionTimeoutMs: {
    flag: 'group-min-session-timeout-ms',
    schema: z.coerce.number().int().min(1).default(6000),
    help: 'shortest session timeout a consumer may ask for (group.min.session.timeout.ms)',
  },
  groupMaxSessionTimeoutMs: {
    flag: 'group-max-session-timeout-ms',
    schema: z.coerce.number().int().min(1).default(1_800_000),
    help: 'longest session timeout a consumer may ask for (group.max.session.timeout.ms)',
  },
  groupMaxSize: {
    flag: 'group-max-size',
    schema: z.coerce.number().int().min(1).default(2_147_483_647),
    help: 'members per consumer group (group.max.size)',
  },
  offsetsRetentionMinutes: {
    flag: 'offsets-retention-minutes',
    schema: z.coerce.number().int().min(1).default(10_080),
    help: 'how long committed offsets outlive an empty group (offsets.retention.minutes)',
  },
  shutdownGraceMs: {
    flag: 'shutdown-grace-ms',
    schema: z.coerce.number().int().min(0).default(5000),
    help: 'on SIGTERM, how long in-flight requests may take before connections are cut',
  },
} as const;

type Options = typeof OPTIONS;
export type OptionKey = keyof Options;

const configSchema = z
  .object(Object.fromEntries(Object.entries(OPTIONS).map(([key, o]) => [key, o.schema])) as {
    [K in OptionKey]: Options[K]['schema'];
  })
  .strict();

export type GatewayConfig = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export interface ConfigOption {
  readonly key: OptionKey;
  readonly flag: string;
  readonly env: string;
  readonly help: string;
  /** The default as a flag value would spell it; undefined when the option has none (or a computed one). */
  readonly default: string | undefined;
  /** The values allowed, for options that take one of a fixed set. */
  readonly allowed: readonly string[] | undefined;
}

/** Walks defaults, optionals and pipes down to an enum, if there is one. */
function allowedValues(schema: z.ZodType): string[] | undefined {
  const def = schema._zod.def as unknown as {
    type: string;
    innerType?: z.ZodType;
    in?: z.ZodType;
    out?: z.ZodType;
    entries?: Record<string, string>;
  };
  switch (def.type) {
    case 'enum':
      return Object.values(def.entries ?? {});
    case 'default':
    case 'optional':
      return def.innerType === undefined ? undefined : allowedValues(def.innerType);
    case 'pipe':
      return (def.in && allowedValues(def.in)) ?? (def.out && allowedValues(def.out));
    default:
      return undefined;
  }
}

function defaultValue(schema: z.ZodType): string | undefined {
  const parsed = schema.safeParse(undefined);
  return parsed.success && parsed.data !== undefined ? String(parsed.data) : undefined;
}

export function envName(flag: string): string {
  return `KKG_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export const CONFIG_OPTIONS: readonly ConfigOption[] = (Object.keys(OPTIONS) as OptionKey[]).map((key) => ({
  key,
  flag: OPTIONS[key].flag,
  env: envName(OPTIONS[key].flag),
  help: OPTIONS[key].help,
  default: defaultValue(OPTIONS[key].schema),
  allowed: allowedValues(OPTIONS[key].schema),
}));

/** `--config FILE` names a JSON file whose keys are the camelCase option names. */
export const CONFIG_FILE_FLAG = 'config';

export interface ConfigSources {
  readonly flags: Readonly<Record<string, string | undefined>>;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export function loadConfig(sources: ConfigSources): GatewayConfig {
  const merged: Record<string, unknown> = {};
  const configFile = sources.flags[CONFIG_FILE_FLAG] ?? sources.env[envName(CONFIG_FILE_FLAG)];
  if (configFile !== undefined) Object.assign(merged, readConfigFile(configFile));
  for (const option of CONFIG_OPTIONS) {
    const fromEnv = sources.env[option.env];
    if (fromEnv !== undefined && fromEnv !== '') merged[option.key] = fromEnv;
    const fromFlag = sources.flags[option.flag];
    if (fromFlag !== undefined) merged[option.key] = fromFlag;
  }
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = String(issue.path[0] ?? '');
      const option = CONFIG_OPTIONS.find((o) => o.key === key);
      const name = option === undefined ? key : `--${option.flag} (${option.env}, "${key}")`;
      return `${name || 'config'}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
  return parsed.data;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** The host clients are told to connect to. */
export function advertisedHost(config: GatewayConfig): string {
  if (config.advertisedHost !== undefined) return config.advertisedHost;
  return config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
}

/** Option keys whose whole value is a secret (a password or token, not a URL that holds one). */
const SECRET_KEY = /password|secret|token|credential/i;

/** A value with its secret parts replaced by `***`: a URL's password, or all of a secret option. */
export function maskSecret(key: string, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (SECRET_KEY.test(key)) return '***';
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) return value;
  try {
    const url = new URL(value);
    if (url.password === '' && !(url.username !== '' && /^rediss?:$/.test(url.protocol))) return value;
    // redis://:secret@host and redis://secret@host (the password alone) both hide credentials.
    if (url.password !== '') url.password = '***';
    else url.username = '***';
    return url.toString();
  } catch {
    return value;
  }
}

/**
 * The effective configuration as `--print-config` shows it: every set option keyed by its
 * config-file name, secrets masked. The output is itself a valid `--config` file (less the
 * masked secrets).
 */
export function printableConfig(config: GatewayConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const option of CONFIG_OPTIONS) {
    const value: unknown = config[option.key];
    if (value !== undefined) out[option.key] = maskSecret(option.key, value);
  }
  return out;
}
