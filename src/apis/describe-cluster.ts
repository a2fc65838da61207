import {
  describeClusterRequest,
  describeClusterResponse,
  type DescribeClusterRequest,
  type DescribeClusterResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ClusterView } from '../cluster/cluster.js';
import { CLUSTER_AUTHORIZED_OPERATIONS } from './authorized-operations.js';
import type { ApiHandler } from './handler.js';

/** DescribeClusterRequest.EndpointType: 1 brokers, 2 controllers (KIP-919). */
const BROKER_ENDPOINTS = 1;

export function describeClusterHandler(
  cluster: ClusterView,
): ApiHandler<DescribeClusterRequest, DescribeClusterResponse> {
  return {
    request: describeClusterRequest,
    response: describeClusterResponse,
    minVersion: 0,
    maxVersion: 1,
    handle(request) {
      const response = describeClusterResponse.create();
      response.endpointType = request.endpointType;
      if (request.endpointType !== BROKER_ENDPOINTS) {
        response.errorCode = ErrorCode.UNSUPPORTED_ENDPOINT_TYPE;
        response.errorMessage = 'the gateway has no separate controllers: ask for broker endpoints';
        return response;
      }
      response.clusterId = cluster.clusterId;
      response.controllerId = cluster.controllerId;
      response.brokers = cluster.brokers().map((b) => ({
        brokerId: b.nodeId,
        host: b.host,
        port: b.port,
        rack: b.rack,
      }));
      if (request.includeClusterAuthorizedOperations) {
        response.clusterAuthorizedOperations = CLUSTER_AUTHORIZED_OPERATIONS;
      }
      return response;
    },
  };
}
