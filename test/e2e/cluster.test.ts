/**
 * Several gateway nodes (issue 7, DESIGN.md section 5): kinesalite, dynalite and redis-server as
 * child processes, and three gateway PROCESSES (the CLI) on loopback ports sharing them as one
 * cluster (one table prefix, one Redis). Lease time 3 s.
 *
 * 1. Metadata from every node lists the three brokers and the same leaders, spread over all three;
 *    librdkafka sees the three brokers too.
 * 2. One scenario under continuous load: an idempotent kafkajs producer, an idempotent librdkafka
 *    producer and two consumer groups (two librdkafka members in one, a kafkajs member in the
 *    other: kafkajs and librdkafka name their assignors differently, so they cannot share a
 *    group) run across the three nodes while
 *    - node 1 (a partition leader and the group's coordinator) is killed with SIGKILL: its
 *      partitions and its group move to the survivors within seconds of the lease time, and the
 *      consumers carry on from their committed offsets;
 *    - node 1 starts again (same node id): it takes its share of partitions back, gradually;
 *    - node 2 is paused (SIGSTOP) past its lease, and a Produce for one of its partitions waits
 *      in its socket; the survivors take its partitions over at a higher leader epoch (the
 *      new leader acknowledges a write of the test's to one of them); resumed
 *      (SIGCONT), node 2 answers that Produce NOT_LEADER_OR_FOLLOWER (it never writes as the
 *      leader it no longer is), and later takes its share back.
 *    Afterwards the whole log is read back: every acknowledged record exactly once at the
 *    partition and offset it was acknowledged at, nothing twice, offsets dense, each producer's
 *    records in order per partition, the paused node's stray record absent; and every record the
 *    group consumed is at the offset where the log has it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import kafkajs from 'kafkajs';
import { groupPlacementKey, partitionPlacementKey, rendezvousOwner } from '../../src/cluster/rendezvous.js';
import type { LocalService } from '../../src/embedded-aws.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import {
  metadataRequest,
  metadataResponse,
  produceRequest,
  produceResponse,
  type MetadataResponse,
  type ProduceResponse,
} from '../../src/protocol/messages/index.js';
import { encodeBatchSync } from '../../src/protocol/records/record-batch.js';
import { ClientProcess, eventually } from '../groups/client-process.js';
import { startGatewayProcess, type GatewayProcess } from '../support/gateway-process.js';
import {
  checkExactlyOnce,
  KafkajsIdempotentProducer,
  LibrdkafkaIdempotentProducer,
  readWholeTopic,
  type ProducerOutcome,
} from '../support/idempotent-producers.js';
import { runPythonClient } from '../support/librdkafka.js';
import { startLocalAwsProcess } from '../support/local-aws-process.js';
import { freePort } from '../support/ports.js';
import { parseResponse, RawClient, requestFrame } from '../support/raw-client.js';
import { startRedis, type RedisServer } from '../support/redis.js';

const TOPIC = 'multi';
const PARTITIONS = 12;
const NODES = [0, 1, 2] as const;
const LEASE_TTL_MS = 3000;
/** Node 1 is killed; node 2 is paused. Node 0 stays up (kafkajs clients bootstrap from it). */
const KILLED = 1;
const PAUSED = 2;
/** Two groups coordinated by the node that is killed: one of librdkafka members, one of kafkajs. */
const [RDK_GROUP, KJS_GROUP] = Array.from({ length: 50 }, (_, i) => `multi-group-${i}`).filter(
  (g) => rendezvousOwner(groupPlacementKey(g), NODES) === KILLED,
) as [string, string];

let kinesis: LocalService;
let dynamo: LocalService;
let redis: RedisServer;
const ports: number[] = [];
const dataDirs: string[] = [];
const gateways = new Map<number, GatewayProcess>();
const tablePrefix = `cluster-${process.pid}-`;
const workDir = mkdtempSync(join(tmpdir(), 'kkg-cluster-'));

function nodeFlags(nodeId: number): Record<string, string> {
  return {
    'node-id': String(nodeId),
    'kinesis-endpoint': kinesis.endpoint,
    'dynamodb-endpoint': dynamo.endpoint,
    'redis-url': redis.url,
    'table-prefix': tablePrefix,
    'lease-ttl-ms': String(LEASE_TTL_MS),
    'data-dir': dataDirs[nodeId] as string,
    'auto-create-topics': 'false',
    'index-interval-bytes': '8192',
    'group-initial-rebalance-delay-ms': '500',
    'group-min-session-timeout-ms': '1000',
    'log-level': 'info',
  };
}

