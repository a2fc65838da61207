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

export async function startLocalAwsProcess(kind: LocalAwsKind): Promise<LocalService & { readonly pid: number }> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, kind], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_NO_WARNINGS: '1' },
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-5000)));
  const endpoint = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once('line', (line) => resolve((JSON.parse(line) as { endpoint: string }).endpoint));
    child.once('exit', (code) => reject(new Error(`${kind} exited (${code}) before listening: ${stderr}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    pid: child.pid as number,
    endpoint,
    async close() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}
