// A kafkajs group consumer in its own process, for tests that kill a member outright (no
// LeaveGroup). Prints one JSON line per event: {"event":"assigned","partitions":[...]} after each
// join, {"event":"consumed",...} per record. Runs until killed, or until stdin says "close"
// (then it leaves the group and exits).
//
// argv[2] is a JSON spec: bootstrap, group, topic, client_id, session_timeout_ms, heartbeat_ms.
import { createInterface } from 'node:readline';
import kafkajs from 'kafkajs';

const spec = JSON.parse(process.argv[2]);
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);
const kafka = new kafkajs.Kafka({ clientId: spec.client_id ?? 'kkg-member', brokers: [spec.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
const consumer = kafka.consumer({
  groupId: spec.group,
  sessionTimeout: spec.session_timeout_ms ?? 10000,
  rebalanceTimeout: spec.rebalance_timeout_ms ?? 10000,
  heartbeatInterval: spec.heartbeat_ms ?? 300,
});
consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
  emit({ event: 'assigned', memberId: payload.memberId, partitions: payload.memberAssignment[spec.topic] ?? [] });
});
await consumer.connect();
await consumer.subscribe({ topic: spec.topic, fromBeginning: true });
await consumer.run({
  eachMessage: async ({ partition, message }) => {
    emit({ event: 'consumed', partition, offset: message.offset, value: message.value?.toString() ?? null });
  },
});
createInterface({ input: process.stdin }).on('line', async (line) => {
  if (line.trim() === 'close') {
    await consumer.disconnect();
    emit({ event: 'closed' });
    process.exit(0);
  }
});
