/**
 * The records client against the SDK client it is built from: the same PutRecords request, the
 * same GetRecords output, the same endpoint and signature scheme, errors named as the SDK names
 * them. A request handler records each request and answers with a fixed response (pure
 * serialization: Kinesis itself is exercised by every data-path test on kinesalite).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, test } from 'node:test';
import { GetRecordsCommand, KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { HttpResponse, type HttpRequest } from '@smithy/core/protocols';
import { isThrottle } from '../../src/kinesis/client.js';
import { KinesisRecordsClient, KinesisServiceError, decodeGetRecordsBody, encodePutRecordsBody } from '../../src/kinesis/records-client.js';
import type { ObservedCall } from '../../src/metrics/aws-observer.js';

interface Exchange {
  requests: HttpRequest[];
  responseBody: string;
  statusCode: number;
}

function answering(responseBody: string, statusCode = 200): Exchange {
  return { requests: [], responseBody, statusCode };
}

function sdkClient(exchange: Exchange, location: { endpoint?: string; region?: string } = { endpoint: 'http://127.0.0.1:4567' }): KinesisClient {
  const requestHandler = {
    handle: (request: HttpRequest) => {
      exchange.requests.push(request);
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
    region: location.region ?? 'us-east-1',
    ...(location.endpoint !== undefined ? { endpoint: location.endpoint } : {}),
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 1,
    requestHandler,
  });
}

function bodyText(request: HttpRequest | undefined): string {
  const body = request?.body as string | Uint8Array;
  return typeof body === 'string' ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
}

const ENTRIES: PutRecordsRequestEntry[] = [
  { Data: randomBytes(1000), PartitionKey: '0', ExplicitHashKey: '170141183460469231731687303715884105728' },
  { Data: new Uint8Array(randomBytes(40).buffer, 7, 20), PartitionKey: 'quote " backslash \\ ünïcode ✓ \u0001' },
  { Data: new Uint8Array(0), PartitionKey: 'empty' },
];

/** Kinesis leaves ChildShards out, or null (kinesis-mock), until a shard closes. */
function getRecordsResponse(entries: readonly PutRecordsRequestEntry[], childShards: unknown = null): string {
  return JSON.stringify({
    MillisBehindLatest: 12,
    NextShardIterator: 'AAAA',
    ChildShards: childShards,
    Records: entries.map((e, i) => ({
      Data: Buffer.from(e.Data as Uint8Array).toString('base64'),
      PartitionKey: e.PartitionKey,
      SequenceNumber: `4959000000000000000000000000000000000000000000000000000${i}`,
      ApproximateArrivalTimestamp: 1764136000.123 + i,
      EncryptionType: 'NONE',
    })),
  });
}

