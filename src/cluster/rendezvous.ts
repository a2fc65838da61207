/**
 * Rendezvous (highest random weight) hashing: every node scores every key and the highest score
 * owns it (DESIGN.md section 5). Any node computes the same owner from the same set of live node
 * ids without talking to the others; when a node joins it takes about 1/N of the keys, each from
 * whichever node owned it, and when a node leaves only its keys move, spread over the survivors.
 *
 * Scores are 53-bit integers from two independent 32-bit mixes of (key, node id): deterministic
 * across processes and platforms (no Math.random, no locale), cheap enough for Metadata to score
 * every partition of every topic.
 */

/** MurmurHash3 (x86, 32-bit) of the string's UTF-16 code units: a well-distributed, portable hash. */
function murmur3(text: string, seed: number): number {
  let h = seed >>> 0;
  const length = text.length;
  for (let i = 0; i < length; i++) {
    let k = text.charCodeAt(i);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= length;
  return fmix32(h);
}

/** MurmurHash3's finaliser: every input bit affects every output bit. */
function fmix32(value: number): number {
  let h = value >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

const SEED_A = 0x9747b28c;
const SEED_B = 0x5bd1e995;

/** The two key hashes a score is made from (compute once per key, score against every node). */
export interface KeyHash {
  readonly a: number;
  readonly b: number;
}

export function hashKey(key: string): KeyHash {
  return { a: murmur3(key, SEED_A), b: murmur3(key, SEED_B) };
}

/** The weight of `nodeId` for a key: a 53-bit integer, so comparisons are exact. */
export function rendezvousScore(key: KeyHash | string, nodeId: number): number {
  const { a, b } = typeof key === 'string' ? hashKey(key) : key;
  const n = nodeId >>> 0;
  const high = fmix32(a ^ fmix32(n ^ SEED_A)) >>> 11; // 21 bits
  const low = fmix32(b ^ fmix32(n ^ SEED_B)); // 32 bits
  return high * 0x1_0000_0000 + low;
}

/** The node that owns `key` among `nodeIds` (highest score, ties to the lower id); undefined when there is none. */
export function rendezvousOwner(key: string, nodeIds: Iterable<number>): number | undefined {
  const hash = hashKey(key);
  let best: number | undefined;
  let bestScore = -1;
  for (const nodeId of nodeIds) {
    const score = rendezvousScore(hash, nodeId);
    if (score > bestScore || (score === bestScore && best !== undefined && nodeId < best)) {
      best = nodeId;
      bestScore = score;
    }
  }
  return best;
}

/** Every node in preference order for `key`: the owner first, then who would own it if the owner left, and so on. */
export function rendezvousOrder(key: string, nodeIds: Iterable<number>): number[] {
  const hash = hashKey(key);
  return [...nodeIds]
    .map((nodeId) => ({ nodeId, score: rendezvousScore(hash, nodeId) }))
    .sort((x, y) => y.score - x.score || x.nodeId - y.nodeId)
    .map((s) => s.nodeId);
}

/** The rendezvous key of a topic partition's leadership. */
export function partitionPlacementKey(topic: string, partition: number): string {
  return `partition\u0000${topic}\u0000${partition}`;
}

/** The rendezvous key of a consumer group's coordinator. */
export function groupPlacementKey(groupId: string): string {
  return `group\u0000${groupId}`;
}
