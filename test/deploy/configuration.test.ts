/**
 * Configuration as an operator meets it: --print-config (effective settings, secrets masked,
 * itself a valid config file), bad values that stop startup naming the key and what is allowed,
 * --create-tables, and docs/configuration.md listing exactly the flags and environment variables
 * the code reads.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { pino } from 'pino';
import { createDynamoClient, gatewayTableSpecs, TableNames } from '../../src/aws/dynamodb.js';
import { MissingTablesError, setUpAws } from '../../src/aws-setup.js';
import { CONFIG_OPTIONS, ConfigError, loadConfig, maskSecret, printableConfig } from '../../src/config.js';
import { startDynalite, type LocalService } from '../../src/embedded-aws.js';
import { REPO_ROOT } from './helm.js';

const run = promisify(execFile);
const CLI = ['--import', 'tsx', 'src/cli.ts'];
const cleanEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  HOME: process.env.HOME ?? '/tmp',
  ...extra,
});
const cli = (args: string[], env: Record<string, string> = {}) => run(process.execPath, [...CLI, ...args], { cwd: REPO_ROOT, env: cleanEnv(env) });
type CliFailure = { code: number; stderr: string; stdout: string };

let scratch: string;
before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'kkg-config-'));
});
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('--print-config', () => {
  test('shows the effective configuration from file, environment and flags, secrets masked', async () => {
    const file = join(scratch, 'print.json');
    writeFileSync(file, JSON.stringify({ port: 19092, logLevel: 'warn', autoCreateTopics: false, tablePrefix: 'from-file-' }));
    const { stdout } = await cli(['--config', file, '--print-config', '--table-prefix', 'from-flag-', '--region', 'eu-west-1'], {
      KKG_LOG_LEVEL: 'debug',
      KKG_REDIS_URL: 'rediss://gateway:hunter2@redis.internal:6380/0',
    });
    const printed = JSON.parse(stdout) as Record<string, unknown>;
    assert.equal(printed.port, 19092, 'from the file');
    assert.equal(printed.logLevel, 'debug', 'the environment wins over the file');
    assert.equal(printed.tablePrefix, 'from-flag-', 'a flag wins over both');
    assert.equal(printed.autoCreateTopics, false);
    assert.equal(printed.metricsPort, 11001, 'defaults are shown');
    assert.equal(printed.redisUrl, 'rediss://gateway:***@redis.internal:6380/0');
    assert.doesNotMatch(stdout, /hunter2/);
    // Without the masked secret, the output is itself a config file that loads to the same settings.
    const again = join(scratch, 'again.json');
    const withoutSecret = { ...printed };
    delete withoutSecret.redisUrl;
    writeFileSync(again, JSON.stringify(withoutSecret));
    const reloaded = loadConfig({ flags: { config: again }, env: {} });
    assert.deepEqual(printableConfig(reloaded), withoutSecret);
  });

  test('masking: URL passwords, a password-only Redis URL, options named like secrets', () => {
    assert.equal(maskSecret('redisUrl', 'redis://:pw@h:6379'), 'redis://:***@h:6379');
    assert.equal(maskSecret('redisUrl', 'redis://pw@h:6379'), 'redis://***@h:6379');
    assert.equal(maskSecret('redisUrl', 'redis://h:6379'), 'redis://h:6379');
    assert.equal(maskSecret('kinesisEndpoint', 'https://user:pw@kinesis.example.com/'), 'https://user:***@kinesis.example.com/');
    assert.equal(maskSecret('kinesisEndpoint', 'http://127.0.0.1:4567'), 'http://127.0.0.1:4567');
    assert.equal(maskSecret('saslPassword', 'plain'), '***');
    assert.equal(maskSecret('port', 9092), 9092);
  });
});

/** `--help` of the real CLI, run once. */
let helpText: Promise<string> | undefined;
const help = (): Promise<string> => (helpText ??= cli(['--help']).then((r) => r.stdout));

