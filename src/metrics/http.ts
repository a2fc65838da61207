import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import type { Readiness } from './readiness.js';

/** More text exposition for /metrics, served after the registry's (GatewayMetrics is one). */
export interface MetricsSource {
  metrics(): Promise<string>;
}

export interface MetricsServerOptions {
  /** What /readyz checks; without it /readyz answers ready whenever the process is up. */
  readonly readiness?: Readiness;
  readonly extra?: readonly MetricsSource[];
}

/**
 * The Prometheus scrape endpoint (/metrics), the liveness probe (/healthz: the process answers)
 * and the readiness probe (/readyz: storage reachable and leases held; 503 with a JSON reason
 * otherwise), on the metrics port.
 */
export class MetricsServer {
  private readonly server: Server;
  private readiness: Readiness | undefined;

  constructor(registry: Registry, options: MetricsServerOptions = {}) {
    this.readiness = options.readiness;
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET') {
        res.writeHead(405, { allow: 'GET' }).end();
        return;
      }
      if (path === '/metrics') {
        Promise.all([registry.metrics(), ...(options.extra ?? []).map((source) => source.metrics())]).then(
          (texts) => res.writeHead(200, { 'content-type': registry.contentType }).end(texts.join('')),
          (err: unknown) => res.writeHead(500).end(String(err)),
        );
      } else if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        const json = { 'content-type': 'application/json' };
        if (this.readiness === undefined) {
          res.writeHead(200, json).end(`${JSON.stringify({ ready: true, checks: {} })}\n`);
          return;
        }
        this.readiness.status().then(
          (status) => res.writeHead(status.ready ? 200 : 503, json).end(`${JSON.stringify(status)}\n`),
          (err: unknown) => res.writeHead(503, json).end(`${JSON.stringify({ ready: false, reason: String(err), checks: {} })}\n`),
        );
      } else {
        res.writeHead(404).end();
      }
    });
  }

  /** Sets what /readyz checks (the parts it looks at may start after the listener). */
  setReadiness(readiness: Readiness): void {
    this.readiness = readiness;
  }

  async listen(host: string, port: number): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address();
    if (address === null || typeof address === 'string') throw new Error('metrics listener has no TCP address');
    return address.port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
