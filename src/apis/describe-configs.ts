/**
 * DescribeConfigs (API key 32), v0-4, for TOPIC (2) and BROKER (4) resources.
 *
 * Topic configs: every supported config (src/log/topic-configs.ts) with its value and source:
 * DYNAMIC_TOPIC_CONFIG when set on the topic, STATIC_BROKER_CONFIG when it comes from the
 * gateway's configured defaults, DEFAULT_CONFIG otherwise. cleanup.policy is always the
 * read-only "delete". Synonyms (v1+, include_synonyms) list the topic value, then the broker
 * setting it falls back to; documentation (v3+) on request; config_type per KIP-492.
 *
 * Broker configs: the gateway's settings that concern topics, all read-only (they come from its
 * configuration, not from AlterConfigs). The resource name is this node's id, or "" for the
 * cluster-wide dynamic defaults, of which there are none.
 */
import {
  describeConfigsRequest,
  describeConfigsResponse,
  type DescribeConfigsRequest,
  type DescribeConfigsRequestDescribeConfigsResource,
  type DescribeConfigsResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ClusterView } from '../cluster/cluster.js';
import { ConfigSource, ConfigType, type ConfigEntry } from '../log/topic-configs.js';
import type { TopicAdmin } from '../log/topic-manager.js';
import { ResourceType, adminError } from './admin-errors.js';
import type { ApiHandler, RequestContext } from './handler.js';

type ResourceResult = DescribeConfigsResponse['results'][number];
type ConfigResult = ResourceResult['configs'][number];

export interface DescribeConfigsDependencies {
  readonly topics: TopicAdmin;
  readonly cluster: ClusterView;
  /** More read-only broker settings to report (name -> value), e.g. from the gateway's configuration. */
  readonly brokerSettings?: Readonly<Record<string, string>>;
}

export function describeConfigsHandler(deps: DescribeConfigsDependencies): ApiHandler<DescribeConfigsRequest, DescribeConfigsResponse> {
  const { topics, cluster } = deps;

  function brokerEntries(): ConfigEntry[] {
    const extra: ConfigEntry[] = Object.entries({ 'broker.id': String(cluster.self.nodeId), ...deps.brokerSettings }).map(([name, value]) => ({
      name,
      value,
      source: ConfigSource.STATIC_BROKER_CONFIG,
      readOnly: true,
      sensitive: false,
      type: /^-?[0-9]+$/.test(value) ? ConfigType.INT : /^(true|false)$/.test(value) ? ConfigType.BOOLEAN : ConfigType.STRING,
      documentation: 'A gateway setting.',
      synonyms: [{ name, value, source: ConfigSource.STATIC_BROKER_CONFIG }],
    }));
    const merged = new Map<string, ConfigEntry>();
    for (const entry of [...topics.brokerConfigs(), ...extra]) merged.set(entry.name, entry);
    return [...merged.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  function toResult(entry: ConfigEntry, resourceType: number, request: DescribeConfigsRequest): ConfigResult {
    return {
      name: entry.name,
      value: entry.value,
      readOnly: entry.readOnly,
      // v0 has only is_default: "not set" for this resource.
      isDefault: resourceType === ResourceType.TOPIC ? entry.source !== ConfigSource.DYNAMIC_TOPIC_CONFIG : entry.source === ConfigSource.DEFAULT_CONFIG,
      configSource: entry.source,
      isSensitive: entry.sensitive,
      synonyms: request.includeSynonyms ? entry.synonyms.map((s) => ({ name: s.name, value: s.value, source: s.source })) : [],
      configType: entry.type,
      documentation: request.includeDocumentation ? entry.documentation : null,
    };
  }

  async function describe(
    resource: DescribeConfigsRequestDescribeConfigsResource,
    request: DescribeConfigsRequest,
    context: RequestContext,
  ): Promise<ResourceResult> {
    const result: ResourceResult = {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      resourceType: resource.resourceType,
      resourceName: resource.resourceName,
      configs: [],
    };
    const fail = (errorCode: number, errorMessage: string): ResourceResult => ({ ...result, errorCode, errorMessage });
    let entries: ConfigEntry[];
    if (resource.resourceType === ResourceType.TOPIC) {
      try {
        entries = await topics.describeTopicConfigs(resource.resourceName);
      } catch (err) {
        const { errorCode, errorMessage } = adminError(err, context.log, `describing the configs of topic ${resource.resourceName}`);
        return fail(errorCode, errorMessage);
      }
    } else if (resource.resourceType === ResourceType.BROKER) {
      if (resource.resourceName === '') {
        entries = []; // no cluster-wide dynamic defaults: every setting is static
      } else if (resource.resourceName === String(cluster.self.nodeId)) {
        entries = brokerEntries();
      } else {
        return fail(
          ErrorCode.INVALID_REQUEST,
          `Unexpected broker id, expected ${cluster.self.nodeId} or empty string, but received ${resource.resourceName}`,
        );
      }
    } else {
      return fail(
        ErrorCode.INVALID_REQUEST,
        `Resource type ${resource.resourceType} is not supported: the gateway describes TOPIC (2) and BROKER (4) configs`,
      );
    }
    const keys = resource.configurationKeys === null ? null : new Set(resource.configurationKeys);
    result.configs = entries.filter((e) => keys === null || keys.has(e.name)).map((e) => toResult(e, resource.resourceType, request));
    return result;
  }

  return {
    request: describeConfigsRequest,
    response: describeConfigsResponse,
    minVersion: 0,
    maxVersion: 4,
    async handle(request, context) {
      const response = describeConfigsResponse.create();
      response.results = await Promise.all(request.resources.map((resource) => describe(resource, request, context)));
      return response;
    },
  };
}
