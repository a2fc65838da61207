/**
 * CreateTopics (API key 19), v0-7: a topic is a Kinesis stream plus its record (see
 * src/log/topic-manager.ts). num_partitions -1 takes the default; any replication factor >= 1 (or
 * -1) is accepted and reported, since Kinesis replicates every stream itself; manual replica
 * assignments are refused (INVALID_REQUEST): Kinesis decides where shards live.
 *
 * timeout_ms bounds the wait for the stream to become ACTIVE: when it runs out the topic's
 * result is REQUEST_TIMED_OUT and creation goes on, as in Kafka; timeout_ms <= 0 answers once
 * Kinesis has accepted CreateStream.
 */
import {
  createCreateTopicsResponseCreatableTopicResult,
  createTopicsRequest,
  createTopicsResponse,
  type CreateTopicsRequest,
  type CreateTopicsRequestCreatableTopic,
  type CreateTopicsResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { TopicAdmin } from '../log/topic-manager.js';
import { adminError, duplicates } from './admin-errors.js';
import type { ApiHandler, RequestContext } from './handler.js';

type TopicResult = CreateTopicsResponse['topics'][number];

export interface CreateTopicsDependencies {
  readonly topics: TopicAdmin;
}

export function createTopicsHandler(deps: CreateTopicsDependencies): ApiHandler<CreateTopicsRequest, CreateTopicsResponse> {
  const { topics } = deps;

  function failed(name: string, errorCode: number, errorMessage: string): TopicResult {
    const result = createCreateTopicsResponseCreatableTopicResult();
    result.name = name;
    result.errorCode = errorCode;
    result.errorMessage = errorMessage;
    return result;
  }

  async function create(
    topic: CreateTopicsRequestCreatableTopic,
    request: CreateTopicsRequest,
    context: RequestContext,
  ): Promise<TopicResult> {
    if (topic.assignments.length > 0) {
      return failed(
        topic.name,
        ErrorCode.INVALID_REQUEST,
        'Manual replica assignment is not supported: Kinesis places the shards; give num_partitions instead',
      );
    }
    try {
      const created = await topics.createTopic(
        {
          name: topic.name,
          partitions: topic.numPartitions,
          replicationFactor: topic.replicationFactor,
          configs: topic.configs.map((c) => [c.name, c.value] as const),
        },
        { validateOnly: request.validateOnly, waitMs: request.timeoutMs },
      );
      if (created.pending && request.timeoutMs > 0) {
        return failed(
          topic.name,
          ErrorCode.REQUEST_TIMED_OUT,
          `The stream of topic '${topic.name}' was not ready within ${request.timeoutMs} ms; its creation continues`,
        );
      }
      const result = createCreateTopicsResponseCreatableTopicResult();
      result.name = topic.name;
      result.errorMessage = null;
      result.topicId = created.topicId;
      result.numPartitions = created.partitionCount;
      result.replicationFactor = created.replicationFactor;
      result.configs = created.configs.map((c) => ({
        name: c.name,
        value: c.value,
        readOnly: c.readOnly,
        configSource: c.source,
        isSensitive: c.sensitive,
      }));
      return result;
    } catch (err) {
      const { errorCode, errorMessage } = adminError(err, context.log, `creating topic ${topic.name}`);
      return failed(topic.name, errorCode, errorMessage);
    }
  }

  return {
    request: createTopicsRequest,
    response: createTopicsResponse,
    minVersion: 0,
    maxVersion: 7,
    async handle(request, context) {
      const response = createTopicsResponse.create();
      const repeated = duplicates(request.topics.map((t) => t.name));
      const reported = new Set<string>();
      const results: Promise<TopicResult>[] = [];
      for (const topic of request.topics) {
        if (reported.has(topic.name)) continue;
        reported.add(topic.name);
        if (repeated.has(topic.name)) {
          results.push(
            Promise.resolve(failed(topic.name, ErrorCode.INVALID_REQUEST, `Topic '${topic.name}' appears more than once in the request`)),
          );
        } else {
          results.push(create(topic, request, context));
        }
      }
      response.topics = await Promise.all(results);
      return response;
    },
  };
}
