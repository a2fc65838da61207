import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ApiRegistry, RequestContext } from '../apis/handler.js';
import {
  ApiKey,
  RESPONSE_CODECS,
  REQUEST_CODECS,
  requestHeader,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import { ProtocolDecodeError, Reader, Writer } from '../protocol/primitives.js';
import { FrameReader, FrameSizeError } from './frames.js';

export interface ConnectionOptions {
  readonly id: number;
  readonly registry: ApiRegistry;
  readonly log: Logger;
  readonly maxRequestBytes: number;
  /** Requests read but not yet answered before the connection stops reading. */
  readonly maxInFlight: number;
  /** Builds the ApiVersions v0 answer for a version the gateway does not know (KIP-511). */
  readonly apiVersionsFallback: (correlationId: number) => Buffer;
  /** Called as each response is written (or dropped, acks=0): Kafka's request name, version, ms since dispatch. */
  readonly onRequest?: (api: string, apiVersion: number, totalTimeMs: number) => void;
}

/** A response slot, filled when its request completes; slots are written in request order. */
interface Slot {
  done: boolean;
  /** The response frame, in parts (large record sets are not copied into it). */
  bytes: readonly Uint8Array[] | null;
  /** For onRequest: the API's name (undefined for an unknown API key), version and dispatch time. */
  readonly api?: string;
  readonly apiVersion?: number;
  readonly startedMs?: number;
}

/**
 * One client connection: frames in, requests dispatched in arrival order, responses written
 * in request order. Anything that does not parse closes this connection and nothing else.
 */
export class Connection {
  private readonly frames: FrameReader;
  private readonly queue: Slot[] = [];
  private closed = false;
  private paused = false;
  private idleWaiters: (() => void)[] = [];
  readonly remoteAddress: string;
  readonly log: Logger;

  constructor(
    private readonly socket: Socket,
    private readonly options: ConnectionOptions,
  ) {
    this.frames = new FrameReader(options.maxRequestBytes);
    this.remoteAddress = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    this.log = options.log.child({ connection: options.id, remote: this.remoteAddress });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'socket error'));
    socket.on('close', () => this.onClose());
  }

  get inFlight(): number {
    return this.queue.length;
  }

  /** Resolves once every request read so far has been answered. */
  whenIdle(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops reading new requests (shutdown); those already read are still answered. */
  stopReading(): void {
    this.socket.pause();
    this.paused = true;
  }

  close(): void {
    if (!this.closed) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.frames.push(chunk);
    } catch (err) {
      this.fail(err);
      return;
    }
    for (const frame of frames) {
      if (this.closed) return;
      this.dispatch(frame);
    }
    if (this.queue.length >= this.options.maxInFlight && !this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private dispatch(frame: Buffer): void {
    let apiKey: number;
    let apiVersion: number;
    let correlationId: number;
    try {
      apiKey = frame.readInt16BE(0);
      apiVersion = frame.readInt16BE(2);
      correlationId = frame.readInt32BE(4);
    } catch (err) {
      this.fail(err);
      return;
    }
    const api = this.options.registry.get(apiKey);
    const receivedAtMs = performance.now();
    const slot: Slot = { done: false, bytes: null, api: api?.name, apiVersion, startedMs: receivedAtMs };
    this.queue.push(slot);

    if (apiKey === ApiKey.ApiVersions && api !== undefined && apiVersion > api.maxVersion) {
      this.complete(slot, [this.options.apiVersionsFallback(correlationId)]);
      return;
    }
    if (api === undefined || apiVersion < api.minVersion || apiVersion > api.maxVersion) {
      this.log.info({ apiKey, apiVersion }, 'unsupported API key or version');
      this.complete(slot, [unsupportedVersionResponse(apiKey, apiVersion, correlationId)]);
      return;
    }

    let request: unknown;
    let context: RequestContext;
    try {
      const reader = new Reader(frame);
      const header = requestHeader.decode(reader, requestHeaderVersion(apiKey, apiVersion));
      request = api.decode(reader, apiVersion);
      if (reader.remaining !== 0) {
        throw new ProtocolDecodeError(`${reader.remaining} bytes left after the ${api.name} request`);
      }
      context = {
        apiVersion,
        correlationId,
        clientId: header.clientId,
        connectionId: this.options.id,
        remoteAddress: this.remoteAddress,
        receivedAtMs,
        log: this.log,
      };
    } catch (err) {
      this.fail(err, { api: api.name, apiVersion });
      return;
    }

    api.run(request, context).then(
      (encodeBody) => {
        if (encodeBody === null) {
          this.complete(slot, null);
          return;
        }
        const writer = new Writer(1024);
        const sizeDone = writer.int32LengthPrefix();
        writeResponseHeader(writer, apiKey, apiVersion, correlationId);
        encodeBody(writer);
        sizeDone();
        this.complete(slot, writer.finishParts());
      },
      (err: unknown) => {
        this.log.error({ err, api: api.name, apiVersion, correlationId }, 'request failed');
        this.fail(err, { api: api.name });
      },
    );
  }

  private complete(slot: Slot, bytes: readonly Uint8Array[] | null): void {
    slot.done = true;
    slot.bytes = bytes;
    while (this.queue.length > 0 && (this.queue[0] as Slot).done) {
      const head = this.queue.shift() as Slot;
      if (head.bytes !== null && !this.closed) this.send(head.bytes);
      if (head.api !== undefined) this.options.onRequest?.(head.api, head.apiVersion ?? 0, performance.now() - (head.startedMs ?? 0));
    }
    if (this.queue.length < this.options.maxInFlight && this.paused && !this.closed) {
      this.paused = false;
      this.socket.resume();
    }
    if (this.queue.length === 0) this.wakeIdle();
  }

  /** One vectored write of a frame's parts. */
  private send(parts: readonly Uint8Array[]): void {
    if (parts.length === 1) {
      this.socket.write(parts[0] as Uint8Array);
      return;
    }
    this.socket.cork();
    for (const part of parts) this.socket.write(part);
    this.socket.uncork();
  }

  private fail(err: unknown, fields: Record<string, unknown> = {}): void {
    const known = err instanceof ProtocolDecodeError || err instanceof FrameSizeError || err instanceof RangeError;
    const message = err instanceof Error ? err.message : String(err);
    this.log.warn({ ...fields, reason: message, kind: known ? 'malformed' : 'internal' }, 'closing connection');
    this.closed = true;
    this.queue.length = 0;
    this.wakeIdle();
    this.socket.destroy();
  }

  private onClose(): void {
    this.closed = true;
    this.queue.length = 0;
    this.wakeIdle();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

function writeResponseHeader(writer: Writer, apiKey: number, apiVersion: number, correlationId: number): void {
  writer.int32(correlationId);
  if (responseHeaderVersion(apiKey, apiVersion) >= 1) writer.uvarint(0);
}

/**
 * UNSUPPORTED_VERSION for an API or version the gateway does not serve. Where the message
 * definitions know the response at that version, it is that response with its top-level
 * error code set; otherwise the correlation id and the error code alone, the same shape as
 * an ApiVersions v0 error, which is all a client can be expected to read.
 */
export function unsupportedVersionResponse(apiKey: number, apiVersion: number, correlationId: number): Buffer {
  const writer = new Writer(64);
  const sizeDone = writer.int32LengthPrefix();
  const codec = RESPONSE_CODECS.get(apiKey);
  if (
    codec !== undefined &&
    REQUEST_CODECS.has(apiKey) &&
    apiVersion >= codec.minVersion &&
    apiVersion <= codec.maxVersion
  ) {
    const body = codec.create() as Record<string, unknown>;
    if ('errorCode' in body) body.errorCode = ErrorCode.UNSUPPORTED_VERSION;
    writeResponseHeader(writer, apiKey, apiVersion, correlationId);
    codec.encode(writer, body, apiVersion);
  } else {
    writer.int32(correlationId).int16(ErrorCode.UNSUPPORTED_VERSION);
  }
  sizeDone();
  return writer.finish();
}
