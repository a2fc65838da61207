/**
 * Leases on partitions and coordinator roles (DESIGN.md section 5). The node holding a
 * partition's lease leads it; the lease epoch is the Kafka leader epoch.
 *
 * Table `${prefix}leases`, partition key `resource` (S). Item attributes: resource S, owner N
 * (node id), epoch N, expiresAtMs N (wall clock; 0 = released). Items are never deleted: a
 * released or expired lease keeps its epoch so the epoch only ever grows, and every change of
 * holder (or re-taking after expiry or release) is a conditional write on the item as read.
 *
 * Clocks: expiry is compared with the caller's clock (`nowMs`, default Date.now()), so nodes
 * need roughly synchronised clocks, and a holder must stop acting on a lease some margin before
 * its expiresAtMs (the lease is computed from the time the request was sent, so the holder's
 * view is never later than the stored one).
 */
import { GetItemCommand, PutItemCommand, ScanCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { attrN, attrS, isConditionFailed, readN, readS, type Item } from '../aws/dynamodb.js';

export interface Lease {
  resource: string;
  /** Node id of the holder (the last holder when expired or released). */
  owner: number;
  /** Grows by one whenever the lease is taken afresh; never decreases. */
  epoch: number;
  /** Wall-clock expiry, ms since the epoch; 0 when released. */
  expiresAtMs: number;
}

export interface LeaseStore {
  /**
   * Takes or renews the lease. Succeeds when there is no lease, it has expired or was released,
   * or `owner` holds it. Taking it afresh (free, expired, released, or from another node) sets
   * epoch + 1 (0 for a resource never leased); renewal by the live holder keeps the epoch.
   * undefined when another node holds a live lease.
   */
  acquire(resource: string, owner: number, ttlMs: number, nowMs?: number): Promise<Lease | undefined>;
  /**
   * Extends a live lease: conditional on owner and epoch unchanged and the lease not expired
   * or released. undefined when it was lost (then acquire() again, which gives a new epoch).
   */
  renew(lease: Lease, ttlMs: number, nowMs?: number): Promise<Lease | undefined>;
  /** Gives the lease up if still held (owner and epoch unchanged); keeps the epoch for the next holder. */
  release(lease: Lease): Promise<void>;
  /** The stored lease, live or not (see isLeaseLive); undefined for a resource never leased. */
  get(resource: string): Promise<Lease | undefined>;
}

/** Whether a lease is held at `nowMs`. */
export function isLeaseLive(lease: Lease, nowMs: number = Date.now()): boolean {
  return lease.expiresAtMs > nowMs;
}

/** The lease resource naming a partition's leadership. */
export function partitionLeaseResource(topicId: string, partition: number): string {
  return `partition/${topicId}/${partition}`;
}

/** The lease resource naming a consumer group's coordinator. */
export function groupCoordinatorLeaseResource(groupId: string): string {
  return `group/${groupId}`;
}

function checkTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new RangeError(`lease ttl must be a positive integer, got ${ttlMs}`);
}

function toItem(lease: Lease): Item {
  return {
    resource: attrS(lease.resource),
    owner: attrN(lease.owner),
    epoch: attrN(lease.epoch),
    expiresAtMs: attrN(lease.expiresAtMs),
  };
}

function fromItem(item: Item): Lease {
  return {
    resource: readS(item, 'resource'),
    owner: readN(item, 'owner'),
    epoch: readN(item, 'epoch'),
    expiresAtMs: readN(item, 'expiresAtMs'),
  };
}

/** How many read-then-conditional-write rounds acquire() tries before giving up. */
const ACQUIRE_ROUNDS = 3;

export class DynamoLeaseStore implements LeaseStore {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async acquire(resource: string, owner: number, ttlMs: number, nowMs: number = Date.now()): Promise<Lease | undefined> {
    checkTtl(ttlMs);
    if (!Number.isSafeInteger(owner)) throw new RangeError(`invalid lease owner ${owner}`);
    const expiresAtMs = nowMs + ttlMs;
    for (let round = 0; round < ACQUIRE_ROUNDS; round++) {
      const current = await this.get(resource);
      if (current === undefined) {
        const lease: Lease = { resource, owner, epoch: 0, expiresAtMs };
        if (await this.write(lease, 'attribute_not_exists(#resource)', { '#resource': 'resource' })) return lease;
        continue;
      }
      const live = isLeaseLive(current, nowMs);
      if (live && current.owner !== owner) return undefined;
      // Renewal by the live holder keeps the epoch; anything else takes the lease afresh.
      const lease: Lease = { resource, owner, epoch: live ? current.epoch : current.epoch + 1, expiresAtMs };
      const condition = live
        ? '#owner = :owner AND epoch = :epoch AND expiresAtMs > :now'
        : '#owner = :owner AND epoch = :epoch AND expiresAtMs <= :now';
      const values: Item = { ':owner': attrN(current.owner), ':epoch': attrN(current.epoch), ':now': attrN(nowMs) };
      if (await this.write(lease, condition, { '#owner': 'owner' }, values)) return lease;
      // Someone else wrote in between: look again.
    }
    return undefined;
  }

  async renew(lease: Lease, ttlMs: number, nowMs: number = Date.now()): Promise<Lease | undefined> {
    checkTtl(ttlMs);
    const expiresAtMs = nowMs + ttlMs;
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { resource: attrS(lease.resource) },
          UpdateExpression: 'SET expiresAtMs = :expires',
          ConditionExpression: '#owner = :owner AND epoch = :epoch AND expiresAtMs > :now',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: {
            ':expires': attrN(expiresAtMs),
            ':owner': attrN(lease.owner),
            ':epoch': attrN(lease.epoch),
            ':now': attrN(nowMs),
          },
        }),
      );
      return { ...lease, expiresAtMs };
    } catch (err) {
      if (isConditionFailed(err)) return undefined;
      throw err;
    }
  }

  async release(lease: Lease): Promise<void> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { resource: attrS(lease.resource) },
          UpdateExpression: 'SET expiresAtMs = :zero',
          ConditionExpression: '#owner = :owner AND epoch = :epoch',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':zero': attrN(0), ':owner': attrN(lease.owner), ':epoch': attrN(lease.epoch) },
        }),
      );
    } catch (err) {
      // Already lost to someone else: nothing to give up.
      if (!isConditionFailed(err)) throw err;
    }
  }

  async get(resource: string): Promise<Lease | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { resource: attrS(resource) }, ConsistentRead: true }),
    );
    return out.Item === undefined ? undefined : fromItem(out.Item);
  }

  /**
   * Every stored lease, live or not (an eventually consistent Scan): what Metadata reports
   * leaders and leader epochs from, through a short-lived cache.
   */
  async scan(): Promise<Lease[]> {
    const leases: Lease[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.client.send(new ScanCommand({ TableName: this.tableName, ExclusiveStartKey: startKey }));
      for (const item of out.Items ?? []) leases.push(fromItem(item));
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return leases;
  }

  /** A conditional PutItem; false when the condition did not hold. */
  private async write(lease: Lease, condition: string, names: Record<string, string>, values: Item = {}): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toItem(lease),
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ...(Object.keys(values).length > 0 ? { ExpressionAttributeValues: values } : {}),
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailed(err)) return false;
      throw err;
    }
  }
}
