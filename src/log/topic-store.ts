/**
 * Durable topic records: what the gateway knows about a topic beyond its Kinesis stream
 * (DESIGN.md sections 1, 3 and 4). One DynamoDB item per topic, keyed by name; every change is a
 * single conditional write, so two gateways creating or altering the same topic cannot both win.
 *
 * Table `${prefix}topics`, partition key `name` (S). Item attributes:
 *   name S, topicId S, streamName S, replicationFactor N, createdAtMs N, version N,
 *   partitionMaps L of M {epoch N, partitionCount N, sinceMs N}, configs M of S.
 */
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { attrN, attrS, isConditionFailed, readN, readS, type Item } from '../aws/dynamodb.js';

/** The partition count in force for records that arrived from `sinceMs` on. */
export interface PartitionMap {
  epoch: number;
  partitionCount: number;
  sinceMs: number;
}

export interface TopicRecord {
  name: string;
  /** UUID, 8-4-4-4-12 lowercase hex. */
  topicId: string;
  streamName: string;
  replicationFactor: number;
  /** Ascending by epoch (and sinceMs); the last is in force. Never empty. */
  partitionMaps: PartitionMap[];
  /** Only the explicitly set topic configs. */
  configs: Record<string, string>;
  createdAtMs: number;
  /** Optimistic concurrency: 1 at creation, +1 on every change. */
  version: number;
}

/** A topic to create; the store assigns version 1. */
export type NewTopicRecord = Omit<TopicRecord, 'version'>;

