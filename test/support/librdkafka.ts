import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's python3, which has confluent-kafka (librdkafka); plain `python3` may not. */
export const DEBIAN_PYTHON = '/usr/bin/python3';

/** Runs a script from test/e2e/clients with Debian's python and parses its JSON output. */
export async function runPythonClient<T>(script: string, args: string[], timeoutMs = 60_000): Promise<T> {
  const path = fileURLToPath(new URL(`../e2e/clients/${script}`, import.meta.url));
  const { stdout } = await run(DEBIAN_PYTHON, [path, ...args], { timeout: timeoutMs, maxBuffer: 256 << 20 });
  return JSON.parse(stdout) as T;
}

export async function kcat(args: string[], options: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const child = execFile('kcat', args, { timeout: options.timeoutMs ?? 60_000, maxBuffer: 256 << 20 });
  if (options.input !== undefined) child.stdin?.end(options.input);
  else child.stdin?.end();
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`kcat ${args.join(' ')} exited ${code}: ${stderr}`);
  return stdout;
}
