/** Committed offsets through the coordinator, with an in-memory store (no I/O) and a manual clock. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GroupCoordinator, type OffsetCommitParams } from '../../src/groups/coordinator.js';
import { InMemoryOffsetStore, type CommittedOffset, type OffsetStore } from '../../src/groups/offset-store.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { formGroup, GROUP, harness, joinParams, protocols, settle, stableGroup, subscription, syncParams, track } from './helpers.js';
import { ManualScheduler } from './manual-scheduler.js';

function commit(overrides: Partial<OffsetCommitParams> & { offsets?: OffsetCommitParams['offsets'] } = {}): OffsetCommitParams {
  return {
    groupId: GROUP,
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    offsets: [{ topic: 't', partition: 0, offset: 10n, leaderEpoch: 3, metadata: 'meta' }],
    ...overrides,
  };
}

function fetched(h: { coordinator: GroupCoordinator }, groupId = GROUP, topic = 't', partition = 0) {
  return h.coordinator.fetchOffsets(groupId, [{ topic, partitions: [partition] }]).topics[0]?.partitions[0];
}

/** A store whose writes wait until released, and can be told to fail. */
class ControlledStore implements OffsetStore {
  readonly inner = new InMemoryOffsetStore();
  readonly waiting: { release: () => void; fail: (err: Error) => void; op: string }[] = [];
  hold = false;
  failWith: Error | undefined;

  loadAll() {
    return this.inner.loadAll();
  }

  loadGroup(groupId: string) {
    return this.inner.loadGroup(groupId);
  }

  put(groupId: string, topic: string, partition: number, offset: CommittedOffset) {
    return this.gate(`put ${topic}-${partition}=${offset.offset}`, () => this.inner.put(groupId, topic, partition, offset));
  }

  delete(groupId: string, topic: string, partition: number) {
    return this.gate(`delete ${topic}-${partition}`, () => this.inner.delete(groupId, topic, partition));
  }

  private async gate(op: string, run: () => Promise<void>): Promise<void> {
    if (this.failWith !== undefined) throw this.failWith;
    if (this.hold) {
      await new Promise<void>((release, fail) => this.waiting.push({ release, fail, op }));
    }
    await run();
  }
}

