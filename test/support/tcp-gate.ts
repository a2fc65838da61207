/**
 * A TCP pass-through that can hold back what clients send (for example a gateway's requests to
 * kinesalite): while closed, bytes from clients are buffered instead of forwarded, and a client
 * that goes away meanwhile (a killed gateway) takes its held bytes with it, so those requests
 * never reach the server. Answers already on their way are not affected.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class TcpGate {
  private open = true;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket; held: Buffer[] }>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  /** Listens on a free loopback port and forwards to 127.0.0.1:upstreamPort. */
  static async start(upstreamPort: number): Promise<TcpGate> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no address');
    const gate = new TcpGate(server, address.port);
    server.on('connection', (client) => gate.accept(client, upstreamPort));
    return gate;
  }

  /** Bytes clients send from now on are held back. */
  close(): void {
    this.open = false;
  }

  /** Forwards what was held and everything from now on. */
  reopen(): void {
    this.open = true;
    for (const pair of this.pairs) {
      for (const chunk of pair.held.splice(0)) pair.upstream.write(chunk);
    }
  }

  /** Bytes currently held back. */
  get heldBytes(): number {
    let n = 0;
    for (const pair of this.pairs) for (const chunk of pair.held) n += chunk.length;
    return n;
  }

  async stop(): Promise<void> {
    for (const pair of this.pairs) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, upstreamPort: number): void {
    const upstream = connect(upstreamPort, '127.0.0.1');
    const pair = { client, upstream, held: [] as Buffer[] };
    this.pairs.add(pair);
    const end = (): void => {
      pair.held.length = 0;
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    client.on('data', (chunk: Buffer) => {
      if (this.open) upstream.write(chunk);
      else pair.held.push(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  }
}
