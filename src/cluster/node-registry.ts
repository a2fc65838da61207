/**
 * The node registry (DESIGN.md section 5): every gateway node keeps an item in DynamoDB with its
 * broker identity (node id, advertised host and port, rack) and a heartbeat time it renews; a
 * node whose heartbeat is older than the node timeout is dead, whatever its item says. The same
 * table holds the cluster id, created once by whichever node comes first.
 *
 * Table `${prefix}nodes`, partition key `id` (S):
 * - `node/<node id>`: nodeId N, host S, port N, rack S (absent: none), incarnation N (a random
 *   token per process, which is also the owner of the partition leases the process holds),
 *   heartbeatAtMs N (the node's wall clock when it last renewed), startedAtMs N.
 * - `cluster`: clusterId S, createdAtMs N.
 *
 * Only single-item conditional writes: a node id is taken with a write conditional on the item
 * being absent or exactly the dead item read before, and every heartbeat is conditional on the
 * incarnation, so a process whose node id was taken over (it was paused past the node timeout)
 * learns it at its next heartbeat instead of overwriting the newcomer.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { attrN, attrS, isConditionFailed, readN, readS, type Item } from '../aws/dynamodb.js';

export interface NodeRecord {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
  /** Random per process: tells two processes with one node id apart; the owner of its leases. */
  readonly incarnation: number;
  readonly heartbeatAtMs: number;
  readonly startedAtMs: number;
}

/** Whether a node's heartbeat is recent enough at `nowMs` for it to count as live. */
export function isNodeLive(record: NodeRecord, nowMs: number, nodeTimeoutMs: number): boolean {
  return nowMs - record.heartbeatAtMs < nodeTimeoutMs;
}

const NODE_PREFIX = 'node/';
const CLUSTER_KEY = 'cluster';

function nodeKey(nodeId: number): string {
  return `${NODE_PREFIX}${nodeId}`;
}

function toItem(record: NodeRecord): Item {
  const item: Item = {
    id: attrS(nodeKey(record.nodeId)),
    nodeId: attrN(record.nodeId),
    host: attrS(record.host),
    port: attrN(record.port),
    incarnation: attrN(record.incarnation),
    heartbeatAtMs: attrN(record.heartbeatAtMs),
    startedAtMs: attrN(record.startedAtMs),
  };
  if (record.rack !== null) item.rack = attrS(record.rack);
  return item;
}

function fromItem(item: Item): NodeRecord {
  return {
    nodeId: readN(item, 'nodeId'),
    host: readS(item, 'host'),
    port: readN(item, 'port'),
    rack: item.rack?.S ?? null,
    incarnation: readN(item, 'incarnation'),
    heartbeatAtMs: readN(item, 'heartbeatAtMs'),
    startedAtMs: readN(item, 'startedAtMs'),
  };
}

export type HeartbeatOutcome = 'ok' | 'lost';

