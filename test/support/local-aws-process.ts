/**
 * kinesalite or dynalite in a child process of its own (in memory), for tests whose test process
 * is busy with clients: several gateway processes calling a stand-in that shares the test's event
 * loop would wait on every client the test runs.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { LocalService } from '../../src/embedded-aws.js';

const MAIN = fileURLToPath(new URL('./local-aws-main.ts', import.meta.url));
/** The repository, where `--import tsx` is resolved. */
const REPO = fileURLToPath(new URL('../../', import.meta.url));

export type LocalAwsKind = 'kinesalite' | 'dynalite';

export interface LocalAwsProcess extends LocalService {
  readonly pid: number;
  /** Moves the stand-in's clock forward (kinesalite then expires records older than the retention period). */
  advanceClock(ms: number): Promise<void>;
}

export async function startLocalAwsProcess(kind: LocalAwsKind): Promise<LocalAwsProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, kind], {
    cwd: REPO,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_NO_WARNINGS: '1' },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-5000)));
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const endpoint = await new Promise<string>((resolve, reject) => {
    lines.once('line', (line) => resolve((JSON.parse(line) as { endpoint: string }).endpoint));
    child.once('exit', (code) => reject(new Error(`${kind} exited (${code}) before listening: ${stderr}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid as number,
    endpoint,
    async advanceClock(ms: number) {
      const answered = new Promise<void>((resolve) => lines.once('line', () => resolve()));
      child.stdin?.write(`advance-clock ${ms}\n`);
      await answered;
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
