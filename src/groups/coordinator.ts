/**
 * The group coordinator: Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup) over in-memory groups, and committed offsets written through to an OffsetStore.
 *
 * It follows Apache Kafka's GroupCoordinator: the same states, transitions, timers (session
 * timeout, rebalance timeout, group.initial.rebalance.delay.ms, pending-sync expiry) and error
 * codes, so clients see the behaviour they were written against. Membership lives only in
 * memory: after a coordinator restart, members learn (UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION)
 * that they must rejoin. Committed offsets live in the store; a commit is answered only once the
 * store has it.
 *
 * Time comes from an injected Scheduler and nothing here does I/O except through the OffsetStore,
 * so the state machine runs in unit tests on a manual clock.
 *
 * JavaScript runs one callback at a time, which gives the per-group atomicity Kafka gets from
 * its group locks: every state change below happens synchronously between awaits.
 */
import { randomUUID } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { ErrorCode } from '../protocol/errors.js';
import { groupCoordinatorConfig, type GroupCoordinatorConfig } from './config.js';
import {
  ClassicGroup,
  GroupMember,
  joinError,
  protocolNames,
  syncError,
  UNKNOWN_MEMBER_ID,
  type GroupState,
  type JoinGroupMemberEntry,
  type JoinGroupResult,
  type MemberProtocol,
  type SyncGroupResult,
} from './group.js';
import type { CommittedOffset, OffsetStore, StoredOffset } from './offset-store.js';
import { systemScheduler, type Scheduler, type TimerHandle } from './scheduler.js';

export type CoordinatorStatus = 'loading' | 'active' | 'closed';

/** The group APIs, for the group-id checks that differ between them. */
export type GroupApi =
  | 'JoinGroup'
  | 'SyncGroup'
  | 'Heartbeat'
  | 'LeaveGroup'
  | 'OffsetCommit'
  | 'OffsetFetch'
  | 'OffsetDelete'
  | 'DescribeGroups'
  | 'DeleteGroups';

/** Kafka accepts an empty group id for these (offset storage without group management, admin). */
const EMPTY_GROUP_ID_ALLOWED: ReadonlySet<GroupApi> = new Set(['OffsetCommit', 'OffsetFetch', 'DescribeGroups', 'DeleteGroups']);

/** The group type ListGroups v5+ reports: every group here uses the classic protocol. */
export const CLASSIC_GROUP_TYPE = 'classic';

const EMPTY = Buffer.alloc(0);

export type MemberRemovalReason = 'leave' | 'session-timeout' | 'join-timeout' | 'rebalance-timeout' | 'sync-timeout' | 'group-full';

/** Optional observers, for metrics. */
export interface GroupCoordinatorHooks {
  rebalanceCompleted?(groupId: string, generationId: number, memberCount: number): void;
  memberRemoved?(groupId: string, memberId: string, reason: MemberRemovalReason): void;
  offsetsCommitted?(groupId: string, committed: number, failed: number): void;
}

export interface GroupCoordinatorOptions {
  readonly store: OffsetStore;
  readonly config?: Partial<GroupCoordinatorConfig>;
  readonly scheduler?: Scheduler;
  /** Whether this node coordinates the group (DESIGN.md section 5); a single node coordinates all. */
  readonly isLocal?: (groupId: string) => boolean;
  /**
   * Whether this node is the only coordinator there can be (default: always). While it is, a
   * group it holds nothing of is new; once other nodes may coordinate groups, a group that
   * becomes local is loaded from the store before it is served (COORDINATOR_LOAD_IN_PROGRESS
   * meanwhile), and groups that stop being local are dropped (see ownershipChanged()).
   */
  readonly isSoleCoordinator?: () => boolean;
  readonly log?: Logger;
  readonly hooks?: GroupCoordinatorHooks;
}

export interface JoinGroupParams {
  readonly groupId: string;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly protocolType: string;
  readonly protocols: readonly MemberProtocol[];
  readonly sessionTimeoutMs: number;
  /** JoinGroup v0 has none: pass the session timeout. */
  readonly rebalanceTimeoutMs: number;
  readonly clientId: string;
  readonly clientHost: string;
  /** v4+: a new dynamic member must first fetch its id (MEMBER_ID_REQUIRED). */
  readonly requireKnownMemberId: boolean;
  /** v9+ (KIP-814): a static leader rejoining a stable group may skip the assignment. */
  readonly supportSkippingAssignment: boolean;
  readonly reason?: string | null;
}

export interface SyncGroupParams {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly assignments: readonly { readonly memberId: string; readonly assignment: Buffer }[];
}

export interface HeartbeatParams {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export interface LeavingMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly reason?: string | null;
}

export interface LeaveGroupOutcome {
  readonly errorCode: number;
  readonly members: readonly { readonly memberId: string; readonly groupInstanceId: string | null; readonly errorCode: number }[];
}

export interface OffsetCommitEntry {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly leaderEpoch: number;
  readonly metadata: string | null;
  /** OffsetCommit v1 lets the client name the commit time; -1 or absent: now. */
  readonly commitTimestampMs?: number;
}

export interface OffsetCommitParams {
  readonly groupId: string;
  /** -1 with an empty member id: a commit from outside group management. */
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** OffsetCommit v2-v4 retention_time_ms; -1 (default) keeps the broker's retention. */
  readonly retentionTimeMs?: number;
  readonly offsets: readonly OffsetCommitEntry[];
}

export interface TopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

export interface FetchedOffset {
  readonly partition: number;
  readonly offset: bigint;
  readonly leaderEpoch: number;
  readonly metadata: string;
  readonly errorCode: number;
}

export interface OffsetFetchOutcome {
  readonly errorCode: number;
  readonly topics: readonly { readonly topic: string; readonly partitions: readonly FetchedOffset[] }[];
}

export interface OffsetDeleteOutcome {
  readonly errorCode: number;
  /** Per requested partition, in request order (empty when errorCode is set). */
  readonly partitionErrors: readonly number[];
}

export interface MemberDescription {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly metadata: Buffer;
  readonly assignment: Buffer;
}

export interface GroupDescription {
  readonly errorCode: number;
  readonly groupId: string;
  /** "" when the group could not be described (errorCode set). */
  readonly state: GroupState | '';
  readonly protocolType: string;
  /** The chosen protocol while Stable, else "". */
  readonly protocolData: string;
  readonly members: readonly MemberDescription[];
}

export interface ListedGroup {
  readonly groupId: string;
  readonly protocolType: string;
  readonly state: GroupState;
  readonly groupType: string;
}

export interface ListGroupsOutcome {
  readonly errorCode: number;
  readonly groups: readonly ListedGroup[];
}

export interface CommittedOffsetView {
  readonly groupId: string;
  readonly topic: string;
  readonly partition: number;
  readonly offset: CommittedOffset;
}

const NO_OFFSET: Omit<FetchedOffset, 'partition'> = { offset: -1n, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE };

function offsetKey(topic: string, partition: number): string {
  return `${topic}:${partition}`;
}

