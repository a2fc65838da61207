/**
 * docs/compatibility.md's API table is what a running gateway advertises in ApiVersions: the
 * same APIs, the same version ranges. On a mismatch the failure prints the rows to paste.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ErrorCode } from '../../src/protocol/errors.js';
import { ApiKey, apiVersionsResponse } from '../../src/protocol/messages/index.js';
import { Reader, Writer } from '../../src/protocol/primitives.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { RawClient } from '../support/raw-client.js';
import { REPO_ROOT } from './helm.js';

const DOC = join(REPO_ROOT, 'docs', 'compatibility.md');
const START = '<!-- api-table:start -->';
const END = '<!-- api-table:end -->';
const apiName = new Map(Object.entries(ApiKey).map(([name, key]) => [key as number, name]));

interface Advertised {
  readonly name: string;
  readonly key: number;
  readonly versions: string;
}

let gw: RunningGateway;
before(async () => {
  gw = await startGateway();
});
after(async () => {
  await gw.stop();
});

/** ApiVersions v3 over the wire, as a client asks it. */
async function advertised(): Promise<Advertised[]> {
  const client = await RawClient.connect(gw.port);
  try {
    const header = new Writer();
    // Request header v2: api key, version, correlation id, client id, no tagged fields.
    header.int16(ApiKey.ApiVersions).int16(3).int32(42).nullableString('compat-doc').raw(Buffer.from([0]));
    // ApiVersions v3 body: client software name and version (compact strings), no tagged fields.
    const body = Buffer.concat([Buffer.from([5]), Buffer.from('test'), Buffer.from([4]), Buffer.from('1.0'), Buffer.from([0])]);
    client.sendFrame(Buffer.concat([Buffer.from(header.finish()), body]));
    const reader = new Reader(await client.nextFrame());
    assert.equal(reader.int32(), 42);
    // ApiVersions responses keep header v0 (no tagged fields) even for flexible versions.
    const response = apiVersionsResponse.decode(reader, 3);
    assert.equal(response.errorCode, ErrorCode.NONE);
    return response.apiKeys.map((k) => ({
      name: apiName.get(k.apiKey) ?? `api key ${k.apiKey}`,
      key: k.apiKey,
      versions: k.minVersion === k.maxVersion ? `${k.minVersion}` : `${k.minVersion}–${k.maxVersion}`,
    }));
  } finally {
    client.close();
  }
}

function documented(): Advertised[] {
  const text = readFileSync(DOC, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  assert.ok(start >= 0 && end > start, `${DOC} has the ${START} ... ${END} markers`);
  return text
    .slice(start + START.length, end)
    .split('\n')
    .filter((line) => /^\|\s*[A-Z]/.test(line) && !/^\|\s*API\s*\|/.test(line))
    .map((line) => {
      const cells = line.split('|').map((c) => c.trim());
      return { name: cells[1] as string, key: Number(cells[2]), versions: (cells[3] as string).replace(/-/g, '–') };
    });
}

test('the compatibility table lists exactly the APIs and versions ApiVersions advertises', async () => {
  const served = await advertised();
  assert.ok(served.some((a) => a.name === 'Produce'), 'the gateway serves Produce');
  const rows = documented();
  const key = (a: Advertised): string => `${a.name} | ${a.key} | ${a.versions}`;
  const expected = served.map(key);
  const actual = rows.map(key);
  assert.deepEqual(
    actual,
    expected,
    `docs/compatibility.md is out of date; the gateway advertises (paste these rows, keep the notes):\n${served
      .map((a) => `| ${a.name} | ${a.key} | ${a.versions} | |`)
      .join('\n')}`,
  );
});
