/**
 * Entry of a child process that runs one AWS stand-in in memory (test/support/local-aws-process.ts):
 * argv[2] is `kinesalite` or `dynalite`. Prints {"endpoint": url} on a line once listening;
 * closes and exits on SIGTERM.
 *
 * A line `advance-clock <ms>` on stdin moves this process's Date.now() forward by ms (answered
 * with a line `clock-advanced`): kinesalite then expires records older than the stream's
 * retention period as Kinesis would, without a test waiting 24 hours.
 */
import { createInterface } from 'node:readline';
import { startDynalite, startKinesalite } from '../../src/embedded-aws.js';

const kind = process.argv[2];
if (kind !== 'kinesalite' && kind !== 'dynalite') throw new Error(`unknown stand-in ${kind}`);

const realNow = Date.now.bind(Date);
let clockOffsetMs = 0;
Date.now = () => realNow() + clockOffsetMs;
createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, ms] = line.trim().split(/\s+/);
  if (command !== 'advance-clock' || ms === undefined || !Number.isFinite(Number(ms))) throw new Error(`unknown command: ${line}`);
  clockOffsetMs += Number(ms);
  process.stdout.write('clock-advanced\n');
});

const service = await (kind === 'kinesalite' ? startKinesalite() : startDynalite());
process.stdout.write(`${JSON.stringify({ endpoint: service.endpoint })}\n`);
process.on('SIGTERM', () => void service.close().finally(() => process.exit(0)));
