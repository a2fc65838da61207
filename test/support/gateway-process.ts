/**
 * The gateway as a separate process (`node --import tsx src/cli.ts ...`), for tests that kill it
 * (kill -9) and start it again against Kinesis and DynamoDB stand-ins that live in the test
 * process and so survive it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { serverSupportsApi } from './api-probe.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const METADATA = 3;

export interface GatewayProcess {
  readonly pid: number;
  readonly port: number;
  readonly bootstrap: string;
  /** SIGKILL, and wait until the process is gone. */
  kill9(): Promise<void>;
  /** SIGTERM (graceful shutdown), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** The last part of what the process wrote to stdout and stderr. */
  output(): string;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts the CLI with `--port port` and the given flags (kebab-case names without dashes), in a
 * clean environment, and waits until it answers ApiVersions with Metadata in it. `nodeArgs` go
 * to node before the script (e.g. --cpu-prof).
 */
export async function startGatewayProcess(
  port: number,
  flags: Record<string, string>,
  options: { readyTimeoutMs?: number; nodeArgs?: readonly string[] } = {},
): Promise<GatewayProcess> {
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const args = [...(options.nodeArgs ?? []), '--import', 'tsx', 'src/cli.ts', '--host', '127.0.0.1', '--port', String(port)];
  for (const [name, value] of Object.entries({ 'metrics-port': '0', 'log-level': 'warn', ...flags })) args.push(`--${name}`, value);
  const child = spawn(process.execPath, args, {
    cwd: REPO,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-50_000);
    if (process.env.KKG_TEST_GATEWAY_OUTPUT === '1') process.stderr.write(chunk);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const pid = child.pid;
  if (pid === undefined) throw new Error('the gateway process did not start');
  const handle: GatewayProcess = {
    pid,
    port,
    bootstrap: `127.0.0.1:${port}`,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited(child);
    },
    async stop(graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited(child);
      clearTimeout(killer);
    },
    output: () => output,
  };
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the gateway exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`);
    }
    if (await serverSupportsApi(port, METADATA).catch(() => false)) return handle;
    if (Date.now() > deadline) {
      await handle.kill9();
      throw new Error(`the gateway was not ready on port ${port} within ${readyTimeoutMs} ms:\n${output}`);
    }
    await sleep(100);
  }
}