export class DynamoNodeRegistry {
  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
  ) {}

  /** Every registered node, live or not. */
  async list(): Promise<NodeRecord[]> {
    const records: NodeRecord[] = [];
    let startKey: Item | undefined;
    do {
      const out = await this.client.send(
        new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ExclusiveStartKey: startKey }),
      );
      for (const item of out.Items ?? []) {
        if (item.id?.S?.startsWith(NODE_PREFIX) === true) records.push(fromItem(item));
      }
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return records.sort((x, y) => x.nodeId - y.nodeId);
  }

  async get(nodeId: number): Promise<NodeRecord | undefined> {
    const out = await this.client.send(
      new GetItemCommand({ TableName: this.tableName, Key: { id: attrS(nodeKey(nodeId)) }, ConsistentRead: true }),
    );
    return out.Item === undefined ? undefined : fromItem(out.Item);
  }

  /**
   * Writes `record` if its node id is free: no item (`previous` undefined) or the item is still
   * exactly `previous` (same incarnation and heartbeat). false when someone wrote in between.
   */
  async claim(record: NodeRecord, previous: NodeRecord | undefined): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: toItem(record),
          ...(previous === undefined
            ? { ConditionExpression: 'attribute_not_exists(id)' }
            : {
                ConditionExpression: 'incarnation = :incarnation AND heartbeatAtMs = :heartbeat',
                ExpressionAttributeValues: { ':incarnation': attrN(previous.incarnation), ':heartbeat': attrN(previous.heartbeatAtMs) },
              }),
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailed(err)) return false;
      throw err;
    }
  }

  /**
   * Renews the heartbeat (never moving it back: a late heartbeat changes nothing); 'lost' when
   * the item is gone or belongs to another incarnation now.
   */
  async heartbeat(nodeId: number, incarnation: number, atMs: number): Promise<HeartbeatOutcome> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { id: attrS(nodeKey(nodeId)) },
          UpdateExpression: 'SET heartbeatAtMs = :now',
          ConditionExpression: 'incarnation = :incarnation AND heartbeatAtMs < :now',
          ExpressionAttributeValues: { ':now': attrN(atMs), ':incarnation': attrN(incarnation) },
        }),
      );
      return 'ok';
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
      const current = await this.get(nodeId);
      return current?.incarnation === incarnation ? 'ok' : 'lost';
    }
  }

  /** Deletes the node's item if it is still this incarnation's (graceful shutdown). */
  async remove(nodeId: number, incarnation: number): Promise<void> {
    try {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { id: attrS(nodeKey(nodeId)) },
          ConditionExpression: 'incarnation = :incarnation',
          ExpressionAttributeValues: { ':incarnation': attrN(incarnation) },
        }),
      );
    } catch (err) {
      if (!isConditionFailed(err)) throw err;
    }
  }

  /** The cluster id every node shares: the stored one, or `candidate` stored by this call if there is none yet. */
  async clusterId(candidate: string): Promise<string> {
    for (let round = 0; round < 3; round++) {
      const out = await this.client.send(
        new GetItemCommand({ TableName: this.tableName, Key: { id: attrS(CLUSTER_KEY) }, ConsistentRead: true }),
      );
      if (out.Item !== undefined) return readS(out.Item, 'clusterId');
      try {
        await this.client.send(
          new PutItemCommand({
            TableName: this.tableName,
            Item: { id: attrS(CLUSTER_KEY), clusterId: attrS(candidate), createdAtMs: attrN(Date.now()) },
            ConditionExpression: 'attribute_not_exists(id)',
          }),
        );
        return candidate;
      } catch (err) {
        if (!isConditionFailed(err)) throw err;
        // Another node created it first: read theirs.
      }
    }
    throw new Error(`cannot read or create the cluster id in ${this.tableName}`);
  }
}

/** Thrown when another live process runs with the same node id. */
export class NodeIdConflictError extends Error {
  override name = 'NodeIdConflictError';

  constructor(
    readonly nodeId: number,
    readonly other: NodeRecord,
  ) {
    super(
      `node id ${nodeId} is already used by a live gateway (${other.host}:${other.port}, incarnation ${other.incarnation}, ` +
        `started ${new Date(other.startedAtMs).toISOString()}); give this gateway another --node-id, or stop the other one`,
    );
  }
}

