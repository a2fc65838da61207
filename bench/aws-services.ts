/**
 * kinesalite and dynalite (in memory) in a process of their own, for benchmarks: the gateway
 * and the direct AWS SDK client then compete for the same Kinesis stand-in and neither shares
 * its event loop with it. Prints {"kinesis": url, "dynamodb": url} on a line once listening;
 * exits when its standard input closes.
 */
import { startDynalite, startKinesalite } from '../src/embedded-aws.js';

const [kinesis, dynamodb] = await Promise.all([startKinesalite(), startDynalite()]);
process.stdout.write(`${JSON.stringify({ kinesis: kinesis.endpoint, dynamodb: dynamodb.endpoint })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  void Promise.all([kinesis.close(), dynamodb.close()]).finally(() => process.exit(0));
});
