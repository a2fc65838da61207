import {
  findCoordinatorRequest,
  findCoordinatorResponse,
  type FindCoordinatorRequest,
  type FindCoordinatorResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { GroupCoordinatorRouter } from '../groups/router.js';
import type { ApiHandler } from './handler.js';

/** FindCoordinatorRequest.KeyType */
const KeyType = { GROUP: 0, TRANSACTION: 1, SHARE: 2 } as const;

interface Located {
  errorCode: number;
  errorMessage: string | null;
  nodeId: number;
  host: string;
  port: number;
}

const NO_NODE = { nodeId: -1, host: '', port: -1 };

/**
 * FindCoordinator v0-v6 (v4+: several keys per request). Group keys are answered through the
 * router. The gateway has no transaction or share-group coordinator: those key types get
 * INVALID_REQUEST with a message, as a Kafka broker answers a key type it does not know (clients
 * fail fast with that message instead of retrying until they time out).
 */
export function findCoordinatorHandler(router: GroupCoordinatorRouter): ApiHandler<FindCoordinatorRequest, FindCoordinatorResponse> {
  function locate(keyType: number, key: string): Located {
    switch (keyType) {
      case KeyType.GROUP: {
        const node = router.coordinatorFor(key);
        if (node === undefined) {
          return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: 'no gateway node can coordinate this group now', ...NO_NODE };
        }
        return { errorCode: ErrorCode.NONE, errorMessage: null, nodeId: node.nodeId, host: node.host, port: node.port };
      }
      case KeyType.TRANSACTION:
        return {
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: 'transactions are not supported by kafka-kinesis-gateway (there is no transaction coordinator)',
          ...NO_NODE,
        };
      case KeyType.SHARE:
        return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'share groups are not supported by kafka-kinesis-gateway', ...NO_NODE };
      default:
        return { errorCode: ErrorCode.INVALID_REQUEST, errorMessage: `unknown coordinator key type ${keyType}`, ...NO_NODE };
    }
  }

  return {
    request: findCoordinatorRequest,
    response: findCoordinatorResponse,
    minVersion: 0,
    maxVersion: 6,
    handle(request, context) {
      const response = findCoordinatorResponse.create();
      if (context.apiVersion >= 4) {
        response.coordinators = request.coordinatorKeys.map((key) => ({ key, ...locate(request.keyType, key) }));
        return response;
      }
      const located = locate(context.apiVersion >= 1 ? request.keyType : KeyType.GROUP, request.key);
      response.errorCode = located.errorCode;
      response.errorMessage = located.errorMessage;
      response.nodeId = located.nodeId;
      response.host = located.host;
      response.port = located.port;
      return response;
    },
  };
}
