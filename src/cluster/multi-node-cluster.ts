/**
 * The cluster as one of several gateway nodes sees it (DESIGN.md section 5). One node alone is
 * the degenerate case: it is the only live node, so it leads every partition and coordinates
 * every group.
 *
 * - Membership: the node registry in DynamoDB. This node renews its heartbeat every heartbeat
 *   interval and reads every node's item every refresh interval; a node is live while its last
 *   heartbeat is younger than the node timeout (by this node's clock).
 * - Placement: rendezvous hashing over the live node ids says which node should lead a partition
 *   and which should coordinate a group. Leadership itself is the partition lease (LogManager):
 *   the designated node takes the lease once it is free or expired, and a node that leads a
 *   partition designated elsewhere hands it over (LogManager.rebalance()).
 * - Metadata: a partition's leader is the live holder of its lease when there is one (so a
 *   partition waiting for its gradual handover keeps being served where it is), else the node
 *   designated to take it, with the epoch it will take it at. Leases come from a cache of the
 *   lease table refreshed at most every `leaseCacheMs` (prepare()), and this node's own leases
 *   are read live from the LogManager.
 * - Doubt about itself: a node that has not renewed its heartbeat for most of the node timeout
 *   (DynamoDB unreachable, or the process was paused) may already be counted dead by the others,
 *   so it neither takes leases nor coordinates groups until a heartbeat succeeds again; after
 *   that (and after first joining a cluster with other live nodes) it waits `settleMs`, long
 *   enough for every other node to have seen it, before it coordinates groups, so that a group's
 *   old coordinator has let go before the new one loads the group's offsets.
 */
import type { Logger } from 'pino';
import type { BrokerNode, ClusterView, PartitionLeadership } from './cluster.js';
import { isLeaseLive, partitionLeaseResource, type Lease } from './leases.js';
import { isNodeLive, type DynamoNodeRegistry, type NodeRecord } from './node-registry.js';
import { groupPlacementKey, partitionPlacementKey, rendezvousOrder, rendezvousOwner } from './rendezvous.js';

/** Reads every lease (for Metadata's leader epochs). */
export interface LeaseScanner {
  scan(): Promise<Lease[]>;
}

export interface MultiNodeClusterOptions {
  readonly clusterId: string;
  readonly registry: DynamoNodeRegistry;
  readonly leases: LeaseScanner;
  /** This node as registered (registerNode / allocateNodeId). */
  readonly self: NodeRecord;
  /** The host and port Metadata advertises for this node (default: the registered ones). */
  readonly heartbeatIntervalMs: number;
  /** No heartbeat for this long: the node is dead. */
  readonly nodeTimeoutMs: number;
  /** How often the registry is read (default min(heartbeat interval, 1000)). */
  readonly refreshIntervalMs?: number;
  /** How old the lease cache may be when Metadata asks (default 1000). */
  readonly leaseCacheMs?: number;
  /** How long a node that joins a cluster waits before it coordinates groups (default 2 refresh intervals + 500 ms). */
  readonly settleMs?: number;
  readonly log: Logger;
  readonly now?: () => number;
}

type Listener = () => void;

export class MultiNodeCluster implements ClusterView {
  readonly clusterId: string;
  readonly self: BrokerNode;
  readonly incarnation: number;
  private readonly registry: DynamoNodeRegistry;
  private readonly leaseScanner: LeaseScanner;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly heartbeatIntervalMs: number;
  private readonly nodeTimeoutMs: number;
  private readonly refreshIntervalMs: number;
  private readonly leaseCacheMs: number;
  private readonly settleMs: number;

  /** The other nodes' registry items as last read. */
  private others: NodeRecord[] = [];
  /** Live nodes by id, this node included while fresh. */
  private live = new Map<number, BrokerNode>();
  private liveIds: number[] = [];
  /** Incarnation -> node id of the live nodes (lease owners are incarnations). */
  private incarnations = new Map<number, number>();
  private lastHeartbeatSentAt: number;
  private settledAt: number;
  private lost = false;
  private leaving = false;
  private lastReady = false;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** Heartbeats under way: a slow one (DynamoDB retrying) does not hold the next ones back. */
  private heartbeating = 0;
  private refreshing: Promise<void> | undefined;
  private leaseCache = new Map<string, Lease>();
  private leaseCacheAt = Number.NEGATIVE_INFINITY;
  private leaseScan: Promise<void> | undefined;
  private readonly listeners: Listener[] = [];
  private localLease: (topicId: string, partition: number) => Lease | undefined = () => undefined;
  private readonly topicIds = new Map<string, string>();

  constructor(options: MultiNodeClusterOptions) {
    this.clusterId = options.clusterId;
    this.registry = options.registry;
    this.leaseScanner = options.leases;
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.incarnation = options.self.incarnation;
    this.self = { nodeId: options.self.nodeId, host: options.self.host, port: options.self.port, rack: options.self.rack };
    this.heartbeatIntervalMs = options.heartbeatIntervalMs;
    this.nodeTimeoutMs = options.nodeTimeoutMs;
    this.refreshIntervalMs = options.refreshIntervalMs ?? Math.min(options.heartbeatIntervalMs, 1000);
    this.leaseCacheMs = options.leaseCacheMs ?? 1000;
    this.settleMs = options.settleMs ?? 2 * this.refreshIntervalMs + 500;
    this.lastHeartbeatSentAt = options.self.heartbeatAtMs;
    this.settledAt = this.now();
    this.rebuild();
  }

