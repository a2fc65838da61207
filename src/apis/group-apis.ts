import { deleteGroupsHandler } from './delete-groups.js';
import { describeGroupsHandler } from './describe-groups.js';
import { findCoordinatorHandler } from './find-coordinator.js';
import { ConnectionSequencer, type GroupApiDependencies } from './group-support.js';
import { registerApi, type RegisteredApi } from './handler.js';
import { heartbeatHandler } from './heartbeat.js';
import { joinGroupHandler } from './join-group.js';
import { leaveGroupHandler } from './leave-group.js';
import { listGroupsHandler } from './list-groups.js';
import { offsetCommitHandler } from './offset-commit.js';
import { offsetDeleteHandler } from './offset-delete.js';
import { offsetFetchHandler } from './offset-fetch.js';
import { syncGroupHandler } from './sync-group.js';

export type { GroupApiDependencies } from './group-support.js';

/**
 * The consumer-group APIs: FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
 * OffsetCommit, OffsetFetch, OffsetDelete, DescribeGroups, ListGroups, DeleteGroups.
 */
export function groupApis(deps: GroupApiDependencies): RegisteredApi[] {
  const { coordinator, router } = deps;
  const shared = { ...deps, sequencer: deps.sequencer ?? new ConnectionSequencer() };
  return [
    registerApi(findCoordinatorHandler(router)),
    registerApi(joinGroupHandler(coordinator)),
    registerApi(syncGroupHandler(coordinator)),
    registerApi(heartbeatHandler(coordinator)),
    registerApi(leaveGroupHandler(coordinator)),
    registerApi(offsetCommitHandler(shared)),
    registerApi(offsetFetchHandler(coordinator)),
    registerApi(offsetDeleteHandler(shared)),
    registerApi(describeGroupsHandler(coordinator)),
    registerApi(listGroupsHandler(coordinator)),
    registerApi(deleteGroupsHandler(coordinator)),
  ];
}
