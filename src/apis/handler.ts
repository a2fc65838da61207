import type { Logger } from 'pino';
import type { MessageCodec } from '../protocol/codec.js';
import type { Reader, Writer } from '../protocol/primitives.js';

/** What a handler knows about the request beyond its body. */
export interface RequestContext {
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  readonly connectionId: number;
  readonly remoteAddress: string;
  /**
   * When the request was read off its connection (performance.now()): a partition whose lease
   * this node lost after that refuses it, since it may have been sent to a leader that was paused.
   */
  readonly receivedAtMs: number;
  readonly log: Logger;
}

/**
 * One Kafka API. `handle` is called in the order requests arrive on a connection, without
 * waiting for earlier requests to finish; a handler whose side effects must keep that order
 * (Produce) claims its place before its first `await`. Responses go out in request order.
 * Returning null sends no response (Produce with acks=0).
 */
export interface ApiHandler<Req, Res> {
  readonly request: MessageCodec<Req>;
  readonly response: MessageCodec<Res>;
  /** Versions served; a subset of the codec's, kept to what the handler really implements. */
  readonly minVersion: number;
  readonly maxVersion: number;
  handle(request: Req, context: RequestContext): Promise<Res | null> | Res | null;
}

/** A handler with its message types erased, as the server dispatches it. */
export interface RegisteredApi {
  readonly apiKey: number;
  readonly name: string;
  readonly minVersion: number;
  readonly maxVersion: number;
  decode(reader: Reader, version: number): unknown;
  /** Runs the handler on a decoded request; resolves to an encoder for the response body. */
  run(request: unknown, context: RequestContext): Promise<((writer: Writer) => void) | null>;
}

export function registerApi<Req, Res>(handler: ApiHandler<Req, Res>): RegisteredApi {
  const { request: requestCodec, response: responseCodec } = handler;
  if (handler.minVersion < requestCodec.minVersion || handler.maxVersion > requestCodec.maxVersion) {
    throw new RangeError(`${requestCodec.name}: served versions exceed the message definition`);
  }
  return {
    apiKey: requestCodec.apiKey,
    name: requestCodec.name.replace(/Request$/, ''),
    minVersion: handler.minVersion,
    maxVersion: handler.maxVersion,
    decode: (reader, version) => requestCodec.decode(reader, version),
    async run(request, context) {
      const response = await handler.handle(request as Req, context);
      if (response === null) return null;
      return (writer) => responseCodec.encode(writer, response, context.apiVersion);
    },
  };
}

export class ApiRegistry {
  private readonly apis = new Map<number, RegisteredApi>();

  add(api: RegisteredApi): this {
    if (this.apis.has(api.apiKey)) throw new Error(`API ${api.name} registered twice`);
    this.apis.set(api.apiKey, api);
    return this;
  }

  get(apiKey: number): RegisteredApi | undefined {
    return this.apis.get(apiKey);
  }

  /** Served APIs in api-key order, as ApiVersions advertises them. */
  list(): RegisteredApi[] {
    return [...this.apis.values()].sort((a, b) => a.apiKey - b.apiKey);
  }
}
