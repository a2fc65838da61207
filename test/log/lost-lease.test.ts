/**
 * A leader that loses a partition's lease (another node took it while this one was paused, say)
 * refuses the requests it read before the loss, even once the lease is free to take again: such
 * a request may have waited in the socket of the paused leader, and its client must look the
 * leader up afresh. A request read after the loss may take the lease back, at a higher epoch.
 *
 * The other node is played by a write to the lease table (dynalite), the way a node taking over
 * an expired lease writes it.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoLeaseStore, partitionLeaseResource, type Lease } from '../../src/cluster/leases.js';
import type { Topic } from '../../src/log/topics.js';
import { eventually } from '../groups/client-process.js';
import { startTestAws, type TestAws } from '../support/aws.js';
import { createTopics, startGateway, testAwsFlags, type RunningGateway } from '../support/gateway.js';

const TOPIC = 'lost-lease';
const LEASE_TTL_MS = 1500;

let aws: TestAws;
let gateway: RunningGateway;

before(async () => {
  aws = await startTestAws('lost-lease');
  gateway = await startGateway({ ...testAwsFlags(aws), 'lease-ttl-ms': String(LEASE_TTL_MS) });
  await createTopics(gateway.bootstrap, 1, [TOPIC]);
});

after(async () => {
  await gateway?.stop();
  await aws?.close();
});

test('requests read before the lease was lost are refused; later ones take the lease back at a higher epoch', async () => {
  const { logs } = gateway.gateway;
  const { topics, aws: resources } = gateway.gateway.storage;
  const topic = (await topics.topic(TOPIC)) as Topic;
  const opened = await logs.partition(topic, 0, performance.now());
  assert.ok(typeof opened !== 'string', `partition 0 is led: ${String(opened)}`);
  const readBeforeLoss = performance.now();

  // Another node takes the lease over, as after this one's lease ran out.
  const resource = partitionLeaseResource(topic.topicId, 0);
  const taken: Lease = { resource, owner: 999, epoch: opened.lease.epoch + 1, expiresAtMs: Date.now() + 60_000 };
  await resources.dynamodb.send(
    new PutItemCommand({
      TableName: resources.tables.leases,
      Item: {
        resource: { S: taken.resource },
        owner: { N: String(taken.owner) },
        epoch: { N: String(taken.epoch) },
        expiresAtMs: { N: String(taken.expiresAtMs) },
      },
    }),
  );
  await eventually('the leader notices the lease is lost', () => logs.ledLease(topic.topicId, 0) === undefined, 10_000);
  const readWhileTaken = performance.now();
  assert.equal(await logs.partition(topic, 0, readWhileTaken), 'not-leader', 'the other node holds the lease');

  // The other node gives the partition up: the lease is free.
  await new DynamoLeaseStore(resources.dynamodb, resources.tables.leases).release(taken);
  assert.equal(await logs.partition(topic, 0, readBeforeLoss), 'not-leader', 'a request read before the loss is refused');

  const reopened = await logs.partition(topic, 0, performance.now());
  assert.ok(typeof reopened !== 'string', `a request read after the loss is served: ${String(reopened)}`);
  assert.equal(reopened.lease.epoch, taken.epoch + 1);
});
