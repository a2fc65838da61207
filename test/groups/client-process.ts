/** A long-running client in a child process that reports JSON lines and takes commands on stdin. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { DEBIAN_PYTHON } from '../support/librdkafka.js';

export interface ClientEvent {
  readonly event: string;
  readonly partitions?: number[];
  readonly partition?: number;
  readonly offset?: number | string;
  readonly value?: string | null;
  readonly [key: string]: unknown;
}

export class ClientProcess {
  readonly events: ClientEvent[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  private waiters: (() => void)[] = [];

  private constructor(command: string, args: string[], readonly name: string) {
    this.child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as ClientEvent);
      } catch {
        this.stderr.push(`stdout: ${line}`);
      }
      this.wake();
    });
    this.child.stderr!.on('data', (d: Buffer) => this.stderr.push(d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => {
      this.wake();
      resolve(code);
    }));
  }

  /** test/e2e/clients/librdkafka_group_member.py with Debian's python (confluent-kafka). */
  static librdkafka(name: string, spec: Record<string, unknown>): ClientProcess {
    const script = fileURLToPath(new URL('../e2e/clients/librdkafka_group_member.py', import.meta.url));
    return new ClientProcess(DEBIAN_PYTHON, [script, JSON.stringify({ client_id: name, ...spec })], name);
  }

  /** test/e2e/clients/kafkajs_group_member.mjs in another node process. */
  static kafkajs(name: string, spec: Record<string, unknown>): ClientProcess {
    const script = fileURLToPath(new URL('../e2e/clients/kafkajs_group_member.mjs', import.meta.url));
    return new ClientProcess(process.execPath, [script, JSON.stringify({ client_id: name, ...spec })], name);
  }

  send(command: string): void {
    this.child.stdin!.write(`${command}\n`);
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.child.kill(signal);
  }

  /** The partitions of the latest assignment (librdkafka: empty after a revoke). */
  get assignment(): number[] | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i] as ClientEvent;
      if (e.event === 'assigned') return e.partitions ?? [];
      if (e.event === 'revoked') return [];
    }
    return undefined;
  }

  count(event: string): number {
    return this.events.filter((e) => e.event === event).length;
  }

  /** Waits until the predicate holds over the events seen so far. */
  async waitFor(what: string, predicate: (events: readonly ClientEvent[]) => boolean, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.events)) {
      if (Date.now() > deadline) {
        throw new Error(`${this.name}: no ${what} within ${timeoutMs} ms; events ${JSON.stringify(this.events.slice(-10))}; stderr ${this.stderr.join('').slice(-2000)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(timeoutMs = 20_000): Promise<void> {
    this.send('close');
    const timer = setTimeout(() => this.kill(), timeoutMs);
    await this.exited;
    clearTimeout(timer);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}

/** Polls until the check passes (returns true) or the time runs out. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
