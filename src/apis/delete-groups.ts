import {
  deleteGroupsRequest,
  deleteGroupsResponse,
  type DeleteGroupsRequest,
  type DeleteGroupsResponse,
} from '../protocol/messages/index.js';
import type { GroupCoordinator } from '../groups/coordinator.js';
import type { ApiHandler } from './handler.js';

/** DeleteGroups v0-v2: empty groups go with their committed offsets; NON_EMPTY_GROUP while members remain. */
export function deleteGroupsHandler(coordinator: GroupCoordinator): ApiHandler<DeleteGroupsRequest, DeleteGroupsResponse> {
  return {
    request: deleteGroupsRequest,
    response: deleteGroupsResponse,
    minVersion: 0,
    maxVersion: 2,
    async handle(request) {
      const results = await coordinator.deleteGroups(request.groupsNames);
      const response = deleteGroupsResponse.create();
      response.results = [...results].map(([groupId, errorCode]) => ({ groupId, errorCode }));
      return response;
    },
  };
}
