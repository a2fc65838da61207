import { benchDataPath } from './data-path.js';
import { benchMetricsScrape } from './metrics-scrape.js';
import { benchProtocolDecode } from './protocol-decode.js';
import { printTable } from './table.js';

// `npm run bench` prints tables; `npm run bench -- --seconds 5` measures the CPU-bound ones
// longer, `--records N` sends N records through the data path (default 20000) in `--rounds R`
// rounds (default 3, medians reported), and `--only data-path` (or `protocol`) runs one table.
function flag(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}
function positive(name: string, fallback: number, integer: boolean): number {
  const text = flag(name);
  const parsed = text === undefined ? fallback : Number(text);
  if (!(parsed > 0) || (integer && !Number.isInteger(parsed))) {
    process.stderr.write(`bench: --${name} must be a positive ${integer ? 'integer' : 'number'}, got ${text}\n`);
    process.exit(2);
  }
  return parsed;
}
const seconds = positive('seconds', 2, false);
const records = positive('records', 20_000, true);
const rounds = positive('rounds', 3, true);
const only = flag('only');

if (only === undefined || only === 'protocol') printTable('Protocol decoding', benchProtocolDecode(seconds));
if (only === undefined || only === 'data-path') printTable('Data path (1 KiB records, 4 partitions, kinesalite)', await benchDataPath(records, rounds));
if (only === undefined || only === 'metrics') printTable('/metrics scrape (1,000 partitions, 100 groups)', await benchMetricsScrape());