export class GroupCoordinator {
  readonly config: GroupCoordinatorConfig;
  private readonly store: OffsetStore;
  private readonly scheduler: Scheduler;
  private readonly isLocal: (groupId: string) => boolean;
  private readonly isSoleCoordinator: () => boolean;
  /** No other node can have coordinated a group since the offsets were loaded: an unknown group is new. */
  private complete = true;
  /** Groups loaded from the store since they became local (or known to have nothing stored). */
  private readonly verified = new Set<string>();
  /** Group loads under way; a load whose entry was replaced or removed is discarded. */
  private readonly loadingGroups = new Map<string, { readonly done: Promise<void> }>();
  /** A scan adopting every group that became local (after a placement change), if one runs. */
  private adopting: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly hooks: GroupCoordinatorHooks;
  private readonly groups = new Map<string, ClassicGroup>();
  private state: CoordinatorStatus = 'loading';
  private loaded: Promise<void> | undefined;
  private cleanupTimer: TimerHandle | undefined;
  private loadRetry: { timer: TimerHandle; wake: () => void } | undefined;

  constructor(options: GroupCoordinatorOptions) {
    this.config = groupCoordinatorConfig(options.config);
    this.store = options.store;
    this.scheduler = options.scheduler ?? systemScheduler;
    this.isLocal = options.isLocal ?? (() => true);
    this.isSoleCoordinator = options.isSoleCoordinator ?? (() => true);
    this.log = options.log ?? pino({ level: 'silent' });
    this.hooks = options.hooks ?? {};
  }

  get status(): CoordinatorStatus {
    return this.state;
  }

  // -------------------------------------------------------------------------------------------
  // Lifecycle

  /**
   * Loads every committed offset from the store, retrying while it is unreachable. Until that
   * finishes, group requests get COORDINATOR_LOAD_IN_PROGRESS. Resolves once active (or closed).
   */
  start(): Promise<void> {
    this.loaded ??= this.load();
    return this.loaded;
  }

  private async load(): Promise<void> {
    for (let attempt = 1; this.state === 'loading'; attempt++) {
      try {
        const started = this.scheduler.now();
        const soleAtStart = this.isSoleCoordinator();
        const offsets = await this.store.loadAll();
        if (this.state !== 'loading') return;
        // With other coordinators about, groups are loaded one by one as they become local.
        this.complete = soleAtStart && this.isSoleCoordinator();
        for (const stored of this.complete ? offsets : []) {
          if (!this.isLocal(stored.groupId)) continue;
          let group = this.groups.get(stored.groupId);
          if (group === undefined) this.groups.set(stored.groupId, (group = new ClassicGroup(stored.groupId, null)));
          group.setOffset(stored.topic, stored.partition, committedOffset(stored));
        }
        this.state = 'active';
        this.scheduleCleanup();
        this.log.info(
          { groups: this.groups.size, offsets: offsets.length, ms: this.scheduler.now() - started },
          'group coordinator loaded committed offsets',
        );
      } catch (err) {
        this.log.warn({ err, attempt }, 'group coordinator cannot load committed offsets yet; retrying');
        await new Promise<void>((resolve) => {
          const timer = this.scheduler.schedule(this.config.loadRetryBackoffMs, resolve);
          this.loadRetry = { timer, wake: resolve };
        });
        this.loadRetry = undefined;
      }
    }
  }

