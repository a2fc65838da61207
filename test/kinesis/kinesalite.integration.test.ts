/**
 * KPL aggregates written to a real (local) Kinesis, kinesalite, and read back shard by shard
 * with KCL's de-aggregation rules: magic, MD5, and every sub-record's explicit hash key inside
 * the shard's range (else KCL drops the whole aggregate). Plus a foreign PutRecord.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  type KinesisClient,
  type _Record,
} from '@aws-sdk/client-kinesis';
import kinesalite from 'kinesalite';
import { createKinesisClient } from '../../src/kinesis/client.js';
import { hashKeyOfPartitionKey, partitionOfHashKey, shardHoldsPoint } from '../../src/kinesis/hash-slices.js';
import { KPL_MAGIC, decodeAggregate } from '../../src/kinesis/kpl.js';
import { partitionsOfShard, readOrderForPartition, shardInfoFromSdk, type ShardInfo } from '../../src/kinesis/lineage.js';
import {
  fromKinesisRecord,
  toKplRecords,
  type BatchIdentity,
  type DecodedRecord,
  type GatewayRecord,
  type KinesisPutEntry,
} from '../../src/kinesis/record-formats.js';

let server: Server;
let client: KinesisClient;

before(async () => {
  server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  client = createKinesisClient({
    endpoint: `http://127.0.0.1:${address.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
});

after(async () => {
  client.destroy();
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
});

async function createStream(name: string, shards: number): Promise<ShardInfo[]> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  for (let i = 0; i < 100; i++) {
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (summary.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const listed = await client.send(new ListShardsCommand({ StreamName: name }));
  return (listed.Shards ?? []).map(shardInfoFromSdk);
}

async function readShard(stream: string, shardId: string): Promise<_Record[]> {
  const iterator = await client.send(
    new GetShardIteratorCommand({ StreamName: stream, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
  );
  let next = iterator.ShardIterator;
  const out: _Record[] = [];
  while (next !== undefined) {
    const page = await client.send(new GetRecordsCommand({ ShardIterator: next, Limit: 1000 }));
    const records = page.Records ?? [];
    out.push(...records);
    if (records.length === 0) break;
    next = page.NextShardIterator;
  }
  return out;
}

/** KCL's AggregatorUtil rules, with the magic and MD5 checked here independently. */
function kclAccepts(data: Buffer, shard: ShardInfo): boolean {
  assert.ok(data.subarray(0, 4).equals(KPL_MAGIC), 'magic');
  const body = data.subarray(4, data.length - 16);
  assert.ok(createHash('md5').update(body).digest().equals(data.subarray(data.length - 16)), 'MD5');
  const subs = decodeAggregate(data);
  assert.ok(subs !== null && subs.length > 0);
  return subs.every((sub) => {
    const point = sub.explicitHashKey !== undefined ? BigInt(sub.explicitHashKey) : hashKeyOfPartitionKey(sub.partitionKey);
    return shardHoldsPoint(shard.hashKeyRange, point);
  });
}

function makeBatch(p: number, b: number): GatewayRecord[] {
  return Array.from({ length: 25 + b * 7 }, (_, i) => ({
    key: i % 4 === 0 ? null : i % 4 === 1 ? randomBytes(8) : Buffer.from(`key-${p}-${i % 9}`),
    value: i % 11 === 0 ? null : randomBytes(20 + ((i * 37) % 300)),
    headers: i % 3 === 0 ? [{ key: 'trace', value: Buffer.from(`${p}/${b}/${i}`) }] : [],
    timestamp: BigInt(1_700_000_000_000 + b * 1000 + i),
  }));
}

