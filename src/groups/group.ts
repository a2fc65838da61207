/**
 * A classic (JoinGroup/SyncGroup) consumer group: its members, state and generation, and the
 * bookkeeping that Kafka's group coordinator keeps per group. This module holds data and
 * invariants only; the protocol logic that drives it (timers, rebalances, responses) lives in
 * coordinator.ts.
 *
 * States and the transitions allowed between them (as in Kafka):
 *
 *   Empty --join--> PreparingRebalance --all joined / rebalance timeout--> CompletingRebalance
 *   CompletingRebalance --leader's SyncGroup--> Stable
 *   Stable / CompletingRebalance --join, leave, member expiry--> PreparingRebalance
 *   PreparingRebalance --nobody left--> Empty
 *   any --DeleteGroups, cleanup--> Dead
 */
import type { CommittedOffset } from './offset-store.js';
import type { TimerHandle } from './scheduler.js';
import { consumerProtocolSubscription } from '../protocol/messages/index.js';
import { Reader } from '../protocol/primitives.js';
import { ErrorCode } from '../protocol/errors.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export const GROUP_STATES: readonly GroupState[] = ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'];

const VALID_PREVIOUS_STATES: Readonly<Record<GroupState, readonly GroupState[]>> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
};

/** The protocol type of Kafka consumers (the only one whose metadata the coordinator reads). */
export const CONSUMER_PROTOCOL_TYPE = 'consumer';

export const NO_GENERATION = -1;
export const UNKNOWN_MEMBER_ID = '';
const EMPTY = Buffer.alloc(0);

export interface MemberProtocol {
  readonly name: string;
  readonly metadata: Buffer;
}

export interface JoinGroupMemberEntry {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly metadata: Buffer;
}

export interface JoinGroupResult {
  readonly errorCode: number;
  readonly generationId: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly leader: string;
  readonly skipAssignment: boolean;
  readonly memberId: string;
  /** Every member with its metadata for the chosen protocol: for the leader only, else empty. */
  readonly members: readonly JoinGroupMemberEntry[];
}

export interface SyncGroupResult {
  readonly errorCode: number;
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  readonly assignment: Buffer;
}

export function joinError(memberId: string, errorCode: number): JoinGroupResult {
  return {
    errorCode,
    generationId: NO_GENERATION,
    protocolType: null,
    protocolName: null,
    leader: '',
    skipAssignment: false,
    memberId,
    members: [],
  };
}

export function syncError(errorCode: number): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

export class GroupMember {
  /** Set while a JoinGroup from this member waits for the join phase to end. */
  joinWaiter: ((result: JoinGroupResult) => void) | undefined;
  /** Set while a SyncGroup from this member waits for the leader's assignment. */
  syncWaiter: ((result: SyncGroupResult) => void) | undefined;
  /** Joined during the current join phase and not yet told the outcome. */
  isNew = false;
  assignment: Buffer = EMPTY;
  heartbeatTimer: TimerHandle | undefined;

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    readonly protocolType: string,
    public protocols: readonly MemberProtocol[],
  ) {}

  get isStatic(): boolean {
    return this.groupInstanceId !== null;
  }

  get isAwaitingJoin(): boolean {
    return this.joinWaiter !== undefined;
  }

  get isAwaitingSync(): boolean {
    return this.syncWaiter !== undefined;
  }

  /** The member's metadata for a protocol it listed. */
  metadata(protocolName: string): Buffer {
    const protocol = this.protocols.find((p) => p.name === protocolName);
    if (protocol === undefined) throw new Error(`member ${this.memberId} does not support protocol ${protocolName}`);
    return protocol.metadata;
  }

  /** The member's most preferred protocol among the candidates. */
  vote(candidates: ReadonlySet<string>): string {
    const choice = this.protocols.find((p) => candidates.has(p.name));
    if (choice === undefined) throw new Error(`member ${this.memberId} supports none of the candidate protocols`);
    return choice.name;
  }

  /** Whether the member lists exactly these protocols (names, order and metadata). */
  matches(protocols: readonly MemberProtocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((p, i) => {
      const mine = this.protocols[i] as MemberProtocol;
      return mine.name === p.name && mine.metadata.equals(p.metadata);
    });
  }

  /** Hands the pending JoinGroup its result; false when none was waiting. */
  completeJoin(result: JoinGroupResult): boolean {
    const waiter = this.joinWaiter;
    if (waiter === undefined) return false;
    this.joinWaiter = undefined;
    waiter(result);
    return true;
  }

  /** Hands the pending SyncGroup its result; false when none was waiting. */
  completeSync(result: SyncGroupResult): boolean {
    const waiter = this.syncWaiter;
    if (waiter === undefined) return false;
    this.syncWaiter = undefined;
    waiter(result);
    return true;
  }
}

