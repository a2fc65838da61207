import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { ApiRegistry } from '../apis/handler.js';
import { Connection } from './connection.js';

export interface KafkaServerOptions {
  readonly host: string;
  readonly port: number;
  readonly registry: ApiRegistry;
  readonly log: Logger;
  /** socket.request.max.bytes */
  readonly maxRequestBytes: number;
  readonly maxInFlightPerConnection: number;
  readonly apiVersionsFallback: (correlationId: number) => Buffer;
  /** Each request answered: Kafka's request name, version and ms from dispatch to response written. */
  readonly onRequest?: (api: string, apiVersion: number, totalTimeMs: number) => void;
  /** Each connection accepted and closed. */
  readonly onConnection?: (event: 'opened' | 'closed') => void;
}

/** The TCP listener: accepts connections and hands each one to a Connection. */
export class KafkaServer {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private readonly waiting = new Set<Socket>();
  private serving = false;
  private nextConnectionId = 1;

  constructor(private readonly options: KafkaServerOptions) {
    this.server = createServer((socket) => this.accept(socket));
  }

  /**
   * Opens the listener. With `holdConnections`, connections accepted until serve() wait unread
   * (the gateway registers its node, which needs the port, before its handlers are ready).
   */
  async listen(options: { holdConnections?: boolean } = {}): Promise<{ host: string; port: number }> {
    this.serving = options.holdConnections !== true;
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('listener has no TCP address');
    return { host: address.address, port: address.port };
  }

  /** Starts reading requests, of the connections that waited too. */
  serve(): void {
    this.serving = true;
    for (const socket of this.waiting) {
      this.waiting.delete(socket);
      socket.removeAllListeners('error');
      this.connect(socket);
      socket.resume();
    }
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /**
   * Stops accepting, lets every connection answer what it has already read, then closes them.
   * Connections still busy after `graceMs` are cut.
   */
  async close(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.waiting) socket.destroy();
    for (const connection of this.connections) connection.stopReading();
    const drained = Promise.all([...this.connections].map((c) => c.whenIdle()));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const outcome = await Promise.race([drained.then(() => 'drained' as const), timedOut]);
    clearTimeout(timer);
    for (const connection of this.connections) {
      if (outcome === 'timeout') connection.destroy();
      else connection.close();
    }
    if (outcome === 'timeout') {
      this.options.log.warn({ graceMs }, 'in-flight requests did not finish in time; connections cut');
    }
    await closed;
  }

  private accept(socket: Socket): void {
    if (this.serving) {
      this.connect(socket);
      return;
    }
    socket.pause();
    socket.on('error', () => socket.destroy());
    socket.once('close', () => this.waiting.delete(socket));
    this.waiting.add(socket);
  }

  private connect(socket: Socket): void {
    const connection = new Connection(socket, {
      id: this.nextConnectionId++,
      registry: this.options.registry,
      log: this.options.log,
      maxRequestBytes: this.options.maxRequestBytes,
      maxInFlight: this.options.maxInFlightPerConnection,
      apiVersionsFallback: this.options.apiVersionsFallback,
      ...(this.options.onRequest !== undefined ? { onRequest: this.options.onRequest } : {}),
    });
    this.connections.add(connection);
    connection.log.debug('connection opened');
    this.options.onConnection?.('opened');
    socket.on('close', () => {
      this.connections.delete(connection);
      this.options.onConnection?.('closed');
      connection.log.debug('connection closed');
    });
  }
}
