import { startDynalite, startKinesalite } from '../src/embedded-aws.js';
import { startGatewayProcess } from './support/gateway-process.js';
import { freePort } from './support/ports.js';
import kafkajs from 'kafkajs';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const [k, d] = await Promise.all([startKinesalite(), startDynalite()]);
const port = await freePort();
const dataDir = mkdtempSync(join(tmpdir(), 'x-'));
const flags = { 'kinesis-endpoint': k.endpoint, 'dynamodb-endpoint': d.endpoint, 'data-dir': dataDir, 'kinesis-poll-interval-ms': '20', 'log-level': 'warn' };
let gw = await startGatewayProcess(port, flags);
const kafka = new kafkajs.Kafka({ brokers: [gw.bootstrap], logLevel: Number(process.env.LL ?? 0), requestTimeout: 120000 });
const admin = kafka.admin(); await admin.connect();
await admin.createTopics({ topics: [{ topic: 'b', numPartitions: 4 }], waitForLeaders: true });
const p = kafka.producer(); await p.connect();
const N = Number(process.argv[2] ?? 8000);
for (let i = 0; i < N; i += 256) await p.send({ topic: 'b', acks: -1, messages: Array.from({ length: 256 }, (_, j) => ({ key: `key-${i + j}`, value: Buffer.concat([randomBytes(512), Buffer.alloc(512, 'a')]) })) });
await p.disconnect();
console.log(await admin.fetchTopicOffsets('b'));
if (process.argv[3] === 'restart') { await gw.stop(); gw = await startGatewayProcess(port, flags); }
const c = kafka.consumer({ groupId: 'g' + Date.now(), maxWaitTimeInMs: 100, maxBytes: Number(process.argv[4] ?? 50 << 20) });
await c.connect(); await c.subscribe({ topics: ['b'], fromBeginning: true });
const per = [0, 0, 0, 0]; let n = 0; const t0 = Date.now();
await c.run({ eachBatch: async ({ batch }) => { per[batch.partition] += batch.messages.length; n += batch.messages.length; } });
while (n < N && Date.now() - t0 < 90000) { await new Promise(r => setTimeout(r, 2000)); console.log(((Date.now() - t0) / 1000).toFixed(0), per); }
await c.disconnect(); await admin.disconnect();
const { execFile } = await import('node:child_process'); const { promisify } = await import('node:util'); const ef = promisify(execFile);
for (let part = 0; part < 4; part++) {
  for (const mb of ['1048576', '10485760']) {
    try {
      const out = (await ef('kcat', ['-b', gw.bootstrap, '-C', '-t', 'b', '-p', String(part), '-o', String(per[part]), '-c', '3', '-e', '-f', '%p %o %S\\n', '-X', 'max.partition.fetch.bytes=' + mb, '-X', 'fetch.max.bytes=' + mb], { timeout: 20000 })).stdout;
      console.log('kcat p', part, 'from', per[part], 'max', mb, ':', JSON.stringify(out));
    } catch (e) { console.log('kcat p', part, 'failed', String(e).slice(0, 300)); }
  }
}
console.log('GATEWAY OUTPUT', gw.output().slice(-3000));
await gw.stop(); await k.close(); await d.close();
