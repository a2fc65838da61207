/**
 * AlterConfigs (API key 33), v0-2, Kafka's legacy form: the configs given for a topic replace
 * every config set on it (those not given go back to their defaults); a null value means "not
 * set". Stream-level settings (retention, stream mode, record size) are changed on the stream
 * first, then the topic's record. Broker configs are the gateway's own settings and cannot be
 * altered through the protocol (INVALID_REQUEST).
 */
import {
  alterConfigsRequest,
  alterConfigsResponse,
  type AlterConfigsRequest,
  type AlterConfigsRequestAlterConfigsResource,
  type AlterConfigsResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { TopicAdmin } from '../log/topic-manager.js';
import { ResourceType, adminError, duplicates } from './admin-errors.js';
import type { ApiHandler, RequestContext } from './handler.js';

type ResourceResult = AlterConfigsResponse['responses'][number];

export interface AlterConfigsDependencies {
  readonly topics: TopicAdmin;
}

export const BROKER_CONFIGS_READ_ONLY =
  "Broker configs are the gateway's own settings: change them in its configuration (flags, environment or config file) and restart it";

/** Common checks of the two AlterConfigs APIs: the resource's error, or null when it is a topic to alter. */
export function resourceProblem(resourceType: number, resourceName: string, repeated: boolean): [number, string] | null {
  if (repeated) return [ErrorCode.INVALID_REQUEST, `Resource ${resourceName} (type ${resourceType}) appears more than once in the request`];
  if (resourceType === ResourceType.TOPIC) return null;
  if (resourceType === ResourceType.BROKER || resourceType === ResourceType.BROKER_LOGGER) return [ErrorCode.INVALID_REQUEST, BROKER_CONFIGS_READ_ONLY];
  return [ErrorCode.INVALID_REQUEST, `Resource type ${resourceType} is not supported: the gateway alters TOPIC (2) configs`];
}

export function alterConfigsHandler(deps: AlterConfigsDependencies): ApiHandler<AlterConfigsRequest, AlterConfigsResponse> {
  const { topics } = deps;

  async function alter(
    resource: AlterConfigsRequestAlterConfigsResource,
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
      await topics.replaceTopicConfigs(
        resource.resourceName,
        resource.configs.map((c) => [c.name, c.value] as const),
        validateOnly,
      );
      return result;
    } catch (err) {
      const { errorCode, errorMessage } = adminError(err, context.log, `altering the configs of topic ${resource.resourceName}`);
      return { ...result, errorCode, errorMessage };
    }
  }

  return {
    request: alterConfigsRequest,
    response: alterConfigsResponse,
    minVersion: 0,
    maxVersion: 2,
    async handle(request, context) {
      const response = alterConfigsResponse.create();
      const keys = request.resources.map((r) => `${r.resourceType}/${r.resourceName}`);
      const repeated = duplicates(keys);
      response.responses = await Promise.all(
        request.resources.map((resource, i) => alter(resource, request.validateOnly, repeated.has(keys[i]!), context)),
      );
      return response;
    },
  };
}
