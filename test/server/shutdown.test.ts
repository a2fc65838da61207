import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Kafka, logLevel } from 'kafkajs';
import { fetchRequest, fetchResponse, requestHeader, requestHeaderVersion, ApiKey } from '../../src/protocol/messages/index.js';
import { Reader, Writer } from '../../src/protocol/primitives.js';
import { startGateway } from '../support/gateway.js';
import { RawClient } from '../support/raw-client.js';

const FETCH_VERSION = 11;

test('stopping answers requests already in flight, then closes', { timeout: 60_000 }, async () => {
  const gw = await startGateway();
  const admin = new Kafka({ brokers: [gw.bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'quiet', numPartitions: 1 }] });
  await admin.disconnect();

  const client = await RawClient.connect(gw.port);
  const request = fetchRequest.create();
  request.maxWaitMs = 1500;
  request.minBytes = 1;
  request.maxBytes = 1 << 20;
  request.topics = [
    {
      topic: 'quiet',
      topicId: '00000000-0000-0000-0000-000000000000',
      partitions: [
        {
          partition: 0,
          currentLeaderEpoch: -1,
          fetchOffset: 0n,
          lastFetchedEpoch: -1,
          logStartOffset: -1n,
          partitionMaxBytes: 1 << 20,
          replicaDirectoryId: '00000000-0000-0000-0000-000000000000',
        },
      ],
    },
  ];
  const writer = new Writer();
  requestHeader.encode(
    writer,
    { requestApiKey: ApiKey.Fetch, requestApiVersion: FETCH_VERSION, correlationId: 5, clientId: 'shutdown-test' },
    requestHeaderVersion(ApiKey.Fetch, FETCH_VERSION),
  );
  fetchRequest.encode(writer, request, FETCH_VERSION);
  client.sendFrame(Buffer.from(writer.finish()));
  // Let the long poll start, then stop while it waits for data that never comes.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const started = Date.now();
  const stopping = gw.stop();
  const reader = new Reader(await client.nextFrame(5000));
  assert.equal(reader.int32(), 5, 'the in-flight fetch is answered');
  const response = fetchResponse.decode(reader, FETCH_VERSION);
  assert.equal(response.responses[0]?.partitions[0]?.errorCode, 0);
  await stopping;
  assert.ok(Date.now() - started < 5000, 'stop finishes within the grace period');
  assert.equal(await client.closedWithin(2000), true, 'the connection is closed after the answer');
});
