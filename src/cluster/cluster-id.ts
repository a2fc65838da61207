import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Kafka cluster ids are 16 random bytes in URL-safe base64 without padding (22 characters). */
export function newClusterId(): string {
  return Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64url');
}

/** The cluster id kept in the data folder, created on first start. */
export function loadOrCreateClusterId(dataDir: string): string {
  const path = join(dataDir, 'cluster-id');
  try {
    const stored = readFileSync(path, 'utf8').trim();
    if (stored.length > 0) return stored;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(dataDir, { recursive: true });
  const id = newClusterId();
  writeFileSync(path, `${id}\n`);
  return id;
}
