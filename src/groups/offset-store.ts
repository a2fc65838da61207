/**
 * Where committed offsets live. The coordinator keeps every group's offsets in memory and writes
 * each commit through to the store before acknowledging it; the store is read back in full when
 * the coordinator starts.
 */

/** A committed offset as OffsetCommit stores it and OffsetFetch returns it. */
export interface CommittedOffset {
  readonly offset: bigint;
  /** The leader epoch the consumer saw at that offset, or -1. */
  readonly leaderEpoch: number;
  /** Free-form client metadata; null is stored as "" (as Kafka does). */
  readonly metadata: string;
  /** Wall-clock ms of the commit. */
  readonly commitTimestampMs: number;
  /** When an explicit retention time (OffsetCommit v2-v4) runs out, or null. */
  readonly expireTimestampMs: number | null;
}

export interface StoredOffset extends CommittedOffset {
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
}

export interface OffsetStore {
  /** Every committed offset of every group. */
  loadAll(): Promise<StoredOffset[]>;
  /** The committed offsets of one group. */
  loadGroup(groupId: string): Promise<StoredOffset[]>;
  /** Stores (replaces) one offset; resolves once it is durable. */
  put(groupId: string, topic: string, partition: number, offset: CommittedOffset): Promise<void>;
  /** Removes one offset (a no-op when absent); resolves once durable. */
  delete(groupId: string, topic: string, partition: number): Promise<void>;
}

/** An OffsetStore in memory: for tests, and for a gateway run without DynamoDB. */
export class InMemoryOffsetStore implements OffsetStore {
  private readonly items = new Map<string, StoredOffset>();

  private static key(groupId: string, topic: string, partition: number): string {
    return JSON.stringify([groupId, topic, partition]);
  }

  async loadAll(): Promise<StoredOffset[]> {
    return [...this.items.values()];
  }

  async loadGroup(groupId: string): Promise<StoredOffset[]> {
    return [...this.items.values()].filter((o) => o.groupId === groupId);
  }

  async put(groupId: string, topic: string, partition: number, offset: CommittedOffset): Promise<void> {
    this.items.set(InMemoryOffsetStore.key(groupId, topic, partition), { ...offset, groupId, topic, partition });
  }

  async delete(groupId: string, topic: string, partition: number): Promise<void> {
    this.items.delete(InMemoryOffsetStore.key(groupId, topic, partition));
  }

  get size(): number {
    return this.items.size;
  }
}
