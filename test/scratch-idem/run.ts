import kafkajs from 'kafkajs';
import { API_KEY, FaultProxy } from '../support/fault-proxy.js';
import { startGateway } from '../support/gateway.js';
import { KafkajsIdempotentProducer } from '../support/idempotent-producers.js';
import { freePort } from '../support/ports.js';
import { startRedis } from '../support/redis.js';

const mode = process.argv[2] ?? 'none';
const redis = await startRedis();
const port = await freePort();
const gateway = await startGateway({ host: '127.0.0.2', port: String(port), 'advertised-host': '127.0.0.1', 'redis-url': redis.url, 'auto-create-topics': 'false' });
const proxy = await FaultProxy.start({ host: '127.0.0.1', port, upstreamHost: '127.0.0.2', upstreamPort: port });
const admin = new kafkajs.Kafka({ clientId: 'a', brokers: [proxy.address], logLevel: kafkajs.logLevel.NOTHING }).admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic: 't', numPartitions: 3 }], waitForLeaders: true });
await admin.disconnect();
const t0 = Date.now();
const log = (m: string) => console.log(`${Date.now() - t0} ${m}`);
proxy.setPolicies((info) => {
  if (info.apiKey !== API_KEY.PRODUCE) return { kind: 'pass' };
  const pick = info.ordinal % 6 === 1 ? mode : 'pass';
  if (pick !== 'pass') log(`response ${info.ordinal} ${pick}`);
  if (pick === 'drop-close') return { kind: 'drop-close' };
  if (pick === 'drop') return { kind: 'drop' };
  if (pick === 'delay') return { kind: 'delay', delayMs: 2500 };
  return { kind: 'pass' };
}, (info) => {
  if (info.apiKey === API_KEY.PRODUCE && mode === 'cut' && info.ordinal % 6 === 1) { log(`cut ${info.ordinal}`); return 'cut'; }
  return 'pass';
});
const p = new KafkajsIdempotentProducer(proxy.address, { name: 'x', topic: 't', partitionCount: 3, count: 600, batchSize: 30, maxInFlightRequests: 1, requestTimeoutMs: 1500 });
let last = 0;
const timer = setInterval(() => { if (p.acked.size !== last) { last = p.acked.size; log(`acked ${last}`); } }, 50);
await p.finished();
clearInterval(timer);
log(`done ${p.acked.size} errors ${p.sendErrors.toString()} fatal ${p.fatal?.message}`);
await proxy.close();
await gateway.stop();
await redis.stop();
