import { GroupCoordinator, type JoinGroupParams, type SyncGroupParams } from '../../src/groups/coordinator.js';
import type { GroupCoordinatorConfig } from '../../src/groups/config.js';
import type { JoinGroupResult, MemberProtocol } from '../../src/groups/group.js';
import { InMemoryOffsetStore, type OffsetStore } from '../../src/groups/offset-store.js';
import { consumerProtocolSubscription } from '../../src/protocol/messages/index.js';
import { Writer } from '../../src/protocol/primitives.js';
import { ManualScheduler } from './manual-scheduler.js';

export const GROUP = 'g';

/** Consumer-protocol subscription metadata (version 0) for these topics. */
export function subscription(...topics: string[]): Buffer {
  const w = new Writer();
  w.int16(0);
  consumerProtocolSubscription.encode(w, { ...consumerProtocolSubscription.create(), topics }, 0);
  return Buffer.from(w.finish());
}

export function protocols(names: string[] = ['range'], metadata: Buffer = subscription('t')): MemberProtocol[] {
  return names.map((name) => ({ name, metadata }));
}

export function joinParams(overrides: Partial<JoinGroupParams> = {}): JoinGroupParams {
  return {
    groupId: GROUP,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: protocols(),
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 30_000,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    requireKnownMemberId: false,
    supportSkippingAssignment: false,
    ...overrides,
  };
}

export function syncParams(overrides: Partial<SyncGroupParams> & { memberId: string; generationId: number }): SyncGroupParams {
  return { groupId: GROUP, groupInstanceId: null, protocolType: null, protocolName: null, assignments: [], ...overrides };
}

/** A promise whose outcome can be looked at without awaiting it. */
export interface Tracked<T> {
  readonly done: boolean;
  readonly value: T;
}

export function track<T>(promise: Promise<T>): Tracked<T> {
  const state = { done: false, value: undefined as T };
  void promise.then((value) => {
    state.done = true;
    state.value = value;
  });
  return state;
}

/** Lets resolved promises run their continuations. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export const TEST_CONFIG: Partial<GroupCoordinatorConfig> = {
  initialRebalanceDelayMs: 100,
  minSessionTimeoutMs: 1000,
  maxSessionTimeoutMs: 60_000,
};

export interface Harness {
  readonly coordinator: GroupCoordinator;
  readonly clock: ManualScheduler;
  readonly store: OffsetStore;
}

export async function harness(config: Partial<GroupCoordinatorConfig> = {}, store: OffsetStore = new InMemoryOffsetStore()): Promise<Harness> {
  const clock = new ManualScheduler();
  const coordinator = new GroupCoordinator({ store, scheduler: clock, config: { ...TEST_CONFIG, ...config } });
  await coordinator.start();
  return { coordinator, clock, store };
}

/** Joins `count` dynamic members to a new group and waits out the initial delay; returns their join results (leader first). */
export async function formGroup(h: Harness, count: number, params: Partial<JoinGroupParams> = {}): Promise<JoinGroupResult[]> {
  const joins = Array.from({ length: count }, (_, i) => track(h.coordinator.join(joinParams({ clientId: `c${i}`, ...params }))));
  // Members arriving during the initial delay extend it once more.
  h.clock.advance(2 * h.coordinator.config.initialRebalanceDelayMs);
  await settle();
  if (!joins.every((j) => j.done)) throw new Error('join phase did not complete');
  return joins.map((j) => j.value);
}

/** Forms a group and completes its SyncGroup round: a stable group whose members hold "a-<memberId>". */
export async function stableGroup(h: Harness, count: number, params: Partial<JoinGroupParams> = {}): Promise<JoinGroupResult[]> {
  const joined = await formGroup(h, count, params);
  const leader = joined.find((j) => j.memberId === j.leader);
  if (leader === undefined) throw new Error('no leader');
  const assignments = joined.map((j) => ({ memberId: j.memberId, assignment: Buffer.from(`a-${j.memberId}`) }));
  const syncs = joined.map((j) =>
    track(
      h.coordinator.sync(
        syncParams({
          memberId: j.memberId,
          generationId: j.generationId,
          assignments: j.memberId === leader.memberId ? assignments : [],
        }),
      ),
    ),
  );
  await settle();
  if (!syncs.every((s) => s.done && s.value.errorCode === 0)) throw new Error('sync did not complete');
  return joined;
}
