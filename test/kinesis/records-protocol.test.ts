/**
 * The records protocol against the SDK's own awsJson1.1 serde: the same PutRecords request body
 * and the same GetRecords output, through a request handler that records the request and
 * answers with a fixed response (pure serialization: no Kinesis involved).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { GetRecordsCommand, KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { HttpResponse, type HttpRequest } from '@smithy/core/protocols';
import { KinesisRecordsProtocol, decodeGetRecordsBody, encodePutRecordsBody } from '../../src/kinesis/records-protocol.js';

interface Exchange {
  request?: HttpRequest;
  responseBody: string;
  statusCode: number;
}

function clientAnswering(exchange: Exchange, withRecordsProtocol: boolean): KinesisClient {
  const requestHandler = {
    handle: (request: HttpRequest) => {
      exchange.request = request;
      const response = new HttpResponse({
        statusCode: exchange.statusCode,
        headers: { 'content-type': 'application/x-amz-json-1.1' },
        body: Readable.from([Buffer.from(exchange.responseBody)]),
      });
      return Promise.resolve({ response });
    },
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({}),
  };
  return new KinesisClient({
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    maxAttempts: 1,
    requestHandler,
    ...(withRecordsProtocol ? { protocol: KinesisRecordsProtocol } : {}),
  });
}

function bodyText(request: HttpRequest | undefined): string {
  const body = request?.body as string | Uint8Array;
  return typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
}

const view = new Uint8Array(randomBytes(40).buffer, 7, 20);
const ENTRIES: PutRecordsRequestEntry[] = [
  { Data: randomBytes(1000), PartitionKey: '0', ExplicitHashKey: '170141183460469231731687303715884105728' },
  { Data: view, PartitionKey: 'quote " backslash \\ ünïcode ✓ \u0001' },
  { Data: new Uint8Array(0), PartitionKey: 'empty' },
];

describe('KinesisRecordsProtocol', () => {
  test('PutRecords: the same JSON as the SDK writes, with the same headers', async () => {
    const sdk: Exchange = { responseBody: '{"FailedRecordCount":0,"Records":[]}', statusCode: 200 };
    const ours: Exchange = { ...sdk };
    for (const [exchange, fast] of [
      [sdk, false],
      [ours, true],
    ] as const) {
      await clientAnswering(exchange, fast).send(new PutRecordsCommand({ StreamName: 'orders', Records: ENTRIES }));
    }
    assert.deepEqual(JSON.parse(bodyText(ours.request)), JSON.parse(bodyText(sdk.request)));
    assert.equal(ours.request?.headers['x-amz-target'], 'Kinesis_20131202.PutRecords');
    assert.equal(ours.request?.headers['content-type'], sdk.request?.headers['content-type']);
    assert.equal(ours.request?.path, sdk.request?.path);
  });

  test('GetRecords: the same output as the SDK reads (Data bytes, arrival times as Dates)', async () => {
    const responseBody = JSON.stringify({
      MillisBehindLatest: 12,
      NextShardIterator: 'AAAA',
      ChildShards: [{ ShardId: 'shardId-000000000002', ParentShards: ['shardId-000000000000'], HashKeyRange: { StartingHashKey: '0', EndingHashKey: '9' } }],
      Records: ENTRIES.map((e, i) => ({
        Data: Buffer.from(e.Data as Uint8Array).toString('base64'),
        PartitionKey: e.PartitionKey,
        SequenceNumber: `4959000000000000000000000000000000000000000000000000000${i}`,
        ApproximateArrivalTimestamp: 1764136000.123 + i,
        EncryptionType: 'NONE',
      })),
    });
    const outputs = [];
    for (const fast of [false, true]) {
      const output = await clientAnswering({ responseBody, statusCode: 200 }, fast).send(new GetRecordsCommand({ ShardIterator: 'AAAA' }));
      outputs.push({ ...output, $metadata: undefined, Records: output.Records?.map((r) => ({ ...r, Data: Buffer.from(r.Data ?? new Uint8Array(0)) })) });
    }
    assert.deepEqual(outputs[1], outputs[0]);
    assert.equal(outputs[1]?.Records?.[0]?.ApproximateArrivalTimestamp?.getTime(), 1764136000123);
  });

  test('errors stay the SDK’s: the modelled exception with its name', async () => {
    const client = clientAnswering(
      { responseBody: '{"__type":"ExpiredIteratorException","message":"Iterator expired"}', statusCode: 400 },
      true,
    );
    await assert.rejects(client.send(new GetRecordsCommand({ ShardIterator: 'old' })), { name: 'ExpiredIteratorException', message: 'Iterator expired' });
  });

  test('encode and decode stand alone', () => {
    const body = JSON.parse(encodePutRecordsBody({ StreamARN: 'arn:aws:kinesis:us-east-1:1:stream/s', Records: [] }).toString()) as unknown;
    assert.deepEqual(body, { StreamARN: 'arn:aws:kinesis:us-east-1:1:stream/s', Records: [] });
    assert.deepEqual(decodeGetRecordsBody(new Uint8Array(0)), { Records: [] });
  });
});