  /** Reads the registry once and starts heartbeats and refreshes. */
  async start(): Promise<void> {
    await this.refresh();
    // Others already live may be coordinating groups that now fall to this node.
    if (this.others.some((r) => isNodeLive(r, this.now(), this.nodeTimeoutMs))) this.settledAt = this.now() + this.settleMs;
    this.lastReady = this.readyForGroups();
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatIntervalMs);
    this.heartbeatTimer.unref();
    this.refreshTimer = setInterval(() => void this.refresh(), this.refreshIntervalMs);
    this.refreshTimer.unref();
  }

  /**
   * Leaves the cluster (graceful shutdown): stops heartbeats and deletes this node's registry
   * item so that the others move its partitions and groups at their next refresh.
   */
  async leave(): Promise<void> {
    this.leaving = true;
    this.stopTimers();
    this.rebuild();
    this.emit();
    try {
      await this.registry.remove(this.self.nodeId, this.incarnation);
    } catch (err) {
      this.log.warn({ err }, 'could not deregister this node; the others will see it age out');
    }
  }

  stopTimers(): void {
    clearInterval(this.heartbeatTimer);
    clearInterval(this.refreshTimer);
    this.heartbeatTimer = undefined;
    this.refreshTimer = undefined;
  }

  /** Called whenever the live nodes or this node's readiness change (placements may have moved). */
  onChange(listener: Listener): void {
    this.listeners.push(listener);
  }

  /** Where Metadata reads this node's own partition leases (the LogManager's). */
  setLocalLeases(lookup: (topicId: string, partition: number) => Lease | undefined): void {
    this.localLease = lookup;
  }

  // -------------------------------------------------------------------------------------------
  // ClusterView

  /** The lowest live node id (any stable choice does: the gateway has no separate controller). */
  get controllerId(): number {
    return this.liveIds[0] ?? this.self.nodeId;
  }

  /**
   * The live nodes, and this node while it runs (it answers this very request, even while unsure
   * of its membership: then the others are designated for everything, and clients go there).
   */
  brokers(): readonly BrokerNode[] {
    const nodes = this.liveIds.map((id) => this.live.get(id) as BrokerNode);
    if (this.leaving || this.lost || this.live.has(this.self.nodeId)) return nodes;
    return [...nodes, this.self].sort((x, y) => x.nodeId - y.nodeId);
  }

  /**
   * The live holder of the partition's lease, else the designated node (at the epoch it will take
   * the lease at). Replicas: the leader, then the next live nodes in the partition's rendezvous
   * order, min(replication factor, live nodes) in all: Kinesis keeps the copies, and any of these
   * nodes can lead after a failover, so all are in sync.
   */
  leadership(topic: string, partition: number, replicationFactor: number, topicId?: string): PartitionLeadership {
    if (topicId !== undefined) this.topicIds.set(topic, topicId);
    const id = topicId ?? this.topicIds.get(topic);
    const now = this.now();
    const key = partitionPlacementKey(topic, partition);
    const order = rendezvousOrder(key, this.liveIds);
    const designated = order[0] ?? this.self.nodeId;
    let leaderId = designated;
    let leaderEpoch = 0;
    const own = id === undefined ? undefined : this.localLease(id, partition);
    const cached = id === undefined ? undefined : this.leaseCache.get(partitionLeaseResource(id, partition));
    if (own !== undefined && isLeaseLive(own, now)) {
      leaderId = this.self.nodeId;
      leaderEpoch = own.epoch;
    } else if (cached !== undefined) {
      const holder = this.incarnations.get(cached.owner);
      // A lease cached as this node's that the LogManager no longer has was given up since.
      if (isLeaseLive(cached, now) && holder !== undefined && cached.owner !== this.incarnation) {
        leaderId = holder;
        leaderEpoch = cached.epoch;
      } else {
        // Whoever takes a free or expired lease takes it at the next epoch.
        leaderEpoch = cached.epoch + 1;
      }
    }
    const count = Math.max(1, Math.min(replicationFactor, order.length));
    const replicas = [leaderId, ...order.filter((n) => n !== leaderId)].slice(0, count);
    return { leaderId, leaderEpoch, replicas, isr: replicas };
  }

  /** Makes sure the lease cache is at most `leaseCacheMs` old (Metadata awaits this). */
  async prepare(): Promise<void> {
    if (this.now() - this.leaseCacheAt < this.leaseCacheMs) return;
    this.leaseScan ??= this.scanLeases().finally(() => {
      this.leaseScan = undefined;
    });
    await this.leaseScan;
  }

  // -------------------------------------------------------------------------------------------
  // Placement

  /** The live node rendezvous hashing gives the partition to. */
  designatedLeader(topic: string, partition: number): number | undefined {
    return rendezvousOwner(partitionPlacementKey(topic, partition), this.liveIds);
  }

  /** Whether this node should lead the partition: it is designated, and sure of its own membership. */
  shouldLead(topic: string, partition: number): boolean {
    return this.isFresh() && this.designatedLeader(topic, partition) === this.self.nodeId;
  }

  /** The live node that coordinates the group; undefined when no node is live. */
  groupCoordinator(groupId: string): BrokerNode | undefined {
    const nodeId = rendezvousOwner(groupPlacementKey(groupId), this.liveIds);
    return nodeId === undefined ? undefined : this.live.get(nodeId);
  }

  /** Whether this node coordinates the group now. */
  isGroupLocal(groupId: string): boolean {
    return this.readyForGroups() && rendezvousOwner(groupPlacementKey(groupId), this.liveIds) === this.self.nodeId;
  }

  /** Whether this node is the only live node and coordinates every group (nobody else can have). */
  isSoleNode(): boolean {
    return this.readyForGroups() && this.liveIds.length === 1 && this.liveIds[0] === this.self.nodeId;
  }

  /**
   * This node's heartbeat is recent enough that no other node can count it dead yet (with half
   * an interval to spare for clock differences), and it still holds its node id.
   */
  isFresh(): boolean {
    if (this.lost || this.leaving) return false;
    return this.now() - this.lastHeartbeatSentAt < this.nodeTimeoutMs - this.heartbeatIntervalMs / 2;
  }

  private readyForGroups(): boolean {
    return this.isFresh() && this.now() >= this.settledAt;
  }

  /** Live node ids, ascending. */
  liveNodeIds(): readonly number[] {
    return this.liveIds;
  }

  // -------------------------------------------------------------------------------------------

  private async heartbeat(): Promise<void> {
    if (this.heartbeating >= 3 || this.lost || this.leaving) return;
    this.heartbeating++;
    const sentAt = this.now();
    try {
      const outcome = await this.registry.heartbeat(this.self.nodeId, this.incarnation, sentAt);
      if (outcome === 'lost') {
        this.lost = true;
        this.log.error(
          { nodeId: this.self.nodeId },
          'another gateway process took over this node id (this one was paused or cut off past the node timeout); this process stops leading and coordinating: restart it',
        );
        this.update();
        this.emit();
        return;
      }
      if (sentAt <= this.lastHeartbeatSentAt) return; // a later one already came back
      const wasFresh = this.isFresh();
      this.lastHeartbeatSentAt = sentAt;
      if (!wasFresh) {
        // The others may have counted this node dead and moved its groups: let them notice it again first.
        this.settledAt = this.now() + this.settleMs;
        this.log.warn({ nodeId: this.self.nodeId }, 'heartbeat renewed after a gap; rejoining the cluster');
      }
      this.update();
    } catch (err) {
      this.log.warn({ err }, 'node heartbeat failed');
      this.update();
    } finally {
      this.heartbeating--;
    }
  }

  private refresh(): Promise<void> {
    this.refreshing ??= this.readRegistry().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async readRegistry(): Promise<void> {
    try {
      this.others = (await this.registry.list()).filter((r) => r.nodeId !== this.self.nodeId);
    } catch (err) {
      this.log.warn({ err }, 'reading the node registry failed');
    }
    this.update();
  }

  /** Recomputes the live nodes (others age out by their last heartbeat, this node by its freshness); emits on change. */
  private update(): void {
    const before = this.liveIds.join(',');
    this.rebuild();
    const ready = this.readyForGroups();
    if (before !== this.liveIds.join(',')) {
      this.log.info({ liveNodes: this.liveIds, previous: before === '' ? [] : before.split(',').map(Number) }, 'cluster membership changed');
      this.emit();
    } else if (ready !== this.lastReady) {
      this.emit();
    }
  }

  private rebuild(): void {
    const now = this.now();
    const live = new Map<number, BrokerNode>();
    const incarnations = new Map<number, number>();
    for (const r of this.others) {
      if (!isNodeLive(r, now, this.nodeTimeoutMs)) continue;
      live.set(r.nodeId, { nodeId: r.nodeId, host: r.host, port: r.port, rack: r.rack });
      incarnations.set(r.incarnation, r.nodeId);
    }
    if (this.isFresh()) {
      live.set(this.self.nodeId, this.self);
      incarnations.set(this.incarnation, this.self.nodeId);
    }
    this.live = live;
    this.incarnations = incarnations;
    this.liveIds = [...live.keys()].sort((x, y) => x - y);
  }

  private async scanLeases(): Promise<void> {
    const startedAt = this.now();
    try {
      const leases = await this.leaseScanner.scan();
      this.leaseCache = new Map(leases.map((l) => [l.resource, l]));
      this.leaseCacheAt = startedAt;
    } catch (err) {
      // Metadata answers from the older cache (or from placement alone) rather than failing.
      this.log.warn({ err }, 'reading partition leases failed');
      this.leaseCacheAt = startedAt - this.leaseCacheMs / 2;
    }
  }

  private emit(): void {
    this.lastReady = this.readyForGroups();
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        this.log.error({ err }, 'cluster change listener failed');
      }
    }
  }
}