describe('OffsetCommit', () => {
  test('a member of the current generation commits; OffsetFetch returns offset, leader epoch and metadata', async () => {
    const h = await harness();
    const [a] = await stableGroup(h, 1);
    const codes = await h.coordinator.commitOffsets(commit({ generationId: 1, memberId: a!.memberId }));
    assert.deepEqual(codes, [ErrorCode.NONE]);
    assert.deepEqual(fetched(h), { partition: 0, offset: 10n, leaderEpoch: 3, metadata: 'meta', errorCode: ErrorCode.NONE });
    const stored = await h.store.loadGroup(GROUP);
    assert.equal(stored.length, 1);
    assert.equal(stored[0]?.commitTimestampMs, h.clock.now());
    assert.equal(stored[0]?.expireTimestampMs, null);
  });

  test('generation and member checks: ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS while completing', async () => {
    const h = await harness();
    assert.deepEqual(await h.coordinator.commitOffsets(commit({ generationId: 1, memberId: 'm' })), [ErrorCode.ILLEGAL_GENERATION], 'no such group');
    const [a, b] = await formGroup(h, 2);
    assert.deepEqual(await h.coordinator.commitOffsets(commit({ generationId: 1, memberId: a!.memberId })), [ErrorCode.REBALANCE_IN_PROGRESS]);
    await h.coordinator.sync(syncParams({ memberId: a!.memberId, generationId: 1 }));
    assert.deepEqual(await h.coordinator.commitOffsets(commit({ generationId: 0, memberId: a!.memberId })), [ErrorCode.ILLEGAL_GENERATION]);
    assert.deepEqual(await h.coordinator.commitOffsets(commit({ generationId: 1, memberId: 'ghost' })), [ErrorCode.UNKNOWN_MEMBER_ID]);
    assert.deepEqual(await h.coordinator.commitOffsets(commit()), [ErrorCode.UNKNOWN_MEMBER_ID], 'no member id while the group has members');
    // During a rebalance, the current generation may still commit (it learns of the rebalance by heartbeat).
    track(h.coordinator.join(joinParams({ memberId: a!.memberId })));
    assert.equal(h.coordinator.group(GROUP)?.state, 'PreparingRebalance');
    assert.deepEqual(await h.coordinator.commitOffsets(commit({ generationId: 1, memberId: b!.memberId })), [ErrorCode.NONE]);
  });

  test('without group management (generation -1, no member id): creates the group, allowed while it is empty', async () => {
    const h = await harness();
    assert.deepEqual(await h.coordinator.commitOffsets(commit({ groupId: 'standalone' })), [ErrorCode.NONE]);
    const group = h.coordinator.group('standalone')!;
    assert.equal(group.state, 'Empty');
    assert.equal(group.protocolType, null);
    assert.equal(fetched(h, 'standalone')?.offset, 10n);
    // An admin tool resetting offsets of an empty consumer group (generation -1 and a member id).
    const [a] = await stableGroup(h, 1);
    h.coordinator.leave(GROUP, [{ memberId: a!.memberId, groupInstanceId: null }]);
    assert.equal(h.coordinator.group(GROUP)?.state, 'Empty');
    assert.deepEqual(await h.coordinator.commitOffsets(commit({ memberId: 'admin' })), [ErrorCode.NONE]);
  });

  test('metadata over offset.metadata.max.bytes: OFFSET_METADATA_TOO_LARGE for that partition only', async () => {
    const h = await harness({ offsetMetadataMaxBytes: 4 });
    const codes = await h.coordinator.commitOffsets(
      commit({
        offsets: [
          { topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: 'short' },
          { topic: 't', partition: 1, offset: 1n, leaderEpoch: -1, metadata: 'ok' },
          { topic: 't', partition: 2, offset: 1n, leaderEpoch: -1, metadata: null },
        ],
      }),
    );
    assert.deepEqual(codes, [ErrorCode.OFFSET_METADATA_TOO_LARGE, ErrorCode.NONE, ErrorCode.NONE]);
    assert.equal(fetched(h, GROUP, 't', 2)?.metadata, '', 'null metadata is kept as ""');
  });

  test('an empty group id cannot be stored: INVALID_GROUP_ID', async () => {
    const h = await harness();
    assert.deepEqual(await h.coordinator.commitOffsets(commit({ groupId: '' })), [ErrorCode.INVALID_GROUP_ID]);
  });

  test('v1 commit timestamps and v2-v4 retention times are kept', async () => {
    const h = await harness();
    await h.coordinator.commitOffsets(
      commit({ retentionTimeMs: 60_000, offsets: [{ topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: null, commitTimestampMs: 1234 }] }),
    );
    const [stored] = await h.store.loadGroup(GROUP);
    assert.equal(stored?.commitTimestampMs, 1234);
    assert.equal(stored?.expireTimestampMs, 61_234);
  });

  test('a commit is answered only after the store has it; a failed write answers COORDINATOR_NOT_AVAILABLE and changes nothing', async () => {
    const store = new ControlledStore();
    const h = await harness({}, store);
    store.hold = true;
    const pending = track(h.coordinator.commitOffsets(commit()));
    await settle();
    assert.equal(pending.done, false);
    assert.equal(fetched(h)?.offset, -1n, 'not visible before the store has it');
    store.waiting.shift()!.release();
    await settle();
    assert.deepEqual(pending.value, [ErrorCode.NONE]);
    assert.equal(fetched(h)?.offset, 10n);

    store.hold = false;
    store.failWith = new Error('DynamoDB unreachable');
    assert.deepEqual(await h.coordinator.commitOffsets(commit({ offsets: [{ topic: 't', partition: 0, offset: 99n, leaderEpoch: -1, metadata: null }] })), [
      ErrorCode.COORDINATOR_NOT_AVAILABLE,
    ]);
    assert.equal(fetched(h)?.offset, 10n);
  });

  test('writes to one offset happen in commit order, even when the store is slow', async () => {
    const store = new ControlledStore();
    const h = await harness({}, store);
    store.hold = true;
    const first = track(h.coordinator.commitOffsets(commit({ offsets: [{ topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: null }] })));
    const second = track(h.coordinator.commitOffsets(commit({ offsets: [{ topic: 't', partition: 0, offset: 2n, leaderEpoch: -1, metadata: null }] })));
    const other = track(h.coordinator.commitOffsets(commit({ offsets: [{ topic: 't', partition: 1, offset: 7n, leaderEpoch: -1, metadata: null }] })));
    await settle();
    // Partition 0's second write waits for its first; partition 1 goes at once.
    assert.deepEqual(store.waiting.map((w) => w.op), ['put t-0=1', 'put t-1=7']);
    store.waiting.splice(1, 1)[0]!.release();
    await settle();
    assert.ok(other.done);
    store.waiting.shift()!.release();
    await settle();
    assert.deepEqual(store.waiting.map((w) => w.op), ['put t-0=2']);
    store.waiting.shift()!.release();
    await settle();
    assert.ok(first.done && second.done);
    assert.equal((await store.inner.loadGroup(GROUP)).find((o) => o.partition === 0)?.offset, 2n);
    assert.equal(fetched(h)?.offset, 2n);
  });
});

