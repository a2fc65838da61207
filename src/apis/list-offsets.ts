import {
  createListOffsetsResponseListOffsetsPartitionResponse,
  listOffsetsRequest,
  listOffsetsResponse,
  type ListOffsetsRequest,
  type ListOffsetsResponse,
  type ListOffsetsResponseListOffsetsPartitionResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import { decodeBatch, recordTimestamp } from '../protocol/records/record-batch.js';
import type { LedPartition, LogManager } from '../log/log-manager.js';
import type { StoredBatch } from '../log/stored-batch.js';
import type { ApiHandler } from './handler.js';
import { leaderEpochError, lookupPartition, type DataPath } from './data-path.js';

/** The special timestamps of ListOffsets. */
const LATEST = -1n;
const EARLIEST = -2n;
const MAX_TIMESTAMP = -3n;
const EARLIEST_LOCAL = -4n;
const LATEST_TIERED = -5n;

interface Found {
  readonly offset: bigint;
  readonly timestamp: bigint;
}

/** The first record of these batches whose timestamp is at least `timestamp`. */
async function firstRecordAtOrAfter(batches: readonly StoredBatch[], timestamp: bigint): Promise<Found | undefined> {
  for (const batch of batches) {
    if (batch.maxTimestamp < timestamp) continue;
    const decoded = await decodeBatch(batch.bytes);
    for (const record of decoded.records) {
      const at = recordTimestamp(decoded.header, record);
      if (at >= timestamp) return { offset: batch.baseOffset + BigInt(record.offsetDelta), timestamp: at };
    }
  }
  return undefined;
}

/** Searches below the tail from the index anchor before `timestamp`, then the tail. */
async function searchByTimestamp(logs: LogManager, led: LedPartition, timestamp: bigint): Promise<Found | undefined> {
  const log = led.log;
  const anchor = await logs.index.firstAtOrAfterTimestamp(led.topic.topicId, led.partition, Number(timestamp));
  let position = anchor?.offset ?? log.tailStartOffset;
  while (position < log.tailStartOffset) {
    const batches = await logs.readBelowTail(led, position, 1 << 20);
    const last = batches[batches.length - 1];
    if (last === undefined) break;
    const found = await firstRecordAtOrAfter(batches, timestamp);
    if (found !== undefined) return found;
    position = last.lastOffset + 1n;
  }
  const tail = log.read(log.tailStartOffset, Number.MAX_SAFE_INTEGER);
  return tail.kind === 'batches' ? firstRecordAtOrAfter(tail.batches, timestamp) : undefined;
}

/** The record with the largest timestamp among those in the tail (the earliest such record). */
async function maxTimestampRecord(led: LedPartition): Promise<Found | undefined> {
  const tail = led.log.read(led.log.tailStartOffset, Number.MAX_SAFE_INTEGER);
  if (tail.kind !== 'batches' || tail.batches.length === 0) return undefined;
  let best = tail.batches[0] as StoredBatch;
  for (const batch of tail.batches) if (batch.maxTimestamp > best.maxTimestamp) best = batch;
  return firstRecordAtOrAfter([best], best.maxTimestamp);
}

export function listOffsetsHandler(dataPath: DataPath): ApiHandler<ListOffsetsRequest, ListOffsetsResponse> {
  async function answer(
    led: LedPartition,
    timestamp: bigint,
    result: ListOffsetsResponseListOffsetsPartitionResponse,
  ): Promise<void> {
    const log = led.log;
    result.leaderEpoch = led.lease.epoch;
    let found: Found | undefined;
    if (timestamp === LATEST) found = { offset: log.highWatermark, timestamp: -1n };
    else if (timestamp === EARLIEST || timestamp === EARLIEST_LOCAL) found = { offset: log.logStartOffset, timestamp: -1n };
    else if (timestamp === MAX_TIMESTAMP) found = await maxTimestampRecord(led);
    else if (timestamp === LATEST_TIERED) found = undefined; // no tiered storage
    else if (timestamp >= 0n) found = await searchByTimestamp(dataPath.logs, led, timestamp);
    else {
      result.errorCode = ErrorCode.INVALID_REQUEST;
      return;
    }
    result.offset = found?.offset ?? -1n;
    result.timestamp = found?.timestamp ?? -1n;
    result.oldStyleOffsets = found === undefined ? [] : [found.offset];
  }

  return {
    request: listOffsetsRequest,
    response: listOffsetsResponse,
    minVersion: 0,
    maxVersion: 10,
    async handle(request, context) {
      const response = listOffsetsResponse.create();
      for (const topicRequest of request.topics) {
        const topic = await dataPath.registry.topic(topicRequest.name);
        const partitions: ListOffsetsResponseListOffsetsPartitionResponse[] = [];
        response.topics.push({ name: topicRequest.name, partitions });
        await Promise.all(
          topicRequest.partitions.map(async (partitionRequest) => {
            const result = createListOffsetsResponseListOffsetsPartitionResponse();
            result.partitionIndex = partitionRequest.partitionIndex;
            partitions.push(result);
            const lookup = await lookupPartition(dataPath, topic, partitionRequest.partitionIndex, context.receivedAtMs);
            if (!lookup.ok) {
              result.errorCode = lookup.errorCode;
              return;
            }
            result.errorCode = leaderEpochError(lookup.led, partitionRequest.currentLeaderEpoch);
            if (result.errorCode === ErrorCode.NONE) await answer(lookup.led, partitionRequest.timestamp, result);
          }),
        );
        partitions.sort((a, b) => a.partitionIndex - b.partitionIndex);
      }
      return response;
    },
  };
}
