import { benchDataPath } from './data-path.js';
import { benchMetricsScrape } from './metrics-scrape.js';
import { benchProtocolDecode } from './protocol-decode.js';
import { printTable } from './table.js';

// `npm run bench` prints tables; `npm run bench -- --seconds 5` measures the CPU-bound ones
// longer, `--records N` sends N records through the data path (default 20000), and
// `--only data-path` (or `protocol`) runs one table.
function flag(name: string): string | undefined {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1] : undefined;
}
const seconds = Number(flag('seconds') ?? 2);
const records = Number(flag('records') ?? 20_000);
const only = flag('only');

if (only === undefined || only === 'protocol') printTable('Protocol decoding', benchProtocolDecode(seconds));
if (only === undefined || only === 'data-path') printTable('Data path (1 KiB records, 4 partitions, kinesalite)', await benchDataPath(records));
if (only === undefined || only === 'metrics') printTable('/metrics scrape (1,000 partitions, 100 groups)', await benchMetricsScrape());
