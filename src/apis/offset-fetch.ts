import {
  offsetFetchRequest,
  offsetFetchResponse,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { GroupCoordinator, OffsetFetchOutcome, TopicPartitions } from '../groups/coordinator.js';
import type { ApiHandler } from './handler.js';

type TopicEntry = OffsetFetchResponse['topics'][number];

function topicEntries(outcome: OffsetFetchOutcome): TopicEntry[] {
  return outcome.topics.map((t) => ({
    name: t.topic,
    partitions: t.partitions.map((p) => ({
      partitionIndex: p.partition,
      committedOffset: p.offset,
      committedLeaderEpoch: p.leaderEpoch,
      metadata: p.metadata,
      errorCode: p.errorCode,
    })),
  }));
}

/**
 * OffsetFetch v0-v9: one group (v0-v7) or several (v8+); null topics (v2+) fetch every committed
 * offset of the group. require_stable (v7+) needs no waiting here: only stored commits are ever
 * visible and there are no transactional commits. The v9 member id and epoch belong to KIP-848
 * consumer groups and are ignored for classic groups, as Kafka does.
 */
export function offsetFetchHandler(coordinator: GroupCoordinator): ApiHandler<OffsetFetchRequest, OffsetFetchResponse> {
  return {
    request: offsetFetchRequest,
    response: offsetFetchResponse,
    minVersion: 0,
    maxVersion: 9,
    handle(request, context) {
      const version = context.apiVersion;
      const response = offsetFetchResponse.create();
      if (version >= 8) {
        response.groups = request.groups.map((group) => {
          const topics: TopicPartitions[] | null =
            group.topics === null ? null : group.topics.map((t) => ({ topic: t.name, partitions: t.partitionIndexes }));
          const outcome = coordinator.fetchOffsets(group.groupId, topics);
          return { groupId: group.groupId, errorCode: outcome.errorCode, topics: topicEntries(outcome) };
        });
        return response;
      }
      const topics: TopicPartitions[] | null =
        request.topics === null ? null : request.topics.map((t) => ({ topic: t.name, partitions: t.partitionIndexes }));
      const outcome = coordinator.fetchOffsets(request.groupId, topics);
      if (outcome.errorCode === ErrorCode.NONE) {
        response.topics = topicEntries(outcome);
      } else if (version >= 2) {
        response.errorCode = outcome.errorCode;
      } else {
        // v0-v1 have no top-level error: every requested partition carries it.
        response.topics = (topics ?? []).map((t) => ({
          name: t.topic,
          partitions: t.partitions.map((partitionIndex) => ({
            partitionIndex,
            committedOffset: -1n,
            committedLeaderEpoch: -1,
            metadata: '',
            errorCode: outcome.errorCode,
          })),
        }));
      }
      return response;
    },
  };
}
