/**
 * Records and checks shared by the data-path end-to-end tests: keyed records with headers and
 * explicit timestamps that name themselves (header `id`), and the comparison of what a consumer
 * got with what producers were told.
 */
import assert from 'node:assert/strict';
import type { ClientRecord, ConsumedRecord, DeliveryReport } from './client-drivers.js';

/** A produced record with the place its producer was told it went. */
export interface ProducedRecord {
  readonly id: string;
  readonly record: ClientRecord;
  readonly partition: number;
  readonly offset: bigint;
  /** Order among the producer's records (per key order is checked against it). */
  readonly index: number;
  readonly producer: string;
}

/**
 * `count` keyed records from `producer`: `keys` distinct keys used round-robin (one in ten keys
 * is binary, not UTF-8, which the kpl format carries in a tag), values of varying length (one
 * in 101 a tombstone), a header `id` naming the record, a repeated header name, a binary header
 * value, an empty one, a null one where `nullHeaders` (kafkajs cannot send null header values),
 * and CreateTime `baseTimestamp + index`.
 */
export function makeRecords(
  producer: string,
  count: number,
  options: { keys?: number; baseTimestamp?: bigint; nullHeaders?: boolean; valueBytes?: number } = {},
): ClientRecord[] {
  const keys = options.keys ?? 1000;
  const baseTimestamp = options.baseTimestamp ?? 1_700_000_000_000n;
  const valueBytes = options.valueBytes ?? 150;
  const records: ClientRecord[] = [];
  for (let i = 0; i < count; i++) {
    const k = i % keys;
    const key = k % 10 === 3 ? Buffer.from([0xff, 0xfe, 0x00, k >> 8, k & 0xff]) : Buffer.from(`${producer}-key-${k}`);
    const head = `${producer} record ${i} `;
    const value =
      i % 101 === 50 ? null : Buffer.from(head + 'v'.repeat(Math.max(0, (i * 7919) % (valueBytes * 2) - head.length)));
    const headers: [string, Buffer | null][] = [
      ['id', Buffer.from(`${producer}:${i}`)],
      ['dup', Buffer.from('first')],
      ['dup', Buffer.from([i & 0xff, 0x00, 0xc3])],
      ['empty', Buffer.alloc(0)],
    ];
    if (options.nullHeaders === true && i % 3 === 0) headers.push(['null', null]);
    records.push({ key, value, headers, timestamp: baseTimestamp + BigInt(i) });
  }
  return records;
}

export function producedRecords(producer: string, records: readonly ClientRecord[], reports: readonly DeliveryReport[]): ProducedRecord[] {
  assert.equal(reports.length, records.length, `${producer}: one delivery report per record`);
  return reports.map((report) => {
    const record = records[report.index];
    if (record === undefined) throw new Error(`${producer}: report for unknown record ${report.index}`);
    return { id: recordId(record.headers), record, partition: report.partition, offset: report.offset, index: report.index, producer };
  });
}

export function recordId(headers: readonly (readonly [string, Buffer | null])[]): string {
  const id = headers.find(([name]) => name === 'id')?.[1];
  if (id === undefined || id === null) throw new Error('record without an id header');
  return id.toString('utf8');
}

const show = (b: Buffer | null): string | null => (b === null ? null : b.toString('hex'));

function comparable(r: { key: Buffer | null; value: Buffer | null; headers: readonly (readonly [string, Buffer | null])[]; timestamp: bigint | null }): unknown {
  return {
    key: show(r.key),
    value: show(r.value),
    headers: r.headers.map(([name, value]) => [name, show(value)]),
    timestamp: r.timestamp?.toString() ?? null,
  };
}

/**
 * One record per (partition, offset): a group consumer may be given records again after a
 * rebalance, which Kafka allows, but an offset must always hold the same record.
 */
export function oncePerOffset(consumed: readonly ConsumedRecord[], label: string): ConsumedRecord[] {
  const byOffset = new Map<string, ConsumedRecord>();
  for (const c of consumed) {
    const place = `${c.partition}/${c.offset}`;
    const earlier = byOffset.get(place);
    if (earlier === undefined) byOffset.set(place, c);
    else assert.deepEqual(comparable(c), comparable(earlier), `${label}: offset ${place} delivered twice with different records`);
  }
  return [...byOffset.values()];
}

