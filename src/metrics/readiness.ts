/**
 * /readyz: whether this node can serve. Each check is cheap (one small AWS call, or a look at
 * in-memory leases), runs with a short timeout, and its result is kept a few seconds, so a
 * probe every second costs at most one storage call per check per few seconds.
 */
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListStreamsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import type { Clock } from './meters.js';
import { monotonicClock } from './meters.js';
import type { LogStateProvider } from './providers.js';

export interface ReadinessCheck {
  readonly name: string;
  /** Resolves null when healthy, or the reason it is not. May reject (taken as not ready). */
  check(signal: AbortSignal): Promise<string | null>;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly reason?: string;
}

export interface ReadinessStatus {
  readonly ready: boolean;
  /** The first failing check's reason, when not ready. */
  readonly reason?: string;
  readonly checks: Readonly<Record<string, CheckResult>>;
}

export interface ReadinessOptions {
  /** How long a result is reused (default 3000 ms). */
  readonly cacheMs?: number;
  /** How long a check may take before it counts as failed (default 1500 ms). */
  readonly timeoutMs?: number;
  readonly clock?: Clock;
}

interface Cached {
  readonly atMs: number;
  readonly result: Promise<CheckResult>;
}

export class Readiness {
  private readonly cacheMs: number;
  private readonly timeoutMs: number;
  private readonly clock: Clock;
  private readonly cache = new Map<string, Cached>();

  constructor(
    private readonly checks: readonly ReadinessCheck[],
    options: ReadinessOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? 3000;
    this.timeoutMs = options.timeoutMs ?? 1500;
    this.clock = options.clock ?? monotonicClock;
  }

  async status(): Promise<ReadinessStatus> {
    const results = await Promise.all(this.checks.map((c) => this.run(c)));
    const checks: Record<string, CheckResult> = {};
    let reason: string | undefined;
    this.checks.forEach((c, i) => {
      const result = results[i] as CheckResult;
      checks[c.name] = result;
      if (!result.ok && reason === undefined) reason = `${c.name}: ${result.reason ?? 'failed'}`;
    });
    return reason === undefined ? { ready: true, checks } : { ready: false, reason, checks };
  }

  private run(check: ReadinessCheck): Promise<CheckResult> {
    const now = this.clock();
    const cached = this.cache.get(check.name);
    if (cached !== undefined && now - cached.atMs < this.cacheMs) return cached.result;
    const result = this.runOnce(check);
    this.cache.set(check.name, { atMs: now, result });
    return result;
  }

  private async runOnce(check: ReadinessCheck): Promise<CheckResult> {
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => {
        controller.abort();
        resolve(`no answer within ${this.timeoutMs} ms`);
      }, this.timeoutMs);
    });
    try {
      const reason = await Promise.race([check.check(controller.signal), timeout]);
      return reason === null ? { ok: true } : { ok: false, reason };
    } catch (err) {
      return { ok: false, reason: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
    } finally {
      clearTimeout(timer);
    }
  }
}

/** DynamoDB reachable: DescribeTable of one of the gateway's tables answers, and it is ACTIVE. */
export function dynamoTableCheck(client: DynamoDBClient, tableName: string): ReadinessCheck {
  return {
    name: 'dynamodb',
    async check(signal) {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }), { abortSignal: signal });
      const status = Table?.TableStatus;
      return status === 'ACTIVE' || status === 'UPDATING' ? null : `table ${tableName} is ${status ?? 'missing'}`;
    },
  };
}

/** Kinesis reachable: ListStreams with a limit of one answers. */
export function kinesisCheck(client: KinesisClient): ReadinessCheck {
  return {
    name: 'kinesis',
    async check(signal) {
      await client.send(new ListStreamsCommand({ Limit: 1 }), { abortSignal: signal });
      return null;
    },
  };
}

/**
 * Leases held: every partition this node serves has a lease that has not expired (renewals keep
 * failing otherwise, and the node should stop taking traffic).
 */
export function leasesCheck(logState: LogStateProvider, wallClock: () => number = Date.now): ReadinessCheck {
  return {
    name: 'leases',
    async check() {
      const partitions = await logState.partitions();
      const now = wallClock();
      const expired = partitions.filter((p) => p.leaseExpiresAtMs !== undefined && p.leaseExpiresAtMs <= now);
      if (expired.length === 0) return null;
      const first = expired[0] as (typeof expired)[number];
      return `${expired.length} partition lease(s) expired, e.g. ${first.topic}-${first.partition}`;
    },
  };
}
