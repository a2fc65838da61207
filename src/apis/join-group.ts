import { joinGroupRequest, joinGroupResponse, type JoinGroupRequest, type JoinGroupResponse } from '../protocol/messages/index.js';
import type { GroupCoordinator } from '../groups/coordinator.js';
import type { ApiHandler } from './handler.js';
import { clientHost } from './group-support.js';

/**
 * JoinGroup v0-v9: v4+ new dynamic members first get their id (MEMBER_ID_REQUIRED), v5+ static
 * membership, v9 skip_assignment for a static leader rejoining a stable group.
 */
export function joinGroupHandler(coordinator: GroupCoordinator): ApiHandler<JoinGroupRequest, JoinGroupResponse> {
  return {
    request: joinGroupRequest,
    response: joinGroupResponse,
    minVersion: 0,
    maxVersion: 9,
    async handle(request, context) {
      const version = context.apiVersion;
      const groupInstanceId = version >= 5 ? request.groupInstanceId : null;
      const result = await coordinator.join({
        groupId: request.groupId,
        memberId: request.memberId,
        groupInstanceId,
        protocolType: request.protocolType,
        protocols: request.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
        sessionTimeoutMs: request.sessionTimeoutMs,
        // v0 has no rebalance timeout: the session timeout bounds the join phase.
        rebalanceTimeoutMs: version === 0 ? request.sessionTimeoutMs : request.rebalanceTimeoutMs,
        clientId: context.clientId ?? '',
        clientHost: clientHost(context.remoteAddress),
        requireKnownMemberId: version >= 4 && groupInstanceId === null,
        supportSkippingAssignment: version >= 9,
        reason: request.reason,
      });
      const response = joinGroupResponse.create();
      response.errorCode = result.errorCode;
      response.generationId = result.generationId;
      response.protocolType = result.protocolType;
      // Nullable only from v7.
      response.protocolName = version >= 7 ? result.protocolName : (result.protocolName ?? '');
      response.leader = result.leader;
      response.skipAssignment = result.skipAssignment;
      response.memberId = result.memberId;
      response.members = result.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata }));
      return response;
    },
  };
}
