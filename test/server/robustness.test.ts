import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../src/protocol/errors.js';
import { apiVersionsResponse, metadataResponse } from '../../src/protocol/messages/index.js';
import { Reader, Writer } from '../../src/protocol/primitives.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { RawClient } from '../support/raw-client.js';

let gw: RunningGateway;
before(async () => {
  gw = await startGateway({ 'socket-request-max-bytes': '65536' });
});
after(async () => {
  await gw.stop();
});

/** A request frame body: header v1 (api key, version, correlation id, client id) and a body. */
function request(apiKey: number, apiVersion: number, correlationId: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const w = new Writer();
  w.int16(apiKey).int16(apiVersion).int32(correlationId).nullableString('robustness-test').raw(body);
  return Buffer.from(w.finish());
}

/** ApiVersions v0 on a fresh connection answers: the server is still serving. */
async function assertServing(): Promise<void> {
  const client = await RawClient.connect(gw.port);
  try {
    client.sendFrame(request(18, 0, 77));
    const reader = new Reader(await client.nextFrame());
    assert.equal(reader.int32(), 77);
    const response = apiVersionsResponse.decode(reader, 0);
    assert.equal(response.errorCode, ErrorCode.NONE);
  } finally {
    client.close();
  }
}

test('garbage bytes close that connection only', async () => {
  const bystander = await RawClient.connect(gw.port);
  for (let i = 0; i < 20; i++) {
    const client = await RawClient.connect(gw.port);
    // A plausible size prefix followed by random bytes that cannot be a valid request.
    const junk = randomBytes(64);
    junk.writeInt16BE(3, 0); // Metadata
    junk.writeInt16BE(1, 2);
    client.sendFrame(junk);
    assert.equal(await client.closedWithin(3000), true, 'the server closes a connection that sent garbage');
  }
  assert.equal(bystander.closed, false);
  bystander.close();
  await assertServing();
});

test('a frame with bytes left over after the request closes the connection', async () => {
  const client = await RawClient.connect(gw.port);
  client.sendFrame(request(18, 0, 1, Buffer.from([1, 2, 3])));
  assert.equal(await client.closedWithin(3000), true);
});

test('a truncated request (short body) closes the connection', async () => {
  const client = await RawClient.connect(gw.port);
  const w = new Writer();
  w.int16(3).int16(1).int32(5).nullableString('x').int32(3); // Metadata v1 claims 3 topics, sends none
  client.sendFrame(Buffer.from(w.finish()));
  assert.equal(await client.closedWithin(3000), true);
  await assertServing();
});

test('a frame cut off mid-way gets no answer and the connection stays open', async () => {
  const client = await RawClient.connect(gw.port);
  const whole = request(18, 0, 9);
  const size = Buffer.alloc(4);
  size.writeInt32BE(whole.length);
  client.send(Buffer.concat([size, whole.subarray(0, 5)]));
  await assert.rejects(client.nextFrame(300), /no response in time/);
  assert.equal(client.closed, false);
  client.send(whole.subarray(5));
  const reader = new Reader(await client.nextFrame());
  assert.equal(reader.int32(), 9);
  client.close();
});

test('huge and negative length prefixes close the connection at once', async () => {
  for (const size of [0x7fffffff, 65537, -5, 3]) {
    const client = await RawClient.connect(gw.port);
    const prefix = Buffer.alloc(4);
    prefix.writeInt32BE(size);
    client.send(prefix);
    assert.equal(await client.closedWithin(3000), true, `size ${size}`);
  }
  await assertServing();
});

test('an unknown API key gets UNSUPPORTED_VERSION and the connection keeps working', async () => {
  const client = await RawClient.connect(gw.port);
  client.sendFrame(request(4242, 0, 11));
  const reader = new Reader(await client.nextFrame());
  assert.equal(reader.int32(), 11);
  assert.equal(reader.int16(), ErrorCode.UNSUPPORTED_VERSION);
  client.sendFrame(request(18, 0, 12));
  const next = new Reader(await client.nextFrame());
  assert.equal(next.int32(), 12);
  client.close();
});

test('a known API at a version the gateway does not serve gets UNSUPPORTED_VERSION', async () => {
  const client = await RawClient.connect(gw.port);
  client.sendFrame(request(3, 99, 21)); // Metadata v99
  const reader = new Reader(await client.nextFrame());
  assert.equal(reader.int32(), 21);
  assert.equal(reader.int16(), ErrorCode.UNSUPPORTED_VERSION);
  client.close();
});

test('ApiVersions of an unknown version is answered with v0 and the supported list (KIP-511)', async () => {
  const client = await RawClient.connect(gw.port);
  client.sendFrame(request(18, 127, 31, randomBytes(10)));
  const reader = new Reader(await client.nextFrame());
  assert.equal(reader.int32(), 31);
  const response = apiVersionsResponse.decode(reader, 0);
  assert.equal(response.errorCode, ErrorCode.UNSUPPORTED_VERSION);
  const apiVersions = response.apiKeys.find((k) => k.apiKey === 18);
  assert.deepEqual(apiVersions && [apiVersions.minVersion, apiVersions.maxVersion], [0, 4]);
  client.close();
});

test('pipelined requests are answered in request order', async () => {
  const client = await RawClient.connect(gw.port);
  const metadataV1 = new Writer().int32(-1).finish(); // null topics: all
  const frames: Buffer[] = [];
  for (let i = 0; i < 50; i++) {
    frames.push(i % 2 === 0 ? request(18, 0, i) : request(3, 1, i, Buffer.from(metadataV1)));
  }
  const prefixed = frames.map((f) => {
    const size = Buffer.alloc(4);
    size.writeInt32BE(f.length);
    return Buffer.concat([size, f]);
  });
  client.send(Buffer.concat(prefixed));
  for (let i = 0; i < 50; i++) {
    const reader = new Reader(await client.nextFrame());
    assert.equal(reader.int32(), i);
    if (i % 2 === 1) {
      const metadata = metadataResponse.decode(reader, 1);
      assert.equal(metadata.brokers.length, 1);
    }
  }
  client.close();
});
