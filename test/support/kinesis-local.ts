/**
 * kinesis-local (the npm build of kinesis-mock) as a child process, on free loopback ports.
 *
 * It runs as `node main.js` from its package folder, where it finds its TLS certificate
 * (server.json). Stream state transitions take 0 ms instead of 500 ms, and the account shard
 * limit is raised. Only the plain HTTP port is used; the TLS port is bound because the server
 * insists on one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './ports.js';

export interface KinesisLocal {
  /** http://127.0.0.1:PORT, the plain-HTTP endpoint. */
  readonly endpoint: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const DURATIONS = [
  'CREATE_STREAM_DURATION',
  'DELETE_STREAM_DURATION',
  'REGISTER_STREAM_CONSUMER_DURATION',
  'DEREGISTER_STREAM_CONSUMER_DURATION',
  'START_STREAM_ENCRYPTION_DURATION',
  'STOP_STREAM_ENCRYPTION_DURATION',
  'MERGE_SHARDS_DURATION',
  'SPLIT_SHARD_DURATION',
  'UPDATE_SHARD_COUNT_DURATION',
  'UPDATE_STREAM_MODE_DURATION',
];

function packageFolder(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('kinesis-local/package.json'));
}

/** Whether an HTTP server answers on the endpoint (any status counts). */
async function answers(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'Kinesis_20131202.ListStreams' },
      body: '{}',
      signal: AbortSignal.timeout(2000),
    });
    await response.arrayBuffer();
    return true;
  } catch {
    return false;
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Starts kinesis-local and waits until it answers HTTP (at most `startTimeoutMs`). */
export async function startKinesisLocal(startTimeoutMs = 60_000): Promise<KinesisLocal> {
  const folder = packageFolder();
  const [plainPort, tlsPort] = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    KINESIS_MOCK_PLAIN_PORT: String(plainPort),
    KINESIS_MOCK_TLS_PORT: String(tlsPort),
    KINESIS_MOCK_CERT_PATH: join(folder, 'server.json'),
    SHARD_LIMIT: '1000',
    LOG_LEVEL: process.env.KINESIS_LOCAL_LOG_LEVEL ?? 'ERROR',
    ROOT_LOG_LEVEL: 'ERROR',
    SHOULD_PERSIST_DATA: 'false',
    AWS_REGION: 'us-east-1',
  };
  for (const name of DURATIONS) env[name] = '0ms';
  const child = spawn(process.execPath, [join(folder, 'main.js')], {
    cwd: folder,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-20_000);
    if (process.env.KINESIS_LOCAL_LOG_LEVEL !== undefined) process.stderr.write(chunk);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const endpoint = `http://127.0.0.1:${plainPort}`;
  const pid = child.pid;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited(child);
    clearTimeout(killer);
  };
  const deadline = Date.now() + startTimeoutMs;
  while (!(await answers(endpoint))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`kinesis-local exited (${child.exitCode ?? child.signalCode}) before answering:\n${output}`);
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`kinesis-local did not answer on ${endpoint} within ${startTimeoutMs} ms:\n${output}`);
    }
    await sleep(100);
  }
  if (pid === undefined) throw new Error('kinesis-local has no pid');
  return { endpoint, pid, stop };
}
