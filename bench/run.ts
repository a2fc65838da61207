import { benchProtocolDecode } from './protocol-decode.js';
import { printTable } from './table.js';

// `npm run bench` prints tables; `npm run bench -- --seconds 5` measures longer.
const secondsFlag = process.argv.indexOf('--seconds');
const seconds = secondsFlag >= 0 ? Number(process.argv[secondsFlag + 1]) : 2;

printTable('Protocol decoding', benchProtocolDecode(seconds));
