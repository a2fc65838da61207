import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { pino } from 'pino';
import { loadConfig, type GatewayConfig } from '../../src/config.js';
import { Gateway } from '../../src/gateway.js';
import type { TestAws } from './aws.js';

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly port: number;
  readonly bootstrap: string;
  readonly config: GatewayConfig;
  /** Stops the gateway and removes its data folder. */
  stop(): Promise<void>;
  /**
   * A gateway restart: stops this one (orderly) and starts another with the same flags on the
   * same port and data folder, so clients find it where they were and it keeps the cluster id
   * and, embedded or through the same endpoints and prefixes, the same streams and tables.
   */
  restart(): Promise<RunningGateway>;
}

/** Starts a gateway in this process on free ports with a fresh data folder. */
export async function startGateway(flags: Record<string, string> = {}): Promise<RunningGateway> {
  return launch(flags, mkdtempSync(join(tmpdir(), 'kkg-test-')));
}

async function launch(flags: Record<string, string>, dataDir: string): Promise<RunningGateway> {
  const config = loadConfig({
    flags: { host: '127.0.0.1', port: '0', 'metrics-port': '0', 'data-dir': dataDir, ...flags },
    env: {},
  });
  const log = pino({ level: process.env.KKG_TEST_LOG_LEVEL ?? 'silent' });
  const gateway = await Gateway.start(config, log, { env: {} });
  const port = gateway.addresses.port;
  return {
    gateway,
    port,
    bootstrap: `127.0.0.1:${port}`,
    config,
    async stop() {
      await gateway.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
    async restart() {
      await gateway.stop();
      return launch({ ...flags, port: String(port) }, dataDir);
    },
  };
}

/**
 * Flags for a gateway on the test's kinesalite and dynalite, with streams and tables under the
 * test's prefix: the data outlives the gateway, as Kinesis and DynamoDB do.
 */
export function testAwsFlags(aws: TestAws): Record<string, string> {
  return {
    'kinesis-endpoint': aws.kinesisService.endpoint,
    'dynamodb-endpoint': aws.dynamoService.endpoint,
    'table-prefix': aws.prefix,
    'stream-prefix': aws.prefix,
    // As embedded: a caught-up shard is polled every 20 ms, not every 200.
    'kinesis-poll-interval-ms': '20',
  };
}

/** Group settings that keep tests quick: a short initial rebalance delay, short sessions allowed. */
export const FAST_GROUP_FLAGS: Readonly<Record<string, string>> = {
  'group-initial-rebalance-delay-ms': '300',
  'group-min-session-timeout-ms': '1000',
};

/** Creates topics through the gateway (CreateTopics) and waits until they have leaders. */
export async function createTopics(bootstrap: string, partitions: number, names: readonly string[]): Promise<void> {
  const admin = new Kafka({ clientId: 'kkg-test-topics', brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({ waitForLeaders: true, topics: names.map((topic) => ({ topic, numPartitions: partitions })) });
    if (!created) throw new Error(`some of ${names.join(', ')} existed already`);
  } finally {
    await admin.disconnect();
  }
}
