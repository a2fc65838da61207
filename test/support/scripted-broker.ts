/**
 * TEST-ONLY Kafka broker for client interop tests and frame captures. Nothing here is the
 * gateway's data path: it keeps produced record batches in memory, exactly as received, and
 * answers the few APIs real clients need to produce and consume.
 *
 * It is the real KafkaServer with the real ApiVersions, Metadata and DescribeCluster handlers
 * (over a StaticTopicCatalog), plus scripted handlers for Produce, ListOffsets, Fetch and minimal
 * single-member consumer-group APIs (FindCoordinator, JoinGroup, SyncGroup, Heartbeat,
 * OffsetFetch, OffsetCommit, LeaveGroup), enough for kafkajs's group consumer.
 *
 * Clients connect to a recording TCP relay in front of the server (Metadata advertises the
 * relay's port), which keeps every request frame, header included, tagged with the client label
 * that was current when the connection was accepted (`clientTag`).
 */
import { createHash } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { apiVersionsFallback, apiVersionsHandler } from '../../src/apis/api-versions.js';
import { describeClusterHandler } from '../../src/apis/describe-cluster.js';
import { ApiRegistry, registerApi, type ApiHandler } from '../../src/apis/handler.js';
import { metadataHandler } from '../../src/apis/metadata.js';
import { SingleNodeCluster } from '../../src/cluster/cluster.js';
import { StaticTopicCatalog } from '../../src/log/catalog.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import {
  fetchRequest,
  fetchResponse,
  findCoordinatorRequest,
  findCoordinatorResponse,
  heartbeatRequest,
  heartbeatResponse,
  joinGroupRequest,
  joinGroupResponse,
  leaveGroupRequest,
  leaveGroupResponse,
  listOffsetsRequest,
  listOffsetsResponse,
  offsetCommitRequest,
  offsetCommitResponse,
  offsetFetchRequest,
  offsetFetchResponse,
  produceRequest,
  produceResponse,
  requestHeader,
  requestHeaderVersion,
  syncGroupRequest,
  syncGroupResponse,
  type FetchRequest,
  type FetchResponse,
  type FindCoordinatorRequest,
  type FindCoordinatorResponse,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type JoinGroupRequest,
  type JoinGroupResponse,
  type LeaveGroupRequest,
  type LeaveGroupResponse,
  type ListOffsetsRequest,
  type ListOffsetsResponse,
  type OffsetCommitRequest,
  type OffsetCommitResponse,
  type OffsetFetchRequest,
  type OffsetFetchResponse,
  type ProduceRequest,
  type ProduceResponse,
  type SyncGroupRequest,
  type SyncGroupResponse,
} from '../../src/protocol/messages/index.js';
import { Reader } from '../../src/protocol/primitives.js';
import {
  readBatchHeader,
  setBaseOffset,
  splitBatches,
  verifyCrc,
} from '../../src/protocol/records/record-batch.js';
import { KafkaServer } from '../../src/server/server.js';
import { FrameReader } from '../../src/server/frames.js';

export interface ScriptedTopic {
  readonly name: string;
  readonly partitions: number;
}

/** One request frame as a client sent it (without the int32 size prefix). */
export interface CapturedFrame {
  /** The `clientTag` current when the client's connection was accepted. */
  readonly client: string;
  /** Relay connection number, in accept order. */
  readonly connection: number;
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  /** The header's client id, or null if it is null or the header did not parse. */
  readonly clientId: string | null;
  readonly bytes: Buffer;
}

/** A batch in a partition's in-memory log. */
export interface StoredBatch {
  readonly baseOffset: bigint;
  /** lastOffsetDelta + 1: the offsets the batch occupies. */
  readonly offsetCount: number;
  /** The batch as served by Fetch (baseOffset and partitionLeaderEpoch rewritten). */
  readonly bytes: Buffer;
  /** The batch exactly as received in a Produce request, or as given to append(). */
  readonly original: Buffer;
}

