/**
 * The DynamoDB client, table creation and attribute helpers shared by every store that keeps
 * gateway metadata in DynamoDB (DESIGN.md sections 3, 5 and 10).
 *
 * Only single-item (conditional) writes are used anywhere: dynalite, the local stand-in, has no
 * transactions and no TTL.
 */
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  type AttributeDefinition,
  type AttributeValue,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  type TableDescription,
} from '@aws-sdk/client-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { awsErrorName } from './errors.js';

export interface DynamoCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface DynamoClientOptions {
  /** e.g. http://127.0.0.1:8000 for dynalite; omitted for AWS. */
  endpoint?: string;
  region: string;
  /** Static credentials (local servers accept any); omitted: the SDK's default provider chain. */
  credentials?: DynamoCredentials;
  /**
   * SDK attempts per call, retries included (default 4). Metadata calls are small and sit on
   * lease-renewal and request paths, so a bounded number of quick retries beats a long tail.
   */
  maxAttempts?: number;
  /** TCP connect timeout, ms (default 3000). */
  connectionTimeoutMs?: number;
  /** Whole request/response timeout per attempt, ms (default 5000). */
  requestTimeoutMs?: number;
  /** Sockets per agent (default 64). */
  maxSockets?: number;
}

/** A DynamoDB client on HTTP/1.1 keep-alive connections (NodeHttpHandler). */
export function createDynamoClient(options: DynamoClientOptions): DynamoDBClient {
  const maxSockets = options.maxSockets ?? 64;
  const agentOptions = { keepAlive: true, keepAliveMsecs: 1000, maxSockets };
  const requestHandler = new NodeHttpHandler({
    connectionTimeout: options.connectionTimeoutMs ?? 3000,
    requestTimeout: options.requestTimeoutMs ?? 5000,
    throwOnRequestTimeout: true,
    httpAgent: new HttpAgent(agentOptions),
    httpsAgent: new HttpsAgent(agentOptions),
  });
  return new DynamoDBClient({
    region: options.region,
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    maxAttempts: options.maxAttempts ?? 4,
    requestHandler,
  });
}

// ---------------------------------------------------------------------------------------------
// Errors

/** A conditional write (or a conditional update) whose condition did not hold. */
export function isConditionFailed(err: unknown): boolean {
  return awsErrorName(err) === 'ConditionalCheckFailedException';
}

/** The table (or index) does not exist. */
export function isResourceNotFound(err: unknown): boolean {
  return awsErrorName(err) === 'ResourceNotFoundException';
}

/** The table is being created, updated or deleted, or already exists (CreateTable). */
export function isResourceInUse(err: unknown): boolean {
  return awsErrorName(err) === 'ResourceInUseException';
}

// ---------------------------------------------------------------------------------------------
// Tables

export type KeyType = 'S' | 'N';

export interface KeySpec {
  name: string;
  type: KeyType;
}

export interface GlobalIndexSpec {
  name: string;
  partitionKey: KeySpec;
  sortKey?: KeySpec;
  /** KEYS_ONLY (default): the table's and the index's keys. */
  projection?: 'KEYS_ONLY' | 'ALL';
}

export interface TableSpec {
  name: string;
  partitionKey: KeySpec;
  sortKey?: KeySpec;
  globalSecondaryIndexes?: GlobalIndexSpec[];
}

export interface EnsureTableOptions {
  /** Give up waiting for ACTIVE after this long, ms (default 300000). */
  timeoutMs?: number;
}

function keySchema(partitionKey: KeySpec, sortKey: KeySpec | undefined): KeySchemaElement[] {
  const schema: KeySchemaElement[] = [{ AttributeName: partitionKey.name, KeyType: 'HASH' }];
  if (sortKey !== undefined) schema.push({ AttributeName: sortKey.name, KeyType: 'RANGE' });
  return schema;
}

function attributeDefinitions(spec: TableSpec): AttributeDefinition[] {
  const types = new Map<string, KeyType>();
  const add = (key: KeySpec | undefined): void => {
    if (key === undefined) return;
    const known = types.get(key.name);
    if (known !== undefined && known !== key.type) {
      throw new Error(`table ${spec.name}: attribute ${key.name} is declared both ${known} and ${key.type}`);
    }
    types.set(key.name, key.type);
  };
  add(spec.partitionKey);
  add(spec.sortKey);
  for (const index of spec.globalSecondaryIndexes ?? []) {
    add(index.partitionKey);
    add(index.sortKey);
  }
  return [...types].map(([name, type]) => ({ AttributeName: name, AttributeType: type }));
}

function isActive(table: TableDescription | undefined): boolean {
  if (table?.TableStatus !== 'ACTIVE') return false;
  return (table.GlobalSecondaryIndexes ?? []).every((index) => index.IndexStatus === 'ACTIVE');
}

