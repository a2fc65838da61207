/** What the group API handlers share. */
import type { GroupCoordinator } from '../groups/coordinator.js';
import type { GroupCoordinatorRouter } from '../groups/router.js';
import type { TopicCatalog } from '../log/catalog.js';

export interface GroupApiDependencies {
  readonly coordinator: GroupCoordinator;
  readonly router: GroupCoordinatorRouter;
  /** Topics, to answer UNKNOWN_TOPIC_OR_PARTITION for offsets of partitions that do not exist. */
  readonly catalog: TopicCatalog;
  /** Keeps OffsetCommit/OffsetDelete of one connection in request order (shared by both handlers). */
  readonly sequencer?: ConnectionSequencer;
}

/** Kafka reports a member's host as InetAddress.toString() does: "/" and the address. */
export function clientHost(remoteAddress: string): string {
  const at = remoteAddress.lastIndexOf(':');
  let host = at < 0 ? remoteAddress : remoteAddress.slice(0, at);
  if (host.startsWith('::ffff:') && host.includes('.')) host = host.slice('::ffff:'.length);
  return `/${host}`;
}

/**
 * Lets a handler that must look something up (topics) before it acts still act in the order its
 * requests arrived on a connection: each request waits until the previous one of the same
 * connection has called release(), which it does once its effects are queued.
 */
export class ConnectionSequencer {
  private readonly tails = new Map<number, Promise<void>>();

  /** Resolves with a release function once the connection's previous request has released. */
  async turn(connectionId: number): Promise<() => void> {
    const previous = this.tails.get(connectionId) ?? Promise.resolve();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    this.tails.set(connectionId, gate);
    await previous;
    return () => {
      release();
      if (this.tails.get(connectionId) === gate) this.tails.delete(connectionId);
    };
  }
}

/** Which partitions exist: topic name -> partition count (undefined for unknown topics). */
export async function partitionCounts(catalog: TopicCatalog, topics: Iterable<string>): Promise<Map<string, number | undefined>> {
  const names = [...new Set(topics)];
  const found = await Promise.all(names.map((name) => catalog.getTopic(name).catch(() => undefined)));
  return new Map(names.map((name, i) => [name, found[i]?.partitionCount]));
}

export function partitionExists(counts: ReadonlyMap<string, number | undefined>, topic: string, partition: number): boolean {
  const count = counts.get(topic);
  return count !== undefined && Number.isInteger(partition) && partition >= 0 && partition < count;
}