  /**
   * Stops coordinating: waiting JoinGroup and SyncGroup requests get NOT_COORDINATOR (their
   * clients look the coordinator up again), timers stop, and every later request gets
   * COORDINATOR_NOT_AVAILABLE. Resolves once the offset writes already under way have finished.
   */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.cleanupTimer?.cancel();
    if (this.loadRetry !== undefined) {
      this.loadRetry.timer.cancel();
      this.loadRetry.wake();
    }
    const writes: Promise<void>[] = [];
    for (const group of this.groups.values()) {
      writes.push(...group.offsetWrites.values());
      this.unload(group, ErrorCode.NOT_COORDINATOR);
    }
    this.groups.clear();
    await Promise.all(writes);
  }

  private unload(group: ClassicGroup, errorCode: number): void {
    group.joinTimer?.handle.cancel();
    group.joinTimer = undefined;
    group.syncTimer?.cancel();
    group.syncTimer = undefined;
    for (const expiry of group.pendingMembers.values()) expiry.cancel();
    group.pendingMembers.clear();
    for (const member of group.members.values()) {
      member.heartbeatTimer?.cancel();
      member.heartbeatTimer = undefined;
      group.completeJoin(member, joinError(member.memberId, errorCode));
      member.completeSync(syncError(errorCode));
    }
  }

  /** The group, for inspection (tests, metrics); undefined when unknown. */
  group(groupId: string): ClassicGroup | undefined {
    return this.groups.get(groupId);
  }

  /** Every committed offset held (for consumer-lag metrics). */
  *committedOffsets(): Iterable<CommittedOffsetView> {
    for (const group of this.groups.values()) {
      for (const [topic, partitions] of group.offsets) {
        for (const [partition, offset] of partitions) yield { groupId: group.groupId, topic, partition, offset };
      }
    }
  }

  /** The error every request for this group gets before the group itself is looked at, or NONE. */
  groupStatusError(groupId: string, api: GroupApi): number {
    if (groupId === '' && !EMPTY_GROUP_ID_ALLOWED.has(api)) return ErrorCode.INVALID_GROUP_ID;
    if (this.state === 'closed') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (this.state === 'loading') return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    if (!this.isLocal(groupId)) return ErrorCode.NOT_COORDINATOR;
    if (!this.isGroupLoaded(groupId)) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  /**
   * Whether what this node holds of the group is all there is: a group in memory always is
   * (groups that stop being local are dropped); an unknown one is new while this node is the
   * sole coordinator, and otherwise is loaded from the store first (started here).
   */
  private isGroupLoaded(groupId: string): boolean {
    if (this.groups.has(groupId) || this.verified.has(groupId)) return true;
    if (this.complete && this.isSoleCoordinator()) return true;
    this.complete = false;
    if (!this.loadingGroups.has(groupId)) this.loadGroup(groupId);
    return false;
  }

  private loadGroup(groupId: string): void {
    const token: { done: Promise<void> } = { done: Promise.resolve() };
    this.loadingGroups.set(groupId, token);
    const current = (): boolean => this.loadingGroups.get(groupId) === token && this.state === 'active' && this.isLocal(groupId);
    token.done = this.store.loadGroup(groupId).then(
      (offsets) => {
        if (!current()) return;
        this.adopt(groupId, offsets);
        this.log.info({ groupId, offsets: offsets.length }, 'group loaded: this node coordinates it now');
      },
      (err: unknown) => this.log.warn({ err, groupId }, 'loading the group failed; it is loaded again on its next request'),
    ).finally(() => {
      if (this.loadingGroups.get(groupId) === token) this.loadingGroups.delete(groupId);
    });
  }

  /** Takes a group's stored offsets as its state here (unless it is held already). */
  private adopt(groupId: string, offsets: readonly StoredOffset[]): void {
    if (this.groups.has(groupId) || this.verified.has(groupId)) return;
    if (offsets.length > 0) {
      const group = new ClassicGroup(groupId, null);
      for (const stored of offsets) {
        group.setOffset(stored.topic, stored.partition, committedOffset(stored));
      }
      this.groups.set(groupId, group);
    }
    this.verified.add(groupId);
  }

  /**
   * Runs `run` once the group is loaded, when it is local and being loaded now (so that the first
   * request after a group moved here waits a moment instead of failing); `run` answers
   * COORDINATOR_LOAD_IN_PROGRESS itself if the load failed.
   */
  private whenLoaded<T>(groupId: string, run: () => Promise<T>): Promise<T> {
    if (this.state !== 'active' || groupId === '' || !this.isLocal(groupId) || this.isGroupLoaded(groupId)) return run();
    const loading = this.loadingGroups.get(groupId);
    return loading === undefined ? run() : loading.done.then(run);
  }

  /**
   * Loads, in the background, every stored group that is local now and not held yet: after a
   * placement change, the groups that moved here are ready before their members come.
   */
  private adoptLocalGroups(): void {
    if (this.state !== 'active' || this.adopting !== undefined || !this.hasUnverifiedLocalGroups()) return;
    this.adopting = this.store
      .loadAll()
      .then(
        (offsets) => {
          if (this.state !== 'active') return;
          const byGroup = new Map<string, StoredOffset[]>();
          for (const o of offsets) byGroup.set(o.groupId, [...(byGroup.get(o.groupId) ?? []), o]);
          const adopted: string[] = [];
          for (const [groupId, stored] of byGroup) {
            if (!this.isLocal(groupId) || this.groups.has(groupId) || this.verified.has(groupId) || this.loadingGroups.has(groupId)) continue;
            this.adopt(groupId, stored);
            adopted.push(groupId);
          }
          if (adopted.length > 0) this.log.info({ groups: adopted }, 'groups loaded: this node coordinates them now');
        },
        (err: unknown) => this.log.warn({ err }, 'loading the groups that moved here failed; each is loaded on its next request'),
      )
      .finally(() => {
        this.adopting = undefined;
      });
  }

  /** Cheap pre-check for adoptLocalGroups(): this node coordinates some groups and is not the sole coordinator. */
  private hasUnverifiedLocalGroups(): boolean {
    return !(this.complete && this.isSoleCoordinator());
  }

  /**
   * The placement of groups may have changed (a node joined or left, or this node's own
   * membership is in doubt): groups that are no longer local are dropped, their waiting members
   * told NOT_COORDINATOR, so that they find the new coordinator, which loads the group afresh.
   */
  ownershipChanged(): void {
    if (!this.isSoleCoordinator()) this.complete = false;
    if (this.state === 'closed') return;
    const moved: string[] = [];
    for (const [groupId, group] of this.groups) {
      if (this.isLocal(groupId)) continue;
      this.unload(group, ErrorCode.NOT_COORDINATOR);
      this.groups.delete(groupId);
      moved.push(groupId);
    }
    for (const groupId of this.verified) if (!this.isLocal(groupId)) this.verified.delete(groupId);
    for (const groupId of this.loadingGroups.keys()) if (!this.isLocal(groupId)) this.loadingGroups.delete(groupId);
    if (moved.length > 0) this.log.info({ groups: moved }, 'groups moved to other nodes');
    this.adoptLocalGroups();
  }

  // -------------------------------------------------------------------------------------------
  // JoinGroup

  join(params: JoinGroupParams): Promise<JoinGroupResult> {
    return this.whenLoaded(params.groupId, () => this.joinLoaded(params));
  }

  private joinLoaded(params: JoinGroupParams): Promise<JoinGroupResult> {
    const statusError = this.groupStatusError(params.groupId, 'JoinGroup');
    if (statusError !== ErrorCode.NONE) return Promise.resolve(joinError(params.memberId, statusError));
    if (params.sessionTimeoutMs < this.config.minSessionTimeoutMs || params.sessionTimeoutMs > this.config.maxSessionTimeoutMs) {
      return Promise.resolve(joinError(params.memberId, ErrorCode.INVALID_SESSION_TIMEOUT));
    }
    const isUnknownMember = params.memberId === UNKNOWN_MEMBER_ID;
    let group = this.groups.get(params.groupId);
    if (group === undefined) {
      // A group is created by its first member; a known member id in an unknown group is stale.
      if (!isUnknownMember) return Promise.resolve(joinError(params.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
      group = new ClassicGroup(params.groupId, this.scheduler.now());
      this.groups.set(params.groupId, group);
    }
    const target = group;
    return new Promise<JoinGroupResult>((resolve) => {
      if (!this.acceptJoiningMember(target, params.memberId)) {
        if (target.remove(params.memberId) !== undefined) this.hooks.memberRemoved?.(target.groupId, params.memberId, 'group-full');
        resolve(joinError(UNKNOWN_MEMBER_ID, ErrorCode.GROUP_MAX_SIZE_REACHED));
      } else if (isUnknownMember) {
        this.newMemberJoin(target, params, resolve);
      } else {
        this.currentMemberJoin(target, params, resolve);
      }
      if (target.is('PreparingRebalance')) this.tryCompleteJoin(target);
    });
  }

  /**
   * group.max.size: while rebalancing, members already waiting are always taken and others only
   * while fewer than the maximum wait; otherwise known members are taken and new ones only below it.
   */
  private acceptJoiningMember(group: ClassicGroup, memberId: string): boolean {
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return true;
      case 'PreparingRebalance':
        return (group.has(memberId) && group.get(memberId).isAwaitingJoin) || group.numAwaitingJoin < this.config.maxGroupSize;
      case 'CompletingRebalance':
      case 'Stable':
        return group.has(memberId) || group.size < this.config.maxGroupSize;
    }
  }

  private newMemberJoin(group: ClassicGroup, params: JoinGroupParams, resolve: (result: JoinGroupResult) => void): void {
    if (group.is('Dead')) {
      resolve(joinError(UNKNOWN_MEMBER_ID, ErrorCode.COORDINATOR_NOT_AVAILABLE));
      return;
    }
    if (!group.supportsProtocols(params.protocolType, protocolNames(params.protocols))) {
      resolve(joinError(UNKNOWN_MEMBER_ID, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
      return;
    }
    const newMemberId = `${params.groupInstanceId ?? params.clientId}-${randomUUID()}`;
    if (params.groupInstanceId !== null) {
      const oldMemberId = group.staticMemberId(params.groupInstanceId);
      if (oldMemberId !== undefined) {
        this.log.info(
          { groupId: group.groupId, groupInstanceId: params.groupInstanceId, oldMemberId, newMemberId, state: group.state },
          'static member rejoins with a new member id',
        );
        this.replaceStaticMember(group, params.groupInstanceId, oldMemberId, newMemberId, params, resolve);
      } else {
        this.addMemberAndRebalance(group, newMemberId, params, resolve);
      }
    } else if (params.requireKnownMemberId) {
      // KIP-394: hand out the id first; the member joins for real with it.
      const expiry = this.scheduler.schedule(params.sessionTimeoutMs, () => this.onPendingMemberExpired(group, newMemberId));
      group.addPendingMember(newMemberId, expiry);
      resolve(joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED));
    } else {
      this.addMemberAndRebalance(group, newMemberId, params, resolve);
    }
  }

  private currentMemberJoin(group: ClassicGroup, params: JoinGroupParams, resolve: (result: JoinGroupResult) => void): void {
    const { memberId } = params;
    if (group.is('Dead')) {
      resolve(joinError(memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
      return;
    }
    if (!group.supportsProtocols(params.protocolType, protocolNames(params.protocols))) {
      resolve(joinError(memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
      return;
    }
    if (group.isPendingMember(memberId) && params.groupInstanceId === null) {
      this.addMemberAndRebalance(group, memberId, params, resolve);
      return;
    }
    const memberError = this.validateCurrentMember(group, memberId, params.groupInstanceId);
    if (memberError !== ErrorCode.NONE) {
      resolve(joinError(memberId, memberError));
      return;
    }
    const member = group.get(memberId);
    member.clientId = params.clientId;
    member.clientHost = params.clientHost;
    switch (group.state) {
      case 'PreparingRebalance':
        this.updateMemberAndRebalance(group, member, params, resolve);
        return;
      case 'CompletingRebalance':
        if (member.matches(params.protocols)) {
          // The member missed its JoinGroup response: answer again for the current generation.
          resolve(this.joinSuccess(group, member, group.isLeader(memberId) ? group.currentMemberMetadata() : []));
        } else {
          this.updateMemberAndRebalance(group, member, params, resolve);
        }
        return;
      case 'Stable':
        // The leader rejoining forces a rebalance (it may have seen metadata change); so does a
        // follower with new metadata. Other followers just get the current generation again.
        if (group.isLeader(memberId) || !member.matches(params.protocols)) {
          this.updateMemberAndRebalance(group, member, params, resolve);
        } else {
          resolve(this.joinSuccess(group, member, []));
        }
        return;
      case 'Empty':
      case 'Dead':
        resolve(joinError(memberId, ErrorCode.UNKNOWN_MEMBER_ID));
        return;
    }
  }

  private joinSuccess(group: ClassicGroup, member: GroupMember, members: JoinGroupMemberEntry[]): JoinGroupResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType,
      protocolName: group.protocolName,
      leader: group.leaderId ?? '',
      skipAssignment: false,
      memberId: member.memberId,
      members,
    };
  }

  /**
   * A group instance id, when given, must map to this member id (else FENCED_INSTANCE_ID, or
   * UNKNOWN_MEMBER_ID when unmapped); the member id must be in the group.
   */
  private validateCurrentMember(group: ClassicGroup, memberId: string, groupInstanceId: string | null): number {
    if (groupInstanceId !== null) {
      const current = group.staticMemberId(groupInstanceId);
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (current !== memberId) {
        this.log.info({ groupId: group.groupId, groupInstanceId, memberId, current }, 'static member fenced');
        return ErrorCode.FENCED_INSTANCE_ID;
      }
    }
    return group.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  private addMemberAndRebalance(
    group: ClassicGroup,
    memberId: string,
    params: JoinGroupParams,
    resolve: (result: JoinGroupResult) => void,
  ): void {
    const member = new GroupMember(
      memberId,
      params.groupInstanceId,
      params.clientId,
      params.clientHost,
      params.rebalanceTimeoutMs,
      params.sessionTimeoutMs,
      params.protocolType,
      params.protocols,
    );
    member.isNew = true;
    member.joinWaiter = resolve;
    // New members joining during the first join phase of a new group extend the initial delay.
    if (group.is('PreparingRebalance') && group.generationId === 0) group.newMemberAdded = true;
    group.add(member);
    // The session timeout does not apply while a new member waits in JoinGroup (it cannot
    // heartbeat); drop it if the join phase never ends for it.
    this.scheduleHeartbeatExpiration(group, member, this.config.newMemberJoinTimeoutMs);
    this.maybePrepareRebalance(group, `new member ${memberId} joined`);
  }

  private updateMemberAndRebalance(
    group: ClassicGroup,
    member: GroupMember,
    params: JoinGroupParams,
    resolve: (result: JoinGroupResult) => void,
  ): void {
    // A JoinGroup repeated while the first still waits (the client gave up on it): answer the
    // first so that it does not hang; the latest one gets the outcome.
    const previous = member.joinWaiter;
    group.updateMember(member, params.protocols, params.rebalanceTimeoutMs, params.sessionTimeoutMs, resolve);
    previous?.(joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
    this.maybePrepareRebalance(group, `member ${member.memberId} rejoined in state ${group.state}`);
  }

  /** KIP-345: a static member restarted; it takes over its old membership, without a rebalance if it can. */
  private replaceStaticMember(
    group: ClassicGroup,
    groupInstanceId: string,
    oldMemberId: string,
    newMemberId: string,
    params: JoinGroupParams,
    resolve: (result: JoinGroupResult) => void,
  ): void {
    const currentLeader = group.leaderId;
    const member = group.replaceStaticMember(groupInstanceId, oldMemberId, newMemberId);
    member.clientId = params.clientId;
    member.clientHost = params.clientHost;
    group.updateMember(member, params.protocols, params.rebalanceTimeoutMs, params.sessionTimeoutMs, resolve);
    this.scheduleHeartbeatExpiration(group, member);
    switch (group.state) {
      case 'Stable': {
        if (group.selectProtocol() !== group.protocolName) {
          this.maybePrepareRebalance(group, `static member ${groupInstanceId} rejoined with other protocols`);
          return;
        }
        // Same protocol: keep the generation and the member's assignment.
        if (params.supportSkippingAssignment) {
          // v9+: the leader learns it leads, but must not compute an assignment that a stable
          // group would ignore.
          const isLeader = group.isLeader(newMemberId);
          group.completeJoin(member, {
            ...this.joinSuccess(group, member, isLeader ? group.currentMemberMetadata() : []),
            skipAssignment: isLeader,
          });
        } else {
          // Before v9: name the old leader id, so that a restarted leader does not think it leads
          // and run an assignment that a stable group would not broadcast.
          group.completeJoin(member, { ...this.joinSuccess(group, member, []), leader: currentLeader ?? '' });
        }
        return;
      }
      case 'CompletingRebalance':
        // The leader may be assigning to the old member id: start over.
        this.prepareRebalance(group, `static member ${groupInstanceId} rejoined during CompletingRebalance`);
        return;
      case 'PreparingRebalance':
        return;
      case 'Empty':
      case 'Dead':
        throw new Error(`group ${group.groupId} has static member ${groupInstanceId} in state ${group.state}`);
    }
  }

  private maybePrepareRebalance(group: ClassicGroup, reason: string): void {
    if (group.canRebalance()) this.prepareRebalance(group, reason);
  }

  private prepareRebalance(group: ClassicGroup, reason: string): void {
    // Members waiting in SyncGroup must rejoin.
    if (group.is('CompletingRebalance')) this.resetAndPropagateAssignmentError(group, ErrorCode.REBALANCE_IN_PROGRESS);
    this.cancelSyncExpiration(group);
    const wasEmpty = group.is('Empty');
    group.transitionTo('PreparingRebalance', this.scheduler.now());
    this.log.info({ groupId: group.groupId, generationId: group.generationId, reason }, 'preparing to rebalance group');
    group.joinTimer?.handle.cancel();
    group.joinTimer = undefined;
    if (wasEmpty) {
      const delay = this.config.initialRebalanceDelayMs;
      this.scheduleInitialDelayedJoin(group, delay, Math.max(group.rebalanceTimeoutMs() - delay, 0));
    } else {
      this.scheduleDelayedJoin(group);
      this.tryCompleteJoin(group);
    }
  }

  /** The join phase ends when every member has rejoined, or after the rebalance timeout. */
  private scheduleDelayedJoin(group: ClassicGroup): void {
    const handle = this.scheduler.schedule(group.rebalanceTimeoutMs(), () => {
      group.joinTimer = undefined;
      this.completeJoinPhase(group);
    });
    group.joinTimer = { handle, initial: false };
  }

  /**
   * group.initial.rebalance.delay.ms: a new group waits this long before its first generation,
   * again while new members keep arriving, up to the rebalance timeout.
   */
  private scheduleInitialDelayedJoin(group: ClassicGroup, delayMs: number, remainingMs: number): void {
    const handle = this.scheduler.schedule(delayMs, () => {
      group.joinTimer = undefined;
      if (group.newMemberAdded && remainingMs !== 0) {
        group.newMemberAdded = false;
        const delay = Math.min(this.config.initialRebalanceDelayMs, remainingMs);
        this.scheduleInitialDelayedJoin(group, delay, Math.max(remainingMs - delayMs, 0));
      } else {
        this.completeJoinPhase(group);
      }
    });
    group.joinTimer = { handle, initial: true };
  }

  private tryCompleteJoin(group: ClassicGroup): void {
    const timer = group.joinTimer;
    if (!group.is('PreparingRebalance') || timer === undefined || timer.initial) return;
    if (!group.hasAllMembersJoined()) return;
    timer.handle.cancel();
    group.joinTimer = undefined;
    this.completeJoinPhase(group);
  }

  private completeJoinPhase(group: ClassicGroup): void {
    if (this.groups.get(group.groupId) !== group || !group.is('PreparingRebalance')) return;
    // Dynamic members that did not rejoin in time are out; static ones keep their place until
    // their session times out.
    for (const member of group.notYetRejoinedMembers()) {
      if (member.isStatic) continue;
      group.remove(member.memberId);
      this.hooks.memberRemoved?.(group.groupId, member.memberId, 'rebalance-timeout');
      this.log.info({ groupId: group.groupId, memberId: member.memberId }, 'member did not rejoin in time; removed');
    }
    if (!group.maybeElectNewJoinedLeader() && group.size > 0) {
      // Only static members that have not rejoined remain: wait another rebalance timeout.
      this.log.warn({ groupId: group.groupId }, 'group cannot complete its rebalance: no member rejoined');
      this.scheduleDelayedJoin(group);
      return;
    }
    group.initNextGeneration(this.scheduler.now());
    if (group.is('Empty')) {
      this.log.info({ groupId: group.groupId, generationId: group.generationId }, 'group is now empty');
      return;
    }
    this.log.info(
      { groupId: group.groupId, generationId: group.generationId, members: group.size, protocol: group.protocolName },
      'group rebalanced',
    );
    const leaderView = group.currentMemberMetadata();
    for (const member of group.members.values()) {
      group.completeJoin(member, this.joinSuccess(group, member, group.isLeader(member.memberId) ? leaderView : []));
      this.scheduleHeartbeatExpiration(group, member);
      member.isNew = false;
      group.pendingSyncMembers.add(member.memberId);
    }
    this.schedulePendingSync(group);
    this.hooks.rebalanceCompleted?.(group.groupId, group.generationId, group.size);
  }

  // -------------------------------------------------------------------------------------------
  // SyncGroup

  sync(params: SyncGroupParams): Promise<SyncGroupResult> {
    return this.whenLoaded(params.groupId, () => this.syncLoaded(params));
  }

  private syncLoaded(params: SyncGroupParams): Promise<SyncGroupResult> {
    const statusError = this.groupStatusError(params.groupId, 'SyncGroup');
    // A loading coordinator lost the rebalance in progress: send the member back to JoinGroup
    // (older clients do not expect COORDINATOR_LOAD_IN_PROGRESS here).
    if (statusError === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return Promise.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
    if (statusError !== ErrorCode.NONE) return Promise.resolve(syncError(statusError));
    const group = this.groups.get(params.groupId);
    if (group === undefined) return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    const validation = this.validateSync(group, params);
    if (validation !== ErrorCode.NONE) return Promise.resolve(syncError(validation));
    const member = group.get(params.memberId);
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return Promise.resolve(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      case 'PreparingRebalance':
        return Promise.resolve(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case 'Stable':
        this.removePendingSyncMember(group, member.memberId);
        this.scheduleHeartbeatExpiration(group, member);
        return Promise.resolve({
          errorCode: ErrorCode.NONE,
          protocolType: group.protocolType,
          protocolName: group.protocolName,
          assignment: member.assignment,
        });
      case 'CompletingRebalance':
        return new Promise<SyncGroupResult>((resolve) => {
          member.completeSync(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
          member.syncWaiter = resolve;
          this.removePendingSyncMember(group, member.memberId);
          if (group.isLeader(member.memberId)) {
            const assignment = new Map<string, Buffer>();
            for (const entry of params.assignments) assignment.set(entry.memberId, entry.assignment);
            const missing = [...group.members.keys()].filter((id) => !assignment.has(id));
            if (missing.length > 0) {
              this.log.warn({ groupId: group.groupId, generationId: group.generationId, missing }, 'leader assigned nothing to some members');
            }
            this.setAndPropagateAssignment(group, assignment);
            group.transitionTo('Stable', this.scheduler.now());
          }
        });
    }
  }

  private validateSync(group: ClassicGroup, params: SyncGroupParams): number {
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const memberError = this.validateCurrentMember(group, params.memberId, params.groupInstanceId);
    if (memberError !== ErrorCode.NONE) return memberError;
    if (params.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    if (params.protocolType !== null && params.protocolType !== group.protocolType) return ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
    if (params.protocolName !== null && params.protocolName !== group.protocolName) return ErrorCode.INCONSISTENT_GROUP_PROTOCOL;
    return ErrorCode.NONE;
  }

  private setAndPropagateAssignment(group: ClassicGroup, assignment: ReadonlyMap<string, Buffer>): void {
    for (const member of group.members.values()) {
      member.assignment = assignment.get(member.memberId) ?? EMPTY;
      const answered = member.completeSync({
        errorCode: ErrorCode.NONE,
        protocolType: group.protocolType,
        protocolName: group.protocolName,
        assignment: member.assignment,
      });
      if (answered) this.scheduleHeartbeatExpiration(group, member);
    }
  }

  private resetAndPropagateAssignmentError(group: ClassicGroup, errorCode: number): void {
    for (const member of group.members.values()) {
      member.assignment = EMPTY;
      member.completeSync(syncError(errorCode));
    }
  }

  /** Members that never send SyncGroup within the rebalance timeout are removed (and the group rebalances). */
  private schedulePendingSync(group: ClassicGroup): void {
    group.syncTimer?.cancel();
    const generationId = group.generationId;
    group.syncTimer = this.scheduler.schedule(group.rebalanceTimeoutMs(), () => {
      group.syncTimer = undefined;
      if (this.groups.get(group.groupId) !== group || generationId !== group.generationId) return;
      if (!group.is('CompletingRebalance') && !group.is('Stable')) return;
      if (group.pendingSyncMembers.size === 0) return;
      const late = [...group.pendingSyncMembers];
      for (const memberId of late) {
        group.remove(memberId);
        this.hooks.memberRemoved?.(group.groupId, memberId, 'sync-timeout');
      }
      this.log.info({ groupId: group.groupId, members: late }, 'members did not send SyncGroup in time; removed');
      this.prepareRebalance(group, 'members did not sync in time');
    });
  }

  private removePendingSyncMember(group: ClassicGroup, memberId: string): void {
    group.pendingSyncMembers.delete(memberId);
    if (group.pendingSyncMembers.size === 0) {
      group.syncTimer?.cancel();
      group.syncTimer = undefined;
    }
  }

  private cancelSyncExpiration(group: ClassicGroup): void {
    group.pendingSyncMembers.clear();
    group.syncTimer?.cancel();
    group.syncTimer = undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Heartbeat and session expiry

  heartbeat(params: HeartbeatParams): number {
    const statusError = this.groupStatusError(params.groupId, 'Heartbeat');
    // While loading, answer blindly: the member finds out on its next request after the load.
    if (statusError === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return ErrorCode.NONE;
    if (statusError !== ErrorCode.NONE) return statusError;
    const group = this.groups.get(params.groupId);
    if (group === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const memberError = this.validateCurrentMember(group, params.memberId, params.groupInstanceId);
    if (memberError !== ErrorCode.NONE) return memberError;
    if (params.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    const member = group.get(params.memberId);
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'PreparingRebalance':
        this.scheduleHeartbeatExpiration(group, member);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      case 'CompletingRebalance':
      case 'Stable':
        this.scheduleHeartbeatExpiration(group, member);
        return ErrorCode.NONE;
    }
  }

  private scheduleHeartbeatExpiration(group: ClassicGroup, member: GroupMember, timeoutMs: number = member.sessionTimeoutMs): void {
    member.heartbeatTimer?.cancel();
    member.heartbeatTimer = this.scheduler.schedule(timeoutMs, () => {
      member.heartbeatTimer = undefined;
      this.onHeartbeatExpired(group, member);
    });
  }

  private onHeartbeatExpired(group: ClassicGroup, member: GroupMember): void {
    if (this.groups.get(group.groupId) !== group || group.is('Dead')) return;
    if (group.members.get(member.memberId) !== member) return;
    // A member waiting in JoinGroup or SyncGroup is alive (the rebalance and sync timeouts cover
    // it), unless it is new: new members that wait too long are dropped.
    if (!member.isNew && (member.isAwaitingJoin || member.isAwaitingSync)) return;
    const reason: MemberRemovalReason = member.isNew ? 'join-timeout' : 'session-timeout';
    this.log.info({ groupId: group.groupId, memberId: member.memberId, reason }, 'member failed; removing it from the group');
    this.hooks.memberRemoved?.(group.groupId, member.memberId, reason);
    this.removeMemberAndUpdateGroup(group, member, `member ${member.memberId} expired (${reason})`);
  }

  private onPendingMemberExpired(group: ClassicGroup, memberId: string): void {
    if (this.groups.get(group.groupId) !== group) return;
    if (!group.removePendingMember(memberId)) return;
    this.log.debug({ groupId: group.groupId, memberId }, 'pending member never joined; forgotten');
    if (group.is('PreparingRebalance')) this.tryCompleteJoin(group);
  }

  private removeMemberAndUpdateGroup(group: ClassicGroup, member: GroupMember, reason: string): void {
    // A member still waiting in JoinGroup is told to rejoin from scratch.
    group.completeJoin(member, joinError(UNKNOWN_MEMBER_ID, ErrorCode.UNKNOWN_MEMBER_ID));
    member.completeSync(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    group.remove(member.memberId);
    switch (group.state) {
      case 'Stable':
      case 'CompletingRebalance':
        this.maybePrepareRebalance(group, reason);
        return;
      case 'PreparingRebalance':
        this.tryCompleteJoin(group);
        return;
      case 'Empty':
      case 'Dead':
        return;
    }
  }

  // -------------------------------------------------------------------------------------------
  // LeaveGroup

  leave(groupId: string, leaving: readonly LeavingMember[]): LeaveGroupOutcome {
    const statusError = this.groupStatusError(groupId, 'LeaveGroup');
    if (statusError !== ErrorCode.NONE) return { errorCode: statusError, members: [] };
    const group = this.groups.get(groupId);
    const entry = (m: LeavingMember, errorCode: number) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode });
    if (group === undefined) return { errorCode: ErrorCode.NONE, members: leaving.map((m) => entry(m, ErrorCode.UNKNOWN_MEMBER_ID)) };
    if (group.is('Dead')) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    const members = leaving.map((m) => {
      const reason = `member left the group${m.reason ? `: ${m.reason}` : ''}`;
      if (m.memberId === UNKNOWN_MEMBER_ID) {
        // Admin removal of a static member by its instance id (KIP-345).
        const current = m.groupInstanceId === null ? undefined : group.staticMemberId(m.groupInstanceId);
        if (current === undefined) return entry(m, ErrorCode.UNKNOWN_MEMBER_ID);
        this.removeLeavingMember(group, group.get(current), reason);
        return entry(m, ErrorCode.NONE);
      }
      if (group.isPendingMember(m.memberId)) {
        group.removePendingMember(m.memberId);
        if (group.is('PreparingRebalance')) this.tryCompleteJoin(group);
        return entry(m, ErrorCode.NONE);
      }
      const memberError = this.validateCurrentMember(group, m.memberId, m.groupInstanceId);
      if (memberError !== ErrorCode.NONE) return entry(m, memberError);
      this.removeLeavingMember(group, group.get(m.memberId), reason);
      return entry(m, ErrorCode.NONE);
    });
    return { errorCode: ErrorCode.NONE, members };
  }

  private removeLeavingMember(group: ClassicGroup, member: GroupMember, reason: string): void {
    this.log.info({ groupId: group.groupId, memberId: member.memberId, groupInstanceId: member.groupInstanceId }, 'member left the group');
    this.hooks.memberRemoved?.(group.groupId, member.memberId, 'leave');
    this.removeMemberAndUpdateGroup(group, member, reason);
  }

  // -------------------------------------------------------------------------------------------
  // Offsets

  /**
   * OffsetCommit: checks the member and generation (or, for generation -1 without a member, that
   * the group is empty), then writes each offset to the store. Resolves with one error code per
   * entry, in order, once the store has answered for all of them.
   */
  commitOffsets(params: OffsetCommitParams): Promise<number[]> {
    return this.whenLoaded(params.groupId, () => this.commitOffsetsLoaded(params));
  }

  private async commitOffsetsLoaded(params: OffsetCommitParams): Promise<number[]> {
    const all = (errorCode: number): number[] => params.offsets.map(() => errorCode);
    const statusError = this.groupStatusError(params.groupId, 'OffsetCommit');
    if (statusError !== ErrorCode.NONE) return all(statusError);
    // DynamoDB keys cannot be empty strings; no client commits under an empty group id anyway.
    if (params.groupId === '') return all(ErrorCode.INVALID_GROUP_ID);
    let group = this.groups.get(params.groupId);
    if (group === undefined) {
      // Offsets without group management (assign() and commit) create the group; a generation
      // for a group that does not exist is stale.
      if (params.generationId >= 0) return all(ErrorCode.ILLEGAL_GENERATION);
      group = new ClassicGroup(params.groupId, this.scheduler.now());
      this.groups.set(params.groupId, group);
    }
    const validation = this.validateOffsetCommit(group, params);
    if (validation !== ErrorCode.NONE) return all(validation);
    if (group.is('Stable') || group.is('PreparingRebalance')) {
      // A commit is as good as a heartbeat.
      if (group.has(params.memberId)) this.scheduleHeartbeatExpiration(group, group.get(params.memberId));
    }
    const now = this.scheduler.now();
    const retention = params.retentionTimeMs ?? -1;
    const target = group;
    const results = await Promise.all(
      params.offsets.map((entry) => {
        const metadata = entry.metadata ?? '';
        if (metadata.length > this.config.offsetMetadataMaxBytes) return ErrorCode.OFFSET_METADATA_TOO_LARGE;
        const commitTimestampMs = entry.commitTimestampMs !== undefined && entry.commitTimestampMs >= 0 ? entry.commitTimestampMs : now;
        const offset: CommittedOffset = {
          offset: entry.offset,
          leaderEpoch: entry.leaderEpoch,
          metadata,
          commitTimestampMs,
          expireTimestampMs: retention >= 0 ? commitTimestampMs + retention : null,
        };
        return this.writeOffset(target, entry.topic, entry.partition, offset);
      }),
    );
    const failed = results.filter((code) => code !== ErrorCode.NONE).length;
    this.hooks.offsetsCommitted?.(params.groupId, results.length - failed, failed);
    return results;
  }

  private validateOffsetCommit(group: ClassicGroup, params: OffsetCommitParams): number {
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    // From an admin client or a consumer outside group management: fine while nobody is a member.
    if (params.generationId < 0 && group.is('Empty')) return ErrorCode.NONE;
    if (params.generationId >= 0 || params.memberId !== UNKNOWN_MEMBER_ID || params.groupInstanceId !== null) {
      const memberError = this.validateCurrentMember(group, params.memberId, params.groupInstanceId);
      if (memberError !== ErrorCode.NONE) return memberError;
      if (params.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    } else if (!group.is('Empty')) {
      // Only members may commit for a group with members.
      return ErrorCode.UNKNOWN_MEMBER_ID;
    }
    // The member has its JoinGroup response but not yet its assignment.
    if (group.is('CompletingRebalance')) return ErrorCode.REBALANCE_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  /** Runs a store operation for one offset after the earlier ones for the same offset. */
  private enqueueOffsetWrite<T>(group: ClassicGroup, topic: string, partition: number, write: () => Promise<T>): Promise<T> {
    const key = offsetKey(topic, partition);
    const previous = group.offsetWrites.get(key) ?? Promise.resolve();
    const result = previous.then(write);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    group.offsetWrites.set(key, tail);
    void tail.then(() => {
      if (group.offsetWrites.get(key) === tail) group.offsetWrites.delete(key);
    });
    return result;
  }

  private writeOffset(group: ClassicGroup, topic: string, partition: number, offset: CommittedOffset): Promise<number> {
    return this.enqueueOffsetWrite(group, topic, partition, async () => {
      try {
        await this.store.put(group.groupId, topic, partition, offset);
      } catch (err) {
        this.log.warn({ err, groupId: group.groupId, topic, partition }, 'offset commit not stored');
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
      }
      group.setOffset(topic, partition, offset);
      return ErrorCode.NONE;
    });
  }

  private deleteStoredOffset(group: ClassicGroup, topic: string, partition: number): Promise<number> {
    return this.enqueueOffsetWrite(group, topic, partition, async () => {
      try {
        await this.store.delete(group.groupId, topic, partition);
      } catch (err) {
        this.log.warn({ err, groupId: group.groupId, topic, partition }, 'offset not deleted from the store');
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
      }
      group.deleteOffset(topic, partition);
      return ErrorCode.NONE;
    });
  }

  /**
   * OffsetFetch: committed offsets, whatever the group's state (the group may use Kafka only to
   * store offsets). Partitions without one get offset -1. `topics` null: every committed offset.
   * `requireStable` has nothing to wait for: only acknowledged commits are ever visible, and
   * there are no transactional commits.
   */
  fetchOffsets(groupId: string, topics: readonly TopicPartitions[] | null): OffsetFetchOutcome {
    const statusError = this.groupStatusError(groupId, 'OffsetFetch');
    if (statusError !== ErrorCode.NONE) return { errorCode: statusError, topics: [] };
    const group = this.groups.get(groupId);
    const known = group !== undefined && !group.is('Dead') ? group : undefined;
    if (topics === null) {
      if (known === undefined) return { errorCode: ErrorCode.NONE, topics: [] };
      return {
        errorCode: ErrorCode.NONE,
        topics: [...known.offsets].map(([topic, partitions]) => ({
          topic,
          partitions: [...partitions].map(([partition, o]) => ({
            partition,
            offset: o.offset,
            leaderEpoch: o.leaderEpoch,
            metadata: o.metadata,
            errorCode: ErrorCode.NONE,
          })),
        })),
      };
    }
    return {
      errorCode: ErrorCode.NONE,
      topics: topics.map(({ topic, partitions }) => ({
        topic,
        partitions: partitions.map((partition) => {
          const o = known?.offset(topic, partition);
          if (o === undefined) return { partition, ...NO_OFFSET };
          return { partition, offset: o.offset, leaderEpoch: o.leaderEpoch, metadata: o.metadata, errorCode: ErrorCode.NONE };
        }),
      })),
    };
  }

  /**
   * OffsetDelete: any offset of an empty group; of a consumer group with members, only offsets of
   * topics nobody subscribes to (GROUP_SUBSCRIBED_TO_TOPIC otherwise).
   */
  async deleteOffsets(groupId: string, partitions: readonly { topic: string; partition: number }[]): Promise<OffsetDeleteOutcome> {
    const statusError = this.groupStatusError(groupId, 'OffsetDelete');
    if (statusError !== ErrorCode.NONE) return { errorCode: statusError, partitionErrors: [] };
    const group = this.groups.get(groupId);
    if (group === undefined || group.is('Dead')) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, partitionErrors: [] };
    if (!group.is('Empty') && !group.isConsumerGroup) return { errorCode: ErrorCode.NON_EMPTY_GROUP, partitionErrors: [] };
    const partitionErrors = await Promise.all(
      partitions.map(({ topic, partition }) => {
        if (!group.is('Empty') && group.isSubscribedToTopic(topic)) return ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC;
        return this.deleteStoredOffset(group, topic, partition);
      }),
    );
    this.maybeRemoveEmptyGroup(group);
    return { errorCode: ErrorCode.NONE, partitionErrors };
  }

  // -------------------------------------------------------------------------------------------
  // Admin: DescribeGroups, ListGroups, DeleteGroups

  describeGroup(groupId: string): GroupDescription {
    const statusError = this.groupStatusError(groupId, 'DescribeGroups');
    const base = { groupId, protocolType: '', protocolData: '', members: [] };
    if (statusError !== ErrorCode.NONE) return { ...base, errorCode: statusError, state: '' };
    const group = this.groups.get(groupId);
    if (group === undefined) return { ...base, errorCode: ErrorCode.NONE, state: 'Dead' };
    const stable = group.is('Stable') && group.protocolName !== null ? group.protocolName : null;
    return {
      errorCode: ErrorCode.NONE,
      groupId,
      state: group.state,
      protocolType: group.protocolType ?? '',
      protocolData: stable ?? '',
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable === null ? EMPTY : m.metadata(stable),
        assignment: stable === null ? EMPTY : m.assignment,
      })),
    };
  }

  /** ListGroups: the groups this node coordinates; filters match case-insensitively, empty = all. */
  listGroups(statesFilter: readonly string[] = [], typesFilter: readonly string[] = []): ListGroupsOutcome {
    if (this.state === 'closed') return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] };
    const errorCode = this.state === 'loading' ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE;
    const states = new Set(statesFilter.map((s) => s.toLowerCase()));
    const types = new Set(typesFilter.map((t) => t.toLowerCase()));
    if (types.size > 0 && !types.has(CLASSIC_GROUP_TYPE)) return { errorCode, groups: [] };
    const groups: ListedGroup[] = [];
    for (const group of this.groups.values()) {
      if (group.is('Dead') || !this.isLocal(group.groupId)) continue;
      if (states.size > 0 && !states.has(group.state.toLowerCase())) continue;
      groups.push({ groupId: group.groupId, protocolType: group.protocolType ?? '', state: group.state, groupType: CLASSIC_GROUP_TYPE });
    }
    return { errorCode, groups };
  }

  /**
   * DeleteGroups: an empty group goes, with its committed offsets; a group with members gets
   * NON_EMPTY_GROUP, an unknown one GROUP_ID_NOT_FOUND. Resolves once the store has forgotten the
   * offsets; offsets it failed to delete stay (the group answers COORDINATOR_NOT_AVAILABLE and
   * may be deleted again).
   */
  async deleteGroups(groupIds: readonly string[]): Promise<Map<string, number>> {
    const results = new Map<string, number>();
    const deletions: Promise<void>[] = [];
    for (const groupId of new Set(groupIds)) {
      const statusError = this.groupStatusError(groupId, 'DeleteGroups');
      if (statusError !== ErrorCode.NONE) {
        results.set(groupId, statusError);
        continue;
      }
      const group = this.groups.get(groupId);
      if (group === undefined || group.is('Dead')) {
        results.set(groupId, ErrorCode.GROUP_ID_NOT_FOUND);
        continue;
      }
      if (!group.is('Empty')) {
        results.set(groupId, ErrorCode.NON_EMPTY_GROUP);
        continue;
      }
      group.transitionTo('Dead', this.scheduler.now());
      this.unload(group, ErrorCode.COORDINATOR_NOT_AVAILABLE);
      this.groups.delete(groupId);
      results.set(groupId, ErrorCode.NONE);
      deletions.push(
        this.deleteAllOffsets(group).then((ok) => {
          if (!ok) results.set(groupId, ErrorCode.COORDINATOR_NOT_AVAILABLE);
        }),
      );
    }
    await Promise.all(deletions);
    return results;
  }

  /** Deletes every stored offset of a dead group; what could not be deleted goes back to a live group. */
  private async deleteAllOffsets(dead: ClassicGroup): Promise<boolean> {
    const keys = new Map<string, { topic: string; partition: number }>();
    for (const [topic, partitions] of dead.offsets) for (const partition of partitions.keys()) keys.set(offsetKey(topic, partition), { topic, partition });
    for (const key of dead.offsetWrites.keys()) {
      const at = key.lastIndexOf(':');
      keys.set(key, { topic: key.slice(0, at), partition: Number(key.slice(at + 1)) });
    }
    const outcomes = await Promise.all([...keys.values()].map(({ topic, partition }) => this.deleteStoredOffset(dead, topic, partition)));
    if (outcomes.every((code) => code === ErrorCode.NONE)) return true;
    if (this.state === 'closed') return false;
    // Keep what the store still holds visible, so that it can be deleted (or expire) later.
    let live = this.groups.get(dead.groupId);
    if (live === undefined) this.groups.set(dead.groupId, (live = new ClassicGroup(dead.groupId, this.scheduler.now())));
    for (const [topic, partitions] of dead.offsets) {
      for (const [partition, offset] of partitions) {
        if (live.offset(topic, partition) === undefined && !live.offsetWrites.has(offsetKey(topic, partition))) {
          live.setOffset(topic, partition, offset);
        }
      }
    }
    return false;
  }

  // -------------------------------------------------------------------------------------------
  // Cleanup: offset retention and forgotten empty groups

  private scheduleCleanup(): void {
    this.cleanupTimer = this.scheduler.schedule(this.config.offsetsRetentionCheckIntervalMs, () => {
      void this.cleanup().finally(() => {
        if (this.state === 'active') this.scheduleCleanup();
      });
    });
  }

  /**
   * Expires offsets past offsets.retention.minutes (Kafka's rules: for an empty group, counted
   * from when it became empty, else from the commit; for a stable consumer group, offsets of
   * topics it no longer subscribes to, from the commit; an explicit v2-v4 retention wins) and
   * forgets empty groups that have no offsets left. Resolves with the number of offsets expired.
   */
  async cleanup(): Promise<number> {
    if (this.state !== 'active') return 0;
    const now = this.scheduler.now();
    const retention = this.config.offsetsRetentionMs;
    const expirations: Promise<number>[] = [];
    for (const group of [...this.groups.values()]) {
      let base: ((o: CommittedOffset) => number) | undefined;
      let eligible: (topic: string) => boolean = () => true;
      if (group.protocolType === null || group.is('Empty')) {
        const emptySince = group.is('Empty') && group.protocolType !== null ? group.stateTimestampMs : null;
        base = (o) => emptySince ?? o.commitTimestampMs;
      } else if (group.is('Stable') && group.isConsumerGroup && group.subscribedTopics !== null) {
        const subscribed = group.subscribedTopics;
        base = (o) => o.commitTimestampMs;
        eligible = (topic) => !subscribed.has(topic);
      }
      if (base !== undefined) {
        const from = base;
        for (const [topic, partitions] of group.offsets) {
          if (!eligible(topic)) continue;
          for (const [partition, offset] of partitions) {
            if (group.offsetWrites.has(offsetKey(topic, partition))) continue;
            const expired = offset.expireTimestampMs !== null ? now >= offset.expireTimestampMs : now - from(offset) >= retention;
            if (expired) expirations.push(this.deleteStoredOffset(group, topic, partition));
          }
        }
      }
    }
    const outcomes = await Promise.all(expirations);
    const expired = outcomes.filter((code) => code === ErrorCode.NONE).length;
    for (const group of [...this.groups.values()]) this.maybeRemoveEmptyGroup(group);
    if (expired > 0) this.log.info({ expired }, 'expired committed offsets');
    return expired;
  }

  private maybeRemoveEmptyGroup(group: ClassicGroup): void {
    if (this.state !== 'active' || this.groups.get(group.groupId) !== group) return;
    if (!group.is('Empty') || group.hasOffsets() || group.pendingMembers.size > 0) return;
    group.transitionTo('Dead', this.scheduler.now());
    this.unload(group, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    this.groups.delete(group.groupId);
  }
}

/** A stored offset as the group holds it. */
function committedOffset(stored: StoredOffset): CommittedOffset {
  return {
    offset: stored.offset,
    leaderEpoch: stored.leaderEpoch,
    metadata: stored.metadata,
    commitTimestampMs: stored.commitTimestampMs,
    expireTimestampMs: stored.expireTimestampMs,
  };
}
