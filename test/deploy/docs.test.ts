/**
 * The operator's manual stays true to the code where it states facts the code decides: the
 * retention mapping, the PUT payload unit arithmetic, the files and links it points at.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { MAX_RETENTION_HOURS, MIN_RETENTION_HOURS, retentionHoursOf, topicConfigProblem } from '../../src/log/topic-configs.js';
import { REPO_ROOT } from './helm.js';

const DOCS = join(REPO_ROOT, 'docs');
const read = (path: string): string => readFileSync(path, 'utf8');

/** Rows of the markdown table that follows `heading`. */
function tableAfter(text: string, heading: string): string[][] {
  const at = text.indexOf(heading);
  assert.ok(at >= 0, `has "${heading}"`);
  const rows: string[][] = [];
  let started = false;
  for (const line of text.slice(at).split('\n').slice(1)) {
    if (line.startsWith('|')) {
      started = true;
      if (/^\|\s*-/.test(line)) continue;
      rows.push(line.split('|').slice(1, -1).map((c) => c.trim()));
    } else if (started) break;
  }
  return rows.slice(1);
}

test('production.md: the retention table is what the gateway does with retention.ms', () => {
  const rows = tableAfter(read(join(DOCS, 'production.md')), "A topic's `retention.ms` is the stream's `RetentionPeriodHours`:");
  let checked = 0;
  for (const [setting, hours] of rows as [string, string][]) {
    const ms = /^`?(-?\d+)`?/.exec(setting);
    if (ms === null) continue;
    const value = ms[1] as string;
    assert.equal(topicConfigProblem('retention.ms', value), null, `${value} is accepted`);
    assert.equal(retentionHoursOf(Number(value)), Number(/^\d+/.exec(hours)?.[0]), `retention.ms ${value}`);
    checked++;
  }
  assert.ok(checked >= 5, 'the table has rows with values');
  const refused = rows.find(([setting]) => setting?.startsWith('below'));
  assert.ok(refused?.[1]?.includes('INVALID_CONFIG'));
  assert.notEqual(topicConfigProblem('retention.ms', String(MIN_RETENTION_HOURS * 3_600_000 - 1)), null);
  assert.notEqual(topicConfigProblem('retention.ms', String(MAX_RETENTION_HOURS * 3_600_000 + 1)), null);
});

test('production.md: PUT payload units are 25 KB chunks of each Kinesis record', () => {
  const rows = tableAfter(read(join(DOCS, 'production.md')), 'units (25 KB chunks, at least one). So:');
  const units = (bytes: number): number => Math.max(1, Math.ceil(bytes / 25_000));
  assert.deepEqual(rows.map((r) => Number(r[1])), [1000 * units(200), units(200_000), units(1_000_000)]);
});

test('every relative link and repository path the docs name exists', () => {
  const files = [join(REPO_ROOT, 'README.md'), ...readdirSync(DOCS).map((f) => join(DOCS, f))];
  for (const file of files) {
    const text = read(file);
    for (const m of text.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)) {
      const target = m[1] as string;
      if (/^[a-z]+:/.test(target)) continue;
      assert.ok(existsSync(join(dirname(file), target)), `${file}: link ${target}`);
    }
    for (const m of text.matchAll(/`((?:deploy|helm|alerts|scripts|src)\/[\w./-]+?)`/g)) {
      const path = (m[1] as string).replace(/\/$/, '');
      assert.ok(existsSync(join(REPO_ROOT, path)), `${file}: path ${path}`);
    }
  }
  for (const doc of readdirSync(DOCS)) assert.match(read(join(REPO_ROOT, 'README.md')), new RegExp(`docs/${doc}`), `README links ${doc}`);
});
