/**
 * Consumer groups with kafkajs against the gateway as it runs (Gateway.start, group flags), on
 * kinesalite and dynalite that outlive it: balanced assignment, a member leaving, a member
 * killed without LeaveGroup, commits that survive consumer and gateway restarts, and the admin
 * client's view of groups, offsets and lag.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AssignerProtocol, Kafka, logLevel, type Consumer, type Admin } from 'kafkajs';
import type { GroupCoordinator } from '../../src/groups/coordinator.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { ClientProcess, eventually } from '../groups/client-process.js';
import { startTestAws, type TestAws } from '../support/aws.js';
import { createTopics, FAST_GROUP_FLAGS, startGateway, testAwsFlags, type RunningGateway } from '../support/gateway.js';

let aws: TestAws;
let gw: RunningGateway;

before(async () => {
  aws = await startTestAws('groups-kjs');
  gw = await startGateway({ ...testAwsFlags(aws), ...FAST_GROUP_FLAGS });
  await createTopics(gw.bootstrap, 6, ['kjs-six', 'kjs-evict', 'kjs-resume', 'kjs-admin']);
});

after(async () => {
  await gw.stop();
  await aws.close();
});

/** The coordinator of the gateway now running (a restart replaces it). */
function coordinator(): GroupCoordinator {
  return gw.gateway.groups;
}

function kafka(clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [gw.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 20, initialRetryTime: 100, maxRetryTime: 1000 } });
}

interface Member {
  readonly consumer: Consumer;
  /** Partitions of `topic` in the latest assignment. */
  assignment: number[];
  joins: number;
  readonly consumed: { partition: number; offset: bigint; value: string }[];
}

async function startMember(
  clientId: string,
  groupId: string,
  topic: string,
  options: { sessionTimeout?: number; autoCommit?: boolean; commitEach?: boolean } = {},
): Promise<Member> {
  const consumer = kafka(clientId).consumer({
    groupId,
    sessionTimeout: options.sessionTimeout ?? 10_000,
    rebalanceTimeout: 10_000,
    heartbeatInterval: 300,
    maxWaitTimeInMs: 200,
  });
  const member: Member = { consumer, assignment: [], joins: 0, consumed: [] };
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    member.assignment = [...(payload.memberAssignment[topic] ?? [])].sort((a, b) => a - b);
    member.joins++;
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    autoCommit: options.autoCommit ?? true,
    autoCommitInterval: 200,
    eachMessage: async ({ partition, message }) => {
      member.consumed.push({ partition, offset: BigInt(message.offset), value: message.value?.toString() ?? '' });
      if (options.commitEach === true) {
        await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      }
    },
  });
  return member;
}

function union(...assignments: number[][]): number[] {
  return assignments.flat().sort((a, b) => a - b);
}

async function produce(topic: string, records: { partition: number; value: string }[]): Promise<void> {
  const producer = kafka('kkg-groups-producer').producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: records.map((r) => ({ partition: r.partition, value: r.value })) });
  } finally {
    await producer.disconnect();
  }
}

