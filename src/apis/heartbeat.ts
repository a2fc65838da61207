import { heartbeatRequest, heartbeatResponse, type HeartbeatRequest, type HeartbeatResponse } from '../protocol/messages/index.js';
import type { GroupCoordinator } from '../groups/coordinator.js';
import type { ApiHandler } from './handler.js';

/** Heartbeat v0-v4. */
export function heartbeatHandler(coordinator: GroupCoordinator): ApiHandler<HeartbeatRequest, HeartbeatResponse> {
  return {
    request: heartbeatRequest,
    response: heartbeatResponse,
    minVersion: 0,
    maxVersion: 4,
    handle(request, context) {
      const response = heartbeatResponse.create();
      response.errorCode = coordinator.heartbeat({
        groupId: request.groupId,
        generationId: request.generationId,
        memberId: request.memberId,
        groupInstanceId: context.apiVersion >= 3 ? request.groupInstanceId : null,
      });
      return response;
    },
  };
}
