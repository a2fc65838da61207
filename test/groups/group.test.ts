/** ClassicGroup's own invariants: transitions, protocol bookkeeping, leadership, static members. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClassicGroup, GROUP_STATES, GroupMember, type GroupState } from '../../src/groups/group.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { protocols, subscription } from './helpers.js';

function member(id: string, names: string[] = ['range'], instance: string | null = null, metadata = subscription('t')): GroupMember {
  return new GroupMember(id, instance, 'client', '/127.0.0.1', 1000, 1000, 'consumer', protocols(names, metadata));
}

const ALLOWED: Record<GroupState, GroupState[]> = {
  Empty: ['PreparingRebalance', 'Dead'],
  PreparingRebalance: ['CompletingRebalance', 'Empty', 'Dead'],
  CompletingRebalance: ['Stable', 'PreparingRebalance', 'Dead'],
  Stable: ['PreparingRebalance', 'Dead'],
  Dead: ['Dead'],
};

describe('ClassicGroup', () => {
  test('only Kafka’s transitions are allowed', () => {
    for (const from of GROUP_STATES) {
      for (const to of GROUP_STATES) {
        const group = new ClassicGroup('g', 0, from);
        if (ALLOWED[from].includes(to)) {
          group.transitionTo(to, 5);
          assert.equal(group.state, to);
          assert.equal(group.stateTimestampMs, 5);
        } else {
          assert.throws(() => group.transitionTo(to, 5), /illegal transition/, `${from} -> ${to}`);
        }
      }
    }
  });

  test('counts protocols as members come, change and go', () => {
    const group = new ClassicGroup('g', 0);
    group.add(member('a', ['range', 'roundrobin']));
    group.transitionTo('PreparingRebalance', 0);
    assert.deepEqual([...group.candidateProtocols()].sort(), ['range', 'roundrobin']);
    assert.equal(group.supportsProtocols('consumer', new Set(['roundrobin'])), true);
    group.add(member('b', ['roundrobin']));
    assert.deepEqual([...group.candidateProtocols()], ['roundrobin']);
    assert.equal(group.supportsProtocols('consumer', new Set(['range'])), false);
    assert.equal(group.supportsProtocols('connect', new Set(['roundrobin'])), false);
    group.updateMember(group.get('b'), protocols(['range']), 1000, 1000, undefined);
    assert.deepEqual([...group.candidateProtocols()], ['range']);
    group.remove('b');
    assert.deepEqual([...group.candidateProtocols()].sort(), ['range', 'roundrobin']);
  });

  test('the first member leads; when the leader goes, the next oldest member leads', () => {
    const group = new ClassicGroup('g', 0);
    for (const id of ['a', 'b', 'c']) group.add(member(id));
    assert.equal(group.leaderId, 'a');
    group.remove('a');
    assert.equal(group.leaderId, 'b');
    group.remove('c');
    group.remove('b');
    assert.equal(group.leaderId, null);
  });

  test('counts members waiting in JoinGroup; pending member ids keep the join phase open', () => {
    const group = new ClassicGroup('g', 0);
    const a = member('a');
    a.joinWaiter = () => undefined;
    group.add(a);
    group.add(member('b'));
    assert.equal(group.numAwaitingJoin, 1);
    assert.equal(group.hasAllMembersJoined(), false);
    group.awaitJoin(group.get('b'), () => undefined);
    assert.equal(group.hasAllMembersJoined(), true);
    group.addPendingMember('p', { cancel: () => undefined });
    assert.equal(group.hasAllMembersJoined(), false);
    group.removePendingMember('p');
    assert.equal(group.hasAllMembersJoined(), true);
    group.remove('a');
    assert.equal(group.numAwaitingJoin, 1);
    assert.deepEqual(group.notYetRejoinedMembers(), []);
  });

  test('replacing a static member keeps its assignment and leadership and fences the old id’s waiting requests', () => {
    const group = new ClassicGroup('g', 0);
    const old = member('i1-old', ['range'], 'i1');
    old.assignment = Buffer.from('mine');
    const fenced: number[] = [];
    old.joinWaiter = (r) => fenced.push(r.errorCode);
    old.syncWaiter = (r) => fenced.push(r.errorCode);
    group.add(old);
    group.pendingSyncMembers.add('i1-old');
    const replaced = group.replaceStaticMember('i1', 'i1-old', 'i1-new');
    assert.deepEqual(fenced, [ErrorCode.FENCED_INSTANCE_ID, ErrorCode.FENCED_INSTANCE_ID]);
    assert.equal(replaced.assignment.toString(), 'mine');
    assert.equal(group.leaderId, 'i1-new');
    assert.equal(group.staticMemberId('i1'), 'i1-new');
    assert.equal(group.has('i1-old'), false);
    assert.deepEqual([...group.pendingSyncMembers], ['i1-new']);
    assert.equal(group.numAwaitingJoin, 0);
    assert.throws(() => group.add(member('other', ['range'], 'i1')), /already has static member/);
  });

  test('subscribed topics come from consumer-protocol metadata; unreadable metadata leaves them unknown', () => {
    const group = new ClassicGroup('g', 0);
    group.add(member('a', ['range'], null, subscription('t1', 't2')));
    group.add(member('b', ['range'], null, subscription('t3')));
    group.transitionTo('PreparingRebalance', 0);
    group.initNextGeneration(0);
    assert.deepEqual([...(group.subscribedTopics ?? [])].sort(), ['t1', 't2', 't3']);
    assert.equal(group.isSubscribedToTopic('t2'), true);
    assert.equal(group.isSubscribedToTopic('t9'), false);

    const garbled = new ClassicGroup('h', 0);
    garbled.add(member('a', ['range'], null, Buffer.from([0, 0, 0])));
    garbled.transitionTo('PreparingRebalance', 0);
    garbled.initNextGeneration(0);
    assert.equal(garbled.subscribedTopics, null);
    assert.equal(garbled.isSubscribedToTopic('anything'), true, 'a consumer group with unknown subscriptions is assumed subscribed');
  });

  test('the next generation of a group without members is Empty with no protocol', () => {
    const group = new ClassicGroup('g', 0, 'PreparingRebalance');
    group.initNextGeneration(9);
    assert.equal(group.state, 'Empty');
    assert.equal(group.generationId, 1);
    assert.equal(group.protocolName, null);
    assert.throws(() => group.selectProtocol(), /empty group/);
  });
});
