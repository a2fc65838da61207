import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's python3, which has confluent-kafka (librdkafka); plain `python3` may not. */
export const DEBIAN_PYTHON = '/usr/bin/python3';

/**
 * Runs a script from test/e2e/clients with Debian's python and parses its JSON output. With
 * `input`, the text is written to the script's standard input (for specs too large for argv).
 */
export async function runPythonClient<T>(script: string, args: string[], timeoutMs = 60_000, input?: string): Promise<T> {
  const path = fileURLToPath(new URL(`../e2e/clients/${script}`, import.meta.url));
  const running = run(DEBIAN_PYTHON, [path, ...args], { timeout: timeoutMs, maxBuffer: 256 << 20 });
  running.child.stdin?.end(input ?? '');
  try {
    const { stdout } = await running;
    return JSON.parse(stdout) as T;
  } catch (err) {
    // The error repeats the whole command line and output: keep its head and the stderr tail.
    const e = err as { message?: string; stderr?: string; code?: unknown; signal?: unknown };
    const head = (e.message ?? String(err)).slice(0, 300);
    throw new Error(`${script} failed (code ${String(e.code)}, signal ${String(e.signal)}): ${head}\nstderr: ${(e.stderr ?? '').slice(-2000)}`, {
      cause: err,
    });
  }
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