async function describe(client: DynamoDBClient, name: string): Promise<TableDescription | undefined> {
  try {
    const out = await client.send(new DescribeTableCommand({ TableName: name }));
    return out.Table;
  } catch (err) {
    if (isResourceNotFound(err)) return undefined;
    throw err;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Creates the table (PAY_PER_REQUEST) when it does not exist, then waits until it and its
 * global secondary indexes are ACTIVE. Idempotent; several gateways may call it at once (the
 * losers of the CreateTable race see ResourceInUseException and just wait). An existing table
 * is used as it is: its key schema is not compared with the spec.
 */
export async function ensureTable(client: DynamoDBClient, spec: TableSpec, options: EnsureTableOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 300_000);
  let table = await describe(client, spec.name);
  if (table === undefined) {
    const indexes: GlobalSecondaryIndex[] | undefined = spec.globalSecondaryIndexes?.map((index) => ({
      IndexName: index.name,
      KeySchema: keySchema(index.partitionKey, index.sortKey),
      Projection: { ProjectionType: index.projection ?? 'KEYS_ONLY' },
    }));
    try {
      const out = await client.send(
        new CreateTableCommand({
          TableName: spec.name,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: attributeDefinitions(spec),
          KeySchema: keySchema(spec.partitionKey, spec.sortKey),
          ...(indexes !== undefined && indexes.length > 0 ? { GlobalSecondaryIndexes: indexes } : {}),
        }),
      );
      table = out.TableDescription;
    } catch (err) {
      if (!isResourceInUse(err)) throw err;
    }
  }
  let delayMs = 20;
  while (!isActive(table)) {
    if (table?.TableStatus === 'DELETING') {
      throw new Error(`DynamoDB table ${spec.name} is being deleted`);
    }
    if (Date.now() >= deadline) {
      throw new Error(`DynamoDB table ${spec.name} is not ACTIVE (status ${table?.TableStatus ?? 'missing'})`);
    }
    await sleep(delayMs);
    delayMs = Math.min(delayMs * 2, 2000);
    table = await describe(client, spec.name);
  }
}

/** The gateway's own tables, all named `${prefix}<table>`. */
export class TableNames {
  readonly topics: string;
  readonly offsetIndex: string;
  readonly leases: string;
  /** Committed consumer-group offsets (src/groups/dynamo-offset-store.ts). */
  readonly groupOffsets: string;
  /** The producer id counter (src/producers/producer-ids.ts). */
  readonly producerIds: string;
  /** The node registry and the cluster id (src/cluster/node-registry.ts). */
  readonly nodes: string;

  constructor(readonly prefix: string) {
    if (!/^[a-zA-Z0-9_.-]*$/.test(prefix)) {
      throw new Error(`DynamoDB table prefix "${prefix}" may contain only ASCII letters, digits, "_", "." and "-"`);
    }
    if (prefix.length > 200) throw new Error('DynamoDB table prefix is longer than 200 characters');
    this.topics = `${prefix}topics`;
    this.offsetIndex = `${prefix}offset-index`;
    this.leases = `${prefix}leases`;
    this.groupOffsets = `${prefix}group-offsets`;
    this.producerIds = `${prefix}producer-ids`;
    this.nodes = `${prefix}nodes`;
  }
}

/** The offset index's global secondary index: anchors ordered by (timestamp, offset). */
export const OFFSET_INDEX_TIME_INDEX = 'by-time';

/** Key schemas of the gateway tables. Attribute names are shared with the stores in src/log and src/cluster. */
export function gatewayTableSpecs(names: TableNames): TableSpec[] {
  return [
    { name: names.topics, partitionKey: { name: 'name', type: 'S' } },
    {
      name: names.offsetIndex,
      partitionKey: { name: 'log', type: 'S' },
      sortKey: { name: 'offset', type: 'N' },
      globalSecondaryIndexes: [
        {
          name: OFFSET_INDEX_TIME_INDEX,
          partitionKey: { name: 'log', type: 'S' },
          sortKey: { name: 'timeKey', type: 'S' },
          projection: 'KEYS_ONLY',
        },
      ],
    },
    { name: names.leases, partitionKey: { name: 'resource', type: 'S' } },
    { name: names.groupOffsets, partitionKey: { name: 'group', type: 'S' }, sortKey: { name: 'tp', type: 'S' } },
    { name: names.producerIds, partitionKey: { name: 'counter', type: 'S' } },
    { name: names.nodes, partitionKey: { name: 'id', type: 'S' } },
  ];
}

/** Creates (or waits for) every gateway table; returns their names. */
export async function ensureGatewayTables(
  client: DynamoDBClient,
  prefix: string,
  options: EnsureTableOptions = {},
): Promise<TableNames> {
  const names = new TableNames(prefix);
  await Promise.all(gatewayTableSpecs(names).map((spec) => ensureTable(client, spec, options)));
  return names;
}

// ---------------------------------------------------------------------------------------------
// Attribute values

export type Item = Record<string, AttributeValue>;

export const attrS = (value: string): AttributeValue => ({ S: value });
export const attrN = (value: number | bigint): AttributeValue => ({ N: String(value) });

function attribute(item: Item, name: string): AttributeValue {
  const value = item[name];
  if (value === undefined) throw new Error(`DynamoDB item has no attribute ${name}`);
  return value;
}

export function readS(item: Item, name: string): string {
  const value = attribute(item, name).S;
  if (value === undefined) throw new Error(`DynamoDB attribute ${name} is not a string`);
  return value;
}

/** A number attribute as a JS number (safe integers and ordinary decimals only). */
export function readN(item: Item, name: string): number {
  const text = attribute(item, name).N;
  if (text === undefined) throw new Error(`DynamoDB attribute ${name} is not a number`);
  const value = Number(text);
  if (!Number.isFinite(value)) throw new Error(`DynamoDB attribute ${name} is not a finite number: ${text}`);
  return value;
}

/** An integer number attribute as a bigint (int64 offsets). */
export function readBigInt(item: Item, name: string): bigint {
  const text = attribute(item, name).N;
  if (text === undefined || !/^-?\d+$/.test(text)) throw new Error(`DynamoDB attribute ${name} is not an integer`);
  return BigInt(text);
}
