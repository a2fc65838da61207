/**
 * A TCP proxy between Kafka clients and a gateway that can drop or delay responses, for tests of
 * what clients do when a request was served but its answer never came (idempotent producers
 * retry, and the gateway must recognise the retry).
 *
 * It parses the Kafka framing in both directions (int32 size, then the request header's api key,
 * api version and correlation id, or the response's correlation id), so every response is matched
 * with the request it answers; the bytes themselves are forwarded unchanged. For each response a
 * `decide` callback chooses to pass it, hold it back for a while (later responses on the
 * connection wait behind it: Kafka answers in order), drop it, or drop it and close the client's
 * connection (the proxy then closes its upstream connection too). A `decideRequest` callback may
 * also cut a connection right after forwarding a request: the client sees the connection close
 * while the gateway is still serving the request, so its retry can arrive before the original
 * attempt's outcome is known.
 *
 * Clients must be sent to the proxy by the gateway's Metadata: run the gateway with
 * `--advertised-port <the proxy's port>`. Nothing is rewritten.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

/** API keys a test is likely to look at. */
export const API_KEY = { PRODUCE: 0, FETCH: 1, METADATA: 3, INIT_PRODUCER_ID: 22 } as const;

export interface ResponseInfo {
  /** Proxy connection number, from 1. */
  readonly connection: number;
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  /** Responses of this api key seen so far by the proxy (all connections), from 1. */
  readonly ordinal: number;
}

export type ResponseAction =
  | { readonly kind: 'pass' }
  /** Forwarded after delayMs; responses behind it on the connection wait too. */
  | { readonly kind: 'delay'; readonly delayMs: number }
  /** Never forwarded; the connection stays open. */
  | { readonly kind: 'drop' }
  /** Never forwarded, and the connection is closed (both sides). */
  | { readonly kind: 'drop-close' };

export interface RequestInfo {
  readonly connection: number;
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  /** Requests of this api key seen so far by the proxy (all connections), from 1. */
  readonly ordinal: number;
}

/** pass: forward it; cut: forward it, then close the client's side of the connection at once. */
export type RequestAction = 'pass' | 'cut';

export interface FaultProxyOptions {
  /** Where the proxy listens. */
  readonly host: string;
  readonly port: number;
  /** Where it forwards to. */
  readonly upstreamHost: string;
  readonly upstreamPort: number;
  /** What to do with each response (default: pass everything). */
  decide?: (info: ResponseInfo) => ResponseAction;
  /** What to do with each request (default: pass everything). */
  decideRequest?: (info: RequestInfo) => RequestAction;
}

export interface FaultProxyStats {
  connections: number;
  passed: number;
  delayed: number;
  dropped: number;
  closed: number;
  /** Connections cut right after a request. */
  cut: number;
  /** Responses seen per api key. */
  readonly perApi: Map<number, number>;
  /** Requests seen per api key. */
  readonly requestsPerApi: Map<number, number>;
}

/** Splits a byte stream into Kafka frames (size-prefixed), keeping the size prefix. */
class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Buffer[] = [];
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0);
      if (size < 0) throw new Error(`negative Kafka frame size ${size}`);
      if (this.buffered.length < 4 + size) break;
      frames.push(this.buffered.subarray(0, 4 + size));
      this.buffered = this.buffered.subarray(4 + size);
    }
    return frames;
  }
}

export class FaultProxy {
  readonly stats: FaultProxyStats = {
    connections: 0,
    passed: 0,
    delayed: 0,
    dropped: 0,
    closed: 0,
    cut: 0,
    perApi: new Map(),
    requestsPerApi: new Map(),
  };
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  private constructor(
    private readonly server: Server,
    private readonly options: FaultProxyOptions,
  ) {}

