import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type GatewayConfig } from '../../src/config.js';
import { Gateway } from '../../src/gateway.js';

export interface RunningGateway {
  readonly gateway: Gateway;
  readonly port: number;
  readonly bootstrap: string;
  readonly config: GatewayConfig;
  stop(): Promise<void>;
}

/** Starts a gateway in this process on free ports with a fresh data folder. */
export async function startGateway(flags: Record<string, string> = {}): Promise<RunningGateway> {
  const dataDir = mkdtempSync(join(tmpdir(), 'kkg-test-'));
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
  };
}
