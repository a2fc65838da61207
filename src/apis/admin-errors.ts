import type { Logger } from 'pino';
import { ErrorCode } from '../protocol/errors.js';
import { TopicError } from '../log/topic-error.js';

export interface AdminErrorResult {
  readonly errorCode: number;
  readonly errorMessage: string;
}

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** An AWS or network failure that may pass if the client retries (DESIGN.md section 8). */
function isTransient(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; code?: unknown; $fault?: unknown; $retryable?: unknown };
  if (e.$fault === 'server' || e.$retryable !== undefined) return true;
  if (e.name === 'TimeoutError' || e.name === 'RequestTimeout') return true;
  return typeof e.code === 'string' && NETWORK_CODES.has(e.code);
}

/**
 * The per-topic or per-resource error an admin API reports for a failed operation. TopicErrors
 * carry their own code and message; anything else is logged and reported as retriable
 * (REQUEST_TIMED_OUT) when it looks like an AWS or network hiccup, else UNKNOWN_SERVER_ERROR.
 */
export function adminError(err: unknown, log: Logger, what: string): AdminErrorResult {
  if (err instanceof TopicError) return { errorCode: err.code, errorMessage: err.message };
  const detail = err instanceof Error ? err.message : String(err);
  if (isTransient(err)) {
    log.warn({ err }, `${what} failed; the client may retry`);
    return { errorCode: ErrorCode.REQUEST_TIMED_OUT, errorMessage: `${what} failed, try again: ${detail}` };
  }
  log.error({ err }, `${what} failed`);
  return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, errorMessage: `${what} failed: ${detail}` };
}

/** The names that occur more than once. */
export function duplicates(names: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const twice = new Set<string>();
  for (const name of names) (seen.has(name) ? twice : seen).add(name);
  return twice;
}

/** Kafka ConfigResource.Type codes. */
export const ResourceType = {
  UNKNOWN: 0,
  TOPIC: 2,
  BROKER: 4,
  BROKER_LOGGER: 8,
  CLIENT_METRICS: 16,
  GROUP: 32,
} as const;
