import {
  createProduceResponsePartitionProduceResponse,
  produceRequest,
  produceResponse,
  type ProduceRequest,
  type ProduceResponse,
  type ProduceResponsePartitionProduceResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import {
  decodeBatch,
  readBatchHeader,
  splitBatches,
  verifyCrc,
  RecordError,
} from '../protocol/records/record-batch.js';
import {
  RecordTooLargeError,
  toKafkaFormatRecord,
  toKplRecords,
  toRawRecords,
  type GatewayRecord,
  type KinesisPutEntry,
} from '../kinesis/record-formats.js';
import { encodeOwnBatch, type OwnBatch } from '../log/stored-batch.js';
import { WriteError, type PutResult, type Reservation } from '../log/stream-writer.js';
import type { LedPartition } from '../log/log-manager.js';
import { LeadershipLostError } from '../log/partition-log.js';
import type { Topic } from '../log/topics.js';
import { CANCELLED_FOLLOWER_ERROR, type IdempotentBatch, type WriteTicket } from '../producers/idempotence.js';
import { producerPartitionKey } from '../producers/producer-state-store.js';
import type { ApiHandler } from './handler.js';
import { lookupPartition, type DataPath } from './data-path.js';

/** Kinesis's record size limit (data plus partition key). */
const KINESIS_MAX_RECORD_BYTES = 1024 * 1024;

/** A failure that answers one partition with a Kafka error. */
class PartitionError extends Error {
  constructor(
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Kinesis records to write, and for kpl aggregates the stored batch each becomes once read back. */
interface PreparedWrite {
  readonly entries: KinesisPutEntry[];
  /** The stored batch of each kpl entry, by entry index (the tailer takes it instead of decoding). */
  readonly ownBatches: Map<number, OwnBatch>;
}

/** Turns the partition's record batches into Kinesis records in the topic's format. */
async function toKinesisEntries(topic: Topic, partition: number, records: Buffer | null): Promise<PreparedWrite> {
  if (records === null || records.length === 0) {
    throw new PartitionError(ErrorCode.CORRUPT_MESSAGE, 'no record batch');
  }
  const { batches, trailing } = splitBatches(records);
  if (trailing.length > 0) throw new PartitionError(ErrorCode.CORRUPT_MESSAGE, 'the last record batch is truncated');
  const entries: KinesisPutEntry[] = [];
  const ownBatches = new Map<number, OwnBatch>();
  for (const batch of batches) {
    const header = readBatchHeader(batch);
    if (batch.length > topic.maxMessageBytes) {
      throw new PartitionError(
        ErrorCode.MESSAGE_TOO_LARGE,
        `record batch of ${batch.length} bytes exceeds max.message.bytes ${topic.maxMessageBytes}`,
      );
    }
    if (!verifyCrc(batch)) throw new PartitionError(ErrorCode.CORRUPT_MESSAGE, 'record batch CRC mismatch');
    if (header.isControl) throw new PartitionError(ErrorCode.INVALID_RECORD, 'producers may not write control batches');
    if (header.isTransactional) {
      throw new PartitionError(ErrorCode.INVALID_RECORD, 'transactions are not supported by this gateway');
    }
    if (topic.recordFormat === 'kafka') {
      entries.push(toKafkaFormatRecord(partition, topic.partitionCount, batch, KINESIS_MAX_RECORD_BYTES));
      continue;
    }
    const decoded = await decodeBatch(batch, { verifyCrc: false });
    const records: GatewayRecord[] = decoded.records.map((r) => ({
      key: r.key,
      value: r.value,
      headers: r.headers,
      timestamp: header.baseTimestamp + BigInt(r.timestampDelta),
    }));
    if (topic.recordFormat === 'raw') {
      entries.push(...toRawRecords(partition, topic.partitionCount, records, KINESIS_MAX_RECORD_BYTES));
    } else {
      const identity =
        header.producerId >= 0n
          ? {
              producerId: header.producerId,
              producerEpoch: header.producerEpoch,
              baseSequence: header.baseSequence,
              attributes: header.attributes,
            }
          : null;
      for (const aggregate of toKplRecords(partition, topic.partitionCount, records, identity, KINESIS_MAX_RECORD_BYTES)) {
        ownBatches.set(entries.length, encodeOwnBatch(aggregate.records, aggregate.aggregateIndex === 0 ? identity : null));
        entries.push(aggregate);
      }
    }
  }
  return { entries, ownBatches };
}

/**
 * The identity of an idempotent producer's batches in this partition's records (one batch per
 * partition is what producers send; several are taken as one run of sequences), or undefined.
 */
function idempotentBatch(records: Buffer | null): IdempotentBatch | undefined {
  if (records === null) return undefined;
  let batches: Buffer[];
  try {
    batches = splitBatches(records).batches;
  } catch {
    return undefined; // the write path reports the malformed batch
  }
  const first = batches[0];
  if (first === undefined) return undefined;
  let header;
  try {
    header = readBatchHeader(first);
  } catch {
    return undefined;
  }
  if (header.producerId < 0n) return undefined;
  let recordCount = 0;
  for (const batch of batches) recordCount += readBatchHeader(batch).lastOffsetDelta + 1;
  return {
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence: header.baseSequence,
    recordCount,
  };
}

/**
 * produce.ack.mode immediate: places the written batch in the log now, each of its Kinesis
 * records' stored batch in turn, and returns its base offset; undefined when it cannot be (a
 * format without stored batches of its own, records out of order after a retry, an earlier write
 * still to be read back, a conflict).
 */
function placeAhead(led: LedPartition, written: readonly PutResult[], prepared: PreparedWrite): bigint | undefined {
  if (written.length === 0 || written.some((_, i) => !prepared.ownBatches.has(i))) return undefined;
  // A record retried after a partial failure lands after later ones of the same batch: Kinesis
  // order is not the batch's, and only reading it back gives the offsets.
  const reordered = written.some((put, i) => {
    const previous = written[i - 1];
    return previous !== undefined && previous.shardId === put.shardId && BigInt(previous.sequenceNumber) > BigInt(put.sequenceNumber);
  });
  if (reordered || !led.log.mayPlaceAhead) return undefined;
  const arrivalMs = BigInt(Date.now());
  let base: bigint | undefined;
  for (const [i, put] of written.entries()) {
    const own = prepared.ownBatches.get(i) as OwnBatch;
    const offset = led.log.placeAhead(own, { shardId: put.shardId, sequenceNumber: put.sequenceNumber, arrivalMs }, led.lease.epoch);
    base ??= offset;
  }
  return base;
}

function errorFor(err: unknown): { errorCode: number; message: string } {
  if (err instanceof PartitionError || err instanceof RecordError) return { errorCode: err.errorCode, message: err.message };
  if (err instanceof RecordTooLargeError) return { errorCode: ErrorCode.MESSAGE_TOO_LARGE, message: err.message };
  if (err instanceof LeadershipLostError) {
    // Written, but the offset is the next leader's to tell: an idempotent producer's retry is
    // answered there as a duplicate, with it.
    return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, message: `${err.message}; the records were written before it could read them back` };
  }
  if (err instanceof WriteError) {
    const errorCode = {
      // Retriable for every client; librdkafka takes THROTTLING_QUOTA_EXCEEDED on Produce as fatal.
      throttled: ErrorCode.REQUEST_TIMED_OUT,
      timeout: ErrorCode.REQUEST_TIMED_OUT,
      'stream-missing': ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      kms: ErrorCode.KAFKA_STORAGE_ERROR,
      failed: ErrorCode.KAFKA_STORAGE_ERROR,
      // The lease was lost or handed over before these records went out: the client asks the new leader.
      'not-leader': ErrorCode.NOT_LEADER_OR_FOLLOWER,
    }[err.reason];
    return { errorCode, message: err.message };
  }
  return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, message: err instanceof Error ? err.message : String(err) };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function produceHandler(dataPath: DataPath): ApiHandler<ProduceRequest, ProduceResponse> {
  /**
   * Per connection, the part of each request that claims write order (topic and partition
   * lookup, then reservation) runs after the previous request's, so pipelined produce requests
   * are written in the order they were sent.
   */
  const ordering = new Map<number, Promise<void>>();

  return {
    request: produceRequest,
    response: produceResponse,
    // Versions 0-2 carry only magic 0/1 message sets, which get UNSUPPORTED_FOR_MESSAGE_FORMAT;
    // they are advertised anyway because librdkafka (before 2.10) compresses only when the
    // broker advertises Produce v0 (as Kafka 4 brokers still do, for the same reason).
    minVersion: 0,
    maxVersion: 11,
    async handle(request, context) {
      const response = produceResponse.create();
      const answers: Promise<void>[] = [];
      const refusal = refuse(request, context.apiVersion);
      if (refusal !== null) {
        for (const topicData of request.topicData) {
          response.responses.push({
            name: topicData.name,
            partitionResponses: topicData.partitionData.map((p) => partitionResponse(p.index, refusal.errorCode, refusal.message)),
          });
        }
        dataPath.metrics?.produceAnswered(request, response);
        return request.acks === 0 ? null : response;
      }

      const previous = ordering.get(context.connectionId) ?? Promise.resolve();
      let claimed!: () => void;
      const claimedAll = new Promise<void>((resolve) => (claimed = resolve));
      ordering.set(context.connectionId, claimedAll);

      await previous;
      const claims: { slot: ProduceResponsePartitionProduceResponse; work: () => Promise<void> }[] = [];
      for (const topicData of request.topicData) {
        const topic = await dataPath.registry.topic(topicData.name);
        const topicResponse = { name: topicData.name, partitionResponses: [] as ProduceResponsePartitionProduceResponse[] };
        response.responses.push(topicResponse);
        for (const partitionData of topicData.partitionData) {
          const slot = partitionResponse(partitionData.index, ErrorCode.NONE, null);
          topicResponse.partitionResponses.push(slot);
          const lookup = await lookupPartition(dataPath, topic, partitionData.index, context.receivedAtMs);
          if (!lookup.ok) {
            slot.errorCode = lookup.errorCode;
            slot.errorMessage = lookup.message;
            continue;
          }
          const { led } = lookup;
          slot.logStartOffset = led.log.logStartOffset;
          let ticket: WriteTicket | undefined;
          const identity = idempotentBatch(partitionData.records);
          if (identity !== undefined && dataPath.idempotence !== undefined) {
            const begun = await dataPath.idempotence.begin(producerPartitionKey(lookup.topic.topicId, partitionData.index), identity, {
              deadlineMs: Date.now() + Math.min(request.timeoutMs, 5000),
            });
            if (begun.kind === 'duplicate') {
              dataPath.metrics?.deduplicatedBatch();
              slot.baseOffset = begun.baseOffset;
              continue;
            }
            if (begun.kind === 'error') {
              if (dataPath.logs.ledLease(lookup.topic.topicId, partitionData.index) === undefined) {
                // This node stopped leading the partition while the batch waited (an earlier one
                // was refused NOT_LEADER_OR_FOLLOWER unwritten, say): like a Kafka broker that is
                // no longer the leader, send the producer to the new one, which checks the
                // sequence against what was written. An out-of-order answer here would make an
                // idempotent producer bump its epoch for a gap that is no fault of its own.
                slot.errorCode = ErrorCode.NOT_LEADER_OR_FOLLOWER;
                slot.errorMessage = `this gateway stopped leading the partition (${begun.message})`;
                continue;
              }
              dataPath.metrics?.sequenceError(begun.errorCode);
              slot.errorCode = begun.errorCode;
              slot.errorMessage = begun.message;
              continue;
            }
            ticket = begun.ticket;
          }
          const guard = dataPath.idempotence;
          const reservation: Reservation = dataPath.logs.writer(lookup.topic).reserve(partitionData.index);
          claims.push({
            slot,
            work: async () => {
              let prepared: PreparedWrite;
              try {
                if (ticket?.signal.aborted === true) {
                  throw new PartitionError(CANCELLED_FOLLOWER_ERROR.errorCode, CANCELLED_FOLLOWER_ERROR.message);
                }
                prepared = await toKinesisEntries(lookup.topic, partitionData.index, partitionData.records);
              } catch (err) {
                reservation.cancel();
                if (ticket !== undefined) void guard?.failed(ticket, { maybeWritten: false });
                throw err;
              }
              reservation.fill(prepared.entries);
              let written;
              try {
                written = await reservation.done;
              } catch (err) {
                const maybeWritten = !(err instanceof WriteError && (err.reason === 'stream-missing' || !err.maybeWritten));
                if (ticket !== undefined) void guard?.failed(ticket, { maybeWritten });
                throw err;
              }
              if (lookup.topic.produceAckMode === 'immediate') {
                const placed = placeAhead(led, written, prepared);
                if (placed !== undefined) {
                  if (ticket !== undefined) void guard?.committed(ticket, Promise.resolve(placed));
                  slot.baseOffset = placed;
                  return;
                }
                if (led.log.orderConflictFound) {
                  if (ticket !== undefined) void guard?.failed(ticket, { maybeWritten: true });
                  throw new PartitionError(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'written, but this leader is giving the partition up: another writer writes its shards');
                }
              }
              written.forEach((put, i) => {
                const own = prepared.ownBatches.get(i);
                if (own !== undefined) led.log.expectOwnBatch(put.shardId, put.sequenceNumber, own);
              });
              led.tailer.kick();
              const first = written[0];
              const last = written[written.length - 1];
              if (first === undefined || last === undefined) return;
              const offsetRead = led.log.offsetOfSequence(first.sequenceNumber);
              if (ticket !== undefined) void guard?.committed(ticket, offsetRead);
              // Acknowledged once the whole batch is read back, so that it is below the high
              // watermark: its Kinesis records may have gone out in more than one call and be
              // read back apart.
              const batchRead = last === first ? offsetRead : Promise.all([offsetRead, led.log.offsetOfSequence(last.sequenceNumber)]).then(([base]) => base);
              const offset = await withTimeout(batchRead, Math.max(request.timeoutMs, 1000));
              if (offset === 'timeout') {
                throw new PartitionError(ErrorCode.REQUEST_TIMED_OUT, 'written, but not yet read back to learn its offset');
              }
              slot.baseOffset = offset;
            },
          });
        }
      }
      if (ordering.get(context.connectionId) === claimedAll) ordering.delete(context.connectionId);
      claimed();

      for (const claim of claims) {
        answers.push(
          claim.work().catch((err: unknown) => {
            const { errorCode, message } = errorFor(err);
            if (errorCode === ErrorCode.UNKNOWN_SERVER_ERROR) context.log.error({ err }, 'produce failed');
            claim.slot.errorCode = errorCode;
            claim.slot.errorMessage = message;
            claim.slot.baseOffset = -1n;
          }),
        );
      }
      if (request.acks === 0) {
        void Promise.all(answers).then(() => dataPath.metrics?.produceAnswered(request, response));
        return null;
      }
      await Promise.all(answers);
      dataPath.metrics?.produceAnswered(request, response);
      return response;
    },
  };
}

/** Whole-request refusals, answered for every partition. */
function refuse(request: ProduceRequest, apiVersion: number): { errorCode: number; message: string } | null {
  if (apiVersion < 3) {
    return { errorCode: ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT, message: 'Produce v0-2 (message format v0/v1) is not supported' };
  }
  if (request.acks !== 0 && request.acks !== 1 && request.acks !== -1) {
    return { errorCode: ErrorCode.INVALID_REQUIRED_ACKS, message: `acks must be -1, 0 or 1, not ${request.acks}` };
  }
  if (request.transactionalId !== null) {
    return { errorCode: ErrorCode.TRANSACTIONAL_ID_NOT_FOUND, message: 'transactions are not supported' };
  }
  return null;
}

function partitionResponse(index: number, errorCode: number, errorMessage: string | null): ProduceResponsePartitionProduceResponse {
  const response = createProduceResponsePartitionProduceResponse();
  response.index = index;
  response.errorCode = errorCode;
  response.errorMessage = errorMessage;
  return response;
}