export interface CheckOptions {
  /** Reorders produced headers the way the consumer client returns them (kafkajs groups names). */
  readonly headerOrder?: (headers: ClientRecord['headers']) => (readonly [string, Buffer | null])[];
  readonly label: string;
}

/**
 * The "done when" for one consumer: every produced record exactly once, at the offset
 * its producer was told, with key, value, headers and timestamp intact; offsets dense from 0 in
 * every partition; every key in one partition, its records in production order.
 */
export function checkConsumed(
  produced: readonly ProducedRecord[],
  consumed: readonly ConsumedRecord[],
  partitionCount: number,
  options: CheckOptions,
): void {
  const { label } = options;
  const byId = new Map(produced.map((p) => [p.id, p]));
  const seen = new Map<string, ConsumedRecord>();
  for (const c of consumed) {
    const id = recordId(c.headers);
    assert.ok(byId.has(id), `${label}: consumed a record nobody produced: ${id}`);
    assert.ok(!seen.has(id), `${label}: record ${id} consumed twice (offsets ${seen.get(id)?.offset} and ${c.offset})`);
    seen.set(id, c);
  }
  const missing = produced.filter((p) => !seen.has(p.id));
  if (missing.length > 0) {
    // Holes, or a consumer that stopped early (time ran out)? Tell which, per partition.
    const summary = Array.from({ length: partitionCount }, (_, partition) => {
      const gone = missing.filter((p) => p.partition === partition).map((p) => p.offset);
      const got = consumed.filter((c) => c.partition === partition).map((c) => c.offset);
      if (gone.length === 0) return `p${partition}: complete`;
      const lowest = gone.reduce((a, b) => (a < b ? a : b));
      const highest = gone.reduce((a, b) => (a > b ? a : b));
      const reached = got.reduce((a, b) => (a > b ? a : b), -1n);
      return `p${partition}: ${gone.length} missing in offsets ${lowest}..${highest}, consumed up to ${reached}`;
    });
    assert.fail(`${label}: ${missing.length} records never consumed (${summary.join('; ')}), e.g. ${missing.slice(0, 5).map((p) => p.id).join(', ')}`);
  }
  assert.equal(consumed.length, produced.length, `${label}: consumed count`);

  // Offsets dense from 0 per partition.
  for (let partition = 0; partition < partitionCount; partition++) {
    const offsets = consumed.filter((c) => c.partition === partition).map((c) => c.offset).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    offsets.forEach((offset, i) => assert.equal(offset, BigInt(i), `${label}: partition ${partition} offsets not dense from 0 at position ${i}`));
  }

  // Where the producer was told it went, and intact.
  const keyPartitions = new Map<string, Set<number>>();
  for (const p of produced) {
    const c = seen.get(p.id) as ConsumedRecord;
    assert.equal(`${c.partition}/${c.offset}`, `${p.partition}/${p.offset}`, `${label}: ${p.id} is not where its producer was told it went`);
    const expected = { ...p.record, headers: options.headerOrder?.(p.record.headers) ?? p.record.headers };
    assert.deepEqual(comparable(c), comparable(expected), `${label}: ${p.id} changed on the way`);
    if (c.timestampType !== undefined) assert.equal(c.timestampType, 1, `${label}: ${p.id} is not CreateTime`);
    const key = `${p.producer}/${show(p.record.key)}`;
    const partitions = keyPartitions.get(key) ?? new Set<number>();
    partitions.add(c.partition);
    keyPartitions.set(key, partitions);
  }
  for (const [key, partitions] of keyPartitions) {
    assert.equal(partitions.size, 1, `${label}: key ${key} is in partitions ${[...partitions].join(', ')}`);
  }

  // Per key, offsets follow production order.
  const lastByKey = new Map<string, { index: number; offset: bigint }>();
  for (const p of [...produced].sort((a, b) => a.index - b.index)) {
    const key = `${p.producer}/${show(p.record.key)}`;
    const c = seen.get(p.id) as ConsumedRecord;
    const last = lastByKey.get(key);
    if (last !== undefined) {
      assert.ok(c.offset > last.offset, `${label}: key ${key}: record ${p.index} at offset ${c.offset} is not after record ${last.index} at ${last.offset}`);
    }
    lastByKey.set(key, { index: p.index, offset: c.offset });
  }
}
