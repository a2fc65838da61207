import {
  createOffsetForLeaderEpochResponseEpochEndOffset,
  offsetForLeaderEpochRequest,
  offsetForLeaderEpochResponse,
  type OffsetForLeaderEpochRequest,
  type OffsetForLeaderEpochResponse,
  type OffsetForLeaderEpochResponseEpochEndOffset,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ApiHandler } from './handler.js';
import { leaderEpochError, lookupPartition, type DataPath } from './data-path.js';

/**
 * OffsetForLeaderEpoch (KIP-101/KIP-320): consumers ask for the end offset of the leader epoch
 * of the last batch they read, to detect log truncation. The gateway's log is never truncated
 * (offsets are a function of what Kinesis holds), so the end offset of any epoch up to the
 * current one is the high watermark, and a consumer never finds itself past it.
 */
export function offsetForLeaderEpochHandler(
  dataPath: DataPath,
): ApiHandler<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse> {
  return {
    request: offsetForLeaderEpochRequest,
    response: offsetForLeaderEpochResponse,
    minVersion: 0,
    maxVersion: 4,
    async handle(request, context) {
      const response = offsetForLeaderEpochResponse.create();
      for (const topicRequest of request.topics) {
        const topic = await dataPath.registry.topic(topicRequest.topic);
        const partitions: OffsetForLeaderEpochResponseEpochEndOffset[] = [];
        response.topics.push({ topic: topicRequest.topic, partitions });
        for (const partitionRequest of topicRequest.partitions) {
          const result = createOffsetForLeaderEpochResponseEpochEndOffset();
          result.partition = partitionRequest.partition;
          partitions.push(result);
          const lookup = await lookupPartition(dataPath, topic, partitionRequest.partition, context.receivedAtMs);
          if (!lookup.ok) {
            result.errorCode = lookup.errorCode;
            continue;
          }
          const { led } = lookup;
          result.errorCode = leaderEpochError(led, partitionRequest.currentLeaderEpoch);
          if (result.errorCode !== ErrorCode.NONE) continue;
          if (partitionRequest.leaderEpoch > led.lease.epoch) {
            result.leaderEpoch = -1;
            result.endOffset = -1n;
          } else {
            result.leaderEpoch = partitionRequest.leaderEpoch;
            result.endOffset = led.log.highWatermark;
          }
        }
      }
      return response;
    },
  };
}
