import type { BrokerNode, ClusterView } from '../cluster/cluster.js';

/**
 * Which gateway node coordinates a group (DESIGN.md section 5). FindCoordinator answers with
 * coordinatorFor(); every other group request is served only where isLocal() holds, and gets
 * NOT_COORDINATOR elsewhere. With several nodes this becomes rendezvous hashing over live nodes
 * plus the group's coordinator lease; the handlers and the coordinator stay as they are.
 */
export interface GroupCoordinatorRouter {
  /** The node coordinating the group, or undefined while none can (COORDINATOR_NOT_AVAILABLE). */
  coordinatorFor(groupId: string): BrokerNode | undefined;
  isLocal(groupId: string): boolean;
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