describe('bad values stop startup naming the key and what is allowed', () => {
  /** The message loadConfig gives (the CLI prints it and exits 2, as the first test shows). */
  const rejects = (flags: Record<string, string>, env: Record<string, string>, expected: RegExp[]): void => {
    assert.throws(
      () => loadConfig({ flags, env }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        for (const pattern of expected) assert.match(err.message, pattern);
        return true;
      },
    );
  };

  test('the CLI prints every bad setting and exits 2 before starting anything', async () => {
    await assert.rejects(cli(['--log-level', 'loud', '--port', '70000']), (err: CliFailure) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr, /--port \(KKG_PORT, "port"\): .*<=65535/);
      assert.match(err.stderr, /--log-level \(KKG_LOG_LEVEL, "logLevel"\): .*"info"/);
      return true;
    });
  });

  test('an enum lists its values', () => {
    rejects({ 'log-level': 'loud' }, {}, [/--log-level \(KKG_LOG_LEVEL, "logLevel"\)/, /"info"/, /"silent"/]);
  });

  test('a switch says true or false, from a flag, the environment or a file', () => {
    rejects({ 'create-tables': 'yes' }, {}, [/--create-tables \(KKG_CREATE_TABLES, "createTables"\)/, /"true"\|"false"/]);
    rejects({}, { KKG_AUTO_CREATE_TOPICS: '1' }, [/--auto-create-topics/, /"true"\|"false"/]);
    const file = join(scratch, 'bad-switch.json');
    writeFileSync(file, JSON.stringify({ autoCreateTopics: 'maybe' }));
    rejects({ config: file }, {}, [/"autoCreateTopics"/, /"true"\|"false"/]);
  });

  test('a number gives its range; a pattern explains itself; unknown file keys are named', () => {
    rejects({ port: '70000' }, {}, [/--port \(KKG_PORT, "port"\)/, /<=65535/]);
    rejects({ 'tail-cache-bytes': '10' }, {}, [/--tail-cache-bytes/, />=1048576/]);
    rejects({ 'table-prefix': 'no spaces' }, {}, [/--table-prefix/, /letters, digits/]);
    const file = join(scratch, 'unknown.json');
    writeFileSync(file, JSON.stringify({ prot: 9092 }));
    rejects({ config: file }, {}, [/prot/]);
  });

  test('--help shows allowed values and defaults', async () => {
    const stdout = await help();
    assert.match(stdout, /--log-level <value> .*one of fatal, error, warn, info, debug, trace, silent; default info \[KKG_LOG_LEVEL\]/);
    assert.match(stdout, /--create-tables <value> .*one of true, false \[KKG_CREATE_TABLES\]/);
    assert.match(stdout, /--print-config/);
    for (const option of CONFIG_OPTIONS.filter((o) => o.default !== undefined)) {
      assert.match(stdout, new RegExp(`--${option.flag} <value> .*default ${option.default === '' ? '""' : option.default}`), option.flag);
    }
  });
});