/** The distinct protocol names a member lists. */
export function protocolNames(protocols: readonly MemberProtocol[]): Set<string> {
  return new Set(protocols.map((p) => p.name));
}

/** What the join phase waits on: a delayed join (rebalance timeout) or the initial delay of a new group. */
export interface JoinTimer {
  readonly handle: TimerHandle;
  /** An initial-delay timer never completes early, even when every member has joined. */
  readonly initial: boolean;
}

export class ClassicGroup {
  state: GroupState;
  /** Wall-clock ms of the last state change; null when unknown (a group rebuilt from stored offsets). */
  stateTimestampMs: number | null;
  protocolType: string | null = null;
  protocolName: string | null = null;
  generationId = 0;
  leaderId: string | null = null;
  /** Members in the order they joined (the next leader is the first remaining one). */
  readonly members = new Map<string, GroupMember>();
  /** group.instance.id -> member id */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED that have not joined yet, with their expiry. */
  readonly pendingMembers = new Map<string, TimerHandle>();
  /** Members of the new generation that have not sent SyncGroup yet. */
  readonly pendingSyncMembers = new Set<string>();
  /** Topics the members subscribe to (consumer protocol), or null when unknown. */
  subscribedTopics: ReadonlySet<string> | null = null;
  /** A member joined during the initial delay: wait once more. */
  newMemberAdded = false;
  joinTimer: JoinTimer | undefined;
  syncTimer: TimerHandle | undefined;
  /** Committed offsets by topic and partition, as acknowledged by the offset store. */
  readonly offsets = new Map<string, Map<number, CommittedOffset>>();
  /** The last store write (commit or delete) queued per "topic:partition"; writes to one offset run in order. */
  readonly offsetWrites = new Map<string, Promise<void>>();
  private numMembersAwaitingJoin = 0;
  private readonly supportedProtocols = new Map<string, number>();

  constructor(
    readonly groupId: string,
    nowMs: number | null,
    initialState: GroupState = 'Empty',
  ) {
    this.state = initialState;
    this.stateTimestampMs = nowMs;
  }

  is(state: GroupState): boolean {
    return this.state === state;
  }

  get size(): number {
    return this.members.size;
  }

  get numAwaitingJoin(): number {
    return this.numMembersAwaitingJoin;
  }

  get isConsumerGroup(): boolean {
    return this.protocolType === CONSUMER_PROTOCOL_TYPE;
  }

  hasOffsets(): boolean {
    return this.offsets.size > 0 || this.offsetWrites.size > 0;
  }

  offset(topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(topic)?.get(partition);
  }

  setOffset(topic: string, partition: number, offset: CommittedOffset): void {
    let partitions = this.offsets.get(topic);
    if (partitions === undefined) this.offsets.set(topic, (partitions = new Map()));
    partitions.set(partition, offset);
  }

