import { mkdirSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';

/** A local AWS stand-in listening on loopback. */
export interface LocalService {
  readonly endpoint: string;
  close(): Promise<void>;
}

async function listen(server: Server, host: string): Promise<LocalService> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('local service has no TCP address');
  return {
    endpoint: `http://${host}:${address.port}`,
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}

/**
 * kinesalite in this process. With a folder its streams persist there (LevelDB); without one
 * they live in memory. Its default account limit is 10 shards, too few for real use.
 */
export function startKinesalite(folder?: string, host = '127.0.0.1'): Promise<LocalService> {
  if (folder !== undefined) mkdirSync(folder, { recursive: true });
  const server = kinesalite({
    path: folder,
    createStreamMs: 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
    shardLimit: 1000,
  });
  return listen(server, host);
}

/** dynalite in this process, persisting to a folder when one is given. */
export function startDynalite(folder?: string, host = '127.0.0.1'): Promise<LocalService> {
  if (folder !== undefined) mkdirSync(folder, { recursive: true });
  const server = dynalite({ path: folder, createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  return listen(server, host);
}

/** Both stand-ins under the gateway's data folder, as `npm start` runs them with no AWS settings. */
export async function startEmbeddedAws(dataDir: string): Promise<{ kinesis: LocalService; dynamodb: LocalService }> {
  const kinesis = await startKinesalite(join(dataDir, 'kinesis'));
  const dynamodb = await startDynalite(join(dataDir, 'dynamodb'));
  return { kinesis, dynamodb };
}
