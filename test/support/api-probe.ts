import { RawClient } from './raw-client.js';

/** Whether the server at 127.0.0.1:port lists `apiKey` in its ApiVersions (v0) response. */
export async function serverSupportsApi(port: number, apiKey: number): Promise<boolean> {
  const client = await RawClient.connect(port);
  try {
    const clientId = Buffer.from('kkg-probe');
    const request = Buffer.alloc(10 + clientId.length);
    request.writeInt16BE(18, 0); // ApiVersions
    request.writeInt16BE(0, 2);
    request.writeInt32BE(1, 4);
    request.writeInt16BE(clientId.length, 8);
    clientId.copy(request, 10);
    client.sendFrame(request);
    const response = await client.nextFrame();
    const errorCode = response.readInt16BE(4);
    if (errorCode !== 0) return false;
    const count = response.readInt32BE(6);
    for (let i = 0; i < count; i++) if (response.readInt16BE(10 + i * 6) === apiKey) return true;
    return false;
  } finally {
    client.close();
  }
}
