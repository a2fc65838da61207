/**
 * The classic group state machine, driven through the coordinator on a manual clock with an
 * in-memory offset store: no I/O, no real timers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GroupCoordinator } from '../../src/groups/coordinator.js';
import { InMemoryOffsetStore, type OffsetStore } from '../../src/groups/offset-store.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { formGroup, GROUP, harness, joinParams, protocols, settle, stableGroup, subscription, syncParams, track } from './helpers.js';
import { ManualScheduler } from './manual-scheduler.js';

describe('coordinator status', () => {
  test('while offsets load: COORDINATOR_LOAD_IN_PROGRESS, heartbeats pass blindly, SyncGroup sends members back to JoinGroup', async () => {
    let finishLoad!: () => void;
    const gate = new Promise<void>((resolve) => (finishLoad = resolve));
    const inner = new InMemoryOffsetStore();
    const store: OffsetStore = {
      loadAll: async () => {
        await gate;
        return inner.loadAll();
      },
      loadGroup: (g) => inner.loadGroup(g),
      put: (...a) => inner.put(...a),
      delete: (...a) => inner.delete(...a),
    };
    const clock = new ManualScheduler();
    const coordinator = new GroupCoordinator({ store, scheduler: clock });
    const started = coordinator.start();
    assert.equal(coordinator.status, 'loading');
    assert.equal((await coordinator.join(joinParams())).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    assert.equal(coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: 'm', groupInstanceId: null }), ErrorCode.NONE);
    assert.equal((await coordinator.sync(syncParams({ memberId: 'm', generationId: 1 }))).errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
    assert.equal(coordinator.leave(GROUP, [{ memberId: 'm', groupInstanceId: null }]).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    assert.equal(coordinator.fetchOffsets(GROUP, null).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    assert.deepEqual(await coordinator.commitOffsets({ groupId: GROUP, generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: null }] }), [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS]);
    assert.equal(coordinator.listGroups().errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    assert.equal(coordinator.describeGroup(GROUP).errorCode, ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    assert.equal(coordinator.describeGroup(GROUP).state, '');
    finishLoad();
    await started;
    assert.equal(coordinator.status, 'active');
    assert.equal(coordinator.listGroups().errorCode, ErrorCode.NONE);
  });

  test('a store that cannot be read is retried after a backoff', async () => {
    let failures = 2;
    const inner = new InMemoryOffsetStore();
    await inner.put('old', 't', 0, { offset: 5n, leaderEpoch: -1, metadata: '', commitTimestampMs: 1, expireTimestampMs: null });
    const store: OffsetStore = {
      loadAll: async () => {
        if (failures-- > 0) throw new Error('unreachable');
        return inner.loadAll();
      },
      loadGroup: (g) => inner.loadGroup(g),
      put: (...a) => inner.put(...a),
      delete: (...a) => inner.delete(...a),
    };
    const clock = new ManualScheduler();
    const coordinator = new GroupCoordinator({ store, scheduler: clock, config: { loadRetryBackoffMs: 500 } });
    const started = coordinator.start();
    await settle();
    assert.equal(coordinator.status, 'loading');
    clock.advance(500);
    await settle();
    assert.equal(coordinator.status, 'loading');
    clock.advance(500);
    await started;
    assert.equal(coordinator.status, 'active');
    assert.equal(coordinator.fetchOffsets('old', [{ topic: 't', partitions: [0] }]).topics[0]?.partitions[0]?.offset, 5n);
  });

  test('closing answers waiting joins with NOT_COORDINATOR, then everything with COORDINATOR_NOT_AVAILABLE', async () => {
    const h = await harness();
    const waiting = track(h.coordinator.join(joinParams()));
    await h.coordinator.close();
    await settle();
    assert.equal(waiting.value.errorCode, ErrorCode.NOT_COORDINATOR);
    assert.equal((await h.coordinator.join(joinParams())).errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    assert.equal(h.coordinator.listGroups().errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    assert.equal(h.clock.pending, 0);
  });

  test('a group another node coordinates: NOT_COORDINATOR', async () => {
    const coordinator = new GroupCoordinator({ store: new InMemoryOffsetStore(), scheduler: new ManualScheduler(), isLocal: (g) => g !== 'elsewhere' });
    await coordinator.start();
    assert.equal((await coordinator.join(joinParams({ groupId: 'elsewhere' }))).errorCode, ErrorCode.NOT_COORDINATOR);
    assert.equal(coordinator.heartbeat({ groupId: 'elsewhere', generationId: 0, memberId: 'm', groupInstanceId: null }), ErrorCode.NOT_COORDINATOR);
    assert.equal(coordinator.fetchOffsets('elsewhere', null).errorCode, ErrorCode.NOT_COORDINATOR);
  });

  test('an empty group id is invalid for membership APIs, allowed for offset fetch and describe', async () => {
    const h = await harness();
    assert.equal((await h.coordinator.join(joinParams({ groupId: '' }))).errorCode, ErrorCode.INVALID_GROUP_ID);
    assert.equal(h.coordinator.heartbeat({ groupId: '', generationId: 0, memberId: 'm', groupInstanceId: null }), ErrorCode.INVALID_GROUP_ID);
    assert.equal((await h.coordinator.sync(syncParams({ groupId: '', memberId: 'm', generationId: 0 }))).errorCode, ErrorCode.INVALID_GROUP_ID);
    assert.equal(h.coordinator.leave('', []).errorCode, ErrorCode.INVALID_GROUP_ID);
    assert.equal(h.coordinator.fetchOffsets('', null).errorCode, ErrorCode.NONE);
    assert.equal(h.coordinator.describeGroup('').state, 'Dead');
  });
});

describe('JoinGroup', () => {
  test('session timeouts outside the configured bounds: INVALID_SESSION_TIMEOUT', async () => {
    const h = await harness({ minSessionTimeoutMs: 1000, maxSessionTimeoutMs: 5000 });
    assert.equal((await h.coordinator.join(joinParams({ sessionTimeoutMs: 999 }))).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
    assert.equal((await h.coordinator.join(joinParams({ sessionTimeoutMs: 5001 }))).errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
  });

  test('v4+: a new member first gets MEMBER_ID_REQUIRED and its id, then joins with it', async () => {
    const h = await harness();
    const first = await h.coordinator.join(joinParams({ requireKnownMemberId: true, clientId: 'app' }));
    assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    assert.match(first.memberId, /^app-[0-9a-f-]{36}$/);
    assert.equal(h.coordinator.group(GROUP)?.state, 'Empty');
    const joined = track(h.coordinator.join(joinParams({ requireKnownMemberId: true, memberId: first.memberId })));
    assert.equal(h.coordinator.group(GROUP)?.state, 'PreparingRebalance');
    h.clock.advance(100);
    await settle();
    assert.equal(joined.value.errorCode, ErrorCode.NONE);
    assert.equal(joined.value.memberId, first.memberId);
    assert.equal(joined.value.leader, first.memberId);
    assert.equal(joined.value.generationId, 1);
    assert.equal(joined.value.protocolName, 'range');
    assert.equal(joined.value.protocolType, 'consumer');
    assert.deepEqual(joined.value.members.map((m) => m.memberId), [first.memberId]);
    assert.equal(h.coordinator.group(GROUP)?.state, 'CompletingRebalance');
  });

  test('a pending member id that never comes back expires after its session timeout and stops holding up the rebalance', async () => {
    const h = await harness();
    const [a] = await stableGroup(h, 1);
    const pending = await h.coordinator.join(joinParams({ requireKnownMemberId: true, sessionTimeoutMs: 5000 }));
    assert.equal(pending.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    // The leader rejoining starts a rebalance; the pending member keeps it open.
    const rejoin = track(h.coordinator.join(joinParams({ memberId: a!.memberId })));
    await settle();
    assert.equal(rejoin.done, false);
    h.clock.advance(5000);
    await settle();
    assert.equal(rejoin.value.errorCode, ErrorCode.NONE);
    assert.equal(rejoin.value.generationId, 2);
    assert.equal(h.coordinator.group(GROUP)?.pendingMembers.size, 0);
  });

  test('a member id unknown to the group, or to a group that does not exist: UNKNOWN_MEMBER_ID', async () => {
    const h = await harness();
    assert.equal((await h.coordinator.join(joinParams({ memberId: 'ghost' }))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    await stableGroup(h, 1);
    assert.equal((await h.coordinator.join(joinParams({ memberId: 'ghost' }))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  });

  test('INCONSISTENT_GROUP_PROTOCOL: no protocols, another protocol type, or no protocol in common', async () => {
    const h = await harness();
    assert.equal((await h.coordinator.join(joinParams({ protocols: [] }))).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    assert.equal((await h.coordinator.join(joinParams({ protocolType: '' }))).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const [a] = await stableGroup(h, 1);
    assert.equal((await h.coordinator.join(joinParams({ protocolType: 'connect' }))).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    assert.equal((await h.coordinator.join(joinParams({ protocols: protocols(['roundrobin']) }))).errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    // A member cannot switch to a protocol the others do not support either.
    assert.equal(
      (await h.coordinator.join(joinParams({ memberId: a!.memberId, protocols: protocols(['sticky']) }))).errorCode,
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
  });

  test('the protocol every member supports with the most votes wins; unknown protocols pass through untouched', async () => {
    const h = await harness();
    const meta = Buffer.from('opaque-cooperative-sticky-bytes');
    const joins = [
      track(h.coordinator.join(joinParams({ protocols: [{ name: 'cooperative-sticky', metadata: meta }, { name: 'range', metadata: meta }] }))),
      track(h.coordinator.join(joinParams({ protocols: [{ name: 'roundrobin', metadata: meta }, { name: 'cooperative-sticky', metadata: meta }, { name: 'range', metadata: meta }] }))),
      track(h.coordinator.join(joinParams({ protocols: [{ name: 'cooperative-sticky', metadata: meta }, { name: 'range', metadata: meta }] }))),
    ];
    h.clock.advance(200);
    await settle();
    // Candidates: cooperative-sticky and range; votes: 2 cooperative-sticky (first two), 1 cooperative-sticky.
    assert.ok(joins.every((j) => j.value.protocolName === 'cooperative-sticky'));
    const leader = joins.find((j) => j.value.leader === j.value.memberId)!;
    assert.ok(leader.value.members.every((m) => m.metadata.equals(meta)));
  });

  test('a tie between protocols goes to the leader’s preference', async () => {
    const h = await harness();
    const joins = [
      track(h.coordinator.join(joinParams({ protocols: protocols(['b', 'a']) }))),
      track(h.coordinator.join(joinParams({ protocols: protocols(['a', 'b']) }))),
    ];
    h.clock.advance(200);
    await settle();
    assert.equal(joins[0]!.value.protocolName, 'b');
  });

  test('the initial rebalance delay waits for more members, again while they keep coming, up to the rebalance timeout', async () => {
    const h = await harness({ initialRebalanceDelayMs: 100 });
    const a = track(h.coordinator.join(joinParams({ rebalanceTimeoutMs: 250 })));
    h.clock.advance(50);
    const b = track(h.coordinator.join(joinParams({ rebalanceTimeoutMs: 250 })));
    h.clock.advance(50); // t=100: a member came, wait another 100 (150 remain)
    await settle();
    assert.equal(a.done, false);
    h.clock.advance(50);
    const c = track(h.coordinator.join(joinParams({ rebalanceTimeoutMs: 250 })));
    h.clock.advance(49); // t=199
    await settle();
    assert.equal(a.done, false);
    h.clock.advance(1); // t=200: 50 remain and a member came; wait min(100, 50)
    await settle();
    assert.equal(a.done, false);
    h.clock.advance(100); // t=300: nothing left of the rebalance timeout
    await settle();
    assert.ok(a.done && b.done && c.done);
    assert.equal(a.value.generationId, 1);
    assert.equal(a.value.members.length, 3);
  });

  test('an initial delay of zero still completes the first generation', async () => {
    const h = await harness({ initialRebalanceDelayMs: 0 });
    const a = track(h.coordinator.join(joinParams()));
    h.clock.advance(0);
    await settle();
    assert.equal(a.value.errorCode, ErrorCode.NONE);
  });

  test('a rebalance completes as soon as every member has rejoined', async () => {
    const h = await harness();
    const [a, b] = await stableGroup(h, 2);
    const ra = track(h.coordinator.join(joinParams({ memberId: a!.memberId })));
    await settle();
    assert.equal(h.coordinator.group(GROUP)?.state, 'PreparingRebalance');
    assert.equal(h.coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: b!.memberId, groupInstanceId: null }), ErrorCode.REBALANCE_IN_PROGRESS);
    const rb = track(h.coordinator.join(joinParams({ memberId: b!.memberId })));
    await settle();
    assert.equal(ra.value.generationId, 2);
    assert.equal(rb.value.generationId, 2);
    assert.equal(ra.value.members.length, 2);
    assert.deepEqual(rb.value.members, []);
  });

  test('members that do not rejoin within the rebalance timeout are removed', async () => {
    const h = await harness();
    const [a, b] = await stableGroup(h, 2, { rebalanceTimeoutMs: 5000 });
    const ra = track(h.coordinator.join(joinParams({ memberId: a!.memberId, rebalanceTimeoutMs: 5000 })));
    h.clock.advance(4999);
    await settle();
    assert.equal(ra.done, false);
    h.clock.advance(1);
    await settle();
    assert.equal(ra.value.generationId, 2);
    assert.deepEqual(ra.value.members.map((m) => m.memberId), [a!.memberId]);
    assert.equal(h.coordinator.group(GROUP)?.has(b!.memberId), false);
    assert.equal(h.coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: b!.memberId, groupInstanceId: null }), ErrorCode.UNKNOWN_MEMBER_ID);
  });

  test('when the leader does not rejoin, a member that did becomes leader', async () => {
    const h = await harness();
    const [a, b] = await stableGroup(h, 2, { rebalanceTimeoutMs: 5000 });
    assert.equal(a!.leader, a!.memberId);
    const rb = track(h.coordinator.join(joinParams({ memberId: b!.memberId, protocols: protocols(['range'], subscription('t', 'u')), rebalanceTimeoutMs: 5000 })));
    h.clock.advance(5000);
    await settle();
    assert.equal(rb.value.leader, b!.memberId);
    assert.equal(rb.value.members.length, 1);
  });

  test('in Stable: a follower with unchanged metadata gets the current generation; the leader or changed metadata rebalances', async () => {
    const h = await harness();
    const [a, b] = await stableGroup(h, 2);
    const same = await h.coordinator.join(joinParams({ memberId: b!.memberId }));
    assert.equal(same.errorCode, ErrorCode.NONE);
    assert.equal(same.generationId, 1);
    assert.equal(same.leader, a!.memberId);
    assert.equal(h.coordinator.group(GROUP)?.state, 'Stable');

    const changed = track(h.coordinator.join(joinParams({ memberId: b!.memberId, protocols: protocols(['range'], subscription('t', 'v')) })));
    assert.equal(h.coordinator.group(GROUP)?.state, 'PreparingRebalance');
    track(h.coordinator.join(joinParams({ memberId: a!.memberId })));
    await settle();
    assert.equal(changed.value.generationId, 2);

    // Stable again at generation 2; the leader rejoining forces generation 3.
    const leaderSync = h.coordinator.sync(syncParams({ memberId: a!.memberId, generationId: 2 }));
    await leaderSync;
    assert.equal(h.coordinator.group(GROUP)?.state, 'Stable');
    track(h.coordinator.join(joinParams({ memberId: a!.memberId })));
    assert.equal(h.coordinator.group(GROUP)?.state, 'PreparingRebalance');
  });

  test('in CompletingRebalance: same metadata repeats the join answer; new metadata restarts the rebalance and fails waiting syncs', async () => {
    const h = await harness();
    const [a, b] = await formGroup(h, 2);
    assert.equal(h.coordinator.group(GROUP)?.state, 'CompletingRebalance');
    const again = await h.coordinator.join(joinParams({ memberId: a!.memberId }));
    assert.equal(again.generationId, 1);
    assert.equal(again.members.length, 2, 'the leader gets the member list again');
    const followerAgain = await h.coordinator.join(joinParams({ memberId: b!.memberId }));
    assert.deepEqual(followerAgain.members, []);

    const waitingSync = track(h.coordinator.sync(syncParams({ memberId: b!.memberId, generationId: 1 })));
    await settle();
    assert.equal(waitingSync.done, false);
    track(h.coordinator.join(joinParams({ memberId: b!.memberId, protocols: protocols(['range'], subscription('x')) })));
    await settle();
    assert.equal(waitingSync.value.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
    assert.equal(h.coordinator.group(GROUP)?.state, 'PreparingRebalance');
  });

  test('a JoinGroup repeated while the first still waits answers the first with REBALANCE_IN_PROGRESS', async () => {
    const h = await harness();
    const [a, b] = await stableGroup(h, 2);
    const first = track(h.coordinator.join(joinParams({ memberId: a!.memberId })));
    const second = track(h.coordinator.join(joinParams({ memberId: a!.memberId })));
    await settle();
    assert.equal(first.value.errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
    assert.equal(second.done, false);
    track(h.coordinator.join(joinParams({ memberId: b!.memberId })));
    await settle();
    assert.equal(second.value.generationId, 2);
  });

  test('group.max.size: a new member beyond it gets GROUP_MAX_SIZE_REACHED', async () => {
    const h = await harness({ maxGroupSize: 2 });
    await stableGroup(h, 2);
    const third = await h.coordinator.join(joinParams());
    assert.equal(third.errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED);
    assert.equal(third.memberId, '');
    assert.equal(h.coordinator.group(GROUP)?.size, 2);
  });

  test('group.max.size while rebalancing: only as many members as fit may wait in JoinGroup', async () => {
    const h = await harness({ maxGroupSize: 2 });
    const joins = [track(h.coordinator.join(joinParams())), track(h.coordinator.join(joinParams())), track(h.coordinator.join(joinParams()))];
    await settle();
    assert.equal(joins[2]!.value.errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED);
    h.clock.advance(200);
    await settle();
    assert.equal(joins[0]!.value.members.length, 2);
  });

  test('a new member stuck in JoinGroup is dropped after the new-member timeout', async () => {
    const h = await harness({ newMemberJoinTimeoutMs: 50, initialRebalanceDelayMs: 10 });
    const [a] = await stableGroup(h, 1, { rebalanceTimeoutMs: 1000 });
    const b = track(h.coordinator.join(joinParams({ rebalanceTimeoutMs: 1000 })));
    assert.equal(h.coordinator.group(GROUP)?.state, 'PreparingRebalance');
    h.clock.advance(50);
    await settle();
    assert.equal(b.value.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal(h.coordinator.group(GROUP)?.size, 1);
    // The old member never rejoined either: at the rebalance timeout the group empties.
    h.clock.advance(950);
    assert.equal(h.coordinator.group(GROUP)?.state, 'Empty');
    assert.equal(h.coordinator.group(GROUP)?.generationId, 2);
    assert.equal(h.coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: a!.memberId, groupInstanceId: null }), ErrorCode.UNKNOWN_MEMBER_ID);
  });
});

describe('SyncGroup', () => {
  test('the leader’s assignment reaches every member; a member missing from it gets an empty one', async () => {
    const h = await harness();
    const [a, b, c] = await formGroup(h, 3);
    const sb = track(h.coordinator.sync(syncParams({ memberId: b!.memberId, generationId: 1 })));
    await settle();
    assert.equal(sb.done, false);
    const sa = await h.coordinator.sync(
      syncParams({
        memberId: a!.memberId,
        generationId: 1,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments: [
          { memberId: a!.memberId, assignment: Buffer.from('A') },
          { memberId: b!.memberId, assignment: Buffer.from('B') },
        ],
      }),
    );
    await settle();
    assert.equal(sa.assignment.toString(), 'A');
    assert.equal(sa.protocolName, 'range');
    assert.equal(sa.protocolType, 'consumer');
    assert.equal(sb.value.assignment.toString(), 'B');
    assert.equal(h.coordinator.group(GROUP)?.state, 'Stable');
    const sc = await h.coordinator.sync(syncParams({ memberId: c!.memberId, generationId: 1 }));
    assert.equal(sc.errorCode, ErrorCode.NONE);
    assert.equal(sc.assignment.length, 0);
  });

  test('errors: unknown group or member, wrong generation, other protocol, rebalance in progress', async () => {
    const h = await harness();
    assert.equal((await h.coordinator.sync(syncParams({ memberId: 'm', generationId: 1 }))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    const [a, b] = await stableGroup(h, 2);
    assert.equal((await h.coordinator.sync(syncParams({ memberId: 'ghost', generationId: 1 }))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal((await h.coordinator.sync(syncParams({ memberId: a!.memberId, generationId: 7 }))).errorCode, ErrorCode.ILLEGAL_GENERATION);
    assert.equal(
      (await h.coordinator.sync(syncParams({ memberId: a!.memberId, generationId: 1, protocolType: 'connect' }))).errorCode,
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    assert.equal(
      (await h.coordinator.sync(syncParams({ memberId: a!.memberId, generationId: 1, protocolName: 'roundrobin' }))).errorCode,
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    track(h.coordinator.join(joinParams({ memberId: a!.memberId })));
    assert.equal((await h.coordinator.sync(syncParams({ memberId: b!.memberId, generationId: 1 }))).errorCode, ErrorCode.REBALANCE_IN_PROGRESS);
  });

  test('members that never send SyncGroup are removed after the rebalance timeout and the group rebalances', async () => {
    const h = await harness();
    const [a, b] = await formGroup(h, 2, { rebalanceTimeoutMs: 3000 });
    await h.coordinator.sync(syncParams({ memberId: a!.memberId, generationId: 1, assignments: [] }));
    assert.equal(h.coordinator.group(GROUP)?.state, 'Stable');
    h.clock.advance(3000);
    assert.equal(h.coordinator.group(GROUP)?.has(b!.memberId), false);
    assert.equal(h.coordinator.group(GROUP)?.state, 'PreparingRebalance');
    assert.equal(h.coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: a!.memberId, groupInstanceId: null }), ErrorCode.REBALANCE_IN_PROGRESS);
  });

  test('when every member has synced, no sync expiry is left behind', async () => {
    const h = await harness();
    const [a] = await stableGroup(h, 2, { rebalanceTimeoutMs: 3000, sessionTimeoutMs: 60_000 });
    h.clock.advance(3000);
    assert.equal(h.coordinator.group(GROUP)?.state, 'Stable');
    assert.equal(h.coordinator.group(GROUP)?.size, 2);
    assert.equal(h.coordinator.group(GROUP)?.leaderId, a!.memberId);
  });
});

describe('Heartbeat and session timeouts', () => {
  test('answers by state: NONE when stable or completing, REBALANCE_IN_PROGRESS when preparing', async () => {
    const h = await harness();
    const [a, b] = await formGroup(h, 2);
    const hb = (memberId: string, generationId = 1) => h.coordinator.heartbeat({ groupId: GROUP, generationId, memberId, groupInstanceId: null });
    assert.equal(hb(b!.memberId), ErrorCode.NONE, 'CompletingRebalance');
    await h.coordinator.sync(syncParams({ memberId: a!.memberId, generationId: 1 }));
    assert.equal(hb(b!.memberId), ErrorCode.NONE, 'Stable');
    assert.equal(hb(b!.memberId, 0), ErrorCode.ILLEGAL_GENERATION);
    assert.equal(hb('ghost'), ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal(h.coordinator.heartbeat({ groupId: 'nope', generationId: 1, memberId: 'x', groupInstanceId: null }), ErrorCode.UNKNOWN_MEMBER_ID);
    track(h.coordinator.join(joinParams({ memberId: a!.memberId })));
    assert.equal(hb(b!.memberId), ErrorCode.REBALANCE_IN_PROGRESS);
  });

  test('a member that stops heartbeating is removed after its session timeout; heartbeats keep the others', async () => {
    const h = await harness();
    const [a, b] = await stableGroup(h, 2, { sessionTimeoutMs: 3000 });
    for (let i = 0; i < 2; i++) {
      h.clock.advance(1000);
      assert.equal(h.coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: a!.memberId, groupInstanceId: null }), ErrorCode.NONE);
    }
    assert.equal(h.coordinator.group(GROUP)?.has(b!.memberId), true);
    h.clock.advance(1000);
    assert.equal(h.coordinator.group(GROUP)?.has(b!.memberId), false);
    assert.equal(h.coordinator.group(GROUP)?.state, 'PreparingRebalance');
    assert.equal(h.coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: a!.memberId, groupInstanceId: null }), ErrorCode.REBALANCE_IN_PROGRESS);
    const rejoin = track(h.coordinator.join(joinParams({ memberId: a!.memberId, sessionTimeoutMs: 3000 })));
    await settle();
    assert.equal(rejoin.value.generationId, 2);
    assert.equal(rejoin.value.members.length, 1);
  });

  test('a member waiting in JoinGroup is not expired by its session timeout', async () => {
    const h = await harness();
    const [a, b] = await stableGroup(h, 2, { sessionTimeoutMs: 2000, rebalanceTimeoutMs: 10_000 });
    const ra = track(h.coordinator.join(joinParams({ memberId: a!.memberId, sessionTimeoutMs: 2000, rebalanceTimeoutMs: 10_000 })));
    // b keeps heartbeating; a waits in JoinGroup far past its session timeout.
    for (let i = 0; i < 8; i++) {
      h.clock.advance(1000);
      h.coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: b!.memberId, groupInstanceId: null });
    }
    assert.equal(h.coordinator.group(GROUP)?.has(a!.memberId), true);
    track(h.coordinator.join(joinParams({ memberId: b!.memberId, sessionTimeoutMs: 2000, rebalanceTimeoutMs: 10_000 })));
    await settle();
    assert.equal(ra.value.generationId, 2);
  });

  test('an offset commit counts as a heartbeat', async () => {
    const h = await harness();
    const [a, b] = await stableGroup(h, 2, { sessionTimeoutMs: 3000 });
    for (let i = 0; i < 4; i++) {
      h.clock.advance(1000);
      h.coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: a!.memberId, groupInstanceId: null });
      await h.coordinator.commitOffsets({
        groupId: GROUP,
        generationId: 1,
        memberId: b!.memberId,
        groupInstanceId: null,
        offsets: [{ topic: 't', partition: 0, offset: BigInt(i), leaderEpoch: -1, metadata: null }],
      });
    }
    assert.equal(h.coordinator.group(GROUP)?.state, 'Stable');
  });
});

describe('LeaveGroup', () => {
  test('a leaving member triggers a rebalance; the last one leaving empties the group', async () => {
    const h = await harness();
    const [a, b] = await stableGroup(h, 2);
    const out = h.coordinator.leave(GROUP, [{ memberId: b!.memberId, groupInstanceId: null, reason: 'closing' }]);
    assert.deepEqual(out, { errorCode: ErrorCode.NONE, members: [{ memberId: b!.memberId, groupInstanceId: null, errorCode: ErrorCode.NONE }] });
    assert.equal(h.coordinator.group(GROUP)?.state, 'PreparingRebalance');
    const ra = track(h.coordinator.join(joinParams({ memberId: a!.memberId })));
    await settle();
    assert.equal(ra.value.generationId, 2);
    assert.equal(ra.value.members.length, 1);
    await h.coordinator.sync(syncParams({ memberId: a!.memberId, generationId: 2 }));
    h.coordinator.leave(GROUP, [{ memberId: a!.memberId, groupInstanceId: null }]);
    assert.equal(h.coordinator.group(GROUP)?.state, 'Empty');
    assert.equal(h.coordinator.group(GROUP)?.generationId, 3);
  });

  test('a member leaving while others wait in JoinGroup lets the rebalance finish at once', async () => {
    const h = await harness();
    const [a, b] = await stableGroup(h, 2);
    const ra = track(h.coordinator.join(joinParams({ memberId: a!.memberId })));
    h.coordinator.leave(GROUP, [{ memberId: b!.memberId, groupInstanceId: null }]);
    await settle();
    assert.equal(ra.value.generationId, 2);
  });

  test('per-member errors in a batch: unknown member, unknown instance, fenced instance; pending members may leave', async () => {
    const h = await harness();
    const [a] = await stableGroup(h, 1);
    const pending = await h.coordinator.join(joinParams({ requireKnownMemberId: true }));
    const out = h.coordinator.leave(GROUP, [
      { memberId: 'ghost', groupInstanceId: null },
      { memberId: '', groupInstanceId: 'nobody' },
      { memberId: a!.memberId, groupInstanceId: 'someone' },
      { memberId: pending.memberId, groupInstanceId: null },
    ]);
    assert.deepEqual(
      out.members.map((m) => m.errorCode),
      [ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.UNKNOWN_MEMBER_ID, ErrorCode.NONE],
    );
    assert.equal(h.coordinator.group(GROUP)?.pendingMembers.size, 0);
    assert.equal(h.coordinator.group(GROUP)?.state, 'Stable');
    assert.deepEqual(h.coordinator.leave('unknown-group', [{ memberId: 'm', groupInstanceId: null }]).members[0]?.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  });
});

describe('static membership (KIP-345)', () => {
  async function staticGroup(h: Awaited<ReturnType<typeof harness>>, ids: string[], extra: Parameters<typeof joinParams>[0] = {}) {
    const joins = ids.map((id) => track(h.coordinator.join(joinParams({ groupInstanceId: id, requireKnownMemberId: false, ...extra }))));
    h.clock.advance(200);
    await settle();
    const results = joins.map((j) => j.value);
    const leader = results.find((r) => r.leader === r.memberId)!;
    await Promise.all(
      results.map((r, i) =>
        h.coordinator.sync(
          syncParams({
            memberId: r.memberId,
            generationId: r.generationId,
            groupInstanceId: ids[i]!,
            assignments: r === leader ? results.map((x, k) => ({ memberId: x.memberId, assignment: Buffer.from(`part-${ids[k]}`) })) : [],
          }),
        ),
      ),
    );
    return results;
  }

  test('static members join without MEMBER_ID_REQUIRED and get ids derived from their instance id', async () => {
    const h = await harness();
    const joined = track(h.coordinator.join(joinParams({ groupInstanceId: 'inst-1', requireKnownMemberId: true })));
    h.clock.advance(100);
    await settle();
    assert.equal(joined.value.errorCode, ErrorCode.NONE);
    assert.match(joined.value.memberId, /^inst-1-/);
  });

  test('a restarted static follower takes its old place without a rebalance; the old id is fenced', async () => {
    const h = await harness();
    const [, b] = await staticGroup(h, ['i1', 'i2']);
    const restarted = await h.coordinator.join(joinParams({ groupInstanceId: 'i2' }));
    assert.equal(restarted.errorCode, ErrorCode.NONE);
    assert.notEqual(restarted.memberId, b!.memberId);
    assert.equal(restarted.generationId, 1);
    assert.equal(h.coordinator.group(GROUP)?.state, 'Stable');
    const sync = await h.coordinator.sync(syncParams({ memberId: restarted.memberId, generationId: 1, groupInstanceId: 'i2' }));
    assert.equal(sync.assignment.toString(), 'part-i2');
    assert.equal(
      h.coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: b!.memberId, groupInstanceId: 'i2' }),
      ErrorCode.FENCED_INSTANCE_ID,
    );
    assert.equal(
      (await h.coordinator.commitOffsets({ groupId: GROUP, generationId: 1, memberId: b!.memberId, groupInstanceId: 'i2', offsets: [{ topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: null }] }))[0],
      ErrorCode.FENCED_INSTANCE_ID,
    );
  });

  test('a restarted static leader: before v9 it is told the old leader id, from v9 it leads but skips the assignment', async () => {
    const h = await harness();
    const [a] = await staticGroup(h, ['i1', 'i2']);
    const old = await h.coordinator.join(joinParams({ groupInstanceId: 'i1' }));
    assert.equal(old.leader, a!.memberId);
    assert.notEqual(old.memberId, old.leader);
    assert.deepEqual(old.members, []);
    assert.equal(old.skipAssignment, false);
    const v9 = await h.coordinator.join(joinParams({ groupInstanceId: 'i1', supportSkippingAssignment: true }));
    assert.equal(v9.leader, v9.memberId);
    assert.equal(v9.skipAssignment, true);
    assert.equal(v9.members.length, 2);
    assert.equal(h.coordinator.group(GROUP)?.generationId, 1);
  });

  test('a static member rejoining with protocols that change the group’s choice triggers a rebalance', async () => {
    const h = await harness();
    await staticGroup(h, ['i1'], { protocols: protocols(['range', 'roundrobin']) });
    const rejoin = track(h.coordinator.join(joinParams({ groupInstanceId: 'i1', protocols: protocols(['roundrobin']) })));
    await settle();
    assert.equal(rejoin.value.generationId, 2);
    assert.equal(rejoin.value.protocolName, 'roundrobin');
  });

  test('a static member rejoining during CompletingRebalance restarts the rebalance and fences the old id’s SyncGroup', async () => {
    const h = await harness();
    const joins = ['i1', 'i2'].map((id) => track(h.coordinator.join(joinParams({ groupInstanceId: id }))));
    h.clock.advance(200);
    await settle();
    const b = joins[1]!.value;
    const waiting = track(h.coordinator.sync(syncParams({ memberId: b.memberId, generationId: 1, groupInstanceId: 'i2' })));
    const rejoin = track(h.coordinator.join(joinParams({ groupInstanceId: 'i2' })));
    await settle();
    assert.equal(waiting.value.errorCode, ErrorCode.FENCED_INSTANCE_ID);
    assert.equal(h.coordinator.group(GROUP)?.state, 'PreparingRebalance');
    track(h.coordinator.join(joinParams({ memberId: joins[0]!.value.memberId, groupInstanceId: 'i1' })));
    await settle();
    assert.equal(rejoin.value.generationId, 2);
  });

  test('a static member that does not rejoin keeps its place through the rebalance, until its session times out', async () => {
    const h = await harness();
    const [a, b] = await staticGroup(h, ['i1', 'i2'], { sessionTimeoutMs: 5000, rebalanceTimeoutMs: 2000 });
    const ra = track(h.coordinator.join(joinParams({ memberId: a!.memberId, groupInstanceId: 'i1', sessionTimeoutMs: 5000, rebalanceTimeoutMs: 2000 })));
    h.clock.advance(2000);
    await settle();
    assert.equal(ra.value.generationId, 2);
    assert.deepEqual(ra.value.members.map((m) => m.groupInstanceId).sort(), ['i1', 'i2']);
    assert.equal(h.coordinator.group(GROUP)?.has(b!.memberId), true);
    // Its session (renewed when the join phase ended) runs out 5 s later.
    h.coordinator.sync(syncParams({ memberId: a!.memberId, generationId: 2, groupInstanceId: 'i1' }));
    h.clock.advance(2999);
    h.coordinator.heartbeat({ groupId: GROUP, generationId: 2, memberId: a!.memberId, groupInstanceId: 'i1' });
    h.clock.advance(2001);
    assert.equal(h.coordinator.group(GROUP)?.has(b!.memberId), false);
  });

  test('when no member rejoins, the join phase waits another rebalance timeout, until sessions expire', async () => {
    const h = await harness();
    const joins = [
      track(h.coordinator.join(joinParams({ groupInstanceId: 'i1', sessionTimeoutMs: 5000, rebalanceTimeoutMs: 1000 }))),
      track(h.coordinator.join(joinParams({ groupInstanceId: 'i2', sessionTimeoutMs: 20_000, rebalanceTimeoutMs: 1000 }))),
    ];
    h.clock.advance(200);
    await settle();
    for (const j of joins) await h.coordinator.sync(syncParams({ memberId: j.value.memberId, generationId: 1, groupInstanceId: j.value.memberId.slice(0, 2) }));
    const group = h.coordinator.group(GROUP)!;
    assert.equal(group.state, 'Stable');
    // Both go silent. i1's session ends first: a rebalance starts, but i2 (static) never rejoins,
    // so the join phase keeps waiting, one rebalance timeout after another.
    h.clock.advance(5000);
    assert.equal(group.state, 'PreparingRebalance');
    assert.equal(group.size, 1);
    h.clock.advance(10_000);
    assert.equal(group.state, 'PreparingRebalance');
    assert.equal(group.generationId, 1);
    // Then i2's session ends too and the group empties.
    h.clock.advance(5000);
    assert.equal(group.state, 'Empty');
    assert.equal(group.size, 0);
    assert.equal(group.generationId, 2);
  });

  test('an admin can remove a static member by instance id alone', async () => {
    const h = await harness();
    await staticGroup(h, ['i1', 'i2']);
    const out = h.coordinator.leave(GROUP, [{ memberId: '', groupInstanceId: 'i2' }]);
    assert.equal(out.members[0]?.errorCode, ErrorCode.NONE);
    assert.equal(h.coordinator.group(GROUP)?.staticMemberId('i2'), undefined);
    assert.equal(h.coordinator.group(GROUP)?.state, 'PreparingRebalance');
  });

  test('a known member id with someone else’s instance id is fenced in JoinGroup', async () => {
    const h = await harness();
    const [a] = await staticGroup(h, ['i1', 'i2']);
    assert.equal((await h.coordinator.join(joinParams({ memberId: a!.memberId, groupInstanceId: 'i2' }))).errorCode, ErrorCode.FENCED_INSTANCE_ID);
    assert.equal((await h.coordinator.join(joinParams({ memberId: a!.memberId, groupInstanceId: 'i9' }))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  });
});

describe('admin views of membership', () => {
  test('DescribeGroups: members with metadata and assignment only while Stable; unknown groups are Dead', async () => {
    const h = await harness();
    const [a, b] = await formGroup(h, 2);
    let described = h.coordinator.describeGroup(GROUP);
    assert.equal(described.state, 'CompletingRebalance');
    assert.equal(described.protocolData, '');
    assert.ok(described.members.every((m) => m.metadata.length === 0 && m.assignment.length === 0));
    await h.coordinator.sync(
      syncParams({ memberId: a!.memberId, generationId: 1, assignments: [{ memberId: b!.memberId, assignment: Buffer.from('B') }] }),
    );
    described = h.coordinator.describeGroup(GROUP);
    assert.equal(described.state, 'Stable');
    assert.equal(described.protocolType, 'consumer');
    assert.equal(described.protocolData, 'range');
    const mb = described.members.find((m) => m.memberId === b!.memberId)!;
    assert.equal(mb.assignment.toString(), 'B');
    assert.ok(mb.metadata.equals(subscription('t')));
    assert.equal(mb.clientId, 'c1');
    assert.equal(mb.clientHost, '/127.0.0.1');
    assert.deepEqual(h.coordinator.describeGroup('nope'), { errorCode: 0, groupId: 'nope', state: 'Dead', protocolType: '', protocolData: '', members: [] });
  });

  test('ListGroups filters by state and type, case-insensitively', async () => {
    const h = await harness();
    await stableGroup(h, 1);
    await h.coordinator.commitOffsets({ groupId: 'simple', generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: null }] });
    const all = h.coordinator.listGroups();
    assert.deepEqual(
      all.groups.map((g) => [g.groupId, g.state, g.protocolType, g.groupType]).sort(),
      [
        ['g', 'Stable', 'consumer', 'classic'],
        ['simple', 'Empty', '', 'classic'],
      ],
    );
    assert.deepEqual(h.coordinator.listGroups(['stable']).groups.map((g) => g.groupId), ['g']);
    assert.deepEqual(h.coordinator.listGroups(['Empty', 'Dead']).groups.map((g) => g.groupId), ['simple']);
    assert.deepEqual(h.coordinator.listGroups([], ['Classic']).groups.length, 2);
    assert.deepEqual(h.coordinator.listGroups([], ['consumer']).groups, []);
  });

  test('DeleteGroups: NON_EMPTY_GROUP with members, GROUP_ID_NOT_FOUND for unknown, and an empty group goes', async () => {
    const h = await harness();
    await stableGroup(h, 1);
    await h.coordinator.commitOffsets({ groupId: 'idle', generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 't', partition: 0, offset: 3n, leaderEpoch: -1, metadata: null }] });
    const results = await h.coordinator.deleteGroups([GROUP, 'idle', 'missing', 'idle']);
    assert.deepEqual([...results], [
      [GROUP, ErrorCode.NON_EMPTY_GROUP],
      ['idle', ErrorCode.NONE],
      ['missing', ErrorCode.GROUP_ID_NOT_FOUND],
    ]);
    assert.equal(h.coordinator.group('idle'), undefined);
    assert.deepEqual(await h.store.loadGroup('idle'), []);
  });
});
