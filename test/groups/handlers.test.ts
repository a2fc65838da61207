/**
 * The group API handlers through the wire codecs, version by version: each request is encoded
 * at a version, decoded and run as the server does, and the response encoded and decoded at the
 * same version. Catches version-dependent fields (nullable or not, present or not) as well as
 * behaviour. The coordinator runs on a manual clock with an in-memory store.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { groupApis } from '../../src/apis/group-apis.js';
import { ConnectionSequencer, clientHost } from '../../src/apis/group-support.js';
import type { RegisteredApi } from '../../src/apis/handler.js';
import type { ClusterView } from '../../src/cluster/cluster.js';
import { SingleNodeCluster } from '../../src/cluster/cluster.js';
import { GroupCoordinator } from '../../src/groups/coordinator.js';
import { InMemoryOffsetStore, type OffsetStore } from '../../src/groups/offset-store.js';
import { SingleNodeGroupRouter } from '../../src/groups/router.js';
import { StaticTopicCatalog } from '../../src/log/catalog.js';
import type { MessageCodec } from '../../src/protocol/codec.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import {
  deleteGroupsRequest,
  deleteGroupsResponse,
  describeGroupsRequest,
  describeGroupsResponse,
  findCoordinatorRequest,
  findCoordinatorResponse,
  heartbeatRequest,
  heartbeatResponse,
  joinGroupRequest,
  joinGroupResponse,
  leaveGroupRequest,
  leaveGroupResponse,
  listGroupsRequest,
  listGroupsResponse,
  offsetCommitRequest,
  offsetCommitResponse,
  offsetDeleteRequest,
  offsetDeleteResponse,
  offsetFetchRequest,
  offsetFetchResponse,
  syncGroupRequest,
  syncGroupResponse,
  type JoinGroupResponse,
} from '../../src/protocol/messages/index.js';
import { Reader, Writer } from '../../src/protocol/primitives.js';
import { subscription } from './helpers.js';
import { ManualScheduler } from './manual-scheduler.js';

const log = pino({ level: 'silent' });

interface Setup {
  readonly coordinator: GroupCoordinator;
  readonly clock: ManualScheduler;
  readonly apis: Map<number, RegisteredApi>;
  readonly cluster: ClusterView;
}

async function setup(store: OffsetStore = new InMemoryOffsetStore()): Promise<Setup> {
  const clock = new ManualScheduler();
  const coordinator = new GroupCoordinator({ store, scheduler: clock, config: { initialRebalanceDelayMs: 0, minSessionTimeoutMs: 1000 } });
  await coordinator.start();
  const cluster = new SingleNodeCluster('cluster', { nodeId: 7, host: 'gw.example', port: 9092, rack: null });
  const catalog = new StaticTopicCatalog([{ name: 't', topicId: '11111111-1111-1111-1111-111111111111', partitionCount: 3, replicationFactor: 1, internal: false }]);
  const apis = new Map(groupApis({ coordinator, router: new SingleNodeGroupRouter(cluster), catalog }).map((api) => [api.apiKey, api]));
  return { coordinator, clock, apis, cluster };
}

/** Encodes the request at `version`, runs it like the server, and decodes the response at `version`. */
async function call<Req, Res>(
  s: Setup,
  requestCodec: MessageCodec<Req>,
  responseCodec: MessageCodec<Res>,
  version: number,
  request: Partial<Req>,
  connectionId = 1,
): Promise<Res> {
  const api = s.apis.get(requestCodec.apiKey);
  assert.ok(api, `${requestCodec.name} registered`);
  assert.ok(version >= api.minVersion && version <= api.maxVersion, `${requestCodec.name} v${version} served`);
  const w = new Writer();
  requestCodec.encode(w, { ...requestCodec.create(), ...request }, version);
  const decoded = api.decode(new Reader(Buffer.from(w.finish())), version);
  const encode = await api.run(decoded, {
    apiVersion: version,
    correlationId: 1,
    clientId: 'test-client',
    connectionId,
    remoteAddress: '::ffff:10.1.2.3:40000',
    receivedAtMs: performance.now(),
    log,
  });
  assert.ok(encode);
  const out = new Writer();
  encode(out);
  return responseCodec.decode(new Reader(Buffer.from(out.finish())), version);
}

