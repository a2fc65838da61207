/**
 * The Dockerfile, read as text (no Docker engine runs here): multi-stage, production
 * dependencies only in the runtime image, non-root, tini as PID 1, a health check on /healthz,
 * and the same entry point the Helm chart starts. `scripts/check-production-start.sh` (run by
 * .ci/run) proves the production install path itself.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { CONFIG_OPTIONS } from '../../src/config.js';
import { REPO_ROOT } from './helm.js';

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}
interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Instructions (continuation lines joined, comments dropped), grouped by stage. */
function parseDockerfile(text: string): { args: Instruction[]; stages: Stage[] } {
  const lines = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of lines) {
    const match = /^(\w+)\s+(.*)$/.exec(line);
    assert.ok(match, `not an instruction: ${line}`);
    const keyword = (match[1] as string).toUpperCase();
    const args = (match[2] as string).replace(/\s+/g, ' ');
    if (keyword === 'FROM') {
      const from = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(from, `FROM ${args}`);
      stages.push({ from: from[1] as string, name: from[2], instructions: [] });
    } else if (stages.length === 0) {
      globalArgs.push({ keyword, args });
    } else {
      stages.at(-1)?.instructions.push({ keyword, args });
    }
  }
  return { args: globalArgs, stages };
}

const dockerfile = parseDockerfile(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
const runtime = dockerfile.stages.at(-1) as Stage;
const stageNamed = (name: string): Stage | undefined => dockerfile.stages.find((s) => s.name === name);
const of = (stage: Stage, keyword: string): string[] => stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
/** A stage and the stages it is built FROM. */
const lineage = (stage: Stage): Stage[] => {
  const parent = stageNamed(stage.from);
  return parent === undefined ? [stage] : [stage, ...lineage(parent)];
};
const jsonArray = (args: string): string[] => JSON.parse(args) as string[];

test('multi-stage: the build has dev dependencies and compiles, the runtime gets dist/ and production node_modules', () => {
  assert.ok(dockerfile.stages.length >= 3, 'a build stage, a production-dependencies stage and the runtime');
  const copies = of(runtime, 'COPY');
  const fromStage = (path: string): Stage => {
    const copy = copies.find((c) => new RegExp(`--from=\\S+ /app/${path}\\b`).test(c));
    assert.ok(copy, `the runtime copies /app/${path} from a stage`);
    const stage = stageNamed(/--from=(\S+)/.exec(copy)?.[1] ?? '');
    assert.ok(stage, `COPY ${copy}: from a named stage`);
    return stage;
  };
  const build = fromStage('dist');
  const buildRuns = lineage(build).flatMap((s) => of(s, 'RUN')).join('\n');
  assert.match(buildRuns, /npm ci(?! --omit)/, 'the build stage installs all dependencies');
  assert.match(buildRuns, /npm run build/);
  const deps = fromStage('node_modules');
  const depsRuns = lineage(deps).flatMap((s) => of(s, 'RUN')).join('\n');
  assert.match(depsRuns, /npm ci --omit=dev/, 'runtime node_modules are production dependencies only');
  assert.doesNotMatch(depsRuns, /npm ci(?! --omit=dev)/);
  assert.ok(!of(runtime, 'RUN').some((r) => /npm (ci|install)/.test(r)), 'the runtime stage installs no npm packages itself');
  assert.ok(!copies.some((c) => /^(\.|src|\.\/)\s/.test(c)), 'the runtime does not copy the source tree');
});

test('non-root user, tini as PID 1, the built CLI as the command', () => {
  const users = of(runtime, 'USER');
  assert.equal(users.length, 1);
  assert.ok(!['root', '0', '0:0'].includes(users[0] as string), `USER ${users[0]} is not root`);
  const installs = of(runtime, 'RUN').join('\n');
  assert.match(installs, /apt-get install[^\n]*\btini\b/, 'tini from the Debian package');
  const entrypoint = jsonArray(of(runtime, 'ENTRYPOINT')[0] ?? '[]');
  assert.deepEqual(entrypoint, ['/usr/bin/tini', '--']);
  const cmd = jsonArray(of(runtime, 'CMD')[0] ?? '[]');
  assert.deepEqual(cmd, ['node', 'dist/src/cli.js']);
  assert.equal(of(runtime, 'WORKDIR').at(-1), '/app', 'the Helm chart starts /app/dist/src/cli.js');
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string> };
  assert.ok(Object.values(pkg.bin).includes('dist/src/cli.js'), 'the same entry point as the npm package bin');
});

test('HEALTHCHECK asks /healthz on the metrics port; EXPOSE matches the default ports', () => {
  const healthcheck = of(runtime, 'HEALTHCHECK');
  assert.equal(healthcheck.length, 1);
  assert.match(healthcheck[0] as string, /\/healthz/);
  const metricsPort = CONFIG_OPTIONS.find((o) => o.flag === 'metrics-port');
  assert.match(healthcheck[0] as string, new RegExp(`${metricsPort?.env}\\b.*\\b${metricsPort?.default}\\b`));
  const kafkaPort = CONFIG_OPTIONS.find((o) => o.flag === 'port')?.default;
  assert.deepEqual(of(runtime, 'EXPOSE').join(' ').split(' ').sort(), [kafkaPort, metricsPort?.default].sort());
  const dataDir = of(runtime, 'ENV').join(' ');
  assert.match(dataDir, /KKG_DATA_DIR=\/var\/lib\/kafka-kinesis-gateway/, 'a writable data folder for the non-root user');
});

test('what the build stage copies exists, and .dockerignore keeps it in the context', () => {
  const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (const heavy of ['node_modules', 'dist', '.git', '.data']) assert.ok(ignored.includes(heavy), `.dockerignore has ${heavy}`);
  for (const stage of dockerfile.stages) {
    for (const copy of of(stage, 'COPY')) {
      if (copy.startsWith('--from=')) continue;
      const sources = copy.split(' ').slice(0, -1);
      for (const source of sources) {
        assert.ok(existsSync(join(REPO_ROOT, source)), `COPY source ${source} exists`);
        assert.ok(!ignored.includes(source) && !ignored.includes(source.split('/')[0] as string), `${source} is not in .dockerignore`);
      }
    }
  }
});