  static async start(options: FaultProxyOptions): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(server, options);
    server.on('connection', (client) => proxy.accept(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return proxy;
  }

  get address(): string {
    return `${this.options.host}:${this.options.port}`;
  }

  /** Replaces the policies (e.g. to stop injecting faults before the final reads). */
  setPolicies(
    decide: ((info: ResponseInfo) => ResponseAction) | undefined,
    decideRequest?: (info: RequestInfo) => RequestAction,
  ): void {
    this.options.decide = decide;
    this.options.decideRequest = decideRequest;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const connection = ++this.stats.connections;
    const upstream = connect(this.options.upstreamPort, this.options.upstreamHost);
    this.sockets.add(client);
    this.sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    /** correlation id -> the request's api key and version. */
    const requests = new Map<number, { apiKey: number; apiVersion: number }>();
    const requestFrames = new FrameReader();
    const responseFrames = new FrameReader();
    /** Responses are forwarded strictly in order; a delayed one holds back those behind it. */
    let sending: Promise<void> = Promise.resolve();
    let closed = false;

    const closeBoth = (): void => {
      if (closed) return;
      closed = true;
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    /**
     * Closes the client's side only; the upstream connection stays until the gateway has
     * answered what it was sent (answers are dropped), so the requests are served in full.
     */
    const cut = (): void => {
      if (closed) return;
      closed = true;
      client.destroy();
      this.sockets.delete(client);
      const finish = (): void => {
        clearTimeout(linger);
        this.timers.delete(linger);
        upstream.destroy();
        this.sockets.delete(upstream);
      };
      const linger = setTimeout(finish, 10_000);
      this.timers.add(linger);
      upstream.on('data', () => {
        if (requests.size === 0) finish();
      });
    };
    client.on('error', closeBoth);
    upstream.on('error', closeBoth);
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);

    client.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = requestFrames.push(chunk);
      } catch {
        closeBoth();
        return;
      }
      for (const frame of frames) {
        if (closed) return;
        if (frame.length < 12) {
          upstream.write(frame);
          continue;
        }
        const apiKey = frame.readInt16BE(4);
        const apiVersion = frame.readInt16BE(6);
        const correlationId = frame.readInt32BE(8);
        requests.set(correlationId, { apiKey, apiVersion });
        const ordinal = (this.stats.requestsPerApi.get(apiKey) ?? 0) + 1;
        this.stats.requestsPerApi.set(apiKey, ordinal);
        upstream.write(frame);
        if (this.options.decideRequest?.({ connection, apiKey, apiVersion, correlationId, ordinal }) === 'cut') {
          this.stats.cut++;
          cut();
          return;
        }
      }
    });

    upstream.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = responseFrames.push(chunk);
      } catch {
        closeBoth();
        return;
      }
      for (const frame of frames) {
        const correlationId = frame.length >= 8 ? frame.readInt32BE(4) : -1;
        const request = requests.get(correlationId);
        requests.delete(correlationId);
        if (closed) continue; // cut: the client is gone
        const apiKey = request?.apiKey ?? -1;
        const ordinal = (this.stats.perApi.get(apiKey) ?? 0) + 1;
        this.stats.perApi.set(apiKey, ordinal);
        const action = this.options.decide?.({
          connection,
          apiKey,
          apiVersion: request?.apiVersion ?? -1,
          correlationId,
          ordinal,
        }) ?? { kind: 'pass' };
        sending = sending.then(() => this.forward(action, frame, client, closeBoth));
      }
    });
  }

  private async forward(action: ResponseAction, frame: Buffer, client: Socket, closeBoth: () => void): Promise<void> {
    switch (action.kind) {
      case 'pass':
        this.stats.passed++;
        if (!client.destroyed) client.write(frame);
        return;
      case 'delay':
        this.stats.delayed++;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            resolve();
          }, action.delayMs);
          this.timers.add(timer);
        });
        if (!client.destroyed) client.write(frame);
        return;
      case 'drop':
        this.stats.dropped++;
        return;
      case 'drop-close':
        this.stats.dropped++;
        this.stats.closed++;
        closeBoth();
        return;
    }
  }
}
