import {
  createFetchResponsePartitionData,
  fetchRequest,
  fetchResponse,
  type FetchRequest,
  type FetchResponse,
  type FetchResponsePartitionData,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import { bytesLength } from '../protocol/primitives.js';
import type { LedPartition } from '../log/log-manager.js';
import type { StoredBatch } from '../log/stored-batch.js';
import type { Topic } from '../log/topics.js';
import type { ApiHandler } from './handler.js';
import { leaderEpochError, lookupPartition, type DataPath } from './data-path.js';

/** FetchRequest.IsolationLevel */
const READ_COMMITTED = 1;
/** Fetch v13 replaced topic names by topic ids. */
const TOPIC_IDS_FROM_VERSION = 13;

interface PartitionFetch {
  readonly led: LedPartition | undefined;
  readonly fetchOffset: bigint;
  readonly partitionMaxBytes: number;
  readonly answer: FetchResponsePartitionData;
}

/**
 * Fetch: whole record batches from the partition's in-memory tail, or from Kinesis through
 * the offset index below it; long-polls up to max_wait_ms until min_bytes are there. Fetch
 * sessions (KIP-227) are declined: every answer carries session id 0, which clients take as
 * "no session" and keep sending full fetch requests.
 */
export function fetchHandler(dataPath: DataPath): ApiHandler<FetchRequest, FetchResponse> {
  async function resolveTopic(
    name: string,
    topicId: string,
    byId: boolean,
  ): Promise<Topic | undefined> {
    if (!byId) return dataPath.registry.topic(name);
    const description = await dataPath.registry.getTopicById(topicId);
    return description === undefined ? undefined : dataPath.registry.topic(description.name);
  }

  /** The partition's batches from its fetch offset, up to maxBytes (at least one batch if any). */
  async function readPartition(fetch: PartitionFetch, maxBytes: number): Promise<readonly StoredBatch[]> {
    const { led, answer } = fetch;
    if (led === undefined || answer.errorCode !== ErrorCode.NONE) return [];
    const log = led.log;
    answer.highWatermark = log.highWatermark;
    answer.lastStableOffset = log.highWatermark;
    answer.logStartOffset = log.logStartOffset;
    if (fetch.fetchOffset < log.logStartOffset || fetch.fetchOffset > log.highWatermark) {
      answer.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
      return [];
    }
    const read = log.read(fetch.fetchOffset, maxBytes);
    dataPath.metrics?.tailCache(read.kind === 'batches');
    if (read.kind === 'batches') return read.batches;
    const batches = await dataPath.logs.readBelowTail(led, fetch.fetchOffset, maxBytes);
    if (fetch.fetchOffset < log.logStartOffset) {
      // Kinesis had expired the records: the log start moved up while reading.
      answer.logStartOffset = log.logStartOffset;
      answer.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
      return [];
    }
    return batches;
  }

  return {
    request: fetchRequest,
    response: fetchResponse,
    // Magic 2 record batches start at Fetch v4.
    minVersion: 4,
    maxVersion: 17,
    async handle(request, context) {
      const response = fetchResponse.create();
      if (request.sessionId !== 0) {
        // We never hand out sessions, so an incremental fetch names one we do not have.
        response.errorCode = ErrorCode.FETCH_SESSION_ID_NOT_FOUND;
        return response;
      }
      const byId = context.apiVersion >= TOPIC_IDS_FROM_VERSION;
      const fetches: PartitionFetch[] = [];
      for (const topicRequest of request.topics) {
        const topic = await resolveTopic(topicRequest.topic, topicRequest.topicId, byId);
        const topicAnswer = { topic: topicRequest.topic, topicId: topicRequest.topicId, partitions: [] as FetchResponsePartitionData[] };
        response.responses.push(topicAnswer);
        for (const partitionRequest of topicRequest.partitions) {
          const answer = createFetchResponsePartitionData();
          answer.partitionIndex = partitionRequest.partition;
          answer.abortedTransactions = request.isolationLevel === READ_COMMITTED ? [] : null;
          topicAnswer.partitions.push(answer);
          let led: LedPartition | undefined;
          if (topic === undefined && byId) {
            answer.errorCode = ErrorCode.UNKNOWN_TOPIC_ID;
          } else {
            const lookup = await lookupPartition(dataPath, topic, partitionRequest.partition, context.receivedAtMs);
            if (lookup.ok) {
              led = lookup.led;
              answer.errorCode = leaderEpochError(led, partitionRequest.currentLeaderEpoch);
            } else {
              answer.errorCode = lookup.errorCode;
            }
          }
          fetches.push({
            led,
            fetchOffset: partitionRequest.fetchOffset,
            partitionMaxBytes: partitionRequest.partitionMaxBytes,
            answer,
          });
        }
      }

      const deadline = Date.now() + Math.max(0, request.maxWaitMs);
      for (;;) {
        const maxBytes = request.maxBytes > 0 ? request.maxBytes : Number.MAX_SAFE_INTEGER;
        // Partitions are read at once (reads below the tail go to Kinesis), then given the
        // response's byte budget in request order.
        const reads = await Promise.all(fetches.map((f) => readPartition(f, Math.max(0, Math.min(f.partitionMaxBytes, maxBytes)))));
        let budget = maxBytes;
        let total = 0;
        fetches.forEach((fetch, i) => {
          const taken: StoredBatch[] = [];
          let bytes = 0;
          for (const batch of reads[i] ?? []) {
            // A partition's first batch is returned even when larger than the limits (KIP-74),
            // so that a big batch can never stall a consumer; the rest must fit.
            const fits = taken.length === 0 ? budget > 0 || total === 0 : bytes + batch.bytes.length <= Math.min(fetch.partitionMaxBytes, budget);
            if (!fits) break;
            taken.push(batch);
            bytes += batch.bytes.length;
          }
          // The batches follow one another in the response, not copied together.
          fetch.answer.records = taken.length === 0 ? null : taken.map((b) => b.bytes);
          budget -= bytes;
          total += bytes;
        });
        const failed = fetches.some((f) => f.answer.errorCode !== ErrorCode.NONE);
        const remaining = deadline - Date.now();
        if (total >= request.minBytes || total > 0 && request.minBytes <= 1 || failed || remaining <= 0) break;
        const waits = fetches
          .filter((f) => f.led !== undefined)
          .map((f) => (f.led as LedPartition).log.waitForData(f.fetchOffset, remaining));
        if (waits.length === 0) break;
        await Promise.race(waits);
      }
      for (const fetch of fetches) {
        if (fetch.answer.records === null) fetch.answer.records = Buffer.alloc(0);
        dataPath.metrics?.fetchPartition(fetch.led?.topic.name, fetch.answer.errorCode, bytesLength(fetch.answer.records));
      }
      return response;
    },
  };
}