function versions(codec: MessageCodec<unknown>): number[] {
  return Array.from({ length: codec.maxVersion - codec.minVersion + 1 }, (_, i) => codec.minVersion + i);
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('group APIs on the wire', () => {
  test('every served version equals the message definitions', async () => {
    const s = await setup();
    const served = [...s.apis.values()].map((a) => [a.name, a.minVersion, a.maxVersion]);
    assert.deepEqual(served, [
      ['FindCoordinator', 0, 6],
      ['JoinGroup', 0, 9],
      ['SyncGroup', 0, 5],
      ['Heartbeat', 0, 4],
      ['LeaveGroup', 0, 5],
      ['OffsetCommit', 0, 9],
      ['OffsetFetch', 0, 9],
      ['OffsetDelete', 0, 0],
      ['DescribeGroups', 0, 5],
      ['ListGroups', 0, 5],
      ['DeleteGroups', 0, 2],
    ]);
  });

  test('FindCoordinator: this node for groups, single key (v0-v3) or batched (v4+); no transaction or share coordinators', async () => {
    const s = await setup();
    for (const v of versions(findCoordinatorRequest)) {
      if (v < 4) {
        const r = await call(s, findCoordinatorRequest, findCoordinatorResponse, v, { key: 'g', keyType: 0 });
        assert.deepEqual([r.errorCode, r.nodeId, r.host, r.port], [0, 7, 'gw.example', 9092], `v${v}`);
        if (v >= 1) {
          const txn = await call(s, findCoordinatorRequest, findCoordinatorResponse, v, { key: 'tx', keyType: 1 });
          assert.equal(txn.errorCode, ErrorCode.INVALID_REQUEST);
          assert.match(txn.errorMessage ?? '', /transactions are not supported/);
          assert.equal(txn.nodeId, -1);
        }
      } else {
        const r = await call(s, findCoordinatorRequest, findCoordinatorResponse, v, { keyType: 0, coordinatorKeys: ['a', 'b'] });
        assert.deepEqual(r.coordinators.map((c) => [c.key, c.nodeId, c.host, c.port, c.errorCode]), [
          ['a', 7, 'gw.example', 9092, 0],
          ['b', 7, 'gw.example', 9092, 0],
        ]);
        const share = await call(s, findCoordinatorRequest, findCoordinatorResponse, v, { keyType: 2, coordinatorKeys: ['x'] });
        assert.equal(share.coordinators[0]?.errorCode, ErrorCode.INVALID_REQUEST);
        const odd = await call(s, findCoordinatorRequest, findCoordinatorResponse, v, { keyType: 9, coordinatorKeys: ['x'] });
        assert.match(odd.coordinators[0]?.errorMessage ?? '', /unknown coordinator key type 9/);
      }
    }
  });

  test('JoinGroup, SyncGroup, Heartbeat and LeaveGroup at every version', async () => {
    const s = await setup();
    const protocols = [{ name: 'range', metadata: subscription('t') }];
    for (const v of versions(joinGroupRequest)) {
      const group = `g${v}`;
      let joined: Promise<JoinGroupResponse> = call(s, joinGroupRequest, joinGroupResponse, v, {
        groupId: group,
        sessionTimeoutMs: 5000,
        rebalanceTimeoutMs: 5000,
        protocolType: 'consumer',
        protocols,
        reason: 'test',
      });
      if (v >= 4) {
        const required = await joined;
        assert.equal(required.errorCode, ErrorCode.MEMBER_ID_REQUIRED, `v${v}`);
        assert.equal(required.generationId, -1);
        assert.equal(required.protocolName, v >= 7 ? null : '');
        joined = call(s, joinGroupRequest, joinGroupResponse, v, {
          groupId: group,
          memberId: required.memberId,
          sessionTimeoutMs: 5000,
          rebalanceTimeoutMs: 5000,
          protocolType: 'consumer',
          protocols,
        });
      }
      await settle();
      s.clock.advance(0);
      const j = await joined;
      assert.equal(j.errorCode, 0, `v${v}`);
      assert.equal(j.generationId, 1);
      assert.equal(j.protocolName, 'range');
      assert.equal(j.protocolType, v >= 7 ? 'consumer' : null);
      assert.equal(j.leader, j.memberId);
      assert.match(j.memberId, /^test-client-/);
      assert.deepEqual(j.members.map((m) => m.memberId), [j.memberId]);
      // v0 has no rebalance timeout: the session timeout stands in for it.
      assert.equal(s.coordinator.group(group)?.get(j.memberId).rebalanceTimeoutMs, 5000);
      assert.equal(s.coordinator.group(group)?.get(j.memberId).clientHost, '/10.1.2.3');

      const syncVersion = Math.min(v, syncGroupRequest.maxVersion);
      const sync = await call(s, syncGroupRequest, syncGroupResponse, syncVersion, {
        groupId: group,
        generationId: 1,
        memberId: j.memberId,
        protocolType: 'consumer',
        protocolName: 'range',
        assignments: [{ memberId: j.memberId, assignment: Buffer.from('mine') }],
      });
      assert.equal(sync.errorCode, 0);
      assert.equal(sync.assignment.toString(), 'mine');
      assert.equal(sync.protocolName, syncVersion >= 5 ? 'range' : null);

      const hbVersion = Math.min(v, heartbeatRequest.maxVersion);
      const hb = await call(s, heartbeatRequest, heartbeatResponse, hbVersion, { groupId: group, generationId: 1, memberId: j.memberId });
      assert.equal(hb.errorCode, 0);
      const stale = await call(s, heartbeatRequest, heartbeatResponse, hbVersion, { groupId: group, generationId: 0, memberId: j.memberId });
      assert.equal(stale.errorCode, ErrorCode.ILLEGAL_GENERATION);

      const leaveVersion = Math.min(v, leaveGroupRequest.maxVersion);
      if (leaveVersion < 3) {
        const unknown = await call(s, leaveGroupRequest, leaveGroupResponse, leaveVersion, { groupId: group, memberId: 'ghost' });
        assert.equal(unknown.errorCode, ErrorCode.UNKNOWN_MEMBER_ID, 'before v3 the member error is the response error');
        const left = await call(s, leaveGroupRequest, leaveGroupResponse, leaveVersion, { groupId: group, memberId: j.memberId });
        assert.equal(left.errorCode, 0);
      } else {
        const left = await call(s, leaveGroupRequest, leaveGroupResponse, leaveVersion, {
          groupId: group,
          members: [
            { memberId: j.memberId, groupInstanceId: null, reason: 'bye' },
            { memberId: 'ghost', groupInstanceId: null, reason: null },
          ],
        });
        assert.equal(left.errorCode, 0);
        assert.deepEqual(left.members.map((m) => [m.memberId, m.errorCode]), [
          [j.memberId, 0],
          ['ghost', ErrorCode.UNKNOWN_MEMBER_ID],
        ]);
      }
      assert.equal(s.coordinator.group(group)?.state, 'Empty');
    }
  });

  test('JoinGroup v5+: a static member joins at once; SyncGroup v5 without protocol names: INCONSISTENT_GROUP_PROTOCOL', async () => {
    const s = await setup();
    const joined = call(s, joinGroupRequest, joinGroupResponse, 5, {
      groupId: 'static',
      groupInstanceId: 'instance-1',
      sessionTimeoutMs: 5000,
      rebalanceTimeoutMs: 5000,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: subscription('t') }],
    });
    await settle();
    s.clock.advance(0);
    const j = await joined;
    assert.equal(j.errorCode, 0);
    assert.equal(j.members[0]?.groupInstanceId, 'instance-1');
    const sync = await call(s, syncGroupRequest, syncGroupResponse, 5, { groupId: 'static', generationId: 1, memberId: j.memberId, groupInstanceId: 'instance-1' });
    assert.equal(sync.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  });

  test('OffsetCommit and OffsetFetch at every version; unknown topics and partitions are refused', async () => {
    const s = await setup();
    for (const v of versions(offsetCommitRequest)) {
      const group = `c${v}`;
      const committed = await call(s, offsetCommitRequest, offsetCommitResponse, v, {
        groupId: group,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        topics: [
          {
            name: 't',
            partitions: [
              { partitionIndex: 0, committedOffset: BigInt(100 + v), committedLeaderEpoch: 4, commitTimestamp: 1234n, committedMetadata: v === 0 ? null : `m${v}` },
              { partitionIndex: 3, committedOffset: 1n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null },
            ],
          },
          { name: 'nope', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] },
        ],
      });
      assert.deepEqual(
        committed.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]),
        [
          ['t', [[0, 0], [3, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
          ['nope', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
        ],
        `v${v}`,
      );
      const stored = s.coordinator.group(group)?.offset('t', 0);
      assert.equal(stored?.offset, BigInt(100 + v));
      assert.equal(stored?.leaderEpoch, v >= 6 ? 4 : -1);
      assert.equal(stored?.metadata, v === 0 ? '' : `m${v}`);
      if (v === 1) assert.equal(stored?.commitTimestampMs, 1234);
    }
    for (const v of versions(offsetFetchRequest)) {
      const group = `c${Math.min(v, 9)}`;
      if (v < 8) {
        const r = await call(s, offsetFetchRequest, offsetFetchResponse, v, { groupId: group, topics: [{ name: 't', partitionIndexes: [0, 1] }] });
        assert.deepEqual(
          r.topics[0]?.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.committedLeaderEpoch, p.metadata, p.errorCode]),
          [
            [0, BigInt(100 + v), v >= 5 ? (v >= 6 ? 4 : -1) : -1, v === 0 ? '' : `m${v}`, 0],
            [1, -1n, -1, '', 0],
          ],
          `v${v}`,
        );
        if (v >= 2) {
          const all = await call(s, offsetFetchRequest, offsetFetchResponse, v, { groupId: group, topics: null });
          assert.deepEqual(all.topics.map((t) => [t.name, t.partitions.map((p) => p.partitionIndex)]), [['t', [0]]]);
        }
      } else {
        const r = await call(s, offsetFetchRequest, offsetFetchResponse, v, {
          groups: [
            { groupId: 'c8', memberId: null, memberEpoch: -1, topics: [{ name: 't', partitionIndexes: [0] }] },
            { groupId: 'c9', memberId: null, memberEpoch: -1, topics: null },
            { groupId: 'nobody', memberId: null, memberEpoch: -1, topics: null },
          ],
          requireStable: true,
        });
        assert.deepEqual(
          r.groups.map((g) => [g.groupId, g.errorCode, g.topics.map((t) => [t.name, t.partitions.map((p) => p.committedOffset)])]),
          [
            ['c8', 0, [['t', [108n]]]],
            ['c9', 0, [['t', [109n]]]],
            ['nobody', 0, []],
          ],
        );
      }
    }
  });

  test('OffsetFetch group errors: per partition before v2, top level from v2, per group from v8', async () => {
    const s = await setup();
    await s.coordinator.close();
    const v1 = await call(s, offsetFetchRequest, offsetFetchResponse, 1, { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0, 1] }] });
    assert.deepEqual(v1.topics[0]?.partitions.map((p) => [p.partitionIndex, p.committedOffset, p.errorCode]), [
      [0, -1n, ErrorCode.COORDINATOR_NOT_AVAILABLE],
      [1, -1n, ErrorCode.COORDINATOR_NOT_AVAILABLE],
    ]);
    const v2 = await call(s, offsetFetchRequest, offsetFetchResponse, 2, { groupId: 'g', topics: [{ name: 't', partitionIndexes: [0] }] });
    assert.equal(v2.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    assert.deepEqual(v2.topics, []);
    const v8 = await call(s, offsetFetchRequest, offsetFetchResponse, 8, { groups: [{ groupId: 'g', memberId: null, memberEpoch: -1, topics: null }] });
    assert.equal(v8.groups[0]?.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  });

  test('OffsetCommits of one connection take effect in request order, however long topic lookups take', async () => {
    const s = await setup();
    // A catalog whose first lookup is slow: without ordering the second commit would land first.
    let calls = 0;
    const slowCatalog = new StaticTopicCatalog([{ name: 't', topicId: 'x', partitionCount: 1, replicationFactor: 1, internal: false }]);
    const original = slowCatalog.getTopic.bind(slowCatalog);
    slowCatalog.getTopic = async (name) => {
      if (calls++ === 0) await new Promise((resolve) => setTimeout(resolve, 50));
      return original(name);
    };
    const api = groupApis({ coordinator: s.coordinator, router: new SingleNodeGroupRouter(s.cluster), catalog: slowCatalog, sequencer: new ConnectionSequencer() }).find(
      (a) => a.apiKey === offsetCommitRequest.apiKey,
    )!;
    const context = { apiVersion: 8, correlationId: 1, clientId: 'c', connectionId: 5, remoteAddress: '127.0.0.1:1', receivedAtMs: performance.now(), log };
    const request = (offset: bigint) => ({
      ...offsetCommitRequest.create(),
      groupId: 'ordered',
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: offset, committedLeaderEpoch: -1, commitTimestamp: -1n, committedMetadata: null }] }],
    });
    await Promise.all([api.run(request(1n), context), api.run(request(2n), context)]);
    assert.equal(s.coordinator.group('ordered')?.offset('t', 0)?.offset, 2n);
  });

  test('OffsetDelete: unknown topics refused per partition, group errors at the top', async () => {
    const s = await setup();
    await s.coordinator.commitOffsets({
      groupId: 'od',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      offsets: [0, 1].map((partition) => ({ topic: 't', partition, offset: 5n, leaderEpoch: -1, metadata: null })),
    });
    const r = await call(s, offsetDeleteRequest, offsetDeleteResponse, 0, {
      groupId: 'od',
      topics: [
        { name: 't', partitions: [{ partitionIndex: 0 }, { partitionIndex: 9 }] },
        { name: 'nope', partitions: [{ partitionIndex: 0 }] },
      ],
    });
    assert.equal(r.errorCode, 0);
    assert.deepEqual(
      r.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]),
      [
        ['t', [[0, 0], [9, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
        ['nope', [[0, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION]]],
      ],
    );
    assert.equal(s.coordinator.group('od')?.offset('t', 0), undefined);
    assert.equal(s.coordinator.group('od')?.offset('t', 1)?.offset, 5n);
    const missing = await call(s, offsetDeleteRequest, offsetDeleteResponse, 0, { groupId: 'nobody', topics: [{ name: 't', partitions: [{ partitionIndex: 0 }] }] });
    assert.equal(missing.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    assert.deepEqual(missing.topics, []);
  });

  test('DescribeGroups, ListGroups and DeleteGroups at every version', async () => {
    const s = await setup();
    const joined = s.coordinator.join({
      groupId: 'live',
      memberId: '',
      groupInstanceId: 'inst',
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: subscription('t') }],
      sessionTimeoutMs: 5000,
      rebalanceTimeoutMs: 5000,
      clientId: 'app',
      clientHost: '/10.0.0.1',
      requireKnownMemberId: false,
      supportSkippingAssignment: false,
    });
    s.clock.advance(0);
    const j = await joined;
    await s.coordinator.sync({ groupId: 'live', generationId: 1, memberId: j.memberId, groupInstanceId: 'inst', protocolType: null, protocolName: null, assignments: [{ memberId: j.memberId, assignment: Buffer.from('A') }] });
    await s.coordinator.commitOffsets({ groupId: 'idle', generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: null }] });

    for (const v of versions(describeGroupsRequest)) {
      const r = await call(s, describeGroupsRequest, describeGroupsResponse, v, { groups: ['live', 'ghost'], includeAuthorizedOperations: true });
      const live = r.groups[0]!;
      assert.deepEqual([live.groupId, live.groupState, live.protocolType, live.protocolData, live.errorCode], ['live', 'Stable', 'consumer', 'range', 0]);
      assert.equal(live.members[0]?.memberAssignment.toString(), 'A');
      assert.ok(live.members[0]?.memberMetadata.equals(subscription('t')));
      assert.equal(live.members[0]?.groupInstanceId, v >= 4 ? 'inst' : null);
      assert.equal(live.members[0]?.clientId, 'app');
      assert.equal(live.authorizedOperations, v >= 3 ? (1 << 3) | (1 << 6) | (1 << 8) : -2147483648);
      assert.deepEqual([r.groups[1]?.groupState, r.groups[1]?.members], ['Dead', []]);
    }
    for (const v of versions(listGroupsRequest)) {
      const all = await call(s, listGroupsRequest, listGroupsResponse, v, {});
      assert.deepEqual(
        all.groups.map((g) => [g.groupId, g.protocolType, g.groupState, g.groupType]).sort(),
        [
          ['idle', '', v >= 4 ? 'Empty' : '', v >= 5 ? 'classic' : ''],
          ['live', 'consumer', v >= 4 ? 'Stable' : '', v >= 5 ? 'classic' : ''],
        ],
        `v${v}`,
      );
      if (v >= 4) {
        const stable = await call(s, listGroupsRequest, listGroupsResponse, v, { statesFilter: ['Stable'] });
        assert.deepEqual(stable.groups.map((g) => g.groupId), ['live']);
      }
      if (v >= 5) {
        const consumerType = await call(s, listGroupsRequest, listGroupsResponse, v, { typesFilter: ['consumer'] });
        assert.deepEqual(consumerType.groups, []);
      }
    }
    for (const v of versions(deleteGroupsRequest)) {
      const r = await call(s, deleteGroupsRequest, deleteGroupsResponse, v, { groupsNames: ['live', 'ghost'] });
      assert.deepEqual(r.results.map((x) => [x.groupId, x.errorCode]), [
        ['live', ErrorCode.NON_EMPTY_GROUP],
        ['ghost', ErrorCode.GROUP_ID_NOT_FOUND],
      ]);
    }
    const deleted = await call(s, deleteGroupsRequest, deleteGroupsResponse, 2, { groupsNames: ['idle'] });
    assert.deepEqual(deleted.results, [{ groupId: 'idle', errorCode: 0 }]);
  });

  test('client hosts are reported as Kafka does', () => {
    assert.equal(clientHost('127.0.0.1:5000'), '/127.0.0.1');
    assert.equal(clientHost('::ffff:10.0.0.2:5000'), '/10.0.0.2');
    assert.equal(clientHost('::1:5000'), '/::1');
  });
});
