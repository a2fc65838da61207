/**
 * Kinesis hash-key space and the gateway's partition slices (DESIGN.md sections 1 and 4).
 *
 * A Kinesis hash key is an unsigned 128-bit integer, written as a decimal string on the wire.
 * Partition p of P owns the half-open slice [p * 2^128 / P, (p + 1) * 2^128 / P) (integer
 * division); the last slice ends at 2^128. The gateway writes every record of p with
 * ExplicitHashKey = the slice's first key, so all of p's gateway writes land in one open shard.
 *
 * Shard ranges are reported by Kinesis with an INCLUSIVE ending hash key; slices here are
 * end-exclusive. Pure code, no I/O.
 */
import { createHash } from 'node:crypto';

/** 2^128: one past the largest hash key. */
export const HASH_KEY_SPACE = 1n << 128n;
/** The largest hash key, 2^128 - 1. */
export const MAX_HASH_KEY = HASH_KEY_SPACE - 1n;

/** A shard's hash-key range as Kinesis reports it: both ends inclusive, decimal strings or bigints. */
export interface HashKeyRange {
  startingHashKey: string | bigint;
  endingHashKey: string | bigint;
}

/** A partition's slice: start inclusive, end exclusive. */
export interface Slice {
  start: bigint;
  end: bigint;
}

function checkPartitionCount(partitionCount: number): void {
  if (!Number.isSafeInteger(partitionCount) || partitionCount < 1) {
    throw new RangeError(`partition count must be a positive integer, got ${partitionCount}`);
  }
}

function checkPartition(partition: number, partitionCount: number): void {
  checkPartitionCount(partitionCount);
  if (!Number.isSafeInteger(partition) || partition < 0 || partition >= partitionCount) {
    throw new RangeError(`partition ${partition} is outside [0, ${partitionCount})`);
  }
}

function checkHashKey(hashKey: bigint): void {
  if (hashKey < 0n || hashKey > MAX_HASH_KEY) {
    throw new RangeError(`hash key ${hashKey} is outside [0, 2^128 - 1]`);
  }
}

/** Parses a decimal hash key (as Kinesis writes it) strictly; RangeError on anything else. */
export function parseHashKey(value: string | bigint): bigint {
  if (typeof value === 'bigint') {
    checkHashKey(value);
    return value;
  }
  if (!/^[0-9]{1,39}$/.test(value)) throw new RangeError(`not a decimal hash key: ${JSON.stringify(value)}`);
  const key = BigInt(value);
  checkHashKey(key);
  return key;
}

function sliceStart(partition: number, partitionCount: number): bigint {
  return (BigInt(partition) * HASH_KEY_SPACE) / BigInt(partitionCount);
}

/** Slice of partition p of P: [start, end), end exclusive (2^128 for the last slice). */
export function sliceOf(partition: number, partitionCount: number): Slice {
  checkPartition(partition, partitionCount);
  return { start: sliceStart(partition, partitionCount), end: sliceStart(partition + 1, partitionCount) };
}

/** The ExplicitHashKey the gateway writes partition p's records with: the slice's first key, decimal. */
export function explicitHashKeyFor(partition: number, partitionCount: number): string {
  return sliceOf(partition, partitionCount).start.toString(10);
}

/** The partition of P whose slice holds hashKey. */
export function partitionOfHashKey(hashKey: bigint, partitionCount: number): number {
  checkPartitionCount(partitionCount);
  checkHashKey(hashKey);
  const P = BigInt(partitionCount);
  // floor(h * P / 2^128) is never above the true slice, but can be one below it when h sits
  // exactly on a rounded-down slice start; step forward in that case.
  let p = Number((hashKey * P) >> 128n);
  while (p + 1 < partitionCount && hashKey >= sliceStart(p + 1, partitionCount)) p++;
  return p;
}

/** MD5 of the UTF-8 partition key as a big-endian unsigned 128-bit integer: Kinesis's hash key. */
export function hashKeyOfPartitionKey(partitionKey: string): bigint {
  return BigInt('0x' + createHash('md5').update(partitionKey, 'utf8').digest('hex'));
}

function rangeBounds(range: HashKeyRange): { start: bigint; end: bigint } {
  const start = parseHashKey(range.startingHashKey);
  const end = parseHashKey(range.endingHashKey);
  if (end < start) throw new RangeError(`hash key range ends (${end}) before it starts (${start})`);
  return { start, end };
}

/** Partitions of P whose slices overlap the shard's (inclusive) hash-key range, ascending. */
export function slicesOverlappingShard(range: HashKeyRange, partitionCount: number): number[] {
  const { start, end } = rangeBounds(range);
  const first = partitionOfHashKey(start, partitionCount);
  const last = partitionOfHashKey(end, partitionCount);
  const out: number[] = [];
  for (let p = first; p <= last; p++) out.push(p);
  return out;
}

/** Whether the shard's inclusive range holds hashKey. */
export function shardHoldsPoint(range: HashKeyRange, hashKey: bigint | string): boolean {
  const { start, end } = rangeBounds(range);
  const key = typeof hashKey === 'bigint' ? hashKey : parseHashKey(hashKey);
  return key >= start && key <= end;
}

/**
 * Partitions of P whose gateway write point (explicitHashKeyFor) lies inside the shard's range:
 * the partitions whose gateway writes this shard receives while it is open.
 */
export function partitionsWrittenToShard(range: HashKeyRange, partitionCount: number): number[] {
  const { start, end } = rangeBounds(range);
  return slicesOverlappingShard(range, partitionCount).filter((p) => {
    const point = sliceStart(p, partitionCount);
    return point >= start && point <= end;
  });
}
