#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CONFIG_FILE_FLAG, CONFIG_OPTIONS, ConfigError, envName, loadConfig, printableConfig } from './config.js';
import { Gateway } from './gateway.js';
import { createLogger } from './logger.js';

/** The package version; the CLI runs from src/ (tsx) or from dist/src/ (built). */
function version(): string {
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      const text = readFileSync(new URL(candidate, import.meta.url), 'utf8');
      return (JSON.parse(text) as { version: string }).version;
    } catch {
      continue;
    }
  }
  return 'unknown';
}

function usage(): string {
  const rows: [string, string][] = [
    ...CONFIG_OPTIONS.map((o): [string, string] => {
      const allowed = o.allowed === undefined ? '' : `; one of ${o.allowed.join(', ')}`;
      const fallback = o.default === undefined ? '' : `; default ${o.default === '' ? '""' : o.default}`;
      return [`--${o.flag} <value>`, `${o.help}${allowed}${fallback} [${o.env}]`];
    }),
    [`--${CONFIG_FILE_FLAG} <file>`, `JSON file of settings keyed by camelCase name [${envName(CONFIG_FILE_FLAG)}]`],
    ['--print-config', 'print the effective configuration as JSON (secrets masked) and exit'],
    ['--help', 'show this help'],
    ['--version', 'print the version'],
  ];
  const width = Math.max(...rows.map(([flag]) => flag.length)) + 2;
  return [
    'Usage: kafka-kinesis-gateway [options]',
    '',
    'A Kafka broker whose topics are Amazon Kinesis data streams.',
    '',
    'Options (each also read from the environment variable in brackets):',
    ...rows.map(([flag, help]) => `  ${flag.padEnd(width)}${help}`),
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(CONFIG_OPTIONS.map((o) => [o.flag, { type: 'string' as const }])),
        [CONFIG_FILE_FLAG]: { type: 'string' },
        'print-config': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    process.stderr.write(`kafka-kinesis-gateway: ${(err as Error).message}\nTry --help.\n`);
    return 2;
  }
  const flags = parsed.values as Record<string, string | boolean | undefined>;
  if (flags.help === true) {
    process.stdout.write(usage());
    return 0;
  }
  if (flags.version === true) {
    process.stdout.write(`${version()}\n`);
    return 0;
  }

  let config;
  try {
    const stringFlags = Object.fromEntries(
      Object.entries(flags).filter((entry): entry is [string, string] => typeof entry[1] === 'string'),
    );
    config = loadConfig({ flags: stringFlags, env: process.env });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`kafka-kinesis-gateway: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (flags['print-config'] === true) {
    process.stdout.write(`${JSON.stringify(printableConfig(config), null, 2)}\n`);
    return 0;
  }

  const log = createLogger(config.logLevel);
  let gateway: Gateway;
  try {
    gateway = await Gateway.start(config, log, { env: process.env });
  } catch (err) {
    log.fatal({ err }, `gateway did not start: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutdown requested');
      gateway.stop().then(
        () => resolve(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`kafka-kinesis-gateway: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
