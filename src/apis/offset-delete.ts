import {
  offsetDeleteRequest,
  offsetDeleteResponse,
  type OffsetDeleteRequest,
  type OffsetDeleteResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ApiHandler } from './handler.js';
import { ConnectionSequencer, partitionCounts, partitionExists, type GroupApiDependencies } from './group-support.js';

/**
 * OffsetDelete v0: removes committed offsets of an empty group, or of topics a consumer group no
 * longer subscribes to (GROUP_SUBSCRIBED_TO_TOPIC for the others; NON_EMPTY_GROUP for a non-empty
 * group that is not a consumer group; GROUP_ID_NOT_FOUND for an unknown one).
 */
export function offsetDeleteHandler(deps: GroupApiDependencies): ApiHandler<OffsetDeleteRequest, OffsetDeleteResponse> {
  const sequencer = deps.sequencer ?? new ConnectionSequencer();
  return {
    request: offsetDeleteRequest,
    response: offsetDeleteResponse,
    minVersion: 0,
    maxVersion: 0,
    async handle(request, context) {
      const release = await sequencer.turn(context.connectionId);
      const codes: number[][] = request.topics.map((t) => t.partitions.map(() => ErrorCode.NONE));
      const known: { topic: string; partition: number }[] = [];
      const positions: [number, number][] = [];
      let outcome;
      try {
        const counts = await partitionCounts(
          deps.catalog,
          request.topics.map((t) => t.name),
        );
        request.topics.forEach((topic, t) => {
          topic.partitions.forEach((p, i) => {
            if (!partitionExists(counts, topic.name, p.partitionIndex)) {
              (codes[t] as number[])[i] = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
              return;
            }
            known.push({ topic: topic.name, partition: p.partitionIndex });
            positions.push([t, i]);
          });
        });
        outcome = deps.coordinator.deleteOffsets(request.groupId, known);
      } finally {
        release();
      }
      const { errorCode, partitionErrors } = await outcome;
      const response = offsetDeleteResponse.create();
      response.errorCode = errorCode;
      partitionErrors.forEach((code, k) => {
        const [t, i] = positions[k] as [number, number];
        (codes[t] as number[])[i] = code;
      });
      // With a group-level error only the partitions found invalid on the way are listed.
      response.topics = request.topics
        .map((topic, t) => ({
          name: topic.name,
          partitions: topic.partitions
            .map((p, i) => ({ partitionIndex: p.partitionIndex, errorCode: (codes[t] as number[])[i] as number }))
            .filter((p) => errorCode === ErrorCode.NONE || p.errorCode !== ErrorCode.NONE),
        }))
        .filter((topic) => topic.partitions.length > 0 || errorCode === ErrorCode.NONE);
      return response;
    },
  };
}