describe('--create-tables', () => {
  let dynalite: LocalService;
  const log = pino({ level: 'silent' });
  before(async () => {
    dynalite = await startDynalite();
  });
  after(async () => {
    await dynalite.close();
  });
  /** Every table of the gateway (src/aws/dynamodb.ts), sorted. */
  const tableNames = (prefix: string): string[] => gatewayTableSpecs(new TableNames(prefix)).map((t) => t.name).sort();
  const configFor = (flags: Record<string, string>) =>
    loadConfig({
      flags: { 'dynamodb-endpoint': dynalite.endpoint, 'kinesis-endpoint': 'http://127.0.0.1:9', region: 'us-east-1', ...flags },
      env: {},
    });

  test('off: a start with missing tables fails naming every missing table', async () => {
    await assert.rejects(setUpAws(configFor({ 'create-tables': 'false', 'table-prefix': 'absent-' }), {}, log), (err: unknown) => {
      assert.ok(err instanceof MissingTablesError);
      assert.deepEqual(err.missing, tableNames('absent-'));
      assert.match(err.message, /deploy\/cloudformation\/gateway\.yaml/);
      assert.match(err.message, /--create-tables true/);
      return true;
    });
  });

  test('on: the tables are created; then a start with it off finds them', async () => {
    const aws = await setUpAws(configFor({ 'create-tables': 'true', 'table-prefix': 'made-' }), {}, log);
    await aws.close();
    const client = createDynamoClient({ endpoint: dynalite.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const listed = (await client.send(new ListTablesCommand({}))).TableNames ?? [];
    client.destroy();
    assert.deepEqual(listed.filter((n) => n.startsWith('made-')).sort(), tableNames('made-'));
    const again = await setUpAws(configFor({ 'create-tables': 'false', 'table-prefix': 'made-' }), {}, log);
    await again.close();
  });

  test('the CLI reports missing tables in one log line and exits 1', async () => {
    await assert.rejects(
      cli([
        '--region', 'us-east-1',
        '--dynamodb-endpoint', dynalite.endpoint,
        '--kinesis-endpoint', 'http://127.0.0.1:9',
        '--table-prefix', 'cli-absent-',
        '--create-tables', 'false',
        '--data-dir', join(scratch, 'cli-data'),
      ], { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'x' }),
      (err: CliFailure) => {
        assert.equal(err.code, 1);
        assert.match(err.stdout, /gateway did not start: DynamoDB tables missing: cli-absent-group-offsets, cli-absent-leases/);
        return true;
      },
    );
  });
});

describe('docs/configuration.md', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'configuration.md'), 'utf8');

  /** Environment variables the source reads: process.env.X, env.X, env['X'] and KKG_ literals. */
  function envReadByCode(): Set<string> {
    const names = new Set<string>();
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((e) => (statSync(join(dir, e)).isDirectory() ? walk(join(dir, e)) : e.endsWith('.ts') ? [join(dir, e)] : []));
    for (const file of walk(join(REPO_ROOT, 'src'))) {
      if (file.includes(join('src', 'protocol', 'messages'))) continue;
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/\benv\.([A-Z][A-Z0-9_]+)\b/g)) names.add(m[1] as string);
      for (const m of text.matchAll(/\benv\[['"]([A-Z][A-Z0-9_]+)['"]\]/g)) names.add(m[1] as string);
      for (const m of text.matchAll(/['"`](KKG_[A-Z0-9_]+)['"`]/g)) names.add(m[1] as string);
    }
    return names;
  }

  test('every flag and environment variable of the code is documented', async () => {
    const flags = new Set([...(await help()).matchAll(/^\s+(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1] as string));
    assert.ok(flags.has('--print-config') && flags.has('--config') && flags.has('--version'));
    for (const flag of flags) assert.match(doc, new RegExp(`\`${flag}\``), `${flag} is in docs/configuration.md`);
    for (const option of CONFIG_OPTIONS) assert.match(doc, new RegExp(`\`${option.env}\``), `${option.env} is in docs/configuration.md`);
    assert.match(doc, /`KKG_CONFIG`/);
    const env = envReadByCode();
    assert.ok(env.has('AWS_REGION'), 'the scan finds the AWS variables');
    for (const name of env) assert.match(doc, new RegExp(`\`${name}\``), `${name} (read in src/) is in docs/configuration.md`);
  });

  test('every flag and KKG_ variable the docs name exists', async () => {
    const flags = new Set([...(await help()).matchAll(/^\s+(--[a-z][a-z0-9-]*)/gm)].map((m) => m[1] as string));
    for (const m of doc.matchAll(/`(--[a-z][a-z0-9-]*)/g)) assert.ok(flags.has(m[1] as string), `${m[1]} in docs/configuration.md is a flag of the CLI`);
    const envs = new Set([...CONFIG_OPTIONS.map((o) => o.env), 'KKG_CONFIG']);
    const others = [
      readFileSync(join(REPO_ROOT, 'README.md'), 'utf8'),
      ...readdirSync(join(REPO_ROOT, 'docs')).map((f) => readFileSync(join(REPO_ROOT, 'docs', f), 'utf8')),
      readFileSync(join(REPO_ROOT, 'helm', 'kafka-kinesis-gateway', 'values.yaml'), 'utf8'),
    ];
    for (const text of others) {
      for (const m of text.matchAll(/\bKKG_[A-Z0-9_]*[A-Z0-9]\b/g)) {
        if (m[0] === 'KKG_TEST_LOG_LEVEL' || m[0] === 'KKG_PROTOCOL_DIR') continue; // test and generator knobs, documented in README
        assert.ok(envs.has(m[0]), `${m[0]} named in the docs is a gateway variable`);
      }
    }
    // The option table has one row per option, with its default.
    for (const option of CONFIG_OPTIONS) {
      const row = doc.split('\n').find((line) => line.startsWith(`| \`--${option.flag}\``));
      assert.ok(row, `a table row for --${option.flag}`);
      assert.ok(row.includes(`\`${option.env}\``), `--${option.flag} row names ${option.env}`);
      assert.ok(row.includes(`\`${option.key}\``), `--${option.flag} row names the config file key ${option.key}`);
      if (option.default !== undefined && option.default !== '') {
        assert.ok(row.includes(`\`${option.default}\``), `--${option.flag} row gives the default ${option.default}`);
      }
    }
  });
});
