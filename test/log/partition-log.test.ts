import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LeadershipLostError, PartitionLog } from '../../src/log/partition-log.js';

test('writes waiting to be read back are told at once when the node stops leading the partition', async () => {
  const log = new PartitionLog('t', 3, 0n, 1 << 20);
  const waiting = [log.offsetOfSequence('100'), log.offsetOfSequence('100'), log.offsetOfSequence('200')];
  assert.equal(log.awaitedSequences, 2);
  log.leadershipEnded();
  assert.equal(log.awaitedSequences, 0);
  for (const result of await Promise.allSettled(waiting)) {
    assert.equal(result.status, 'rejected');
    assert.ok(result.status === 'rejected' && result.reason instanceof LeadershipLostError);
  }
});