export interface TopicStore {
  /** 'exists' when a topic of that name is already stored (whatever its id): exactly one concurrent creator wins. */
  create(record: NewTopicRecord): Promise<'created' | 'exists'>;
  get(name: string): Promise<TopicRecord | undefined>;
  /** Every topic, in no particular order. */
  list(): Promise<TopicRecord[]>;
  /** Deletes the topic if it is still the one with this id; false when missing or replaced. */
  delete(name: string, topicId: string): Promise<boolean>;
  /** Replaces the explicitly set configs when the stored version is `expectedVersion`. */
  updateConfigs(name: string, expectedVersion: number, configs: Record<string, string>): Promise<TopicRecord | 'conflict' | 'missing'>;
  /**
   * Appends a partition map when the stored version is `expectedVersion`. The map must follow
   * the one in force: a greater epoch, at least as many partitions, sinceMs not earlier
   * (RangeError otherwise).
   */
  addPartitionMap(name: string, expectedVersion: number, map: PartitionMap): Promise<TopicRecord | 'conflict' | 'missing'>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function checkInteger(what: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${what} must be an integer >= ${min}, got ${value}`);
}

function checkPartitionMap(map: PartitionMap): void {
  checkInteger('partition map epoch', map.epoch, 0);
  checkInteger('partition count', map.partitionCount, 1);
  checkInteger('partition map sinceMs', map.sinceMs, 0);
}

/** Why `next` cannot follow `previous` in a topic's partition-map history, or null. */
function partitionMapOrderError(previous: PartitionMap, next: PartitionMap): string | null {
  if (next.epoch <= previous.epoch) return `partition map epoch ${next.epoch} does not follow ${previous.epoch}`;
  if (next.partitionCount < previous.partitionCount) {
    return `partition count cannot shrink from ${previous.partitionCount} to ${next.partitionCount}`;
  }
  if (next.sinceMs < previous.sinceMs) return `partition map sinceMs ${next.sinceMs} is before ${previous.sinceMs}`;
  return null;
}

function validateNewTopic(record: NewTopicRecord): void {
  if (record.name.length === 0) throw new RangeError('topic name is empty');
  if (!UUID.test(record.topicId)) throw new RangeError(`topic id ${record.topicId} is not a lowercase UUID`);
  if (record.streamName.length === 0) throw new RangeError('stream name is empty');
  checkInteger('replication factor', record.replicationFactor, 1);
  checkInteger('createdAtMs', record.createdAtMs, 0);
  if (record.partitionMaps.length === 0) throw new RangeError('a topic needs a partition map');
  record.partitionMaps.forEach(checkPartitionMap);
  for (let i = 1; i < record.partitionMaps.length; i++) {
    const error = partitionMapOrderError(record.partitionMaps[i - 1]!, record.partitionMaps[i]!);
    if (error !== null) throw new RangeError(error);
  }
}

function partitionMapsValue(maps: readonly PartitionMap[]): AttributeValue {
  return {
    L: maps.map((m) => ({ M: { epoch: attrN(m.epoch), partitionCount: attrN(m.partitionCount), sinceMs: attrN(m.sinceMs) } })),
  };
}

function configsValue(configs: Record<string, string>): AttributeValue {
  const map: Item = {};
  for (const [key, value] of Object.entries(configs)) map[key] = attrS(value);
  return { M: map };
}

function toItem(record: TopicRecord): Item {
  return {
    name: attrS(record.name),
    topicId: attrS(record.topicId),
    streamName: attrS(record.streamName),
    replicationFactor: attrN(record.replicationFactor),
    partitionMaps: partitionMapsValue(record.partitionMaps),
    configs: configsValue(record.configs),
    createdAtMs: attrN(record.createdAtMs),
    version: attrN(record.version),
  };
}

function fromItem(item: Item): TopicRecord {
  const maps = item['partitionMaps']?.L ?? [];
  const configs: Record<string, string> = {};
  for (const [key, value] of Object.entries(item['configs']?.M ?? {})) {
    if (value.S !== undefined) configs[key] = value.S;
  }
  return {
    name: readS(item, 'name'),
    topicId: readS(item, 'topicId'),
    streamName: readS(item, 'streamName'),
    replicationFactor: readN(item, 'replicationFactor'),
    partitionMaps: maps.map((value) => {
      const m = value.M;
      if (m === undefined) throw new Error('topic partition map is not a map');
      return { epoch: readN(m, 'epoch'), partitionCount: readN(m, 'partitionCount'), sinceMs: readN(m, 'sinceMs') };
    }),
    configs,
    createdAtMs: readN(item, 'createdAtMs'),
    version: readN(item, 'version'),
  };
}

export interface DynamoTopicStoreOptions {
  /** Items per Scan page in list() (default: DynamoDB's 1 MB pages). */
  scanPageSize?: number;
}

export class DynamoTopicStore implements TopicStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly options: DynamoTopicStoreOptions = {},
  ) {}

  async create(record: NewTopicRecord): Promise<'created' | 'exists'> {
    validateNewTopic(record);
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toItem({ ...record, version: 1 }),
          ConditionExpression: 'attribute_not_exists(#name)',
          ExpressionAttributeNames: { '#name': 'name' },
        }),
      );
      return 'created';
    } catch (err) {
      if (isConditionFailed(err)) return 'exists';
      throw err;
    }
  }

  async get(name: string): Promise<TopicRecord | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { name: attrS(name) }, ConsistentRead: true }),
    );
    return out.Item === undefined ? undefined : fromItem(out.Item);
  }

  async list(): Promise<TopicRecord[]> {
    const records: TopicRecord[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.client.send(
        new ScanCommand({
          TableName: this.tableName,
          ConsistentRead: true,
          ...(this.options.scanPageSize !== undefined ? { Limit: this.options.scanPageSize } : {}),
          ...(startKey !== undefined ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of out.Items ?? []) records.push(fromItem(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return records;
  }

  async delete(name: string, topicId: string): Promise<boolean> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { name: attrS(name) },
          ConditionExpression: 'topicId = :topicId',
          ExpressionAttributeValues: { ':topicId': attrS(topicId) },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailed(err)) return false;
      throw err;
    }
  }

  async updateConfigs(
    name: string,
    expectedVersion: number,
    configs: Record<string, string>,
  ): Promise<TopicRecord | 'conflict' | 'missing'> {
    return this.update(name, expectedVersion, 'SET configs = :configs, version = version + :one', {
      ':configs': configsValue(configs),
    });
  }

  async addPartitionMap(name: string, expectedVersion: number, map: PartitionMap): Promise<TopicRecord | 'conflict' | 'missing'> {
    checkPartitionMap(map);
    // Validate against the history the caller meant to extend; the conditional write below
    // guarantees that history is still the stored one.
    const current = await this.get(name);
    if (current === undefined) return 'missing';
    if (current.version !== expectedVersion) return 'conflict';
    const last = current.partitionMaps[current.partitionMaps.length - 1];
    if (last !== undefined) {
      const error = partitionMapOrderError(last, map);
      if (error !== null) throw new RangeError(`topic ${name}: ${error}`);
    }
    return this.update(name, expectedVersion, 'SET partitionMaps = list_append(partitionMaps, :maps), version = version + :one', {
      ':maps': partitionMapsValue([map]),
    });
  }

  private async update(
    name: string,
    expectedVersion: number,
    updateExpression: string,
    values: Item,
  ): Promise<TopicRecord | 'conflict' | 'missing'> {
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { name: attrS(name) },
          UpdateExpression: updateExpression,
          ConditionExpression: 'attribute_exists(#name) AND version = :expected',
          ExpressionAttributeNames: { '#name': 'name' },
          ExpressionAttributeValues: { ...values, ':expected': attrN(expectedVersion), ':one': attrN(1) },
          ReturnValues: 'ALL_NEW',
        }),
      );
      if (out.Attributes === undefined) throw new Error(`UpdateItem on topic ${name} returned no attributes`);
      return fromItem(out.Attributes);
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      return (await this.get(name)) === undefined ? 'missing' : 'conflict';
    }
  }
}
