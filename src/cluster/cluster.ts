/** A gateway node as Kafka clients see a broker. */
export interface BrokerNode {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
}

/** Who leads a partition, as Metadata reports it. */
export interface PartitionLeadership {
  readonly leaderId: number;
  /** The partition lease epoch, which is the Kafka leader epoch. */
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

/**
 * The cluster as one node sees it. A single gateway leads everything; several nodes share
 * leadership through leases (DESIGN.md section 5) behind this same interface.
 */
export interface ClusterView {
  readonly clusterId: string;
  readonly controllerId: number;
  readonly self: BrokerNode;
  brokers(): readonly BrokerNode[];
  /**
   * Who leads the partition and at which epoch. `topicId` (the topic's id) lets a multi-node
   * view report the lease epoch; without it the view may only know the designated leader.
   */
  leadership(topic: string, partition: number, replicationFactor: number, topicId?: string): PartitionLeadership;
  /** Brings cached leadership up to date before a Metadata answer (optional; cheap when fresh). */
  prepare?(): Promise<void>;
}

export class SingleNodeCluster implements ClusterView {
  readonly controllerId: number;

  constructor(
    readonly clusterId: string,
    readonly self: BrokerNode,
  ) {
    this.controllerId = self.nodeId;
  }

  brokers(): readonly BrokerNode[] {
    return [this.self];
  }

  /** Kinesis keeps three copies itself, so every live node listed is an in-sync replica. */
  leadership(): PartitionLeadership {
    const replicas = [this.self.nodeId];
    return { leaderId: this.self.nodeId, leaderEpoch: 0, replicas, isr: replicas };
  }
}
