import {
  describeGroupsRequest,
  describeGroupsResponse,
  type DescribeGroupsRequest,
  type DescribeGroupsResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { GroupCoordinator } from '../groups/coordinator.js';
import type { ApiHandler } from './handler.js';

/** AclOperation codes that apply to a group: READ (3), DELETE (6), DESCRIBE (8). No authorizer: all allowed. */
export const GROUP_AUTHORIZED_OPERATIONS = (1 << 3) | (1 << 6) | (1 << 8);

/** Kafka's "not requested" value of authorized_operations. */
const OPERATIONS_NOT_REQUESTED = -2147483648;

/**
 * DescribeGroups v0-v5: state, protocol and members; member metadata and assignments only while
 * the group is Stable (as Kafka). An unknown group is described as Dead with no members.
 */
export function describeGroupsHandler(coordinator: GroupCoordinator): ApiHandler<DescribeGroupsRequest, DescribeGroupsResponse> {
  return {
    request: describeGroupsRequest,
    response: describeGroupsResponse,
    minVersion: 0,
    maxVersion: 5,
    handle(request, context) {
      const response = describeGroupsResponse.create();
      response.groups = request.groups.map((groupId) => {
        const described = coordinator.describeGroup(groupId);
        return {
          errorCode: described.errorCode,
          groupId,
          groupState: described.state,
          protocolType: described.protocolType,
          protocolData: described.protocolData,
          members: described.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            memberMetadata: m.metadata,
            memberAssignment: m.assignment,
          })),
          authorizedOperations:
            context.apiVersion >= 3 && request.includeAuthorizedOperations && described.errorCode === ErrorCode.NONE
              ? GROUP_AUTHORIZED_OPERATIONS
              : OPERATIONS_NOT_REQUESTED,
        };
      });
      return response;
    },
  };
}
