import { listGroupsRequest, listGroupsResponse, type ListGroupsRequest, type ListGroupsResponse } from '../protocol/messages/index.js';
import type { GroupCoordinator } from '../groups/coordinator.js';
import type { ApiHandler } from './handler.js';

/** ListGroups v0-v5: the groups this node coordinates; v4+ filter by state, v5+ by type (all groups are "classic"). */
export function listGroupsHandler(coordinator: GroupCoordinator): ApiHandler<ListGroupsRequest, ListGroupsResponse> {
  return {
    request: listGroupsRequest,
    response: listGroupsResponse,
    minVersion: 0,
    maxVersion: 5,
    handle(request, context) {
      const version = context.apiVersion;
      const outcome = coordinator.listGroups(version >= 4 ? request.statesFilter : [], version >= 5 ? request.typesFilter : []);
      const response = listGroupsResponse.create();
      response.errorCode = outcome.errorCode;
      response.groups = outcome.groups.map((g) => ({
        groupId: g.groupId,
        protocolType: g.protocolType,
        groupState: g.state,
        groupType: g.groupType,
      }));
      return response;
    },
  };
}
