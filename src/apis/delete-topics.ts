/**
 * DeleteTopics (API key 20), v0-6: deletes the stream and the topic's record; v6 names topics
 * by name or by topic id. timeout_ms bounds the wait for the stream to disappear: when it runs
 * out the result is REQUEST_TIMED_OUT, as in Kafka, though the topic is already gone from
 * Metadata and the deletion completes in Kinesis.
 */
import {
  createDeleteTopicsResponseDeletableTopicResult,
  deleteTopicsRequest,
  deleteTopicsResponse,
  type DeleteTopicsRequest,
  type DeleteTopicsResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import { ZERO_UUID } from '../protocol/primitives.js';
import type { TopicAdmin } from '../log/topic-manager.js';
import { adminError, duplicates } from './admin-errors.js';
import type { ApiHandler, RequestContext } from './handler.js';

type TopicResult = DeleteTopicsResponse['responses'][number];

export interface DeleteTopicsDependencies {
  readonly topics: TopicAdmin;
  /** Called once a topic is deleted, so the log layer can drop its state. Errors are logged. */
  readonly onTopicDeleted?: (topic: { name: string; topicId: string; partitionCount: number }) => Promise<void> | void;
}

interface Target {
  readonly name: string | null;
  readonly topicId: string;
}

export function deleteTopicsHandler(deps: DeleteTopicsDependencies): ApiHandler<DeleteTopicsRequest, DeleteTopicsResponse> {
  const { topics } = deps;

  function result(target: Target, errorCode: number, errorMessage: string | null): TopicResult {
    const entry = createDeleteTopicsResponseDeletableTopicResult();
    entry.name = target.name;
    entry.topicId = target.topicId;
    entry.errorCode = errorCode;
    entry.errorMessage = errorMessage;
    return entry;
  }

  async function remove(target: Target, timeoutMs: number, context: RequestContext): Promise<TopicResult> {
    let name = target.name;
    let topicId: string | undefined;
    try {
      if (name === null) {
        const topic = await topics.getTopicById(target.topicId);
        if (topic === undefined) return result(target, ErrorCode.UNKNOWN_TOPIC_ID, `No topic with id ${target.topicId}`);
        name = topic.name;
        topicId = target.topicId;
      }
      const deleted = await topics.deleteTopic(name, { waitMs: timeoutMs, ...(topicId !== undefined ? { topicId } : {}) });
      const done = { name, topicId: deleted.topicId ?? target.topicId };
      if (deleted.topicId !== null && deps.onTopicDeleted !== undefined) {
        try {
          await deps.onTopicDeleted({ name, topicId: deleted.topicId, partitionCount: deleted.partitionCount });
        } catch (err) {
          context.log.error({ err, topic: name }, 'dropping the state of a deleted topic failed');
        }
      }
      if (deleted.pending && timeoutMs > 0) {
        return result(done, ErrorCode.REQUEST_TIMED_OUT, `The stream of topic '${name}' is still being deleted`);
      }
      return result(done, ErrorCode.NONE, null);
    } catch (err) {
      const { errorCode, errorMessage } = adminError(err, context.log, `deleting topic ${name ?? target.topicId}`);
      return result({ name, topicId: target.topicId }, errorCode, errorMessage);
    }
  }

  return {
    request: deleteTopicsRequest,
    response: deleteTopicsResponse,
    minVersion: 0,
    maxVersion: 6,
    async handle(request, context) {
      const response = deleteTopicsResponse.create();
      const targets: Target[] =
        context.apiVersion >= 6 ? request.topics.map((t) => ({ name: t.name, topicId: t.topicId })) : request.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
      const repeated = duplicates(targets.map((t) => t.name ?? `id:${t.topicId}`));
      const reported = new Set<string>();
      const results: Promise<TopicResult>[] = [];
      for (const target of targets) {
        const key = target.name ?? `id:${target.topicId}`;
        if (reported.has(key)) continue;
        reported.add(key);
        if (repeated.has(key)) {
          results.push(Promise.resolve(result(target, ErrorCode.INVALID_REQUEST, 'The topic appears more than once in the request')));
        } else if (target.name !== null && target.topicId !== ZERO_UUID) {
          results.push(Promise.resolve(result(target, ErrorCode.INVALID_REQUEST, 'Give a topic name or a topic id, not both')));
        } else if (target.name === null && target.topicId === ZERO_UUID) {
          results.push(Promise.resolve(result(target, ErrorCode.INVALID_REQUEST, 'Give a topic name or a topic id')));
        } else {
          results.push(remove(target, request.timeoutMs, context));
        }
      }
      response.responses = await Promise.all(results);
      return response;
    },
  };
}
