/**
 * Timing of every AWS SDK call (and Redis command) by operation, without touching the code that
 * makes the calls: an SDK v3 middleware at the initialize step (so the time includes the SDK's
 * own retries, i.e. what the caller waited) and a wrapper of ioredis's sendCommand.
 */
import { awsErrorName } from '../aws/errors.js';

export type CallOutcome = 'ok' | 'error' | 'throttled';

export interface ObservedCall {
  /** The API operation, e.g. PutRecords, GetRecords, DescribeTable. */
  readonly operation: string;
  readonly durationMs: number;
  readonly outcome: CallOutcome;
  /** The service error name when the call failed. */
  readonly errorName?: string;
  readonly input: unknown;
  /** The parsed response when the call succeeded. */
  readonly output?: unknown;
}

export type CallObserver = (call: ObservedCall) => void;

/** The part of an SDK v3 client this needs (every @aws-sdk client has it). */
export interface ObservableAwsClient {
  readonly middlewareStack: {
    // The SDK's middleware types are generic in each client's input and output unions; the
    // middleware below handles any, so it is passed through `never`.
    add(middleware: never, options: { step: 'initialize'; name: string; override?: boolean }): void;
  };
}

type MiddlewareNext = (args: { readonly input: unknown }) => Promise<{ readonly output: unknown }>;
type Middleware = (next: MiddlewareNext, context: { readonly commandName?: string }) => MiddlewareNext;

const MIDDLEWARE_NAME = 'kafkaKinesisGatewayCallObserver';

/** Reports every call made through `client` to `observer`; `isThrottle` classifies failures. */
export function observeAwsClient(client: ObservableAwsClient, observer: CallObserver, isThrottle: (err: unknown) => boolean): void {
  const middleware: Middleware = (next, context) => async (args) => {
    const started = performance.now();
    const operation = (context.commandName ?? 'Unknown').replace(/Command$/, '');
    let result: { readonly output: unknown };
    try {
      result = await next(args);
    } catch (err) {
      report(observer, {
        operation,
        durationMs: performance.now() - started,
        outcome: isThrottle(err) ? 'throttled' : 'error',
        errorName: awsErrorName(err) ?? 'Error',
        input: args.input,
      });
      throw err;
    }
    report(observer, { operation, durationMs: performance.now() - started, outcome: 'ok', input: args.input, output: result.output });
    return result;
  };
  client.middlewareStack.add(middleware as never, { step: 'initialize', name: MIDDLEWARE_NAME, override: true });
}

function report(observer: CallObserver, call: ObservedCall): void {
  try {
    observer(call);
  } catch {
    // Metrics never break a call.
  }
}

/** The part of an ioredis client this needs. */
export interface ObservableRedis {
  sendCommand(command: RedisCommandLike, ...rest: never[]): unknown;
}

export interface RedisCommandLike {
  readonly name: string;
  readonly promise: Promise<unknown>;
}

/** Reports every command sent through an ioredis client (scripts appear as evalsha/eval). */
export function observeRedis(redis: ObservableRedis, observer: CallObserver): void {
  const original = redis.sendCommand.bind(redis) as (command: RedisCommandLike, ...rest: unknown[]) => unknown;
  redis.sendCommand = (command: RedisCommandLike, ...rest: unknown[]): unknown => {
    const started = performance.now();
    const operation = command.name;
    command.promise.then(
      () => report(observer, { operation, durationMs: performance.now() - started, outcome: 'ok', input: undefined }),
      (err: unknown) =>
        report(observer, {
          operation,
          durationMs: performance.now() - started,
          outcome: 'error',
          errorName: awsErrorName(err) ?? 'Error',
          input: undefined,
        }),
    );
    return original(command, ...rest);
  };
}

const DYNAMODB_THROTTLES: ReadonlySet<string> = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded']);

/** DynamoDB's throttling errors (provisioned capacity, account request rate). */
export function isDynamoThrottle(err: unknown): boolean {
  return DYNAMODB_THROTTLES.has(awsErrorName(err) ?? '');
}