  deleteOffset(topic: string, partition: number): void {
    const partitions = this.offsets.get(topic);
    if (partitions === undefined) return;
    partitions.delete(partition);
    if (partitions.size === 0) this.offsets.delete(topic);
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  get(memberId: string): GroupMember {
    const member = this.members.get(memberId);
    if (member === undefined) throw new Error(`group ${this.groupId} has no member ${memberId}`);
    return member;
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  staticMemberId(groupInstanceId: string): string | undefined {
    return this.staticMembers.get(groupInstanceId);
  }

  isPendingMember(memberId: string): boolean {
    return this.pendingMembers.has(memberId);
  }

  canRebalance(): boolean {
    return VALID_PREVIOUS_STATES.PreparingRebalance.includes(this.state);
  }

  transitionTo(state: GroupState, nowMs: number): void {
    if (!VALID_PREVIOUS_STATES[state].includes(this.state)) {
      throw new Error(`group ${this.groupId}: illegal transition ${this.state} -> ${state}`);
    }
    this.state = state;
    this.stateTimestampMs = nowMs;
  }

  /** The largest rebalance timeout of the members: how long a join phase may last. */
  rebalanceTimeoutMs(): number {
    let max = 0;
    for (const member of this.members.values()) max = Math.max(max, member.rebalanceTimeoutMs);
    return max;
  }

  /**
   * Whether a member with this protocol type and protocols could join: an empty group takes any
   * non-empty set; otherwise the type must match and one protocol must be supported by everyone.
   */
  supportsProtocols(protocolType: string, protocols: ReadonlySet<string>): boolean {
    if (this.is('Empty')) return protocolType !== '' && protocols.size > 0;
    if (this.protocolType !== protocolType) return false;
    for (const name of protocols) {
      if ((this.supportedProtocols.get(name) ?? 0) === this.members.size) return true;
    }
    return false;
  }

  add(member: GroupMember): void {
    if (member.groupInstanceId !== null) {
      if (this.staticMembers.has(member.groupInstanceId)) {
        throw new Error(`group ${this.groupId} already has static member ${member.groupInstanceId}`);
      }
      this.staticMembers.set(member.groupInstanceId, member.memberId);
    }
    if (this.members.size === 0) this.protocolType = member.protocolType;
    if (this.protocolType !== member.protocolType) throw new Error('member protocol type differs from the group');
    if (!this.supportsProtocols(member.protocolType, protocolNames(member.protocols))) {
      throw new Error('none of the member protocols is supported by the group');
    }
    if (this.leaderId === null) this.leaderId = member.memberId;
    this.members.set(member.memberId, member);
    this.countProtocols(member, 1);
    if (member.isAwaitingJoin) this.numMembersAwaitingJoin++;
    this.removePendingMember(member.memberId);
  }

  remove(memberId: string): GroupMember | undefined {
    const member = this.members.get(memberId);
    if (member !== undefined) {
      this.members.delete(memberId);
      this.countProtocols(member, -1);
      if (member.isAwaitingJoin) this.numMembersAwaitingJoin--;
      if (member.groupInstanceId !== null) this.staticMembers.delete(member.groupInstanceId);
      member.heartbeatTimer?.cancel();
      member.heartbeatTimer = undefined;
    }
    if (this.isLeader(memberId)) {
      const next = this.members.keys().next();
      this.leaderId = next.done === true ? null : next.value;
    }
    this.removePendingMember(memberId);
    this.pendingSyncMembers.delete(memberId);
    return member;
  }

  addPendingMember(memberId: string, expiry: TimerHandle): void {
    if (this.members.has(memberId)) throw new Error(`member ${memberId} is already in group ${this.groupId}`);
    this.pendingMembers.get(memberId)?.cancel();
    this.pendingMembers.set(memberId, expiry);
  }

  removePendingMember(memberId: string): boolean {
    const expiry = this.pendingMembers.get(memberId);
    if (expiry === undefined) return false;
    expiry.cancel();
    this.pendingMembers.delete(memberId);
    return true;
  }

  /** Sets (or clears, with undefined) the member's waiting JoinGroup and its new protocols. */
  updateMember(
    member: GroupMember,
    protocols: readonly MemberProtocol[],
    rebalanceTimeoutMs: number,
    sessionTimeoutMs: number,
    joinWaiter: ((result: JoinGroupResult) => void) | undefined,
  ): void {
    this.countProtocols(member, -1);
    member.protocols = protocols;
    this.countProtocols(member, 1);
    member.rebalanceTimeoutMs = rebalanceTimeoutMs;
    member.sessionTimeoutMs = sessionTimeoutMs;
    if (joinWaiter !== undefined && !member.isAwaitingJoin) this.numMembersAwaitingJoin++;
    else if (joinWaiter === undefined && member.isAwaitingJoin) this.numMembersAwaitingJoin--;
    member.joinWaiter = joinWaiter;
  }

  /** Answers the member's waiting JoinGroup, if any. */
  completeJoin(member: GroupMember, result: JoinGroupResult): boolean {
    if (!member.completeJoin(result)) return false;
    this.numMembersAwaitingJoin--;
    return true;
  }

  /** Sets the member's waiting JoinGroup (it must not have one). */
  awaitJoin(member: GroupMember, waiter: (result: JoinGroupResult) => void): void {
    if (!member.isAwaitingJoin) this.numMembersAwaitingJoin++;
    member.joinWaiter = waiter;
  }

  /**
   * KIP-345: a static member restarted with a new member id. The old id's waiting requests are
   * fenced; everything else (protocols, assignment, leadership) moves to the new id.
   */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string): GroupMember {
    const member = this.members.get(oldMemberId);
    if (member === undefined) throw new Error(`cannot replace unknown member ${oldMemberId}`);
    this.completeJoin(member, joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID));
    member.completeSync(syncError(ErrorCode.FENCED_INSTANCE_ID));
    this.members.delete(oldMemberId);
    member.memberId = newMemberId;
    this.members.set(newMemberId, member);
    if (this.isLeader(oldMemberId)) this.leaderId = newMemberId;
    this.staticMembers.set(groupInstanceId, newMemberId);
    if (this.pendingSyncMembers.delete(oldMemberId)) this.pendingSyncMembers.add(newMemberId);
    return member;
  }

