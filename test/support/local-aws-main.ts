/**
 * Entry of a child process that runs one AWS stand-in in memory (test/support/local-aws-process.ts):
 * argv[2] is `kinesalite` or `dynalite`. Prints {"endpoint": url} on a line once listening;
 * closes and exits on SIGTERM.
 */
import { startDynalite, startKinesalite } from '../../src/embedded-aws.js';

const kind = process.argv[2];
if (kind !== 'kinesalite' && kind !== 'dynalite') throw new Error(`unknown stand-in ${kind}`);
const service = await (kind === 'kinesalite' ? startKinesalite() : startDynalite());
process.stdout.write(`${JSON.stringify({ endpoint: service.endpoint })}\n`);
process.on('SIGTERM', () => void service.close().finally(() => process.exit(0)));
