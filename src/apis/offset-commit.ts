import {
  offsetCommitRequest,
  offsetCommitResponse,
  type OffsetCommitRequest,
  type OffsetCommitResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { OffsetCommitEntry } from '../groups/coordinator.js';
import type { ApiHandler } from './handler.js';
import { ConnectionSequencer, partitionCounts, partitionExists, type GroupApiDependencies } from './group-support.js';

/**
 * OffsetCommit v0-v9. Generation-checked commits from group members, and commits with
 * generation -1 and no member id from consumers that manage partitions themselves (accepted
 * while the group has no members). Each partition is answered once DynamoDB has stored it.
 * Partitions of unknown topics get UNKNOWN_TOPIC_OR_PARTITION.
 */
export function offsetCommitHandler(deps: GroupApiDependencies): ApiHandler<OffsetCommitRequest, OffsetCommitResponse> {
  const sequencer = deps.sequencer ?? new ConnectionSequencer();
  return {
    request: offsetCommitRequest,
    response: offsetCommitResponse,
    minVersion: 0,
    maxVersion: 9,
    async handle(request, context) {
      const version = context.apiVersion;
      // Commits of one connection take effect in request order, although looking topics up may not finish in order.
      const release = await sequencer.turn(context.connectionId);
      let results: Promise<number[]>;
      const codes: number[][] = request.topics.map((t) => t.partitions.map(() => ErrorCode.NONE));
      const entries: OffsetCommitEntry[] = [];
      const positions: [number, number][] = [];
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
            entries.push({
              topic: topic.name,
              partition: p.partitionIndex,
              offset: p.committedOffset,
              leaderEpoch: version >= 6 ? p.committedLeaderEpoch : -1,
              metadata: p.committedMetadata,
              ...(version === 1 ? { commitTimestampMs: Number(p.commitTimestamp) } : {}),
            });
            positions.push([t, i]);
          });
        });
        results =
          entries.length === 0
            ? Promise.resolve([])
            : deps.coordinator.commitOffsets({
                groupId: request.groupId,
                generationId: version >= 1 ? request.generationIdOrMemberEpoch : -1,
                memberId: version >= 1 ? request.memberId : '',
                groupInstanceId: version >= 7 ? request.groupInstanceId : null,
                retentionTimeMs: version >= 2 && version <= 4 ? Number(request.retentionTimeMs) : -1,
                offsets: entries,
              });
      } finally {
        release();
      }
      const stored = await results;
      stored.forEach((code, k) => {
        const [t, i] = positions[k] as [number, number];
        (codes[t] as number[])[i] = code;
      });
      const response = offsetCommitResponse.create();
      response.topics = request.topics.map((topic, t) => ({
        name: topic.name,
        partitions: topic.partitions.map((p, i) => ({ partitionIndex: p.partitionIndex, errorCode: (codes[t] as number[])[i] as number })),
      }));
      return response;
    },
  };
}
