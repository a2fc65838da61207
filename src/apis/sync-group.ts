import { syncGroupRequest, syncGroupResponse, type SyncGroupRequest, type SyncGroupResponse } from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { GroupCoordinator } from '../groups/coordinator.js';
import type { ApiHandler } from './handler.js';

/** SyncGroup v0-v5 (v5+ must name the protocol type and name). */
export function syncGroupHandler(coordinator: GroupCoordinator): ApiHandler<SyncGroupRequest, SyncGroupResponse> {
  return {
    request: syncGroupRequest,
    response: syncGroupResponse,
    minVersion: 0,
    maxVersion: 5,
    async handle(request, context) {
      const version = context.apiVersion;
      const response = syncGroupResponse.create();
      if (version >= 5 && (request.protocolType === null || request.protocolName === null)) {
        response.errorCode = ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
        return response;
      }
      const result = await coordinator.sync({
        groupId: request.groupId,
        generationId: request.generationId,
        memberId: request.memberId,
        groupInstanceId: version >= 3 ? request.groupInstanceId : null,
        protocolType: version >= 5 ? request.protocolType : null,
        protocolName: version >= 5 ? request.protocolName : null,
        assignments: request.assignments,
      });
      response.errorCode = result.errorCode;
      response.protocolType = result.protocolType;
      response.protocolName = result.protocolName;
      response.assignment = result.assignment;
      return response;
    },
  };
}
