import type { BrokerNode, ClusterView } from '../cluster/cluster.js';

/**
 * Which gateway node coordinates a group (DESIGN.md section 5). FindCoordinator answers with
 * coordinatorFor(); every other group request is served only where isLocal() holds, and gets
 * NOT_COORDINATOR elsewhere. With several nodes this is rendezvous hashing over the live nodes
 * (MultiNodeGroupRouter); the handlers stay as they are.
 */
export interface GroupCoordinatorRouter {
  /** The node coordinating the group, or undefined while none can (COORDINATOR_NOT_AVAILABLE). */
  coordinatorFor(groupId: string): BrokerNode | undefined;
  isLocal(groupId: string): boolean;
  /**
   * Whether this node is the only coordinator there can be (a single node): then a group it
   * holds nothing of has no committed offsets either. Absent: assumed true.
   */
  isSoleCoordinator?(): boolean;
}

/** One gateway coordinates every group. */
export class SingleNodeGroupRouter implements GroupCoordinatorRouter {
  constructor(private readonly cluster: ClusterView) {}

  coordinatorFor(_groupId: string): BrokerNode {
    return this.cluster.self;
  }

  isLocal(_groupId: string): boolean {
    return true;
  }
}

/** The part of the cluster view group placement needs (MultiNodeCluster has it). */
export interface GroupPlacement {
  groupCoordinator(groupId: string): BrokerNode | undefined;
  isGroupLocal(groupId: string): boolean;
  /** This node is the only live one and sure of it: no other node can have coordinated any group. */
  isSoleNode(): boolean;
}

/**
 * Several gateway nodes: rendezvous hashing over the live nodes places each group (DESIGN.md
 * section 5). FindCoordinator on any node names the placed node; the others answer
 * NOT_COORDINATOR. A node that is unsure of its own membership, or has just joined and is
 * waiting for the others to see it, coordinates nothing (see MultiNodeCluster).
 */
export class MultiNodeGroupRouter implements GroupCoordinatorRouter {
  constructor(private readonly placement: GroupPlacement) {}

  coordinatorFor(groupId: string): BrokerNode | undefined {
    return this.placement.groupCoordinator(groupId);
  }

  isLocal(groupId: string): boolean {
    return this.placement.isGroupLocal(groupId);
  }

  isSoleCoordinator(): boolean {
    return this.placement.isSoleNode();
  }
}
