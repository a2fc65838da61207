/**
 * Consumer groups with librdkafka: python confluent-kafka consumers in their own processes and
 * kcat -G, against the gateway as it runs (Gateway.start, group flags) on kinesalite and dynalite
 * that outlive it. Balanced assignment, a member leaving, a member killed without LeaveGroup, a
 * static member restarting without a rebalance, commits surviving a gateway restart, and what
 * librdkafka's admin tools see.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import type { GroupCoordinator } from '../../src/groups/coordinator.js';
import { consumerProtocolAssignment } from '../../src/protocol/messages/index.js';
import { Reader } from '../../src/protocol/primitives.js';
import { ClientProcess, eventually } from '../groups/client-process.js';
import { startTestAws, type TestAws } from '../support/aws.js';
import { createTopics, FAST_GROUP_FLAGS, startGateway, testAwsFlags, type RunningGateway } from '../support/gateway.js';
import { kcat, runPythonClient } from '../support/librdkafka.js';

let aws: TestAws;
let gw: RunningGateway;
const running: ClientProcess[] = [];

before(async () => {
  aws = await startTestAws('groups-rdk');
  gw = await startGateway({ ...testAwsFlags(aws), ...FAST_GROUP_FLAGS });
  await createTopics(gw.bootstrap, 6, ['rdk-six', 'rdk-evict', 'rdk-static', 'rdk-resume', 'rdk-kcat']);
});

after(async () => {
  for (const p of running) p.kill();
  await gw.stop();
  await aws.close();
});

/** The coordinator of the gateway now running (a restart replaces it). */
function coordinator(): GroupCoordinator {
  return gw.gateway.groups;
}

function member(name: string, spec: Record<string, unknown>): ClientProcess {
  const p = ClientProcess.librdkafka(name, { bootstrap: gw.bootstrap, session_timeout_ms: 10_000, ...spec });
  running.push(p);
  return p;
}

async function produce(topic: string, records: { partition: number; value: string }[]): Promise<void> {
  const producer = new Kafka({ clientId: 'kkg-rdk-producer', brokers: [gw.bootstrap], logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: records.map((r) => ({ partition: r.partition, value: r.value })) });
  } finally {
    await producer.disconnect();
  }
}

function union(...assignments: (number[] | undefined)[]): number[] {
  return assignments.flatMap((a) => a ?? []).sort((a, b) => a - b);
}

interface AdminView {
  groups: {
    id: string;
    state: string;
    protocol_type: string;
    protocol: string;
    error: string | null;
    members: { id: string; client_id: string; client_host: string; metadata: string; assignment: string }[];
  }[];
  offsets: { partition: number; committed: number; low: number; high: number; lag: number | null }[];
}

function assignedPartitions(hex: string, topic: string): number[] {
  const reader = new Reader(Buffer.from(hex, 'hex'));
  const version = reader.int16();
  const assignment = consumerProtocolAssignment.decode(reader, Math.min(version, 3));
  return assignment.assignedPartitions.filter((tp) => tp.topic === topic).flatMap((tp) => tp.partitions);
}

