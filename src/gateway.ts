import type { Logger } from 'pino';
import { apiVersionsFallback, apiVersionsHandler } from './apis/api-versions.js';
import { describeClusterHandler } from './apis/describe-cluster.js';
import { ApiRegistry, registerApi } from './apis/handler.js';
import { metadataHandler } from './apis/metadata.js';
import { loadOrCreateClusterId } from './cluster/cluster-id.js';
import { SingleNodeCluster } from './cluster/cluster.js';
import { advertisedHost, type GatewayConfig } from './config.js';
import { StaticTopicCatalog, type TopicCatalog } from './log/catalog.js';
import { MetricsServer } from './metrics/http.js';
import { createMetricsRegistry } from './metrics/registry.js';
import { KafkaServer } from './server/server.js';

export interface GatewayAddresses {
  readonly host: string;
  readonly port: number;
  readonly metricsPort: number;
}

/** Wires the listener, the API handlers, the cluster view and storage together. */
export class Gateway {
  private constructor(
    private readonly kafka: KafkaServer,
    private readonly metrics: MetricsServer,
    private readonly log: Logger,
    private readonly shutdownGraceMs: number,
    readonly addresses: GatewayAddresses,
    readonly clusterId: string,
  ) {}

  static async start(config: GatewayConfig, log: Logger, catalog: TopicCatalog = new StaticTopicCatalog()): Promise<Gateway> {
    const clusterId = loadOrCreateClusterId(config.dataDir);
    const registry = new ApiRegistry();
    const kafka = new KafkaServer({
      host: config.host,
      port: config.port,
      registry,
      log,
      maxRequestBytes: config.socketRequestMaxBytes,
      maxInFlightPerConnection: 100,
      apiVersionsFallback: apiVersionsFallback(registry),
    });
    const { port } = await kafka.listen();
    const cluster = new SingleNodeCluster(clusterId, {
      nodeId: config.nodeId,
      host: advertisedHost(config),
      port,
      rack: null,
    });
    registry
      .add(registerApi(apiVersionsHandler(registry)))
      .add(registerApi(metadataHandler({ cluster, catalog, streamPrefixLength: 0 })))
      .add(registerApi(describeClusterHandler(cluster)));

    const metrics = new MetricsServer(createMetricsRegistry());
    const metricsPort = await metrics.listen(config.host, config.metricsPort);
    const addresses = { host: cluster.self.host, port, metricsPort };
    log.info({ ...addresses, clusterId, nodeId: config.nodeId }, 'gateway listening');
    return new Gateway(kafka, metrics, log, config.shutdownGraceMs, addresses, clusterId);
  }

  /** Stops accepting, answers what was already read, then closes everything. */
  async stop(): Promise<void> {
    this.log.info('gateway stopping');
    await this.kafka.close(this.shutdownGraceMs);
    await this.metrics.close();
    this.log.info('gateway stopped');
  }
}
