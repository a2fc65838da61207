/**
 * The Kinesis client and error classifiers (DESIGN.md sections 8 and 10).
 *
 * The AWS SDK v3 Kinesis client defaults to HTTP/2 for some operations; local servers
 * (kinesalite, kinesis-mock) need HTTP/1.1, which is also the right choice for
 * PutRecords/GetRecords against AWS, so the client always uses NodeHttpHandler with
 * keep-alive agents.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { awsErrorName } from '../aws/errors.js';

export interface KinesisCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface KinesisClientOptions {
  /** e.g. http://127.0.0.1:4567 for kinesalite; omitted for AWS. */
  endpoint?: string;
  region: string;
  /** Static credentials (local servers accept any); omitted: the SDK's default provider chain. */
  credentials?: KinesisCredentials;
  /** SDK attempts per call, retries included (default 3). Use 1 to see every throttle yourself. */
  maxAttempts?: number;
  /** TCP connect timeout, ms (default 5000). */
  connectionTimeoutMs?: number;
  /** Whole request/response timeout, ms (default 30000). */
  requestTimeoutMs?: number;
  /** Sockets per agent (default 64). */
  maxSockets?: number;
}

export function createKinesisClient(options: KinesisClientOptions): KinesisClient {
  const maxSockets = options.maxSockets ?? 64;
  const agentOptions = { keepAlive: true, keepAliveMsecs: 1000, maxSockets };
  const requestHandler = new NodeHttpHandler({
    connectionTimeout: options.connectionTimeoutMs ?? 5000,
    requestTimeout: options.requestTimeoutMs ?? 30_000,
    throwOnRequestTimeout: true,
    httpAgent: new HttpAgent(agentOptions),
    httpsAgent: new HttpsAgent(agentOptions),
  });
  return new KinesisClient({
    region: options.region,
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    maxAttempts: options.maxAttempts ?? 3,
    requestHandler,
  });
}

/** Error names (and PutRecords per-record ErrorCodes) that mean "slow down and retry". */
const THROTTLE_NAMES = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'KMSThrottlingException',
  'ThrottlingException',
]);

/**
 * ProvisionedThroughputExceeded, LimitExceeded (also KMS/generic throttling). Note that Kinesis
 * also uses LimitExceededException for account limits (e.g. too many shards at CreateStream),
 * which no retry fixes: callers bound retries by the request's timeout.
 */
export function isThrottle(err: unknown): boolean {
  const name = awsErrorName(err);
  return name !== undefined && THROTTLE_NAMES.has(name);
}

/** A PutRecords result entry's ErrorCode that is a throttle. */
export function isThrottleCode(code: string | undefined): boolean {
  return code !== undefined && THROTTLE_NAMES.has(code);
}

/** ResourceNotFoundException (stream or shard does not exist): UNKNOWN_TOPIC_OR_PARTITION. */
export function isNotFound(err: unknown): boolean {
  return awsErrorName(err) === 'ResourceNotFoundException';
}
