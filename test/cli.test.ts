import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { CONFIG_OPTIONS } from '../src/config.js';
import { freePort } from './support/ports.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'src/cli.ts'];

test('--help lists every flag with its environment twin', async () => {
  const { stdout } = await run(process.execPath, [...CLI, '--help']);
  for (const option of CONFIG_OPTIONS) {
    assert.match(stdout, new RegExp(`--${option.flag} .*\\[${option.env}\\]`));
  }
  assert.match(stdout, /--config <file>/);
});

test('--version prints the package version', async () => {
  const { stdout } = await run(process.execPath, [...CLI, '--version']);
  assert.match(stdout.trim(), /^\d+\.\d+\.\d+/);
});

test('an unknown flag or a bad value stops with a message naming it', async () => {
  await assert.rejects(run(process.execPath, [...CLI, '--no-such-flag']), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /no-such-flag/);
    return true;
  });
  await assert.rejects(run(process.execPath, [...CLI, '--port', 'ninety']), (err: { code: number; stderr: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr, /--port \(KKG_PORT, "port"\)/);
    return true;
  });
  await assert.rejects(
    run(process.execPath, [...CLI], { env: { ...process.env, KKG_LOG_LEVEL: 'loud' } }),
    (err: { stderr: string }) => /--log-level \(KKG_LOG_LEVEL/.test(err.stderr),
  );
});

test('npm start passes flags through, serves clients, and exits 0 on SIGTERM', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const metricsPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'kkg-cli-'));
  const child = spawn('npm', ['start', '--silent', '--', '--port', String(port), '--data-dir', dataDir], {
    env: { ...process.env, KKG_METRICS_PORT: String(metricsPort), KKG_HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const deadline = Date.now() + 30_000;
    while (!output.includes('gateway listening')) {
      if (Date.now() > deadline) throw new Error(`gateway did not start:\n${output}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const line = JSON.parse(output.split('\n').find((l) => l.includes('gateway listening')) ?? '{}') as {
      port: number;
      metricsPort: number;
      pid: number;
    };
    assert.equal(line.port, port);
    assert.equal(line.metricsPort, metricsPort);
    const admin = new Kafka({ brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    assert.equal((await admin.describeCluster()).brokers[0]?.port, port);
    await admin.disconnect();
    const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    assert.equal(health.status, 200);

    const started = Date.now();
    // npm runs the gateway as its child: signal the gateway, as a supervisor signals its process.
    process.kill(line.pid, 'SIGTERM');
    assert.equal(await exited, 0, 'the gateway exits 0 and npm passes that on');
    assert.ok(Date.now() - started < 5000, 'stops within a few seconds');
    assert.match(output, /gateway stopped/);
  } finally {
    if (child.exitCode === null) process.kill(-(child.pid as number), 'SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  }
});