describe('OffsetFetch', () => {
  test('partitions without a commit, and unknown groups, answer offset -1 with empty metadata', async () => {
    const h = await harness();
    assert.deepEqual(fetched(h, 'nobody'), { partition: 0, offset: -1n, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE });
    assert.deepEqual(h.coordinator.fetchOffsets('nobody', null), { errorCode: ErrorCode.NONE, topics: [] });
  });

  test('null topics return every committed offset of the group', async () => {
    const h = await harness();
    await h.coordinator.commitOffsets(
      commit({
        offsets: [
          { topic: 'a', partition: 0, offset: 1n, leaderEpoch: -1, metadata: null },
          { topic: 'a', partition: 2, offset: 5n, leaderEpoch: -1, metadata: null },
          { topic: 'b', partition: 1, offset: 9n, leaderEpoch: 4, metadata: 'x' },
        ],
      }),
    );
    const all = h.coordinator.fetchOffsets(GROUP, null);
    assert.deepEqual(
      all.topics.map((t) => [t.topic, t.partitions.map((p) => [p.partition, p.offset])]),
      [
        ['a', [[0, 1n], [2, 5n]]],
        ['b', [[1, 9n]]],
      ],
    );
  });

  test('committed offsets survive a coordinator restart on the same store; the group comes back empty', async () => {
    const store = new InMemoryOffsetStore();
    const h = await harness({}, store);
    const [a] = await stableGroup(h, 1);
    await h.coordinator.commitOffsets(commit({ generationId: 1, memberId: a!.memberId }));
    await h.coordinator.close();

    const restarted = new GroupCoordinator({ store, scheduler: new ManualScheduler() });
    await restarted.start();
    assert.equal(restarted.fetchOffsets(GROUP, [{ topic: 't', partitions: [0] }]).topics[0]?.partitions[0]?.offset, 10n);
    assert.equal(restarted.group(GROUP)?.state, 'Empty');
    assert.deepEqual(restarted.listGroups().groups.map((g) => [g.groupId, g.state]), [[GROUP, 'Empty']]);
    // The old member learns it must rejoin.
    assert.equal(restarted.heartbeat({ groupId: GROUP, generationId: 1, memberId: a!.memberId, groupInstanceId: null }), ErrorCode.UNKNOWN_MEMBER_ID);
    assert.deepEqual(await restarted.commitOffsets(commit({ generationId: 1, memberId: a!.memberId })), [ErrorCode.UNKNOWN_MEMBER_ID]);
    await restarted.close();
  });
});

