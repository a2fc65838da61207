/**
 * The listener is open before the gateway is ready (it must know its port to register the node),
 * but a client that connects then must not be answered by an empty API registry: its requests
 * wait, unread, until serve().
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { apiVersionsFallback, apiVersionsHandler } from '../../src/apis/api-versions.js';
import { ApiRegistry, registerApi } from '../../src/apis/handler.js';
import { ApiKey, apiVersionsRequest, apiVersionsResponse, requestHeader, requestHeaderVersion } from '../../src/protocol/messages/index.js';
import { Reader, Writer } from '../../src/protocol/primitives.js';
import { KafkaServer } from '../../src/server/server.js';
import { RawClient } from '../support/raw-client.js';

const VERSION = 3;

function apiVersionsFrame(correlationId: number): Buffer {
  const writer = new Writer();
  requestHeader.encode(
    writer,
    { requestApiKey: ApiKey.ApiVersions, requestApiVersion: VERSION, correlationId, clientId: 'serve-gate-test' },
    requestHeaderVersion(ApiKey.ApiVersions, VERSION),
  );
  const body = apiVersionsRequest.create();
  body.clientSoftwareName = 'test';
  body.clientSoftwareVersion = '1';
  apiVersionsRequest.encode(writer, body, VERSION);
  return Buffer.from(writer.finish());
}

test('held connections accepted before serve() are answered after it, by the full registry', { timeout: 20_000 }, async () => {
  const registry = new ApiRegistry();
  const server = new KafkaServer({
    host: '127.0.0.1',
    port: 0,
    registry,
    log: pino({ level: 'silent' }),
    maxRequestBytes: 1 << 20,
    maxInFlightPerConnection: 10,
    apiVersionsFallback: apiVersionsFallback(registry),
  });
  const { port } = await server.listen({ holdConnections: true });
  const early = await RawClient.connect(port);
  const closedEarly = await RawClient.connect(port);
  try {
    early.sendFrame(apiVersionsFrame(7));
    closedEarly.close();
    await assert.rejects(early.nextFrame(300), 'nothing is answered before serve()');
    registry.add(registerApi(apiVersionsHandler(registry)));
    server.serve();
    const reader = new Reader(await early.nextFrame(5000));
    assert.equal(reader.int32(), 7);
    // ApiVersions responses keep header v0 (KIP-511).
    const response = apiVersionsResponse.decode(reader, VERSION);
    assert.equal(response.errorCode, 0);
    assert.deepEqual(
      response.apiKeys.map((k) => k.apiKey),
      [ApiKey.ApiVersions],
      'the handlers registered before serve() are advertised',
    );
    assert.equal(server.connectionCount, 1, 'the connection closed while waiting is gone');
  } finally {
    early.close();
    await server.close(1000);
  }
});
