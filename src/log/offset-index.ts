/**
 * The offset index (DESIGN.md section 3): anchors that pin a partition's dense int64 offsets to
 * positions in Kinesis, (offset) -> (shard id, sequence number, sub-record index, timestamp).
 *
 * Table `${prefix}offset-index`: partition key `log` (S) = `${topicId}#${partition}`, sort key
 * `offset` (N, the int64 offset as a decimal string: DynamoDB numbers hold 38 digits, so every
 * int64 is exact). Item attributes: log S, offset N, shardId S, sequenceNumber S, subIndex N,
 * timestampMs N, timeKey S. Global secondary index `by-time` (keys only): partition key `log`,
 * sort key `timeKey` = 20-digit timestamp (negative clamped to 0) + '#' + 20-digit offset, so
 * anchors are ordered by (timestamp, offset).
 *
 * Writing an anchor is idempotent: offsets are a function of what is in Kinesis, so any two
 * writers of the same (log, offset) write the same position.
 *
 * The same table holds one log end per partition (LogEnd), under partition key
 * `${topicId}#${partition}#end` and sort key offset 0, without timeKey (so not in `by-time`).
 */
import {
  BatchWriteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { OFFSET_INDEX_TIME_INDEX, attrN, attrS, isConditionFailed, readBigInt, readN, readS, type Item } from '../aws/dynamodb.js';

export interface IndexAnchor {
  /** The anchored record's offset in its partition. */
  offset: bigint;
  shardId: string;
  sequenceNumber: string;
  /** The record's index inside its Kinesis record (KPL aggregate / Kafka batch); 0 for raw records. */
  subIndex: number;
  /**
   * For timestamp searches to be exact this should be the greatest record timestamp in the
   * partition up to and including the anchored record (like Kafka's time index), so that it
   * never decreases as offsets grow. See firstAtOrAfterTimestamp.
   */
  timestampMs: number;
}

/**
 * Where a partition's log ended when its leader last recorded it (at rest after new records, and
 * when it stops): the next record of the partition after Kinesis record `afterSequenceNumber` of
 * shard `shardId` (or after the shard's start, when undefined) gets offset `nextOffset`.
 *
 * An anchor names a record, which Kinesis expires after the retention period; a partition with
 * no writes for that long would have nothing left to count its offsets from. The log end names
 * a place between records, which stays true after they expire: a leader starting after it
 * counts on from nextOffset, so new records never reuse offsets consumers have seen.
 */
export interface LogEnd {
  readonly nextOffset: bigint;
  readonly shardId: string;
  /** The last Kinesis record read in the shard (of any partition); undefined: none yet. */
  readonly afterSequenceNumber?: string;
  /** The greatest record timestamp up to nextOffset (anchors carry it on). */
  readonly maxTimestampMs: number;
}

export interface OffsetIndex {
  /** Writes (or rewrites) the anchor at anchor.offset. */
  put(topicId: string, partition: number, anchor: IndexAnchor): Promise<void>;
  /** The greatest anchor with anchor.offset <= offset. */
  floor(topicId: string, partition: number, offset: bigint): Promise<IndexAnchor | undefined>;
  /** The anchor with the greatest offset. */
  last(topicId: string, partition: number): Promise<IndexAnchor | undefined>;
  /** The anchor with the smallest offset. */
  first(topicId: string, partition: number): Promise<IndexAnchor | undefined>;
  /** The anchor with the smallest offset greater than `offset`. */
  after(topicId: string, partition: number, offset: bigint): Promise<IndexAnchor | undefined>;
  /**
   * Where to start reading forward to find the first record with timestamp >= timestampMs.
   *
   * Let F be the anchor with the smallest offset among those with anchor.timestampMs >=
   * timestampMs. Returns:
   *  - undefined when the partition has no anchors;
   *  - the anchor immediately before F (greatest offset < F.offset) when there is one;
   *  - F itself when F is the first anchor;
   *  - the last anchor when no anchor has timestampMs >= timestampMs (the record, if any,
   *    is after it, possibly in the in-memory tail).
   *
   * Guarantee, when anchor timestamps never decrease with offset (each is the greatest record
   * timestamp up to and including its record): no record at or before the returned anchor has
   * a timestamp >= timestampMs unless the returned anchor is F itself, and when F exists the
   * first record with timestamp >= timestampMs is at or before F. So reading forward from the
   * returned anchor (its shard, sequence number and sub-index) finds that record, or reaches
   * the tail when it is past the last anchor. With anchor timestamps that do decrease, the
   * answer is only a best-effort starting point.
   *
   * Cost: normally one query of the `by-time` index (eventually consistent) plus one strongly
   * consistent query of the table; anchors the index has not caught up with yet are found by
   * walking the table backwards from its candidate.
   */
  firstAtOrAfterTimestamp(topicId: string, partition: number, timestampMs: number): Promise<IndexAnchor | undefined>;
  /** Anchors with offsets below `offset`, smallest first, at most `limit`. */
  below(topicId: string, partition: number, offset: bigint, limit: number): Promise<IndexAnchor[]>;
  /** Removes the anchors at these offsets (their records expired). */
  deleteAnchors(topicId: string, partition: number, offsets: readonly bigint[]): Promise<void>;
  /** Records the log end; a log end with a smaller nextOffset than the one stored is not written. */
  putEnd(topicId: string, partition: number, end: LogEnd): Promise<void>;
  /** The partition's recorded log end. */
  end(topicId: string, partition: number): Promise<LogEnd | undefined>;
  /** Removes every anchor and the log end of the partition (topic deletion). */
  deletePartition(topicId: string, partition: number): Promise<void>;
}

/** The largest int64: Kafka offsets fit in it. */
export const MAX_OFFSET = (1n << 63n) - 1n;

function logKey(topicId: string, partition: number): string {
  if (!Number.isSafeInteger(partition) || partition < 0) throw new RangeError(`invalid partition ${partition}`);
  return `${topicId}#${partition}`;
}

function checkOffset(offset: bigint): void {
  if (offset < 0n || offset > MAX_OFFSET) throw new RangeError(`offset ${offset} is not a non-negative int64`);
}

const pad20 = (value: bigint): string => value.toString().padStart(20, '0');

/** The `by-time` index sort key prefix for a timestamp. */
function timeKeyPrefix(timestampMs: number): string {
  if (Number.isNaN(timestampMs)) throw new RangeError('timestamp is NaN');
  return pad20(BigInt(Math.min(Number.MAX_SAFE_INTEGER, Math.max(0, Math.ceil(timestampMs)))));
}

function timeKey(timestampMs: number, offset: bigint): string {
  return `${timeKeyPrefix(timestampMs)}#${pad20(offset)}`;
}

function toItem(log: string, anchor: IndexAnchor): Item {
  return {
    log: attrS(log),
    offset: attrN(anchor.offset),
    shardId: attrS(anchor.shardId),
    sequenceNumber: attrS(anchor.sequenceNumber),
    subIndex: attrN(anchor.subIndex),
    timestampMs: attrN(anchor.timestampMs),
    timeKey: attrS(timeKey(anchor.timestampMs, anchor.offset)),
  };
}

function fromItem(item: Item): IndexAnchor {
  return {
    offset: readBigInt(item, 'offset'),
    shardId: readS(item, 'shardId'),
    sequenceNumber: readS(item, 'sequenceNumber'),
    subIndex: readN(item, 'subIndex'),
    timestampMs: readN(item, 'timestampMs'),
  };
}

const endKey = (topicId: string, partition: number): string => `${logKey(topicId, partition)}#end`;

const BATCH_WRITE_MAX = 25;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class DynamoOffsetIndex implements OffsetIndex {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async put(topicId: string, partition: number, anchor: IndexAnchor): Promise<void> {
    checkOffset(anchor.offset);
    if (!Number.isSafeInteger(anchor.subIndex) || anchor.subIndex < 0) throw new RangeError(`invalid sub-index ${anchor.subIndex}`);
    if (!Number.isSafeInteger(anchor.timestampMs)) throw new RangeError(`invalid timestamp ${anchor.timestampMs}`);
    await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: toItem(logKey(topicId, partition), anchor) }));
  }

  async floor(topicId: string, partition: number, offset: bigint): Promise<IndexAnchor | undefined> {
    if (offset < 0n) return undefined;
    const items = await this.query(logKey(topicId, partition), { op: '<=', offset: offset > MAX_OFFSET ? MAX_OFFSET : offset }, false, 1);
    return items[0];
  }

  async last(topicId: string, partition: number): Promise<IndexAnchor | undefined> {
    return (await this.query(logKey(topicId, partition), undefined, false, 1))[0];
  }

  async first(topicId: string, partition: number): Promise<IndexAnchor | undefined> {
    return (await this.query(logKey(topicId, partition), undefined, true, 1))[0];
  }

  async after(topicId: string, partition: number, offset: bigint): Promise<IndexAnchor | undefined> {
    if (offset >= MAX_OFFSET) return undefined;
    return (await this.query(logKey(topicId, partition), { op: '>', offset: offset < 0n ? -1n : offset }, true, 1))[0];
  }

  async firstAtOrAfterTimestamp(topicId: string, partition: number, timestampMs: number): Promise<IndexAnchor | undefined> {
    const log = logKey(topicId, partition);
    // 1. The time index (eventually consistent, a GSI) names a candidate F: the smallest
    //    (timestamp, offset) with timestamp >= t.
    const hint = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: OFFSET_INDEX_TIME_INDEX,
        KeyConditionExpression: '#log = :log AND #timeKey >= :timeKey',
        ExpressionAttributeNames: { '#log': 'log', '#timeKey': 'timeKey' },
        ExpressionAttributeValues: { ':log': attrS(log), ':timeKey': attrS(timeKeyPrefix(timestampMs)) },
        ScanIndexForward: true,
        Limit: 1,
      }),
    );
    const hintItem = hint.Items?.[0];
    const hintOffset = hintItem === undefined ? undefined : readBigInt(hintItem, 'offset');
    // 2. Walk the table (strongly consistent) backwards from the candidate (or from the end,
    //    when the time index has none) to the first anchor with timestamp < t. Anchors the
    //    time index has not caught up with yet are found here; normally this takes one query.
    let upper: { op: '<=' | '<'; offset: bigint } | undefined = hintOffset === undefined ? undefined : { op: '<=', offset: hintOffset };
    let earliestAtOrAfter: IndexAnchor | undefined;
    let pageSize = 2;
    for (;;) {
      const page = await this.query(log, upper, false, pageSize);
      for (const anchor of page) {
        if (anchor.timestampMs < timestampMs) return anchor;
        earliestAtOrAfter = anchor;
      }
      if (page.length < pageSize) break;
      upper = { op: '<', offset: page[page.length - 1]!.offset };
      pageSize = 100;
    }
    // Every anchor up to the candidate has timestamp >= t: F is the first anchor. (Without any
    // anchor at or below the candidate, the time index was stale: fall back to the first.)
    return earliestAtOrAfter ?? (await this.first(topicId, partition));
  }

  async below(topicId: string, partition: number, offset: bigint, limit: number): Promise<IndexAnchor[]> {
    if (offset <= 0n) return [];
    const log = logKey(topicId, partition);
    const anchors: IndexAnchor[] = [];
    let after: bigint | undefined;
    while (anchors.length < limit) {
      const page = await this.query(log, after === undefined ? undefined : { op: '>', offset: after }, true, Math.min(limit - anchors.length, 1000));
      for (const anchor of page) {
        if (anchor.offset >= offset) return anchors;
        anchors.push(anchor);
      }
      if (page.length === 0) break;
      after = page[page.length - 1]!.offset;
    }
    return anchors;
  }

  async deleteAnchors(topicId: string, partition: number, offsets: readonly bigint[]): Promise<void> {
    const log = attrS(logKey(topicId, partition));
    const keys = offsets.map((offset) => ({ log, offset: attrN(offset) }));
    for (let i = 0; i < keys.length; i += BATCH_WRITE_MAX) await this.deleteKeys(keys.slice(i, i + BATCH_WRITE_MAX));
  }

  async putEnd(topicId: string, partition: number, end: LogEnd): Promise<void> {
    checkOffset(end.nextOffset);
    if (!Number.isSafeInteger(end.maxTimestampMs)) throw new RangeError(`invalid timestamp ${end.maxTimestampMs}`);
    const item: Item = {
      log: attrS(endKey(topicId, partition)),
      offset: attrN(0n),
      nextOffset: attrN(end.nextOffset),
      shardId: attrS(end.shardId),
      maxTimestampMs: attrN(end.maxTimestampMs),
      ...(end.afterSequenceNumber !== undefined ? { sequenceNumber: attrS(end.afterSequenceNumber) } : {}),
    };
    try {
      // Only forward: a leader that lost its lease may still write an older (true, but less useful) end.
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: item,
          ConditionExpression: 'attribute_not_exists(#next) OR #next <= :next',
          ExpressionAttributeNames: { '#next': 'nextOffset' },
          ExpressionAttributeValues: { ':next': attrN(end.nextOffset) },
        }),
      );
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
    }
  }

  async end(topicId: string, partition: number): Promise<LogEnd | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { log: attrS(endKey(topicId, partition)), offset: attrN(0n) }, ConsistentRead: true }),
    );
    const item = out.Item;
    if (item === undefined) return undefined;
    const afterSequenceNumber = item['sequenceNumber'] === undefined ? undefined : readS(item, 'sequenceNumber');
    return {
      nextOffset: readBigInt(item, 'nextOffset'),
      shardId: readS(item, 'shardId'),
      maxTimestampMs: readN(item, 'maxTimestampMs'),
      ...(afterSequenceNumber !== undefined ? { afterSequenceNumber } : {}),
    };
  }

  async deletePartition(topicId: string, partition: number): Promise<void> {
    await this.deleteLog(logKey(topicId, partition));
    await this.deleteLog(endKey(topicId, partition));
  }

  private async deleteLog(log: string): Promise<void> {
    let startKey: Item | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#log = :log',
          ExpressionAttributeNames: { '#log': 'log', '#offset': 'offset' },
          ExpressionAttributeValues: { ':log': attrS(log) },
          ProjectionExpression: '#log, #offset',
          ConsistentRead: true,
          ...(startKey !== undefined ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      const keys = out.Items ?? [];
      for (let i = 0; i < keys.length; i += BATCH_WRITE_MAX) {
        await this.deleteKeys(keys.slice(i, i + BATCH_WRITE_MAX));
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  /** BatchWriteItem deletes (not a transaction), retrying unprocessed items with backoff. */
  private async deleteKeys(keys: Item[]): Promise<void> {
    let requests: WriteRequest[] = keys.map((key) => ({ DeleteRequest: { Key: { log: key['log']!, offset: key['offset']! } } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 0) await sleep(Math.min(50 * 2 ** attempt, 2000));
      if (attempt > 10) throw new Error(`offset index: ${requests.length} deletes left unprocessed`);
      const out = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.tableName]: requests } }));
      requests = out.UnprocessedItems?.[this.tableName] ?? [];
    }
  }

  private async query(
    log: string,
    bound: { op: '<=' | '<' | '>'; offset: bigint } | undefined,
    ascending: boolean,
    limit: number,
  ): Promise<IndexAnchor[]> {
    const out = await this.client.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: bound === undefined ? '#log = :log' : `#log = :log AND #offset ${bound.op} :offset`,
        ExpressionAttributeNames: bound === undefined ? { '#log': 'log' } : { '#log': 'log', '#offset': 'offset' },
        ExpressionAttributeValues: bound === undefined ? { ':log': attrS(log) } : { ':log': attrS(log), ':offset': attrN(bound.offset) },
        ScanIndexForward: ascending,
        Limit: limit,
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map(fromItem);
  }
}