describe('librdkafka consumer groups', () => {
  test('three consumers get 2 partitions each of a 6-partition topic; when one leaves the others take its partitions', async () => {
    const members = ['rdk-a', 'rdk-b', 'rdk-c'].map((n) => member(n, { group: 'rdk-three', topic: 'rdk-six' }));
    await eventually('2 partitions each', () => members.every((m) => m.assignment?.length === 2) && coordinator().group('rdk-three')?.state === 'Stable');
    assert.deepEqual(union(...members.map((m) => m.assignment)), [0, 1, 2, 3, 4, 5]);
    assert.equal(coordinator().describeGroup('rdk-three').protocolData, 'range');

    const left = Date.now();
    await members[2]!.close();
    await eventually('the leaver’s partitions taken over', () => members.slice(0, 2).every((m) => m.assignment?.length === 3));
    assert.ok(Date.now() - left < 10_000, `rebalanced in ${Date.now() - left} ms`);
    assert.deepEqual(union(members[0]!.assignment, members[1]!.assignment), [0, 1, 2, 3, 4, 5]);
    assert.equal(coordinator().group('rdk-three')?.size, 2);
    await Promise.all(members.slice(0, 2).map((m) => m.close()));
  });

  test('a killed consumer (no LeaveGroup) is evicted after its session timeout', async () => {
    const stays = member('rdk-stays', { group: 'rdk-evict', topic: 'rdk-evict' });
    const doomed = member('rdk-doomed', { group: 'rdk-evict', topic: 'rdk-evict', session_timeout_ms: 3000 });
    await eventually('3 partitions each', () => stays.assignment?.length === 3 && doomed.assignment?.length === 3);
    doomed.kill('SIGKILL');
    await doomed.exited;
    const killed = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(coordinator().group('rdk-evict')?.size, 2, 'still a member inside its session');
    await eventually('all partitions on the survivor', () => stays.assignment?.length === 6, 20_000);
    const elapsed = Date.now() - killed;
    assert.ok(elapsed >= 2500 && elapsed < 13_000, `evicted after ${elapsed} ms`);
    assert.equal(coordinator().group('rdk-evict')?.size, 1);
    await stays.close();
  });

  test('a static member (group.instance.id) restarting within its session timeout gets its partitions back without a rebalance', async () => {
    const spec = { group: 'rdk-static', topic: 'rdk-static', session_timeout_ms: 15_000 };
    const other = member('rdk-static-other', { ...spec, instance_id: 'other' });
    const first = member('rdk-static-1', { ...spec, instance_id: 'restarting' });
    await eventually('balanced', () => other.assignment?.length === 3 && first.assignment?.length === 3 && coordinator().group('rdk-static')?.state === 'Stable');
    const before = first.assignment;
    const group = coordinator().group('rdk-static')!;
    const generation = group.generationId;
    const otherEvents = other.events.length;

    // A static member does not send LeaveGroup when it closes.
    await first.close();
    assert.equal(group.size, 2);
    assert.equal(group.state, 'Stable');

    const second = member('rdk-static-2', { ...spec, instance_id: 'restarting' });
    await eventually('partitions back', () => second.assignment !== undefined && second.assignment.length > 0);
    assert.deepEqual(second.assignment, before);
    assert.equal(group.generationId, generation, 'no new generation');
    assert.equal(group.state, 'Stable');
    assert.equal(group.size, 2);
    // Give a rebalance, if one were coming, time to show.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(other.events.slice(otherEvents).filter((e) => e.event === 'revoked' || e.event === 'assigned'), [], 'the other member never noticed');
    assert.equal(group.generationId, generation);
    await Promise.all([second.close(), other.close()]);
  });

  test('commits survive a gateway restart; the admin tools list the group and lag = high watermark - committed', async () => {
    const topic = 'rdk-resume';
    await produce(topic, Array.from({ length: 24 }, (_, i) => ({ partition: i % 6, value: `one-${i}` })));
    const one = member('rdk-resume-1', { group: 'rdk-resume', topic });
    await one.waitFor('24 records', (events) => events.filter((e) => e.event === 'consumed').length >= 24);
    one.send('commit');
    await one.waitFor('commit', (events) => events.some((e) => e.event === 'committed'));

    const view = await runPythonClient<AdminView>('librdkafka_group_admin.py', [JSON.stringify({ bootstrap: gw.bootstrap, group: 'rdk-resume', topic, partitions: 6 })]);
    const listed = view.groups.find((g) => g.id === 'rdk-resume')!;
    assert.equal(listed.state, 'Stable');
    assert.equal(listed.protocol_type, 'consumer');
    assert.equal(listed.protocol, 'range');
    assert.equal(listed.members.length, 1);
    assert.equal(listed.members[0]!.client_id, 'rdk-resume-1');
    assert.equal(listed.members[0]!.client_host, '/127.0.0.1');
    assert.deepEqual(assignedPartitions(listed.members[0]!.assignment, topic), [0, 1, 2, 3, 4, 5]);
    assert.deepEqual(view.offsets.map((o) => [o.partition, o.committed, o.high, o.lag]), [0, 1, 2, 3, 4, 5].map((p) => [p, 4, 4, 0]));

    await one.close();
    const port = gw.port;
    gw = await gw.restart();
    assert.equal(gw.port, port);
    await produce(topic, Array.from({ length: 12 }, (_, i) => ({ partition: i % 6, value: `two-${i}` })));

    const lagView = await runPythonClient<AdminView>('librdkafka_group_admin.py', [JSON.stringify({ bootstrap: gw.bootstrap, group: 'rdk-resume', topic, partitions: 6 })]);
    assert.deepEqual(lagView.offsets.map((o) => [o.partition, o.committed, o.high, o.lag]), [0, 1, 2, 3, 4, 5].map((p) => [p, 4, 6, 2]));
    assert.equal(lagView.groups.find((g) => g.id === 'rdk-resume')?.state, 'Empty');

    const two = member('rdk-resume-2', { group: 'rdk-resume', topic });
    await two.waitFor('12 records', (events) => events.filter((e) => e.event === 'consumed').length >= 12);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const consumed = two.events.filter((e) => e.event === 'consumed');
    assert.deepEqual(consumed.map((e) => e.value).sort(), Array.from({ length: 12 }, (_, i) => `two-${i}`).sort(), 'nothing re-read, nothing skipped');
    assert.ok(consumed.every((e) => Number(e.offset) >= 4 && Number(e.offset) < 6));
    await two.close();
  });

  test('kcat -G consumes as a group member and commits', async () => {
    const topic = 'rdk-kcat';
    await produce(topic, Array.from({ length: 12 }, (_, i) => ({ partition: i % 6, value: `k-${i}` })));
    const out = await kcat(
      ['-b', gw.bootstrap, '-G', 'rdk-kcat-group', '-X', 'auto.offset.reset=earliest', '-X', 'session.timeout.ms=6000', '-c', '12', '-f', '%p %o %s\\n', topic],
      { timeoutMs: 60_000 },
    );
    const lines = out.trim().split('\n').sort();
    assert.equal(lines.length, 12);
    assert.deepEqual(lines.map((l) => l.split(' ')[2]).sort(), Array.from({ length: 12 }, (_, i) => `k-${i}`).sort());
    await eventually('kcat’s offsets committed', () => {
      const fetched = coordinator().fetchOffsets('rdk-kcat-group', [{ topic, partitions: [0, 1, 2, 3, 4, 5] }]);
      return fetched.topics[0]!.partitions.every((p) => p.offset === 2n);
    }, 15_000);
    await eventually('kcat left the group', () => coordinator().group('rdk-kcat-group')?.state === 'Empty', 15_000);
  });
});