  hasAllMembersJoined(): boolean {
    return this.members.size === this.numMembersAwaitingJoin && this.pendingMembers.size === 0;
  }

  notYetRejoinedMembers(): GroupMember[] {
    return [...this.members.values()].filter((m) => !m.isAwaitingJoin);
  }

  /**
   * Keeps the leader if it rejoined, else makes the first rejoined member leader. False when
   * there is no leader or nobody rejoined.
   */
  maybeElectNewJoinedLeader(): boolean {
    if (this.leaderId === null) return false;
    const leader = this.members.get(this.leaderId);
    if (leader?.isAwaitingJoin === true) return true;
    for (const member of this.members.values()) {
      if (member.isAwaitingJoin) {
        this.leaderId = member.memberId;
        return true;
      }
    }
    return false;
  }

  /** Protocols every member supports. */
  candidateProtocols(): Set<string> {
    const candidates = new Set<string>();
    for (const [name, count] of this.supportedProtocols) if (count === this.members.size) candidates.add(name);
    return candidates;
  }

  /**
   * The protocol for the next generation: each member votes for its most preferred protocol
   * among those all members support; most votes wins (ties: the leader's preference order).
   */
  selectProtocol(): string {
    if (this.members.size === 0) throw new Error(`cannot select a protocol for empty group ${this.groupId}`);
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const member of this.members.values()) {
      const vote = member.vote(candidates);
      votes.set(vote, (votes.get(vote) ?? 0) + 1);
    }
    const most = Math.max(...votes.values());
    const tied = new Set([...votes].filter(([, count]) => count === most).map(([name]) => name));
    const leader = this.leaderId === null ? undefined : this.members.get(this.leaderId);
    const order = leader?.protocols ?? [...this.members.values()][0]?.protocols ?? [];
    return order.find((p) => tied.has(p.name))?.name ?? ([...tied][0] as string);
  }

  /** Starts the next generation: CompletingRebalance with a chosen protocol, or Empty. */
  initNextGeneration(nowMs: number): void {
    this.generationId++;
    if (this.members.size > 0) {
      this.protocolName = this.selectProtocol();
      this.subscribedTopics = this.computeSubscribedTopics();
      this.transitionTo('CompletingRebalance', nowMs);
    } else {
      this.protocolName = null;
      this.subscribedTopics = this.computeSubscribedTopics();
      this.transitionTo('Empty', nowMs);
    }
    this.pendingSyncMembers.clear();
  }

  /** Members with their metadata for the chosen protocol, as the leader's JoinGroup response lists them. */
  currentMemberMetadata(): JoinGroupMemberEntry[] {
    const protocol = this.protocolName;
    if (protocol === null || this.is('Dead') || this.is('PreparingRebalance')) {
      throw new Error(`group ${this.groupId} has no member metadata in state ${this.state}`);
    }
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: m.metadata(protocol),
    }));
  }

  /**
   * The topics consumer-protocol members subscribe to, read from their metadata with the
   * version-0 schema (a prefix of every later one). Null when not a consumer group, no protocol
   * is chosen, or the metadata does not parse.
   */
  computeSubscribedTopics(): ReadonlySet<string> | null {
    if (this.protocolType !== CONSUMER_PROTOCOL_TYPE) return null;
    if (this.members.size === 0) return new Set();
    const protocol = this.protocolName;
    if (protocol === null) return null;
    const topics = new Set<string>();
    try {
      for (const member of this.members.values()) {
        const reader = new Reader(member.metadata(protocol));
        reader.int16();
        for (const topic of consumerProtocolSubscription.decode(reader, 0).topics) topics.add(topic);
      }
    } catch {
      return null;
    }
    return topics;
  }

  /** Whether members consume the topic; when unknown, a consumer group is assumed to. */
  isSubscribedToTopic(topic: string): boolean {
    if (this.subscribedTopics !== null) return this.subscribedTopics.has(topic);
    return this.isConsumerGroup;
  }

  private countProtocols(member: GroupMember, delta: number): void {
    for (const name of protocolNames(member.protocols)) {
      this.supportedProtocols.set(name, (this.supportedProtocols.get(name) ?? 0) + delta);
    }
  }
}
