/**
 * Reads a whole Kinesis stream straight from Kinesis (no gateway): every shard from
 * TRIM_HORIZON to its tip, as a Kinesis-native consumer would.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';

export interface ShardRead {
  readonly shardId: string;
  /** Inclusive hash-key range. */
  readonly start: bigint;
  readonly end: bigint;
  readonly records: readonly StreamRecord[];
}

export interface StreamRecord {
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  readonly data: Buffer;
  readonly arrival: Date;
}

export async function readStream(kinesis: KinesisClient, streamName: string): Promise<ShardRead[]> {
  const shards = (await kinesis.send(new ListShardsCommand({ StreamName: streamName }))).Shards ?? [];
  const out: ShardRead[] = [];
  for (const shard of shards) {
    const shardId = shard.ShardId as string;
    let iterator = (
      await kinesis.send(new GetShardIteratorCommand({ StreamName: streamName, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }))
    ).ShardIterator;
    const records: StreamRecord[] = [];
    while (iterator !== undefined) {
      const page = await kinesis.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      for (const r of page.Records ?? []) {
        records.push({
          sequenceNumber: r.SequenceNumber as string,
          partitionKey: r.PartitionKey as string,
          data: Buffer.from(r.Data as Uint8Array),
          arrival: r.ApproximateArrivalTimestamp as Date,
        });
      }
      if ((page.Records ?? []).length === 0 && (page.MillisBehindLatest ?? 0) === 0) break;
      iterator = page.NextShardIterator;
      if ((page.Records ?? []).length === 0) await sleep(10);
    }
    out.push({
      shardId,
      start: BigInt(shard.HashKeyRange?.StartingHashKey as string),
      end: BigInt(shard.HashKeyRange?.EndingHashKey as string),
      records,
    });
  }
  return out;
}
