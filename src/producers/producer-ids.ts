/**
 * Producer ids for InitProducerId (DESIGN.md section 6), unique across gateway processes and
 * restarts: a durable counter in DynamoDB hands out blocks (as Kafka's controller hands brokers
 * blocks of 1000 ids), and each gateway serves ids from its block, fetching the next block when
 * 90% of the current one is used. Ids left in a block when a gateway stops are never reused.
 *
 * Table `${prefix}producer-ids`, partition key `counter` (S). One item, counter = "producer-id",
 * with `next` (N): the first id of the next unallocated block. A block is taken with one atomic
 * UpdateItem (ADD next :size, returning the new value), conditional on the counter staying below
 * 2^63 - size, so two gateways racing always get disjoint blocks; an SDK retry of an update that
 * was applied only skips a block.
 */
import { UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { attrN, attrS, isConditionFailed, readBigInt, type Item } from '../aws/dynamodb.js';

/** Where InitProducerId gets new producer ids. */
export interface ProducerIdSource {
  nextProducerId(): Promise<bigint>;
}

export interface ProducerIdBlock {
  /** First id of the block. */
  readonly first: bigint;
  readonly size: number;
}

export const DEFAULT_PRODUCER_ID_BLOCK_SIZE = 1000;
const COUNTER_KEY = 'producer-id';
const INT64_MAX = (1n << 63n) - 1n;

/** Producer ids are exhausted (the counter would pass 2^63 - 1). */
export class ProducerIdsExhaustedError extends Error {
  override name = 'ProducerIdsExhaustedError';
}

/** Takes the next block of `size` ids from the counter. */
export async function allocateProducerIdBlock(client: DynamoDBClient, tableName: string, size: number): Promise<ProducerIdBlock> {
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`producer id block size must be a positive integer, got ${size}`);
  try {
    const out = await client.send(
      new UpdateItemCommand({
        TableName: tableName,
        Key: { counter: attrS(COUNTER_KEY) },
        UpdateExpression: 'ADD #next :size',
        ConditionExpression: 'attribute_not_exists(#next) OR #next <= :max',
        ExpressionAttributeNames: { '#next': 'next' },
        ExpressionAttributeValues: { ':size': attrN(size), ':max': attrN(INT64_MAX + 1n - BigInt(size)) },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    const next = readBigInt((out.Attributes ?? {}) as Item, 'next');
    return { first: next - BigInt(size), size };
  } catch (err) {
    if (isConditionFailed(err)) throw new ProducerIdsExhaustedError('no producer ids are left');
    throw err;
  }
}

export interface DynamoProducerIdAllocatorOptions {
  /** Ids per block (default 1000). */
  readonly blockSize?: number;
}

/**
 * Serves ids from blocks of the DynamoDB counter. Concurrent callers share one block fetch; the
 * next block is fetched in the background once 90% of the current one is used. A failed fetch
 * rejects the callers waiting for it (InitProducerId answers a retriable error) and is retried by
 * the next call.
 */
export class DynamoProducerIdAllocator implements ProducerIdSource {
  private readonly blockSize: number;
  private current: { next: bigint; end: bigint } | undefined;
  private upcoming: Promise<ProducerIdBlock> | undefined;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    options: DynamoProducerIdAllocatorOptions = {},
  ) {
    this.blockSize = options.blockSize ?? DEFAULT_PRODUCER_ID_BLOCK_SIZE;
    if (!Number.isSafeInteger(this.blockSize) || this.blockSize < 1) {
      throw new RangeError(`producer id block size must be a positive integer, got ${this.blockSize}`);
    }
  }

  async nextProducerId(): Promise<bigint> {
    for (;;) {
      const current = this.current;
      if (current !== undefined && current.next < current.end) {
        const id = current.next;
        current.next += 1n;
        if (this.upcoming === undefined && (current.end - current.next) * 10n <= BigInt(this.blockSize)) this.fetch();
        return id;
      }
      const upcoming = this.upcoming ?? this.fetch();
      const block = await upcoming;
      if (this.upcoming === upcoming) {
        this.upcoming = undefined;
        this.current = { next: block.first, end: block.first + BigInt(block.size) };
      }
      // Otherwise another caller installed it first: take from it.
    }
  }

  /** Waits for a block fetch in flight (shutdown, tests); ids can still be taken afterwards. */
  async idle(): Promise<void> {
    await this.upcoming?.catch(() => undefined);
  }

  private fetch(): Promise<ProducerIdBlock> {
    const upcoming = allocateProducerIdBlock(this.client, this.tableName, this.blockSize);
    this.upcoming = upcoming;
    upcoming.catch(() => {
      if (this.upcoming === upcoming) this.upcoming = undefined;
    });
    return upcoming;
  }
}
