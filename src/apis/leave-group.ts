import { leaveGroupRequest, leaveGroupResponse, type LeaveGroupRequest, type LeaveGroupResponse } from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { GroupCoordinator, LeavingMember } from '../groups/coordinator.js';
import type { ApiHandler } from './handler.js';

/**
 * LeaveGroup v0-v5: v0-v2 one member; v3+ a batch of members, each by member id or (an admin
 * removing a static member) by group instance id alone; v5 reasons.
 */
export function leaveGroupHandler(coordinator: GroupCoordinator): ApiHandler<LeaveGroupRequest, LeaveGroupResponse> {
  return {
    request: leaveGroupRequest,
    response: leaveGroupResponse,
    minVersion: 0,
    maxVersion: 5,
    handle(request, context) {
      const batched = context.apiVersion >= 3;
      const leaving: LeavingMember[] = batched
        ? request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, reason: m.reason }))
        : [{ memberId: request.memberId, groupInstanceId: null }];
      const outcome = coordinator.leave(request.groupId, leaving);
      const response = leaveGroupResponse.create();
      if (batched) {
        response.errorCode = outcome.errorCode;
        response.members = outcome.members.map((m) => ({ ...m }));
      } else {
        // Before v3 the only member's error is the response's error.
        response.errorCode =
          outcome.errorCode !== ErrorCode.NONE
            ? outcome.errorCode
            : (outcome.members.find((m) => m.errorCode !== ErrorCode.NONE)?.errorCode ?? ErrorCode.NONE);
      }
      return response;
    },
  };
}