describe('kafkajs consumer groups', () => {
  test('three consumers of a 6-partition topic get 2 partitions each; when one leaves the others take its partitions', async () => {
    const members = await Promise.all(['kjs-a', 'kjs-b', 'kjs-c'].map((id) => startMember(id, 'kjs-three', 'kjs-six')));
    try {
      await eventually('2 partitions each', () => {
        const group = coordinator().group('kjs-three');
        return group?.state === 'Stable' && group.size === 3 && members.every((m) => m.assignment.length === 2);
      });
      assert.deepEqual(union(...members.map((m) => m.assignment)), [0, 1, 2, 3, 4, 5]);
      const described = coordinator().describeGroup('kjs-three');
      assert.equal(described.protocolType, 'consumer');
      assert.equal(described.members.length, 3);

      const generation = coordinator().group('kjs-three')!.generationId;
      const left = Date.now();
      await members[2]!.consumer.disconnect();
      const [a, b] = members;
      await eventually('the leaver’s partitions taken over', () => {
        const group = coordinator().group('kjs-three');
        return group?.state === 'Stable' && group.size === 2 && a!.assignment.length === 3 && b!.assignment.length === 3;
      });
      assert.ok(Date.now() - left < 10_000, `rebalanced in ${Date.now() - left} ms, within the 10 s rebalance timeout`);
      assert.deepEqual(union(a!.assignment, b!.assignment), [0, 1, 2, 3, 4, 5]);
      assert.equal(coordinator().group('kjs-three')!.generationId, generation + 1);
    } finally {
      await Promise.all(members.slice(0, 2).map((m) => m.consumer.disconnect()));
    }
    await eventually('group empty', () => coordinator().group('kjs-three')?.state === 'Empty');
  });

  test('a killed consumer (no LeaveGroup) is evicted after its session timeout and its partitions reassigned', async () => {
    const stays = await startMember('kjs-stays', 'kjs-evict', 'kjs-evict', { sessionTimeout: 10_000 });
    const doomed = ClientProcess.kafkajs('kjs-doomed', { bootstrap: gw.bootstrap, group: 'kjs-evict', topic: 'kjs-evict', session_timeout_ms: 3000 });
    try {
      await eventually('3 partitions each', () => stays.assignment.length === 3 && doomed.assignment?.length === 3 && coordinator().group('kjs-evict')?.state === 'Stable');
      doomed.kill('SIGKILL');
      await doomed.exited;
      const killed = Date.now();
      // Still a member well inside its 3 s session.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(coordinator().group('kjs-evict')?.size, 2);
      await eventually('all 6 partitions on the survivor', () => stays.assignment.length === 6 && coordinator().group('kjs-evict')?.size === 1, 20_000);
      const elapsed = Date.now() - killed;
      assert.ok(elapsed >= 2500, `evicted after ${elapsed} ms, not before the session timeout`);
      assert.ok(elapsed < 3000 + 10_000, `evicted after ${elapsed} ms`);
    } finally {
      doomed.kill();
      await stays.consumer.disconnect();
    }
  });

  test('committed offsets survive a consumer restart and a gateway restart: nothing re-read, nothing skipped', async () => {
    const topic = 'kjs-resume';
    const first = Array.from({ length: 60 }, (_, i) => ({ partition: i % 6, value: `one-${i}` }));
    await produce(topic, first);
    const one = await startMember('kjs-resume-1', 'kjs-resume', topic, { autoCommit: false, commitEach: true });
    try {
      // One commit per record, each written to DynamoDB before it is answered: slow on a busy machine.
      await eventually('the first 60 consumed', () => one.consumed.length >= 60, 60_000);
      await eventually('all committed', () => {
        const fetched = coordinator().fetchOffsets('kjs-resume', [{ topic, partitions: [0, 1, 2, 3, 4, 5] }]);
        return fetched.topics[0]!.partitions.every((p) => p.offset === 10n);
      });
    } finally {
      // Also when waiting fails: a consumer left running would keep this file from ever ending.
      await one.consumer.disconnect();
    }
    assert.deepEqual(one.consumed.map((r) => r.value).sort(), first.map((r) => r.value).sort());

    // Restart the gateway on the same port: membership is gone, offsets come back from DynamoDB.
    const port = gw.port;
    gw = await gw.restart();
    assert.equal(gw.port, port);
    await eventually('offsets loaded', () => coordinator().status === 'active');
    const loaded = coordinator().fetchOffsets('kjs-resume', [{ topic, partitions: [0, 1, 2, 3, 4, 5] }]);
    assert.deepEqual(loaded.topics[0]!.partitions.map((p) => p.offset), [10n, 10n, 10n, 10n, 10n, 10n]);

    const second = Array.from({ length: 30 }, (_, i) => ({ partition: i % 6, value: `two-${i}` }));
    await produce(topic, second);
    const two = await startMember('kjs-resume-2', 'kjs-resume', topic, { autoCommit: false, commitEach: true });
    try {
      await eventually('the next 30 consumed', () => two.consumed.length >= 30, 60_000);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assert.deepEqual(two.consumed.map((r) => r.value).sort(), second.map((r) => r.value).sort(), 'exactly the records after the commit');
      for (let p = 0; p < 6; p++) {
        assert.deepEqual(
          two.consumed.filter((r) => r.partition === p).map((r) => r.offset),
          [10n, 11n, 12n, 13n, 14n],
          `partition ${p} resumes at its committed offset`,
        );
      }
    } finally {
      await two.consumer.disconnect();
    }
  });

  test('the admin client lists and describes groups, fetches offsets (lag = high watermark - committed), resets and deletes', async () => {
    const topic = 'kjs-admin';
    await produce(topic, Array.from({ length: 30 }, (_, i) => ({ partition: i % 6, value: `a-${i}` })));
    const members = await Promise.all(['kjs-admin-1', 'kjs-admin-2'].map((id) => startMember(id, 'kjs-admin', topic)));
    const admin: Admin = kafka('kkg-admin').admin();
    await admin.connect();
    try {
      await eventually('consumed and balanced', () =>
        members.every((m) => m.assignment.length === 3) && members.reduce((n, m) => n + m.consumed.length, 0) >= 30 && coordinator().group('kjs-admin')?.state === 'Stable',
      );
      const listed = await admin.listGroups();
      assert.ok(listed.groups.some((g) => g.groupId === 'kjs-admin' && g.protocolType === 'consumer'));

      const { groups } = await admin.describeGroups(['kjs-admin', 'kjs-nobody']);
      const described = groups.find((g) => g.groupId === 'kjs-admin')!;
      assert.equal(described.state, 'Stable');
      assert.equal(described.protocolType, 'consumer');
      assert.equal(described.protocol, 'RoundRobinAssigner');
      assert.equal(described.members.length, 2);
      const assigned = described.members.flatMap((m) => {
        assert.match(m.clientId, /^kjs-admin-[12]$/);
        assert.equal(m.clientHost, '/127.0.0.1');
        const assignment = AssignerProtocol.MemberAssignment.decode(m.memberAssignment);
        const metadata = AssignerProtocol.MemberMetadata.decode(m.memberMetadata);
        assert.deepEqual(metadata?.topics, [topic]);
        return assignment?.assignment[topic] ?? [];
      });
      assert.deepEqual(assigned.sort(), [0, 1, 2, 3, 4, 5]);
      assert.equal(groups.find((g) => g.groupId === 'kjs-nobody')?.state, 'Dead');

      // A group with members cannot be deleted.
      await assert.rejects(admin.deleteGroups(['kjs-admin']), (err: Error & { groups?: { errorCode: number }[] }) => {
        return err.groups?.[0]?.errorCode === ErrorCode.NON_EMPTY_GROUP;
      });

      await Promise.all(members.map((m) => m.consumer.disconnect()));
      await eventually('group empty', () => coordinator().group('kjs-admin')?.state === 'Empty');
      await produce(topic, [1, 2, 3, 4, 5].map((i) => ({ partition: 2, value: `late-${i}` })));

      const [committed] = await admin.fetchOffsets({ groupId: 'kjs-admin', topics: [topic] });
      const high = await admin.fetchTopicOffsets(topic);
      const lag = Object.fromEntries(
        committed!.partitions.map((p) => [p.partition, Number(high.find((h) => h.partition === p.partition)!.high) - Number(p.offset)]),
      );
      assert.deepEqual(lag, { 0: 0, 1: 0, 2: 5, 3: 0, 4: 0, 5: 0 });

      // Resetting offsets of an empty group (OffsetCommit without a generation).
      await admin.setOffsets({ groupId: 'kjs-admin', topic, partitions: [{ partition: 2, offset: '1' }] });
      const [reset] = await admin.fetchOffsets({ groupId: 'kjs-admin', topics: [topic] });
      assert.equal(reset!.partitions.find((p) => p.partition === 2)?.offset, '1');

      await admin.deleteGroups(['kjs-admin']);
      const after = await admin.describeGroups(['kjs-admin']);
      assert.equal(after.groups[0]?.state, 'Dead');
      const [gone] = await admin.fetchOffsets({ groupId: 'kjs-admin', topics: [topic] });
      assert.ok(gone!.partitions.every((p) => p.offset === '-1'));
    } finally {
      await Promise.all(members.map((m) => m.consumer.disconnect()));
      await admin.disconnect();
    }
  });
});
