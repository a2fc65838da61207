/**
 * Shard lineage (DESIGN.md sections 3 and 4): which shards hold a partition's records and in
 * which order they are read. The order is a deterministic function of the shard list given;
 * as shards appear and expire it is the log layer's job to keep the order it has indexed. A partition's log is its records in the shards whose hash-key
 * ranges overlap its slice, every parent shard entirely before its children (the rule KCL
 * enforces), ties broken by starting sequence number, then shard id.
 *
 * Parents that are no longer listed (expired past retention) are simply absent: their children
 * then have no predecessor. Two open siblings that both overlap a slice (a split inside the
 * slice) come out in starting-sequence-number order; the log layer fixes the order between
 * their records when it first indexes them. Pure code, no I/O.
 */
import type { Shard } from '@aws-sdk/client-kinesis';
import { explicitHashKeyFor, parseHashKey, shardHoldsPoint, sliceOf, slicesOverlappingShard } from './hash-slices.js';

export interface ShardInfo {
  shardId: string;
  parentShardId?: string;
  adjacentParentShardId?: string;
  /** Inclusive range, decimal strings as Kinesis reports them. */
  hashKeyRange: { startingHashKey: string; endingHashKey: string };
  /** endingSequenceNumber is set once the shard is closed (split or merged away). */
  sequenceNumberRange: { startingSequenceNumber: string; endingSequenceNumber?: string };
}

/** Converts a ListShards/DescribeStream shard from the AWS SDK; throws on missing required fields. */
export function shardInfoFromSdk(shard: Shard): ShardInfo {
  const { ShardId, HashKeyRange, SequenceNumberRange } = shard;
  if (
    ShardId === undefined ||
    HashKeyRange?.StartingHashKey === undefined ||
    HashKeyRange.EndingHashKey === undefined ||
    SequenceNumberRange?.StartingSequenceNumber === undefined
  ) {
    throw new TypeError(`incomplete shard description: ${JSON.stringify(shard)}`);
  }
  const info: ShardInfo = {
    shardId: ShardId,
    hashKeyRange: { startingHashKey: HashKeyRange.StartingHashKey, endingHashKey: HashKeyRange.EndingHashKey },
    sequenceNumberRange: { startingSequenceNumber: SequenceNumberRange.StartingSequenceNumber },
  };
  if (SequenceNumberRange.EndingSequenceNumber !== undefined) {
    info.sequenceNumberRange.endingSequenceNumber = SequenceNumberRange.EndingSequenceNumber;
  }
  if (shard.ParentShardId !== undefined) info.parentShardId = shard.ParentShardId;
  if (shard.AdjacentParentShardId !== undefined) info.adjacentParentShardId = shard.AdjacentParentShardId;
  return info;
}

/** Whether the shard is still open (accepts writes). */
export function isShardOpen(shard: ShardInfo): boolean {
  return shard.sequenceNumberRange.endingSequenceNumber === undefined;
}

/** Partitions of P whose slices the shard's range overlaps: the partitions it holds records of. */
export function partitionsOfShard(shard: ShardInfo, partitionCount: number): number[] {
  return slicesOverlappingShard(shard.hashKeyRange, partitionCount);
}

/** Whether the shard's range overlaps slice p of P. */
export function shardOverlapsPartition(shard: ShardInfo, partition: number, partitionCount: number): boolean {
  const slice = sliceOf(partition, partitionCount);
  const start = parseHashKey(shard.hashKeyRange.startingHashKey);
  const end = parseHashKey(shard.hashKeyRange.endingHashKey);
  return start < slice.end && end >= slice.start;
}

function sequenceKey(shard: ShardInfo): bigint {
  const s = shard.sequenceNumberRange.startingSequenceNumber;
  return /^[0-9]+$/.test(s) ? BigInt(s) : 0n;
}

function compareShards(a: ShardInfo, b: ShardInfo): number {
  const sa = sequenceKey(a);
  const sb = sequenceKey(b);
  if (sa !== sb) return sa < sb ? -1 : 1;
  return a.shardId < b.shardId ? -1 : a.shardId > b.shardId ? 1 : 0;
}

/**
 * Orders shards so that every parent (and adjacent parent) present in the list precedes its
 * children; among shards that are ready, the lowest starting sequence number (then shard id)
 * goes first. Deterministic; a cycle (impossible from Kinesis) is broken in the same order.
 */
export function lineageOrder(shards: readonly ShardInfo[]): ShardInfo[] {
  const byId = new Map<string, ShardInfo>();
  for (const s of shards) byId.set(s.shardId, s);
  const unique = [...byId.values()].sort(compareShards);
  const pending = new Map<string, number>();
  const children = new Map<string, ShardInfo[]>();
  for (const s of unique) {
    const parents = new Set([s.parentShardId, s.adjacentParentShardId].filter((id): id is string => id !== undefined));
    let count = 0;
    for (const parent of parents) {
      if (!byId.has(parent) || parent === s.shardId) continue;
      count++;
      const list = children.get(parent) ?? [];
      list.push(s);
      children.set(parent, list);
    }
    pending.set(s.shardId, count);
  }

  const out: ShardInfo[] = [];
  const done = new Set<string>();
  while (out.length < unique.length) {
    // Few shards per stream: a linear scan for the first ready shard keeps this simple.
    let next = unique.find((s) => !done.has(s.shardId) && pending.get(s.shardId) === 0);
    next ??= unique.find((s) => !done.has(s.shardId)) as ShardInfo;
    done.add(next.shardId);
    out.push(next);
    for (const child of children.get(next.shardId) ?? []) {
      pending.set(child.shardId, (pending.get(child.shardId) ?? 1) - 1);
    }
  }
  return out;
}

/**
 * The shards holding partition p of P, in read order (parents before children). The order is
 * the whole stream's lineageOrder restricted to the shards overlapping the slice, so ancestry
 * through shards that do not overlap the slice is respected too, and every partition sees the
 * same relative order of any two shards.
 */
export function readOrderForPartition(shards: readonly ShardInfo[], partition: number, partitionCount: number): ShardInfo[] {
  sliceOf(partition, partitionCount); // validates
  return lineageOrder(shards).filter((s) => shardOverlapsPartition(s, partition, partitionCount));
}

/** The open shard that receives partition p's gateway writes (holds explicitHashKeyFor(p, P)). */
export function writeShardFor(shards: readonly ShardInfo[], partition: number, partitionCount: number): ShardInfo | undefined {
  const point = explicitHashKeyFor(partition, partitionCount);
  return shards.find((s) => isShardOpen(s) && shardHoldsPoint(s.hashKeyRange, point));
}

/** For each partition of P, the shards holding it in read order. */
export function shardsByPartition(shards: readonly ShardInfo[], partitionCount: number): Map<number, ShardInfo[]> {
  const ordered = lineageOrder(shards);
  const out = new Map<number, ShardInfo[]>();
  for (let p = 0; p < partitionCount; p++) out.set(p, []);
  for (const shard of ordered) {
    for (const p of partitionsOfShard(shard, partitionCount)) out.get(p)?.push(shard);
  }
  return out;
}

/**
 * The shards holding partition p under any of several partition counts (CreatePartitions
 * re-cuts the slices for later records; earlier records keep their partition), in read order.
 */
export function readOrderAcrossPartitionMaps(
  shards: readonly ShardInfo[],
  partition: number,
  partitionCounts: readonly number[],
): ShardInfo[] {
  return lineageOrder(shards).filter((s) => partitionCounts.some((count) => shardOverlapsPartition(s, partition, count)));
}