async function startNode(nodeId: number): Promise<GatewayProcess> {
  const gateway = await startGatewayProcess(ports[nodeId] as number, nodeFlags(nodeId), { readyTimeoutMs: 180_000 });
  gateways.set(nodeId, gateway);
  return gateway;
}

const address = (nodeId: number): string => `127.0.0.1:${ports[nodeId]}`;
const allBootstrap = (): string => NODES.map(address).join(',');
const designated = (partition: number, live: readonly number[]): number =>
  rendezvousOwner(partitionPlacementKey(TOPIC, partition), live) as number;

before(async () => {
  [kinesis, dynamo, redis] = await Promise.all([startLocalAwsProcess('kinesalite'), startLocalAwsProcess('dynalite'), startRedis()]);
  for (const nodeId of NODES) {
    ports[nodeId] = await freePort();
    dataDirs[nodeId] = mkdtempSync(join(workDir, `node-${nodeId}-`));
  }
  await Promise.all(NODES.map((nodeId) => startNode(nodeId)));
});

after(async () => {
  for (const gateway of gateways.values()) {
    try {
      process.kill(gateway.pid, 'SIGCONT');
    } catch {
      // already gone
    }
    await gateway.kill9();
  }
  await Promise.all([kinesis?.close(), dynamo?.close(), redis?.stop()]);
  rmSync(workDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// Raw requests to one chosen node

const METADATA_VERSION = 9;

/** Metadata for the topic, asked of one node. */
async function metadataFrom(nodeId: number): Promise<MetadataResponse> {
  const client = await RawClient.connect(ports[nodeId] as number);
  try {
    const body = metadataRequest.create();
    body.topics = [{ topicId: '00000000-0000-0000-0000-000000000000', name: TOPIC }];
    client.sendFrame(requestFrame(3, METADATA_VERSION, metadataRequest, body));
    return parseResponse(3, METADATA_VERSION, metadataResponse, await client.nextFrame(20_000));
  } finally {
    client.close();
  }
}

interface LeaderView {
  readonly brokers: number[];
  /** partition -> [leader, leader epoch] */
  readonly leaders: Map<number, [number, number]>;
}

async function leaderView(nodeId: number): Promise<LeaderView> {
  const response = await metadataFrom(nodeId);
  const topic = response.topics.find((t) => t.name === TOPIC);
  const leaders = new Map<number, [number, number]>();
  for (const p of topic?.partitions ?? []) leaders.set(p.partitionIndex, [p.leaderId, p.leaderEpoch]);
  return { brokers: response.brokers.map((b) => b.nodeId).sort(), leaders };
}

const PRODUCE_VERSION = 8;

/** A Produce v8 of one record to one partition, as bytes for a connection. */
function produceFrame(partition: number, value: string): Buffer {
  const batch = encodeBatchSync({
    baseTimestamp: BigInt(Date.now()),
    records: [{ offsetDelta: 0, timestampDelta: 0, key: null, value: Buffer.from(value), headers: [] }],
  });
  const body = produceRequest.create();
  body.acks = -1;
  body.timeoutMs = 5000;
  body.topicData = [{ name: TOPIC, partitionData: [{ index: partition, records: batch }] }];
  return requestFrame(0, PRODUCE_VERSION, produceRequest, body);
}

// ---------------------------------------------------------------------------------------------

describe('three gateway nodes', { timeout: 900_000 }, () => {
  it('Metadata from every node lists the three brokers and the same leaders, spread over all three', { timeout: 120_000 }, async () => {
    const admin = new kafkajs.Kafka({ clientId: 'kkg-cluster-admin', brokers: [address(0)], logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      assert.equal(await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: PARTITIONS, replicationFactor: 3 }], waitForLeaders: true }), true);
      await eventually('DescribeCluster lists the three nodes', async () => (await admin.describeCluster()).brokers.length === 3, 30_000);
    } finally {
      await admin.disconnect();
    }
    // Each node sees the others at its next look at the registry (within a second).
    let views: LeaderView[] = [];
    await eventually('every node sees the three nodes', async () => {
      views = await Promise.all(NODES.map((n) => leaderView(n)));
      return views.every((v) => v.brokers.join() === '0,1,2');
    }, 30_000);
    for (const [i, view] of views.entries()) {
      assert.deepEqual(view.brokers, [0, 1, 2], `node ${i} lists three brokers`);
      assert.equal(view.leaders.size, PARTITIONS);
      assert.deepEqual([...view.leaders], [...(views[0] as LeaderView).leaders], `node ${i} reports the same leaders as node 0`);
    }
    const leaders = new Set([...(views[0] as LeaderView).leaders.values()].map(([leader]) => leader));
    assert.deepEqual([...leaders].sort(), [0, 1, 2], 'every node leads some partitions');
    for (let p = 0; p < PARTITIONS; p++) assert.equal((views[0] as LeaderView).leaders.get(p)?.[0], designated(p, NODES));
    const replicas = (await metadataFrom(1)).topics[0]?.partitions.map((p) => p.replicaNodes.length);
    assert.deepEqual(replicas, Array(PARTITIONS).fill(3), 'replication factor 3: three replicas listed');

    const seen = await runPythonClient<{ brokers: { id: number }[]; cluster_id: string; topics: Record<string, number> }>('librdkafka_metadata.py', [address(2)]);
    assert.deepEqual(seen.brokers.map((b) => b.id).sort(), [0, 1, 2], 'librdkafka sees the three brokers');
    assert.equal(seen.topics[TOPIC], PARTITIONS);
  });

  it('producers and a group across the nodes; kill -9, restart and SIGSTOP of nodes lose, duplicate and move nothing', { timeout: 780_000 }, async (t) => {
    const stopFile = join(workDir, 'stop-producing');
    const kjs = new KafkajsIdempotentProducer(address(0), {
      name: 'kjs',
      topic: TOPIC,
      partitionCount: PARTITIONS,
      count: 10_000_000,
      batchSize: 24,
      maxInFlightRequests: 1,
      requestTimeoutMs: 5000,
      // A send() that spans brokers can lose a partition in kafkajs when its leader moves to a
      // broker that had already answered (the partition is left out of the retry and the result).
      onePartitionPerSend: true,
    });
    const rdk = new LibrdkafkaIdempotentProducer(allBootstrap(), {
      name: 'rdk',
      topic: TOPIC,
      count: 10_000_000,
      ratePerSecond: 250,
      stopFile,
      keys: 120,
      // request.timeout.ms at librdkafka's default (the producer script's is 5 s): requests to the
      // paused node wait there for its lease time and the takeover, close to 5 s on a loaded
      // machine, and a timed-out request leaves librdkafka 2.0.2 unsure whether it was written
      // (see the takeover below).
      config: { 'queue.buffering.max.messages': 300, 'linger.ms': 20, 'topic.metadata.refresh.interval.ms': 1000, 'request.timeout.ms': 30_000 },
      // Kept for a failure's diagnosis: what librdkafka did with the partitions whose deliveries failed.
      debug: 'eos,topic,msg,metadata',
      debugLogFile: join(workDir, 'librdkafka-producer.log'),
    });
    const producers: ProducerOutcome[] = [kjs, rdk];
    const rdkMember = (name: string): ClientProcess =>
      ClientProcess.librdkafka(name, { bootstrap: allBootstrap(), group: RDK_GROUP, topic: TOPIC, session_timeout_ms: 6000, heartbeat_ms: 500, auto_commit: true });
    const members = [
      rdkMember('rdk-member-1'),
      rdkMember('rdk-member-2'),
      ClientProcess.kafkajs('kjs-member', { bootstrap: address(0), group: KJS_GROUP, topic: TOPIC, session_timeout_ms: 6000, heartbeat_ms: 500 }),
    ];
    const groupOf = (m: ClientProcess): string => (m.name === 'kjs-member' ? KJS_GROUP : RDK_GROUP);
    const progress = (p: ProducerOutcome, partitions?: ReadonlySet<number>): number =>
      partitions === undefined ? p.acked.size : [...p.acked.values()].filter((a) => partitions.has(a.partition)).length;
    const admin = new kafkajs.Kafka({ clientId: 'kkg-cluster-offsets', brokers: [address(0)], logLevel: kafkajs.logLevel.NOTHING }).admin();
    await admin.connect();
    const committedOf = async (groupId: string): Promise<Map<number, bigint>> => {
      const [topic] = await admin.fetchOffsets({ groupId, topics: [TOPIC] });
      return new Map((topic?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
    };
    /** Committed offsets of both groups, keyed `${group}/${partition}`. */
    const committed = async (): Promise<Map<string, bigint>> => {
      const out = new Map<string, bigint>();
      for (const groupId of [RDK_GROUP, KJS_GROUP]) for (const [p, o] of await committedOf(groupId)) out.set(`${groupId}/${p}`, o);
      return out;
    };
    const state = (): string => {
      const perPartition = (p: ProducerOutcome): string =>
        [...Array(PARTITIONS).keys()].map((n) => [...p.acked.values()].filter((a) => a.partition === n).length).join('/');
      return [
        `kafkajs acked ${kjs.acked.size} (${perPartition(kjs)}), send errors ${kjs.sendErrors.toString()}, fatal ${kjs.fatal?.message ?? 'none'}`,
        `librdkafka acked ${rdk.acked.size} (${perPartition(rdk)}), nacked ${rdk.nacked.size}, errors ${rdk.describeErrors()}, fatal ${rdk.fatalErrors.join('; ') || 'none'}`,
        ...members.map(
          (m) =>
            `${m.name}: ${m.count('consumed')} consumed, last events ${JSON.stringify(m.events.filter((e) => e.event !== 'consumed').slice(-3))}, stderr ${m.stderr.join('').slice(-500)}`,
        ),
      ].join('\n');
    };
    /** Partitions of librdkafka's failed deliveries. */
    const nackedPartitions = (): number[] => [...new Set([...rdk.nacked.values()].map((failure) => Number(/^partition (\d+)/.exec(failure)?.[1])))];
    /** What librdkafka's debug log says of a partition: its last events, and how it saw the partition's leader. */
    const clientView = (partition: number): string => {
      const events = rdk.debugLines(new RegExp(`\\[${partition}\\]|IDEMPSTATE|DRAIN`), 60);
      const leaderChanges = rdk
        .debugLines(new RegExp(`\\[${partition}\\]|partition ${partition} Leader|Received metadata from`), 100_000)
        .filter((line) => !/\|(PRODUCE|MSGSET|BROKERUA|DRAIN|TIMEOUT|RESETSEQ|NEWPID)\|/.test(line));
      // librdkafka 2.0.2 can keep a partition on a broker that is no longer its leader after two
      // quick leader updates (confluentinc/librdkafka#4976): what led up to the first sign of it.
      const stuck = leaderChanges.findIndex((line) => line.includes('not migrating away from preferred replica'));
      const shown = stuck < 0 ? leaderChanges.slice(-120) : leaderChanges.slice(Math.max(0, stuck - 100), stuck + 5);
      return `librdkafka on partition ${partition}:\n${events.join('\n')}\nits view of the partition's leader:\n${shown.join('\n')}`;
    };
    const diagnose = async (step: () => Promise<void>): Promise<void> => {
      try {
        await step();
      } catch (err) {
        t.diagnostic(state());
        for (const partition of nackedPartitions()) t.diagnostic(clientView(partition));
        for (const [nodeId, gateway] of gateways) {
          const lines = gateway.output().split('\n').filter((l) => /"level":[4-6]0|partition opened|handed over|lease ran out/.test(l)).slice(-25);
          t.diagnostic(`node ${nodeId} warnings:\n${lines.join('\n')}`);
        }
        throw err;
      }
    };
    try {
      await diagnose(() => scenario());
    } finally {
      if (!existsSync(stopFile)) writeFileSync(stopFile, '');
      rdk.kill();
      await kjs.stop().catch(() => undefined);
      await Promise.all(members.map((m) => m.close(10_000).catch(() => undefined)));
      await admin.disconnect().catch(() => undefined);
    }

    async function scenario(): Promise<void> {
      // --- everything runs across the three nodes
      // kafkajs writes every partition; librdkafka those its keys hash to.
      await eventually('both producers are acknowledged, kafkajs on every partition', () =>
        new Set([...kjs.acked.values()].map((a) => a.partition)).size === PARTITIONS && kjs.acked.size >= 200 && rdk.acked.size >= 200,
        120_000,
      );
      await eventually('every group member consumes', () => members.every((m) => m.count('consumed') > 0), 120_000);
      await eventually('both groups committed offsets on every partition', async () => [...(await committed()).values()].filter((o) => o > 0n).length === 2 * PARTITIONS, 60_000);
      t.diagnostic(`before the kill: kafkajs ${kjs.acked.size} acknowledged, librdkafka ${rdk.acked.size}; groups ${RDK_GROUP}, ${KJS_GROUP}`);

      // --- kill -9 of node 1: a leader and the group's coordinator
      const killedPartitions = new Set([...Array(PARTITIONS).keys()].filter((p) => designated(p, NODES) === KILLED));
      const committedBefore = await committed();
      const consumedMark = members.map((m) => m.events.length);
      const writtenBy = (p: ProducerOutcome, among: ReadonlySet<number>): Set<number> =>
        new Set([...p.acked.values()].map((a) => a.partition).filter((n) => among.has(n)));
      const killedWrites = producers.map((p) => writtenBy(p, killedPartitions));
      const acksBefore = producers.map((p, i) => progress(p, killedWrites[i]));
      const killedAt = Date.now();
      await (gateways.get(KILLED) as GatewayProcess).kill9();
      await eventually('the survivors lead every partition', async () => {
        const view = await leaderView(0);
        return view.brokers.join() === '0,2' && [...view.leaders.values()].every(([leader]) => leader !== KILLED);
      }, 60_000);
      await eventually('both producers are acknowledged on the killed node\'s partitions again', () =>
        producers.every((p, i) => progress(p, killedWrites[i]) > (acksBefore[i] as number) + (killedWrites[i] as Set<number>).size),
        60_000,
      );
      const movedAfterMs = Date.now() - killedAt;
      await eventually('both groups consume again after the kill', () =>
        [RDK_GROUP, KJS_GROUP].every((g) => members.some((m, i) => groupOf(m) === g && m.events.slice(consumedMark[i]).some((e) => e.event === 'consumed'))),
        60_000,
      );
      t.diagnostic(`partitions of the killed node served again ${movedAfterMs} ms after the kill (lease time ${LEASE_TTL_MS} ms)`);
      assert.ok(movedAfterMs < LEASE_TTL_MS + 15_000, `partitions moved within seconds of the lease time (${movedAfterMs} ms)`);
      // The new coordinator loaded the committed offsets: nothing went back, and no member read
      // below what the group had committed before the kill.
      await eventually('commits continue at the new coordinator', async () => {
        const now = await committed();
        return [...committedBefore].every(([p, o]) => (now.get(p) ?? -1n) >= o) && [...now].some(([p, o]) => o > (committedBefore.get(p) ?? 0n));
      }, 60_000);
      for (const [i, member] of members.entries()) {
        for (const e of member.events.slice(consumedMark[i])) {
          if (e.event !== 'consumed') continue;
          const floor = committedBefore.get(`${groupOf(member)}/${e.partition}`) ?? 0n;
          assert.ok(BigInt(e.offset as number) >= floor, `${member.name} resumed partition ${e.partition} at ${e.offset}, below the committed ${floor}`);
        }
      }

      // --- node 1 comes back and takes its share again, a few partitions at a time
      const restartedAt = Date.now();
      await startNode(KILLED);
      let maxGapMs = 0;
      let lastCount = kjs.acked.size;
      let lastChange = Date.now();
      await eventually('every partition is led by its designated node again', async () => {
        if (kjs.acked.size !== lastCount) {
          maxGapMs = Math.max(maxGapMs, Date.now() - lastChange);
          lastCount = kjs.acked.size;
          lastChange = Date.now();
        }
        const views = await Promise.all(NODES.map((n) => leaderView(n)));
        return views.every((v) => v.brokers.join() === '0,1,2' && [...v.leaders].every(([p, [leader]]) => leader === designated(p, NODES)));
      }, 90_000);
      const shareAcks = producers.map((p, i) => progress(p, killedWrites[i]));
      await eventually('the restarted node serves its partitions', () => producers.every((p, i) => progress(p, killedWrites[i]) > (shareAcks[i] as number)), 60_000);
      t.diagnostic(`restarted node leads its ${killedPartitions.size} partitions ${Date.now() - restartedAt} ms after its start; longest kafkajs pause ${maxGapMs} ms`);
      assert.ok(maxGapMs < 15_000, `no stall while partitions move back (${maxGapMs} ms without an acknowledgement)`);

      // --- SIGSTOP node 2 past its lease; a Produce waits in its socket
      const paused = gateways.get(PAUSED) as GatewayProcess;
      const before = await leaderView(0);
      const pausedPartition = [...before.leaders].find(([, [leader]]) => leader === PAUSED)?.[0] as number;
      assert.notEqual(pausedPartition, undefined);
      const oldEpoch = (before.leaders.get(pausedPartition) as [number, number])[1];
      // Clients do not get far while a broker hangs (kafkajs asks one randomly chosen connected
      // broker for metadata and keeps retrying it; librdkafka waits for its requests there to
      // time out), so the new leader is shown serving the partition by a write of this test's.
      const stray = await RawClient.connect(paused.port);
      process.kill(paused.pid, 'SIGSTOP');
      const pausedAt = Date.now();
      stray.sendFrame(produceFrame(pausedPartition, 'stray|0|written by a paused leader'));
      let takenOver: [number, number] | undefined;
      let lastLook = '';
      await eventually('another node leads the paused node\'s partition at a higher epoch', async () => {
        const view = await leaderView(0);
        const now = view.leaders.get(pausedPartition);
        lastLook = `brokers ${view.brokers.join()}, partition ${pausedPartition} leader/epoch ${now?.join('/')} (was ${PAUSED}/${oldEpoch})`;
        if (view.brokers.includes(PAUSED) || now === undefined || now[0] === PAUSED || now[1] <= oldEpoch) return false;
        takenOver = now;
        return true;
      }, 60_000).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}; last look: ${lastLook}`);
      });
      const [newLeader, newEpoch] = takenOver as [number, number];
      const takeoverClient = await RawClient.connect(ports[newLeader] as number);
      let takeoverOffset: bigint | undefined;
      try {
        await eventually('the new leader acknowledges a write to the partition', async () => {
          takeoverClient.sendFrame(produceFrame(pausedPartition, 'takeover|0|written while the old leader is paused'));
          const written = parseResponse<ProduceResponse>(0, PRODUCE_VERSION, produceResponse, await takeoverClient.nextFrame(15_000)).responses[0]?.partitionResponses[0];
          // Only refusals that write nothing are retried.
          if (written?.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER || written?.errorCode === ErrorCode.LEADER_NOT_AVAILABLE) return false;
          assert.equal(written?.errorCode, ErrorCode.NONE, `the new leader's answer: error ${written?.errorCode} ${written?.errorMessage}`);
          takeoverOffset = written?.baseOffset;
          return true;
        }, 30_000);
      } finally {
        takeoverClient.close();
      }
      const pausedForMs = Date.now() - pausedAt;
      t.diagnostic(`paused node's partition ${pausedPartition} taken over by node ${newLeader} at epoch ${newEpoch} (was ${oldEpoch}) and written at offset ${takeoverOffset} ${pausedForMs} ms after the pause`);
      // librdkafka (2.0.2) must not see its requests to the paused node time out (30 s): after
      // such a timeout, with the partition's leader changed, it was seen sending the next batch
      // before the timed-out one, which the gateway, like Kafka, refuses as out of order.
      assert.ok(pausedForMs < 25_000, `the takeover took ${pausedForMs} ms`);
      process.kill(paused.pid, 'SIGCONT');
      const answer = parseResponse<ProduceResponse>(0, PRODUCE_VERSION, produceResponse, await stray.nextFrame(30_000));
      stray.close();
      const strayAnswer = answer.responses[0]?.partitionResponses[0];
      assert.equal(strayAnswer?.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, `the resumed node refused the write: ${JSON.stringify(strayAnswer, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
      // It may refuse the waiting Produce before its first lease renewal after the pause has
      // come back and said so.
      await eventually('the resumed node knows it lost its leases', () => /partition lease (ran out|lost)|cannot renew the partition lease/.test(paused.output()), 15_000);
      await eventually('the resumed node takes its share back', async () => {
        const view = await leaderView(0);
        return view.brokers.join() === '0,1,2' && [...view.leaders].every(([p, [leader]]) => leader === designated(p, NODES));
      }, 90_000);

      // --- wind down: producers stop, the group reads everything
      writeFileSync(stopFile, '');
      await Promise.all([kjs.stop(), rdk.finished()]);
      assert.equal(kjs.fatal, undefined, `kafkajs producer: ${kjs.fatal?.message}`);
      assert.deepEqual(rdk.fatalErrors, [], 'librdkafka producer has no fatal error');
      assert.equal(rdk.unflushed, 0);
      // librdkafka 2.0.2 can leave a partition on a broker that no longer leads it after two leader
      // updates in quick succession (confluentinc/librdkafka#4976, still open): it sends there,
      // gets NOT_LEADER_OR_FOLLOWER (nothing written) and keeps the partition there until its
      // messages time out. Seen here after the pause, when a partition moves to another node and
      // back within a second. Those failed deliveries are the client's; everything else is checked.
      const failedPartitions = nackedPartitions();
      const stranded = failedPartitions.filter(
        (p) => rdk.debugLines(new RegExp(`\\[${p}\\]: leader \\d+ unchanged, not migrating away from preferred replica`), 1).length > 0,
      );
      const strandedByClient = failedPartitions.length > 0 && stranded.length === failedPartitions.length;
      if (strandedByClient) {
        t.diagnostic(`librdkafka#4976: librdkafka kept partition(s) ${stranded.join(', ')} on a broker that no longer leads them; ${rdk.nacked.size} deliveries timed out there`);
        for (const partition of stranded) t.diagnostic(clientView(partition));
      } else {
        assert.equal(rdk.nacked.size, 0, `librdkafka deliveries failed (partitions ${failedPartitions.join(', ')}): ${[...rdk.nacked.values()].slice(0, 3).join('; ')}`);
      }
      const log = await readWholeTopic(address(0), TOPIC);
      const takeoverRecords = log.filter((r) => r.name === 'takeover');
      assert.deepEqual(
        takeoverRecords.map((r) => `${r.partition}/${r.offset}`),
        [`${pausedPartition}/${takeoverOffset}`],
        'the write to the new leader is in the log once, where it was acknowledged',
      );
      const summary = checkExactlyOnce(log.filter((r) => r.name !== 'takeover'), producers, { allAcknowledged: !strandedByClient });
      if (strandedByClient) {
        for (const p of producers) {
          const unacknowledged = [...Array(p.produced).keys()].filter((i) => !p.acked.has(i) && !(p === rdk && rdk.nacked.has(i)));
          assert.deepEqual(unacknowledged, [], `${p.name}: every record is acknowledged but the client's failed deliveries`);
        }
      }
      t.diagnostic(`log: ${summary.records} records, ${summary.acknowledged} acknowledged; kafkajs send errors: ${kjs.sendErrors.toString()}`);
      assert.ok(!log.some((r) => r.name === 'stray'), 'the paused leader wrote nothing');

      const byOffset = new Map(log.map((r) => [`${r.partition}/${r.offset}`, `${r.name}|${r.index}|`]));
      /** Per group, the first offset of each partition that no member of it has consumed. */
      const notConsumed = (g: string): string[] => {
        const consumed = new Set(
          members.filter((m) => groupOf(m) === g).flatMap((m) => m.events.filter((e) => e.event === 'consumed').map((e) => `${e.partition}/${e.offset}`)),
        );
        const firstMissing = new Map<number, string>();
        for (const { partition, offset } of log) {
          if (!firstMissing.has(partition) && !consumed.has(`${partition}/${offset}`)) firstMissing.set(partition, `${partition}/${offset}`);
        }
        return [...firstMissing.values()];
      };
      await eventually('each group consumed the whole log', () => [RDK_GROUP, KJS_GROUP].every((g) => notConsumed(g).length === 0), 180_000).catch((err: unknown) => {
        const missing = [RDK_GROUP, KJS_GROUP].map((g) => `${g} has not consumed ${notConsumed(g).join(', ') || 'nothing missing'}`);
        throw new Error(`${(err as Error).message}: ${missing.join('; ')}`);
      });
      for (const member of members) {
        for (const e of member.events) {
          if (e.event !== 'consumed') continue;
          const expected = byOffset.get(`${e.partition}/${e.offset}`);
          assert.ok(expected !== undefined && typeof e.value === 'string' && e.value.startsWith(expected), `${member.name} read ${e.partition}/${e.offset} as ${e.value?.slice(0, 30)}, the log has ${expected}`);
        }
      }
    }
  });
});