export interface ScriptedBrokerOptions {
  readonly topics: readonly ScriptedTopic[];
  /** Label for connections accepted before `clientTag` is set. */
  readonly clientTag?: string;
  /**
   * The lowest Produce version advertised (default 0). librdkafka before the fix for its issue
   * 4956 (KIP-896 fallout) compresses gzip, snappy and lz4 only if the broker advertises Produce
   * v0, so a broker advertising 3+ gets those batches uncompressed; Kafka 4 brokers keep
   * advertising v0 for that reason (KAFKA-18659) while refusing v0-2 requests. Requests below v3
   * (magic 0/1 message sets) are answered UNSUPPORTED_FOR_MESSAGE_FORMAT here.
   */
  readonly produceMinVersion?: number;
}

const CLUSTER_ID = 'ScriptedBrokerCluster0';
const NODE_ID = 0;
const LEADER_EPOCH = 0;

/** A stable topic id for a name, so captured frames do not depend on the run. */
function topicIdFor(name: string): string {
  const h = createHash('sha256').update(`scripted-broker/${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

class PartitionLog {
  readonly batches: StoredBatch[] = [];
  nextOffset = 0n;

  append(original: Buffer): StoredBatch {
    const header = readBatchHeader(original);
    const bytes = Buffer.from(original);
    setBaseOffset(bytes, this.nextOffset);
    bytes.writeInt32BE(LEADER_EPOCH, 12);
    const stored: StoredBatch = {
      baseOffset: this.nextOffset,
      offsetCount: header.lastOffsetDelta + 1,
      bytes,
      original: Buffer.from(original),
    };
    this.batches.push(stored);
    this.nextOffset += BigInt(stored.offsetCount);
    return stored;
  }

  /** Whole batches from the one holding `offset`, at least one, then up to `maxBytes` in all. */
  read(offset: bigint, maxBytes: number): Buffer {
    const out: Buffer[] = [];
    let size = 0;
    for (const batch of this.batches) {
      if (batch.baseOffset + BigInt(batch.offsetCount) <= offset) continue;
      if (out.length > 0 && size + batch.bytes.length > maxBytes) break;
      out.push(batch.bytes);
      size += batch.bytes.length;
    }
    return Buffer.concat(out);
  }

  /** The first offset whose batch's maxTimestamp is at or after `timestamp`. */
  offsetForTimestamp(timestamp: bigint): bigint {
    for (const batch of this.batches) {
      if (readBatchHeader(batch.bytes).maxTimestamp >= timestamp) return batch.baseOffset;
    }
    return this.nextOffset;
  }
}

interface GroupState {
  generationId: number;
  memberId: string;
  protocolName: string | null;
  protocolType: string;
  assignment: Buffer;
  readonly committed: Map<string, bigint>;
}

function headerClientId(frame: Buffer, apiKey: number, apiVersion: number): string | null {
  try {
    return requestHeader.decode(new Reader(frame), requestHeaderVersion(apiKey, apiVersion)).clientId;
  } catch {
    return null;
  }
}

/** The complete, CRC-valid batches of a Produce partition's records, or null if anything is off. */
function validBatches(records: Buffer | null): Buffer[] | null {
  try {
    const { batches, trailing } = splitBatches(records ?? Buffer.alloc(0));
    if (batches.length === 0 || trailing.length > 0 || !batches.every(verifyCrc)) return null;
    return batches;
  } catch {
    return null;
  }
}

export class ScriptedBroker {
  /** Every request frame received, in arrival order. */
  readonly frames: CapturedFrame[] = [];
  /** Label given to connections accepted from now on. */
  clientTag: string;

  private readonly logs = new Map<string, PartitionLog[]>();
  private readonly groups = new Map<string, GroupState>();
  private readonly fetchWaiters = new Set<() => void>();
  private readonly relaySockets = new Set<Socket>();
  private connectionCount = 0;
  private memberCount = 0;
  private stopped = false;

  private constructor(
    private readonly relay: Server,
    private readonly kafka: KafkaServer,
    readonly port: number,
    private readonly options: ScriptedBrokerOptions,
  ) {
    this.clientTag = options.clientTag ?? 'unknown';
    for (const topic of options.topics) {
      this.logs.set(
        topic.name,
        Array.from({ length: topic.partitions }, () => new PartitionLog()),
      );
    }
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  static async start(options: ScriptedBrokerOptions): Promise<ScriptedBroker> {
    const log = pino({ level: process.env.KKG_TEST_LOG_LEVEL ?? 'silent' });
    const registry = new ApiRegistry();
    const kafka = new KafkaServer({
      host: '127.0.0.1',
      port: 0,
      registry,
      log,
      maxRequestBytes: 100 << 20,
      maxInFlightPerConnection: 100,
      apiVersionsFallback: apiVersionsFallback(registry),
    });
    const { port: serverPort } = await kafka.listen();

    const started: { broker?: ScriptedBroker } = {};
    const relay = createServer((socket) => started.broker?.relayConnection(socket, serverPort));
    await new Promise<void>((resolve, reject) => {
      relay.once('error', reject);
      relay.listen(0, '127.0.0.1', () => resolve());
    });
    const address = relay.address();
    if (address === null || typeof address === 'string') throw new Error('relay has no TCP address');
    const broker = new ScriptedBroker(relay, kafka, address.port, options);
    started.broker = broker;

    const cluster = new SingleNodeCluster(CLUSTER_ID, { nodeId: NODE_ID, host: '127.0.0.1', port: address.port, rack: null });
    const catalog = new StaticTopicCatalog(
      options.topics.map((t) => ({
        name: t.name,
        topicId: topicIdFor(t.name),
        partitionCount: t.partitions,
        replicationFactor: 1,
        internal: false,
      })),
    );
    registry
      .add(registerApi(apiVersionsHandler(registry)))
      .add(registerApi(metadataHandler({ cluster, catalog, streamPrefixLength: 0 })))
      .add(registerApi(describeClusterHandler(cluster)))
      .add(registerApi(broker.produceHandler()))
      .add(registerApi(broker.fetchHandler()))
      .add(registerApi(broker.listOffsetsHandler()))
      .add(registerApi(broker.findCoordinatorHandler()))
      .add(registerApi(broker.joinGroupHandler()))
      .add(registerApi(broker.syncGroupHandler()))
      .add(registerApi(broker.heartbeatHandler()))
      .add(registerApi(broker.offsetFetchHandler()))
      .add(registerApi(broker.offsetCommitHandler()))
      .add(registerApi(broker.leaveGroupHandler()));
    return broker;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wakeFetches();
    const relayClosed = new Promise<void>((resolve) => this.relay.close(() => resolve()));
    for (const socket of this.relaySockets) socket.destroy();
    await relayClosed;
    await this.kafka.close(1000);
  }

  /** Frames captured from connections tagged `client`. */
  framesFor(client: string): CapturedFrame[] {
    return this.frames.filter((f) => f.client === client);
  }

  /** The partition's batches in offset order. */
  batches(topic: string, partition: number): readonly StoredBatch[] {
    return this.partitionLog(topic, partition)?.batches ?? [];
  }

  highWatermark(topic: string, partition: number): bigint {
    return this.partitionLog(topic, partition)?.nextOffset ?? 0n;
  }

  /** Appends a complete record batch (e.g. one our encoder built) to be served by Fetch. */
  append(topic: string, partition: number, batch: Buffer): StoredBatch {
    const log = this.partitionLog(topic, partition);
    if (log === undefined) throw new Error(`no partition ${topic}-${partition}`);
    const stored = log.append(batch);
    this.wakeFetches();
    return stored;
  }

  /** Resolves once the partition holds at least `offsets` offsets; rejects after the timeout. */
  async waitForOffsets(topic: string, partition: number, offsets: number, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.highWatermark(topic, partition) < BigInt(offsets)) {
      if (Date.now() > deadline) {
        throw new Error(`${topic}-${partition} has ${this.highWatermark(topic, partition)} offsets, expected ${offsets}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  // ------------------------------------------------------------------------------------------
  // recording relay

  private relayConnection(client: Socket, serverPort: number): void {
    const tag = this.clientTag;
    const connection = ++this.connectionCount;
    const upstream = connect(serverPort, '127.0.0.1');
    const frames = new FrameReader(1 << 30, 8);
    this.relaySockets.add(client).add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on('data', (chunk: Buffer) => {
      try {
        for (const frame of frames.push(chunk)) this.record(tag, connection, frame);
      } catch {
        // A malformed stream is the server's to reject; keep relaying.
      }
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    const closeBoth = (): void => {
      client.destroy();
      upstream.destroy();
      this.relaySockets.delete(client);
      this.relaySockets.delete(upstream);
    };
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);
    client.on('error', () => undefined);
    upstream.on('error', () => undefined);
  }

  private record(client: string, connection: number, frame: Buffer): void {
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const clientId = headerClientId(frame, apiKey, apiVersion);
    this.frames.push({ client, connection, apiKey, apiVersion, correlationId, clientId, bytes: Buffer.from(frame) });
  }

  // ------------------------------------------------------------------------------------------
  // data APIs

  private partitionLog(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(topic)?.[partition];
  }

  private wakeFetches(): void {
    const waiters = [...this.fetchWaiters];
    this.fetchWaiters.clear();
    for (const wake of waiters) wake();
  }

  private produceHandler(): ApiHandler<ProduceRequest, ProduceResponse> {
    return {
      request: produceRequest,
      response: produceResponse,
      minVersion: this.options.produceMinVersion ?? 0,
      maxVersion: 9,
      handle: (request, context) => {
        const response = produceResponse.create();
        for (const topic of request.topicData) {
          const partitionResponses: ProduceResponse['responses'][number]['partitionResponses'] = [];
          for (const data of topic.partitionData) {
            const entry = {
              index: data.index,
              errorCode: ErrorCode.NONE as number,
              baseOffset: -1n,
              logAppendTimeMs: -1n,
              logStartOffset: 0n,
              recordErrors: [],
              errorMessage: null,
              currentLeader: { leaderId: -1, leaderEpoch: -1 },
            };
            const log = this.partitionLog(topic.name, data.index);
            if (log === undefined) {
              entry.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
            } else if (context.apiVersion < 3) {
              entry.errorCode = ErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT;
            } else {
              const batches = validBatches(data.records);
              if (batches === null) {
                entry.errorCode = ErrorCode.CORRUPT_MESSAGE;
              } else {
                entry.baseOffset = log.nextOffset;
                for (const batch of batches) log.append(batch);
              }
            }
            partitionResponses.push(entry);
          }
          response.responses.push({ name: topic.name, partitionResponses });
        }
        this.wakeFetches();
        return request.acks === 0 ? null : response;
      },
    };
  }

  private fetchHandler(): ApiHandler<FetchRequest, FetchResponse> {
    const answer = (request: FetchRequest): { response: FetchResponse; bytes: number } => {
      const response = fetchResponse.create();
      let total = 0;
      for (const topic of request.topics) {
        const partitions: FetchResponse['responses'][number]['partitions'] = [];
        for (const p of topic.partitions) {
          const log = this.partitionLog(topic.topic, p.partition);
          const data: FetchResponse['responses'][number]['partitions'][number] = {
            partitionIndex: p.partition,
            errorCode: ErrorCode.NONE,
            highWatermark: -1n,
            lastStableOffset: -1n,
            logStartOffset: -1n,
            divergingEpoch: { epoch: -1, endOffset: -1n },
            currentLeader: { leaderId: -1, leaderEpoch: -1 },
            snapshotId: { endOffset: -1n, epoch: -1 },
            abortedTransactions: [],
            preferredReadReplica: -1,
            records: Buffer.alloc(0),
          };
          if (log === undefined) {
            data.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          } else if (p.fetchOffset < 0n || p.fetchOffset > log.nextOffset) {
            data.errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
            data.highWatermark = log.nextOffset;
            data.lastStableOffset = log.nextOffset;
            data.logStartOffset = 0n;
          } else {
            const records = log.read(p.fetchOffset, Math.min(p.partitionMaxBytes, Math.max(request.maxBytes - total, 1)));
            total += records.length;
            data.highWatermark = log.nextOffset;
            data.lastStableOffset = log.nextOffset;
            data.logStartOffset = 0n;
            data.records = records;
          }
          partitions.push(data);
        }
        response.responses.push({ topic: topic.topic, topicId: topic.topicId, partitions });
      }
      return { response, bytes: total };
    };
    return {
      request: fetchRequest,
      response: fetchResponse,
      minVersion: 4,
      maxVersion: 12,
      handle: async (request) => {
        const deadline = Date.now() + request.maxWaitMs;
        for (;;) {
          const { response, bytes } = answer(request);
          const hasError = response.responses.some((t) => t.partitions.some((p) => p.errorCode !== ErrorCode.NONE));
          if (bytes > 0 || hasError || this.stopped || Date.now() >= deadline) return response;
          await new Promise<void>((resolve) => {
            const wake = (): void => {
              clearTimeout(timer);
              this.fetchWaiters.delete(wake);
              resolve();
            };
            const timer = setTimeout(wake, Math.max(deadline - Date.now(), 1));
            this.fetchWaiters.add(wake);
          });
        }
      },
    };
  }

  private listOffsetsHandler(): ApiHandler<ListOffsetsRequest, ListOffsetsResponse> {
    return {
      request: listOffsetsRequest,
      response: listOffsetsResponse,
      minVersion: 1,
      maxVersion: 7,
      handle: (request) => {
        const response = listOffsetsResponse.create();
        for (const topic of request.topics) {
          response.topics.push({
            name: topic.name,
            partitions: topic.partitions.map((p) => {
              const log = this.partitionLog(topic.name, p.partitionIndex);
              if (log === undefined) {
                return {
                  partitionIndex: p.partitionIndex,
                  errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
                  oldStyleOffsets: [],
                  timestamp: -1n,
                  offset: -1n,
                  leaderEpoch: -1,
                };
              }
              let offset: bigint;
              if (p.timestamp === -2n) offset = 0n; // earliest
              else if (p.timestamp === -1n) offset = log.nextOffset; // latest
              else if (p.timestamp === -3n) offset = log.nextOffset === 0n ? 0n : log.nextOffset - 1n; // max timestamp
              else offset = log.offsetForTimestamp(p.timestamp);
              return {
                partitionIndex: p.partitionIndex,
                errorCode: ErrorCode.NONE,
                oldStyleOffsets: [],
                timestamp: -1n,
                offset,
                leaderEpoch: LEADER_EPOCH,
              };
            }),
          });
        }
        return response;
      },
    };
  }

  // ------------------------------------------------------------------------------------------
  // minimal single-member groups (enough for kafkajs's consumer; not a coordinator)

  private findCoordinatorHandler(): ApiHandler<FindCoordinatorRequest, FindCoordinatorResponse> {
    return {
      request: findCoordinatorRequest,
      response: findCoordinatorResponse,
      minVersion: 0,
      maxVersion: 4,
      handle: (request, context) => {
        const response = findCoordinatorResponse.create();
        if (context.apiVersion >= 4) {
          response.coordinators = request.coordinatorKeys.map((key) => ({
            key,
            nodeId: NODE_ID,
            host: '127.0.0.1',
            port: this.port,
            errorCode: ErrorCode.NONE,
            errorMessage: null,
          }));
        } else {
          response.nodeId = NODE_ID;
          response.host = '127.0.0.1';
          response.port = this.port;
        }
        return response;
      },
    };
  }

  private group(groupId: string): GroupState {
    let group = this.groups.get(groupId);
    if (group === undefined) {
      group = {
        generationId: 0,
        memberId: '',
        protocolName: null,
        protocolType: 'consumer',
        assignment: Buffer.alloc(0),
        committed: new Map(),
      };
      this.groups.set(groupId, group);
    }
    return group;
  }

  private joinGroupHandler(): ApiHandler<JoinGroupRequest, JoinGroupResponse> {
    return {
      request: joinGroupRequest,
      response: joinGroupResponse,
      minVersion: 0,
      maxVersion: 7,
      handle: (request) => {
        const group = this.group(request.groupId);
        const protocol = request.protocols[0];
        const response = joinGroupResponse.create();
        if (protocol === undefined) {
          response.errorCode = ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
          return response;
        }
        const memberId = request.memberId !== '' ? request.memberId : `member-${++this.memberCount}`;
        group.generationId++;
        group.memberId = memberId;
        group.protocolName = protocol.name;
        group.protocolType = request.protocolType;
        response.generationId = group.generationId;
        response.protocolType = request.protocolType;
        response.protocolName = protocol.name;
        response.leader = memberId;
        response.memberId = memberId;
        response.members = [{ memberId, groupInstanceId: request.groupInstanceId, metadata: protocol.metadata }];
        return response;
      },
    };
  }

  private syncGroupHandler(): ApiHandler<SyncGroupRequest, SyncGroupResponse> {
    return {
      request: syncGroupRequest,
      response: syncGroupResponse,
      minVersion: 0,
      maxVersion: 5,
      handle: (request) => {
        const group = this.group(request.groupId);
        const response = syncGroupResponse.create();
        if (request.memberId !== group.memberId || request.generationId !== group.generationId) {
          response.errorCode = ErrorCode.ILLEGAL_GENERATION;
          return response;
        }
        const mine = request.assignments.find((a) => a.memberId === request.memberId);
        if (mine !== undefined) group.assignment = Buffer.from(mine.assignment);
        response.protocolType = group.protocolType;
        response.protocolName = group.protocolName;
        response.assignment = group.assignment;
        return response;
      },
    };
  }

  private heartbeatHandler(): ApiHandler<HeartbeatRequest, HeartbeatResponse> {
    return {
      request: heartbeatRequest,
      response: heartbeatResponse,
      minVersion: 0,
      maxVersion: 4,
      handle: (request) => {
        const group = this.group(request.groupId);
        const response = heartbeatResponse.create();
        if (request.memberId !== group.memberId) response.errorCode = ErrorCode.UNKNOWN_MEMBER_ID;
        return response;
      },
    };
  }

  private offsetFetchHandler(): ApiHandler<OffsetFetchRequest, OffsetFetchResponse> {
    return {
      request: offsetFetchRequest,
      response: offsetFetchResponse,
      minVersion: 1,
      maxVersion: 7,
      handle: (request) => {
        const group = this.group(request.groupId);
        const response = offsetFetchResponse.create();
        const topics = request.topics ?? this.committedTopics(group);
        response.topics = topics.map((t) => ({
          name: t.name,
          partitions: t.partitionIndexes.map((partitionIndex) => ({
            partitionIndex,
            committedOffset: group.committed.get(`${t.name}/${partitionIndex}`) ?? -1n,
            committedLeaderEpoch: -1,
            metadata: '',
            errorCode: ErrorCode.NONE,
          })),
        }));
        return response;
      },
    };
  }

  private committedTopics(group: GroupState): { name: string; partitionIndexes: number[] }[] {
    const byTopic = new Map<string, number[]>();
    for (const key of group.committed.keys()) {
      const slash = key.lastIndexOf('/');
      const name = key.slice(0, slash);
      byTopic.set(name, [...(byTopic.get(name) ?? []), Number(key.slice(slash + 1))]);
    }
    return [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
  }

  private offsetCommitHandler(): ApiHandler<OffsetCommitRequest, OffsetCommitResponse> {
    return {
      request: offsetCommitRequest,
      response: offsetCommitResponse,
      minVersion: 2,
      maxVersion: 8,
      handle: (request) => {
        const group = this.group(request.groupId);
        const response = offsetCommitResponse.create();
        response.topics = request.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => {
            group.committed.set(`${t.name}/${p.partitionIndex}`, p.committedOffset);
            return { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE };
          }),
        }));
        return response;
      },
    };
  }

  private leaveGroupHandler(): ApiHandler<LeaveGroupRequest, LeaveGroupResponse> {
    return {
      request: leaveGroupRequest,
      response: leaveGroupResponse,
      minVersion: 0,
      maxVersion: 4,
      handle: (request) => {
        const group = this.group(request.groupId);
        group.memberId = '';
        const response = leaveGroupResponse.create();
        response.members = request.members.map((m) => ({
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          errorCode: ErrorCode.NONE,
        }));
        return response;
      },
    };
  }
}