describe('KPL aggregates in kinesalite', () => {
  for (const P of [4, 7]) {
    test(`a 4-shard stream holding P=${P} partitions: every record comes back in its shard, partition and order`, async () => {
      const stream = `kpl-p${P}`;
      const shards = await createStream(stream, 4);
      assert.equal(shards.length, 4);

      const produced = new Map<number, GatewayRecord[]>();
      const identities = new Map<string, BatchIdentity>();
      for (let b = 0; b < 3; b++) {
        const entries: KinesisPutEntry[] = [];
        for (let p = 0; p < P; p++) {
          const batch = makeBatch(p, b);
          const identity: BatchIdentity = { producerId: BigInt(1000 + p), producerEpoch: 0, baseSequence: b * 100, attributes: 0 };
          identities.set(`${p}/${b * 100}`, identity);
          produced.set(p, [...(produced.get(p) ?? []), ...batch]);
          entries.push(...toKplRecords(p, P, batch, identity, 2048)); // small limit: several aggregates per batch
        }
        assert.ok(entries.length > P * 2);
        const result = await client.send(
          new PutRecordsCommand({
            StreamName: stream,
            Records: entries.map((e) => ({ PartitionKey: e.partitionKey, ExplicitHashKey: e.explicitHashKey, Data: e.data })),
          }),
        );
        assert.equal(result.FailedRecordCount ?? 0, 0);
      }

      const foreignKey = `foreign-${P}`;
      const foreignPartition = partitionOfHashKey(hashKeyOfPartitionKey(foreignKey), P);
      const foreignPut = await client.send(
        new PutRecordCommand({ StreamName: stream, PartitionKey: foreignKey, Data: Buffer.from('from elsewhere') }),
      );

      const byShard = new Map<string, DecodedRecord[]>();
      let foreignSeen = 0;
      for (const shard of shards) {
        const decoded: DecodedRecord[] = [];
        for (const r of await readShard(stream, shard.shardId)) {
          const data = Buffer.from(r.Data ?? new Uint8Array());
          const entries = fromKinesisRecord(
            {
              data,
              partitionKey: r.PartitionKey ?? '',
              approximateArrivalTimestamp: r.ApproximateArrivalTimestamp ?? new Date(0),
              sequenceNumber: r.SequenceNumber ?? '',
            },
            P,
            { shardRange: shard.hashKeyRange },
          );
          if (r.SequenceNumber === foreignPut.SequenceNumber) {
            foreignSeen++;
            assert.equal(shard.shardId, foreignPut.ShardId);
            assert.ok(shardHoldsPoint(shard.hashKeyRange, hashKeyOfPartitionKey(foreignKey)));
            assert.equal(entries.length, 1);
            const [entry] = entries as DecodedRecord[];
            assert.equal(entry?.origin, 'plain');
            assert.equal(entry?.partition, foreignPartition);
            assert.deepEqual(entry?.record.key, Buffer.from(foreignKey));
            assert.deepEqual(entry?.record.value, Buffer.from('from elsewhere'));
            assert.equal(entry?.record.timestamp, BigInt((r.ApproximateArrivalTimestamp as Date).getTime()));
            assert.ok(Math.abs(Date.now() - Number(entry?.record.timestamp)) < 60_000);
          } else {
            assert.ok(kclAccepts(data, shard), `KCL keeps aggregate ${r.SequenceNumber} of ${shard.shardId}`);
            for (const entry of entries) {
              assert.equal(entry.kind, 'record');
              assert.equal((entry as DecodedRecord).origin, 'gateway-kpl');
              assert.ok(partitionsOfShard(shard, P).includes(entry.partition));
            }
          }
          decoded.push(...(entries as DecodedRecord[]));
        }
        byShard.set(shard.shardId, decoded);
      }
      assert.equal(foreignSeen, 1);

      for (let p = 0; p < P; p++) {
        const log = readOrderForPartition(shards, p, P).flatMap((s) =>
          (byShard.get(s.shardId) ?? []).filter((e) => e.partition === p),
        );
        const gatewayRecords = log.filter((e) => e.origin === 'gateway-kpl');
        assert.deepEqual(
          gatewayRecords.map((e) => e.record),
          produced.get(p),
          `partition ${p} reads back in order`,
        );
        // Batches rebuild from the aggregate markers: i/n runs 0..n-1 with the batch identity.
        let expectedIndex = 0;
        for (const e of gatewayRecords) {
          if (e.aggregate === undefined) continue;
          assert.equal(e.aggregate.aggregateIndex, expectedIndex);
          const identity = e.aggregate.identity;
          assert.ok(identity !== null);
          assert.deepEqual(identities.get(`${p}/${identity.baseSequence}`), identity);
          expectedIndex = e.aggregate.aggregateIndex + 1 === e.aggregate.aggregateCount ? 0 : expectedIndex + 1;
        }
        assert.equal(expectedIndex, 0, 'last batch complete');
        assert.equal(log.filter((e) => e.origin === 'plain').length, p === foreignPartition ? 1 : 0);
      }
    });
  }
});
