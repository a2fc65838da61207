/**
 * IncrementalAlterConfigs (API key 44), v0-1 (KIP-339): SET and DELETE per config; APPEND and
 * SUBTRACT apply only to list configs (the one there is, cleanup.policy, has the single value
 * "delete"), else INVALID_REQUEST. Topic resources only; broker configs are the gateway's own
 * settings (INVALID_REQUEST).
 */
import {
  incrementalAlterConfigsRequest,
  incrementalAlterConfigsResponse,
  type IncrementalAlterConfigsRequest,
  type IncrementalAlterConfigsRequestAlterConfigsResource,
  type IncrementalAlterConfigsResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { TopicAdmin } from '../log/topic-manager.js';
import { adminError, duplicates } from './admin-errors.js';
import { resourceProblem } from './alter-configs.js';
import type { ApiHandler, RequestContext } from './handler.js';

type ResourceResult = IncrementalAlterConfigsResponse['responses'][number];

export interface IncrementalAlterConfigsDependencies {
  readonly topics: TopicAdmin;
}

export function incrementalAlterConfigsHandler(
  deps: IncrementalAlterConfigsDependencies,
): ApiHandler<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse> {
  const { topics } = deps;

  async function alter(
    resource: IncrementalAlterConfigsRequestAlterConfigsResource,
    validateOnly: boolean,
    repeated: boolean,
    context: RequestContext,
  ): Promise<ResourceResult> {
    const result: ResourceResult = {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      resourceType: resource.resourceType,
      resourceName: resource.resourceName,
    };
    const problem = resourceProblem(resource.resourceType, resource.resourceName, repeated);
    if (problem !== null) return { ...result, errorCode: problem[0], errorMessage: problem[1] };
    try {
      await topics.incrementalAlterTopicConfigs(
        resource.resourceName,
        resource.configs.map((c) => ({ name: c.name, op: c.configOperation, value: c.value })),
        validateOnly,
      );
      return result;
    } catch (err) {
      const { errorCode, errorMessage } = adminError(err, context.log, `altering the configs of topic ${resource.resourceName}`);
      return { ...result, errorCode, errorMessage };
    }
  }

  return {
    request: incrementalAlterConfigsRequest,
    response: incrementalAlterConfigsResponse,
    minVersion: 0,
    maxVersion: 1,
    async handle(request, context) {
      const response = incrementalAlterConfigsResponse.create();
      const keys = request.resources.map((r) => `${r.resourceType}/${r.resourceName}`);
      const repeated = duplicates(keys);
      response.responses = await Promise.all(
        request.resources.map((resource, i) => alter(resource, request.validateOnly, repeated.has(keys[i]!), context)),
      );
      return response;
    },
  };
}