describe('KinesisRecordsClient', () => {
  test('PutRecords: the SDK’s request (body, target, endpoint), signed with SigV4', async () => {
    const response = '{"FailedRecordCount":1,"Records":[{"SequenceNumber":"1","ShardId":"shardId-000000000000","ErrorCode":null,"ErrorMessage":null},{"ErrorCode":"ProvisionedThroughputExceededException","ErrorMessage":"slow down"},{"SequenceNumber":"2","ShardId":"shardId-000000000000"}]}';
    const sdk = answering(response);
    const ours = answering(response);
    const viaSdk = await sdkClient(sdk).send(new PutRecordsCommand({ StreamName: 'orders', Records: ENTRIES }));
    const viaOurs = await new KinesisRecordsClient(sdkClient(ours)).putRecords({ StreamName: 'orders', Records: ENTRIES });
    const [theirs, mine] = [sdk.requests[0], ours.requests[0]];
    assert.deepEqual(JSON.parse(bodyText(mine)), JSON.parse(bodyText(theirs)));
    for (const header of ['x-amz-target', 'content-type', 'host']) assert.equal(mine?.headers[header], theirs?.headers[header], header);
    assert.deepEqual([mine?.protocol, mine?.hostname, mine?.port, mine?.path], [theirs?.protocol, theirs?.hostname, theirs?.port, theirs?.path]);
    assert.match(mine?.headers.authorization ?? '', /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/kinesis\/aws4_request, SignedHeaders=.*x-amz-target.*, Signature=[0-9a-f]{64}$/);
    assert.deepEqual([viaOurs.FailedRecordCount, viaOurs.Records], [viaSdk.FailedRecordCount, viaSdk.Records]);
  });

  test('the endpoint of the region when no endpoint is set, as the SDK resolves it', async () => {
    const exchange = answering('{"FailedRecordCount":0,"Records":[]}');
    await new KinesisRecordsClient(sdkClient(exchange, { region: 'eu-west-1' })).putRecords({ StreamName: 's', Records: [] });
    assert.deepEqual([exchange.requests[0]?.protocol, exchange.requests[0]?.hostname], ['https:', 'kinesis.eu-west-1.amazonaws.com']);
  });

  const children = [{ ShardId: 'shardId-000000000002', ParentShards: ['shardId-000000000000'], HashKeyRange: { StartingHashKey: '0', EndingHashKey: '9' } }];
  test('an endpoint configured for the service (AWS_ENDPOINT_URL_KINESIS) is used, as by the SDK', async () => {
    process.env.AWS_ENDPOINT_URL_KINESIS = 'http://127.0.0.1:4599';
    try {
      const sdk = answering('{"FailedRecordCount":0,"Records":[]}');
      const ours = answering('{"FailedRecordCount":0,"Records":[]}');
      await sdkClient(sdk, { region: 'eu-west-1' }).send(new PutRecordsCommand({ StreamName: 's', Records: [] }));
      await new KinesisRecordsClient(sdkClient(ours, { region: 'eu-west-1' })).putRecords({ StreamName: 's', Records: [] });
      const where = (request: HttpRequest | undefined): unknown[] => [request?.protocol, request?.hostname, request?.port];
      assert.deepEqual(where(sdk.requests[0]), ['http:', '127.0.0.1', 4599]);
      assert.deepEqual(where(ours.requests[0]), where(sdk.requests[0]));
    } finally {
      delete process.env.AWS_ENDPOINT_URL_KINESIS;
    }
  });

  for (const [text, entries, childShards] of [
    ['UTF-8 body, child shards', ENTRIES, children],
    ['ASCII body, null fields', ENTRIES.filter((e) => /^[\x20-\x7e]*$/.test(e.PartitionKey ?? '')), null],
  ] as const) {
    test(`GetRecords: the SDK’s output (Data bytes, arrival times as Dates), ${text}`, async () => {
      const body = getRecordsResponse(entries, childShards);
      const viaSdk = { ...(await sdkClient(answering(body)).send(new GetRecordsCommand({ ShardIterator: 'AAAA' }))), $metadata: undefined };
      const viaOurs = await new KinesisRecordsClient(sdkClient(answering(body))).getRecords({ ShardIterator: 'AAAA' });
      const bytes = (output: typeof viaOurs): unknown => ({ ...output, $metadata: undefined, Records: output.Records?.map((r) => ({ ...r, Data: Buffer.from(r.Data ?? new Uint8Array(0)) })) });
      assert.deepEqual(bytes(viaOurs), bytes(viaSdk));
      assert.equal(viaOurs.Records?.length, entries.length);
      assert.equal(viaOurs.Records?.[0]?.ApproximateArrivalTimestamp?.getTime(), 1764136000123);
    });
  }

  test('errors carry the service’s error name, as the SDK’s exceptions do', async () => {
    const expired = new KinesisRecordsClient(sdkClient(answering('{"__type":"com.amazonaws.kinesis#ExpiredIteratorException","message":"Iterator expired"}', 400)));
    await assert.rejects(expired.getRecords({ ShardIterator: 'old' }), { name: 'ExpiredIteratorException', message: 'Iterator expired' });
    const throttled = new KinesisRecordsClient(sdkClient(answering('{"__type":"ProvisionedThroughputExceededException","Message":"Rate exceeded"}', 400)));
    await assert.rejects(throttled.putRecords({ StreamName: 's', Records: [] }), (err: unknown) => isThrottle(err) && err instanceof KinesisServiceError && err.$fault === 'client');
    const unavailable = new KinesisRecordsClient(sdkClient(answering('<html>Service Unavailable</html>', 503)));
    await assert.rejects(unavailable.getRecords({ ShardIterator: 'x' }), (err: unknown) => err instanceof KinesisServiceError && err.$fault === 'server' && err.$metadata.httpStatusCode === 503);
  });

  test('every call is reported to the observer, with its parsed output or its error', async () => {
    const calls: ObservedCall[] = [];
    const client = new KinesisRecordsClient(sdkClient(answering(getRecordsResponse(ENTRIES))));
    client.observe((call) => calls.push(call));
    await client.getRecords({ ShardIterator: 'AAAA' });
    const failing = new KinesisRecordsClient(sdkClient(answering('{"__type":"LimitExceededException"}', 400)));
    failing.observe((call) => calls.push(call));
    await assert.rejects(failing.getRecords({ ShardIterator: 'B' }));
    assert.deepEqual(
      calls.map((c) => [c.operation, c.outcome, c.errorName, (c.output as { NextShardIterator?: string } | undefined)?.NextShardIterator, c.input]),
      [
        ['GetRecords', 'ok', undefined, 'AAAA', { ShardIterator: 'AAAA' }],
        ['GetRecords', 'throttled', 'LimitExceededException', undefined, { ShardIterator: 'B' }],
      ],
    );
  });

  test('GetRecords bodies the data scan cannot cut are read whole, to the same result', () => {
    const data = [randomBytes(300), Buffer.from([0xfb, 0xff, 0xbf]), Buffer.alloc(0)];
    const records = (partitionKeys: string[]): Record<string, unknown>[] =>
      partitionKeys.map((key, i) => ({ Data: (data[i] as Buffer).toString('base64'), PartitionKey: key, SequenceNumber: String(i), ApproximateArrivalTimestamp: 1.5 }));
    const bodies = [
      // A partition key holding the field pattern (escaped in JSON, so never mistaken for it).
      JSON.stringify({ Records: records(['x","Data":"y', '"Data":"', 'plain']), NextShardIterator: 'I' }),
      // Pretty-printed: the pattern is not found, the record count tells.
      JSON.stringify({ Records: records(['a', 'b', 'c']), NextShardIterator: 'I' }, null, 2),
      // Slashes escaped as \/ (valid JSON): the scan refuses the escaped value.
      JSON.stringify({ Records: records(['a', 'b', 'c']), NextShardIterator: 'I' }).replaceAll('/', '\\/'),
    ];
    for (const body of bodies) {
      const decoded = decodeGetRecordsBody(Buffer.from(body));
      assert.deepEqual(
        decoded.Records?.map((r) => [Buffer.from(r.Data ?? new Uint8Array(0)), r.PartitionKey, r.ApproximateArrivalTimestamp?.getTime()]),
        (JSON.parse(body) as { Records: { PartitionKey: string }[] }).Records.map((r, i) => [data[i], r.PartitionKey, 1500]),
        body.slice(0, 60),
      );
      assert.equal(decoded.NextShardIterator, 'I');
    }
  });

  test('encode and decode stand alone', () => {
    const body = JSON.parse(encodePutRecordsBody({ StreamARN: 'arn:aws:kinesis:us-east-1:1:stream/s', Records: [] }).toString()) as unknown;
    assert.deepEqual(body, { StreamARN: 'arn:aws:kinesis:us-east-1:1:stream/s', Records: [] });
    assert.deepEqual(decodeGetRecordsBody(new Uint8Array(0)), { Records: [] });
  });
});