describe('OffsetDelete', () => {
  test('an empty group loses the offsets; the group goes once it has none', async () => {
    const h = await harness();
    await h.coordinator.commitOffsets(
      commit({ offsets: [0, 1].map((partition) => ({ topic: 't', partition, offset: 1n, leaderEpoch: -1, metadata: null })) }),
    );
    let out = await h.coordinator.deleteOffsets(GROUP, [{ topic: 't', partition: 0 }]);
    assert.deepEqual(out, { errorCode: ErrorCode.NONE, partitionErrors: [ErrorCode.NONE] });
    assert.equal(fetched(h)?.offset, -1n);
    assert.ok(h.coordinator.group(GROUP));
    out = await h.coordinator.deleteOffsets(GROUP, [{ topic: 't', partition: 1 }, { topic: 'never', partition: 0 }]);
    assert.deepEqual(out.partitionErrors, [ErrorCode.NONE, ErrorCode.NONE]);
    assert.equal(h.coordinator.group(GROUP), undefined);
    assert.deepEqual(await h.store.loadAll(), []);
  });

  test('a consumer group with members keeps offsets of topics it subscribes to', async () => {
    const h = await harness();
    const [a] = await stableGroup(h, 1, { protocols: protocols(['range'], subscription('t')) });
    await h.coordinator.commitOffsets(
      commit({
        generationId: 1,
        memberId: a!.memberId,
        offsets: [
          { topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: null },
          { topic: 'old', partition: 0, offset: 1n, leaderEpoch: -1, metadata: null },
        ],
      }),
    );
    const out = await h.coordinator.deleteOffsets(GROUP, [{ topic: 't', partition: 0 }, { topic: 'old', partition: 0 }]);
    assert.deepEqual(out.partitionErrors, [ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC, ErrorCode.NONE]);
    assert.equal(fetched(h)?.offset, 1n);
    assert.equal(fetched(h, GROUP, 'old')?.offset, -1n);
  });

  test('unknown group: GROUP_ID_NOT_FOUND; a non-consumer group with members: NON_EMPTY_GROUP', async () => {
    const h = await harness();
    assert.equal((await h.coordinator.deleteOffsets('nobody', [{ topic: 't', partition: 0 }])).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    await stableGroup(h, 1, { protocolType: 'connect' });
    assert.equal((await h.coordinator.deleteOffsets(GROUP, [{ topic: 't', partition: 0 }])).errorCode, ErrorCode.NON_EMPTY_GROUP);
  });
});

describe('DeleteGroups and offsets', () => {
  test('offsets a failing store could not delete stay visible, and the result says COORDINATOR_NOT_AVAILABLE', async () => {
    const store = new ControlledStore();
    const h = await harness({}, store);
    await h.coordinator.commitOffsets(commit());
    store.failWith = new Error('throttled');
    const results = await h.coordinator.deleteGroups([GROUP]);
    assert.equal(results.get(GROUP), ErrorCode.COORDINATOR_NOT_AVAILABLE);
    assert.equal(fetched(h)?.offset, 10n);
    store.failWith = undefined;
    assert.equal((await h.coordinator.deleteGroups([GROUP])).get(GROUP), ErrorCode.NONE);
    assert.deepEqual(await store.inner.loadAll(), []);
  });

  test('a commit still being written when the group is deleted is deleted after it', async () => {
    const store = new ControlledStore();
    const h = await harness({}, store);
    store.hold = true;
    const pending = track(h.coordinator.commitOffsets(commit()));
    await settle();
    const deleted = track(h.coordinator.deleteGroups([GROUP]));
    await settle();
    assert.deepEqual(store.waiting.map((w) => w.op), ['put t-0=10']);
    store.waiting.shift()!.release();
    await settle();
    assert.deepEqual(store.waiting.map((w) => w.op), ['delete t-0']);
    store.waiting.shift()!.release();
    await settle();
    assert.ok(pending.done);
    assert.equal(deleted.value.get(GROUP), ErrorCode.NONE);
    assert.deepEqual(await store.inner.loadAll(), []);
  });
});

describe('retention cleanup', () => {
  const DAY = 24 * 60 * 60 * 1000;

  test('offsets of an empty group expire offsets.retention after it became empty; then the group goes', async () => {
    const h = await harness({ offsetsRetentionMs: 7 * DAY, offsetsRetentionCheckIntervalMs: DAY });
    const [a] = await stableGroup(h, 1);
    await h.coordinator.commitOffsets(commit({ generationId: 1, memberId: a!.memberId }));
    h.clock.advance(3 * DAY - 1000);
    // Still stable: nothing expires however old the commit.
    h.coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: a!.memberId, groupInstanceId: null });
    h.coordinator.leave(GROUP, [{ memberId: a!.memberId, groupInstanceId: null }]);
    assert.equal(h.coordinator.group(GROUP)?.state, 'Empty');
    h.clock.advance(6 * DAY);
    await settle();
    assert.equal(fetched(h)?.offset, 10n);
    h.clock.advance(DAY);
    await settle();
    await settle();
    assert.equal(h.coordinator.group(GROUP), undefined);
    assert.deepEqual(await h.store.loadAll(), []);
  });

  test('standalone offsets expire by commit time; an explicit retention time wins', async () => {
    const h = await harness({ offsetsRetentionMs: 7 * DAY });
    await h.coordinator.commitOffsets(commit({ groupId: 'plain' }));
    await h.coordinator.commitOffsets(commit({ groupId: 'short', retentionTimeMs: DAY }));
    h.clock.advance(DAY);
    assert.equal(await h.coordinator.cleanup(), 1);
    assert.equal(h.coordinator.group('short'), undefined);
    h.clock.advance(6 * DAY);
    assert.equal(await h.coordinator.cleanup(), 1);
    assert.equal(h.coordinator.group('plain'), undefined);
  });

  test('a stable consumer group keeps offsets of subscribed topics and expires the others by commit time', async () => {
    const h = await harness({ offsetsRetentionMs: 100_000, offsetsRetentionCheckIntervalMs: 10 * DAY });
    const [a] = await stableGroup(h, 1, { sessionTimeoutMs: 60_000, protocols: protocols(['range'], subscription('t')) });
    await h.coordinator.commitOffsets(
      commit({
        generationId: 1,
        memberId: a!.memberId,
        offsets: [
          { topic: 't', partition: 0, offset: 1n, leaderEpoch: -1, metadata: null },
          { topic: 'gone', partition: 0, offset: 1n, leaderEpoch: -1, metadata: null },
        ],
      }),
    );
    for (let i = 0; i < 3; i++) {
      h.clock.advance(40_000);
      h.coordinator.heartbeat({ groupId: GROUP, generationId: 1, memberId: a!.memberId, groupInstanceId: null });
    }
    assert.equal(h.coordinator.group(GROUP)?.state, 'Stable');
    assert.equal(await h.coordinator.cleanup(), 1);
    assert.equal(fetched(h, GROUP, 't')?.offset, 1n);
    assert.equal(fetched(h, GROUP, 'gone')?.offset, -1n);
  });

  test('empty groups with neither members nor offsets are forgotten at cleanup', async () => {
    const h = await harness();
    const rejected = await h.coordinator.join(joinParams({ protocols: [] }));
    assert.equal(rejected.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    assert.equal(h.coordinator.group(GROUP)?.state, 'Empty');
    await h.coordinator.cleanup();
    assert.equal(h.coordinator.group(GROUP), undefined);
  });
});
