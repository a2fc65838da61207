import { connect, type Socket } from 'node:net';
import type { MessageCodec } from '../../src/protocol/codec.js';
import { requestHeader, requestHeaderVersion, responseHeader, responseHeaderVersion } from '../../src/protocol/messages/index.js';
import { Reader, Writer } from '../../src/protocol/primitives.js';
import { FrameReader } from '../../src/server/frames.js';

let correlation = 1;

/** A request (header and body) as the payload of a frame, for RawClient.sendFrame. */
export function requestFrame<T>(apiKey: number, version: number, codec: MessageCodec<T>, body: T, clientId = 'kkg-raw-client'): Buffer {
  const writer = new Writer(256);
  requestHeader.encode(writer, { requestApiKey: apiKey, requestApiVersion: version, correlationId: correlation++, clientId }, requestHeaderVersion(apiKey, version));
  codec.encode(writer, body, version);
  return Buffer.from(writer.finish());
}

/** The body of a response frame (from RawClient.nextFrame) to a request of this api key and version. */
export function parseResponse<T>(apiKey: number, version: number, codec: MessageCodec<T>, frame: Buffer): T {
  const reader = new Reader(frame);
  responseHeader.decode(reader, responseHeaderVersion(apiKey, version));
  return codec.decode(reader, version);
}

/** A bare TCP client that sends bytes and collects size-prefixed response frames. */
export class RawClient {
  private readonly frames = new FrameReader(1 << 30, 4);
  private readonly received: Buffer[] = [];
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received.push(...this.frames.push(chunk));
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  send(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  /** Sends a payload with its int32 size prefix. */
  sendFrame(payload: Buffer): void {
    const size = Buffer.alloc(4);
    size.writeInt32BE(payload.length);
    this.send(Buffer.concat([size, payload]));
  }

  /** Waits for the next response frame; rejects if the connection closes first or time runs out. */
  async nextFrame(timeoutMs = 5000): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const frame = this.received.shift();
      if (frame !== undefined) return frame;
      if (this.closed) throw new Error('connection closed');
      if (Date.now() > deadline) throw new Error('no response in time');
      await this.waitForEvent(deadline - Date.now());
    }
  }

  /** Resolves true once the server has closed the connection, false if it is still open after the timeout. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await this.waitForEvent(deadline - Date.now());
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }

  private waitForEvent(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(ms, 1));
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
