import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { startDynalite, startKinesalite } from '../../src/embedded-aws.js';
import { startGatewayProcess } from '../support/gateway-process.js';
import { KafkajsIdempotentProducer } from '../support/idempotent-producers.js';
import { freePort } from '../support/ports.js';
import { startRedis } from '../support/redis.js';
import { TcpGate } from '../support/tcp-gate.js';

const [kin, dyn, redis] = await Promise.all([startKinesalite(), startDynalite(), startRedis()]);
const gate = await TcpGate.start(Number(new URL(kin.endpoint).port));
const dataDir = mkdtempSync(join(tmpdir(), 'kkg-x-'));
const port = await freePort();
const flags = { 'kinesis-endpoint': `http://127.0.0.1:${gate.port}`, 'dynamodb-endpoint': dyn.endpoint, 'redis-url': redis.url, 'data-dir': dataDir, 'auto-create-topics': 'false', 'index-interval-bytes': process.env.IIB ?? '8192', 'lease-ttl-ms': '3000', 'log-level': process.env.GWLOG ?? 'warn' };
let gw = await startGatewayProcess(port, flags);
const bootstrap = `127.0.0.1:${port}`;
const admin = new kafkajs.Kafka({ clientId: 'a', brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: 't', numPartitions: 3 }], waitForLeaders: true });
await admin.disconnect();
const t0 = Date.now();
const log = (m: string) => console.log(`${Date.now() - t0} ${m}`);
const p = new KafkajsIdempotentProducer(bootstrap, { name: 'x', topic: 't', partitionCount: 3, count: 1e6, batchSize: 30, maxInFlightRequests: 1, requestTimeoutMs: 5000 });
while (p.acked.size < 600) await sleep(20);
gate.close();
log(`gate closed at ${p.acked.size}`);
await sleep(1500);
log(`held ${gate.heldBytes}`);
await gw.kill9();
log('killed');
gate.reopen();
await sleep(300);
gw = await startGatewayProcess(port, flags);
log('restarted');
const at = p.acked.size;
let last = at;
while (p.acked.size < at + 300) {
  await sleep(1000);
  if (p.acked.size !== last) { last = p.acked.size; log(`acked ${last}`); }
  if (Date.now() - t0 > 150_000) { log(`STUCK at ${p.acked.size}; errors ${p.sendErrors}`); break; }
}
log(`done ${p.acked.size}`);
console.log(gw.output().slice(-3000));
await p.stop().catch(() => undefined);
await gw.kill9();
await Promise.all([kin.close(), dyn.close(), redis.stop(), gate.stop()]);
process.exit(0);
