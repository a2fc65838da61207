/**
 * Committed offsets in DynamoDB (DESIGN.md section 1): one item per (group, topic, partition).
 *
 * Table `${prefix}group-offsets`: partition key `group` (S), sort key `tp` (S) = "<topic>:<partition>"
 * (Kafka topic names have no ":"). Attributes: topic S, partition N, offset N (int64),
 * leaderEpoch N, metadata S (absent when empty: DynamoDB key-less string attributes may be empty
 * on AWS but not on every local stand-in), commitTimestampMs N, expireTimestampMs N (absent when
 * none).
 *
 * Writes are single-item PutItem/DeleteItem; the coordinator orders writes to the same item.
 */
import {
  DeleteItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { attrN, attrS, readBigInt, readN, readS, type Item } from '../aws/dynamodb.js';
import type { CommittedOffset, OffsetStore, StoredOffset } from './offset-store.js';

export function offsetItemSortKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

function toItem(groupId: string, topic: string, partition: number, offset: CommittedOffset): Item {
  const item: Item = {
    group: attrS(groupId),
    tp: attrS(offsetItemSortKey(topic, partition)),
    topic: attrS(topic),
    partition: attrN(partition),
    offset: attrN(offset.offset),
    leaderEpoch: attrN(offset.leaderEpoch),
    commitTimestampMs: attrN(offset.commitTimestampMs),
  };
  if (offset.metadata !== '') item.metadata = attrS(offset.metadata);
  if (offset.expireTimestampMs !== null) item.expireTimestampMs = attrN(offset.expireTimestampMs);
  return item;
}

function fromItem(item: Item): StoredOffset {
  return {
    groupId: readS(item, 'group'),
    topic: readS(item, 'topic'),
    partition: readN(item, 'partition'),
    offset: readBigInt(item, 'offset'),
    leaderEpoch: readN(item, 'leaderEpoch'),
    metadata: item.metadata === undefined ? '' : readS(item, 'metadata'),
    commitTimestampMs: readN(item, 'commitTimestampMs'),
    expireTimestampMs: item.expireTimestampMs === undefined ? null : readN(item, 'expireTimestampMs'),
  };
}

export class DynamoOffsetStore implements OffsetStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async loadAll(): Promise<StoredOffset[]> {
    const offsets: StoredOffset[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.client.send(
        new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
      );
      for (const item of out.Items ?? []) offsets.push(fromItem(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return offsets;
  }

  async loadGroup(groupId: string): Promise<StoredOffset[]> {
    const offsets: StoredOffset[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          ConsistentRead: true,
          KeyConditionExpression: '#group = :group',
          ExpressionAttributeNames: { '#group': 'group' },
          ExpressionAttributeValues: { ':group': attrS(groupId) },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of out.Items ?? []) offsets.push(fromItem(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return offsets;
  }

  async put(groupId: string, topic: string, partition: number, offset: CommittedOffset): Promise<void> {
    await this.client.send(new PutItemCommand({ TableName: this.tableName, Item: toItem(groupId, topic, partition, offset) }));
  }

  async delete(groupId: string, topic: string, partition: number): Promise<void> {
    await this.client.send(
      new DeleteItemCommand({
        TableName: this.tableName,
        Key: { group: attrS(groupId), tp: attrS(offsetItemSortKey(topic, partition)) },
      }),
    );
  }
}