export interface RegistrationTiming {
  readonly heartbeatIntervalMs: number;
  readonly nodeTimeoutMs: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** Told once when the node id is held by a registration that may be a crashed predecessor. */
  readonly onWaiting?: (other: NodeRecord) => void;
  /**
   * The incarnation this process's data folder last registered under this node id: a
   * registration still holding it is this folder's own predecessor, which is not running (a data
   * folder belongs to one process at a time), so it is taken over at once, without waiting for
   * it to age out.
   */
  readonly predecessorIncarnation?: number;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Registers `record` under its node id. A free id (no item, or a dead node's) is taken at once.
 * An id whose holder still looks live is watched: if the holder's heartbeat moves, another live
 * process has the id and NodeIdConflictError is thrown; if it does not move until the holder has
 * aged out (a crashed predecessor, e.g. the same pod restarted), the id is taken over.
 */
export async function registerNode(
  registry: DynamoNodeRegistry,
  record: Omit<NodeRecord, 'heartbeatAtMs'>,
  timing: RegistrationTiming,
): Promise<NodeRecord> {
  const now = timing.now ?? Date.now;
  const sleep = timing.sleep ?? defaultSleep;
  const pollMs = Math.max(50, Math.min(250, Math.floor(timing.heartbeatIntervalMs / 2)));
  let watched: { record: NodeRecord; since: number } | undefined;
  for (;;) {
    const existing = await registry.get(record.nodeId);
    const stamped: NodeRecord = { ...record, heartbeatAtMs: now() };
    if (existing === undefined || existing.incarnation === record.incarnation) {
      if (await registry.claim(stamped, existing)) return stamped;
      continue;
    }
    if (watched !== undefined && watched.record.incarnation === existing.incarnation && watched.record.heartbeatAtMs !== existing.heartbeatAtMs) {
      throw new NodeIdConflictError(record.nodeId, existing);
    }
    // Past its age-out by our clock, or not heard from for longer than the timeout plus one
    // interval since we started watching (allowing for clock differences): dead.
    const stale =
      existing.incarnation === timing.predecessorIncarnation ||
      !isNodeLive(existing, now(), timing.nodeTimeoutMs) ||
      (watched !== undefined &&
        watched.record.incarnation === existing.incarnation &&
        now() - watched.since >= timing.nodeTimeoutMs + timing.heartbeatIntervalMs);
    if (stale) {
      if (await registry.claim(stamped, existing)) return stamped;
      watched = undefined;
      continue;
    }
    if (watched === undefined || watched.record.incarnation !== existing.incarnation) {
      watched = { record: existing, since: now() };
      timing.onWaiting?.(existing);
    }
    await sleep(pollMs);
  }
}

/**
 * Takes the lowest node id that is free (never used, or its node is dead) and registers there,
 * with conditional writes, so concurrent starters never get the same id.
 */
export async function allocateNodeId(
  registry: DynamoNodeRegistry,
  record: Omit<NodeRecord, 'heartbeatAtMs' | 'nodeId'>,
  timing: RegistrationTiming,
): Promise<NodeRecord> {
  const now = timing.now ?? Date.now;
  for (let round = 0; round < 20; round++) {
    const known = new Map((await registry.list()).map((r) => [r.nodeId, r]));
    for (let nodeId = 0; nodeId <= known.size; nodeId++) {
      const existing = known.get(nodeId);
      if (existing !== undefined && isNodeLive(existing, now(), timing.nodeTimeoutMs)) continue;
      const stamped: NodeRecord = { ...record, nodeId, heartbeatAtMs: now() };
      if (await registry.claim(stamped, existing)) return stamped;
      break; // someone took it in between: look again
    }
  }
  throw new Error(`could not allocate a node id in ${registry.tableName}: too many concurrent registrations`);
}

/**
 * The StatefulSet ordinal in a pod's host name (`kafka-kinesis-gateway-3` -> 3), or undefined.
 * Only meaningful in Kubernetes: elsewhere host names like `ip-10-0-0-12` end in digits too.
 */
export function ordinalFromHostname(hostname: string): number | undefined {
  const match = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?-(\d{1,9})$/.exec(hostname.split('.')[0] ?? '');
  if (match === null) return undefined;
  const ordinal = Number(match[2]);
  return Number.isSafeInteger(ordinal) ? ordinal : undefined;
}

const NODE_ID_FILE = 'node-id';
const INCARNATION_FILE = 'node-incarnation';

/** The incarnation this data folder last registered under `nodeId`, if it did. */
export function readStoredIncarnation(dataDir: string, nodeId: number): number | undefined {
  try {
    const [storedId, incarnation] = readFileSync(join(dataDir, INCARNATION_FILE), 'utf8').trim().split(' ');
    return storedId === String(nodeId) && incarnation !== undefined && /^\d+$/.test(incarnation) ? Number(incarnation) : undefined;
  } catch {
    return undefined;
  }
}

/** Remembers the registration, so that a restart after a crash takes it over at once; best effort. */
export function storeIncarnation(dataDir: string, nodeId: number, incarnation: number): void {
  try {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, INCARNATION_FILE), `${nodeId} ${incarnation}\n`);
  } catch {
    // A read-only folder only means waiting for the predecessor to age out next time.
  }
}

/** The node id this data folder was allocated before, if any (as Kafka keeps broker.id in meta.properties). */
export function readStoredNodeId(dataDir: string): number | undefined {
  try {
    const text = readFileSync(join(dataDir, NODE_ID_FILE), 'utf8').trim();
    const value = Number(text);
    return /^\d+$/.test(text) && Number.isSafeInteger(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Remembers an allocated node id in the data folder; best effort (a read-only folder just means a new id next time). */
export function storeNodeId(dataDir: string, nodeId: number): boolean {
  try {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(join(dataDir, NODE_ID_FILE), `${nodeId}\n`);
    return true;
  } catch {
    return false;
  }
}
