// Round-trips every generated message codec in every valid version with values built from the
// schema metadata: every present field away from its default, arrays with two elements, nested
// structs, nulls where nullable, tagged fields and unknown tagged fields in flexible versions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import * as messages from '../../src/protocol/messages/index.js';
import { MESSAGE_SCHEMAS } from '../../src/protocol/messages/schemas.js';
import type { FieldSchema, MessageCodec, MessageSchema, StructSchema, VersionRange } from '../../src/protocol/codec.js';
import { Reader, Writer, type UnknownTaggedField } from '../../src/protocol/primitives.js';

type Value = Record<string, unknown>;

const moduleExports = messages as unknown as Record<string, unknown>;

function lowerFirst(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function codecOf(schema: MessageSchema): MessageCodec<Value> {
  const codec = moduleExports[lowerFirst(schema.name)] as MessageCodec<Value> | undefined;
  assert.ok(codec, `no codec exported for ${schema.name}`);
  return codec;
}

function inRange(version: number, range: VersionRange | null | undefined): boolean {
  return range !== undefined && range !== null && version >= range[0] && version <= range[1];
}

/** A struct at its defaults, from the codec (top level) or the exported factory (nested). */
function createStruct(schema: MessageSchema, struct: StructSchema): Value {
  if (struct.name === schema.name) return codecOf(schema).create();
  const factory = moduleExports[`create${struct.name}`] as (() => Value) | undefined;
  assert.equal(typeof factory, 'function', `no factory exported for ${struct.name}`);
  return (factory as () => Value)();
}

interface SampleOptions {
  version: number;
  flexible: boolean;
  /** Put null in every field nullable in this version instead of a value. */
  nulls: boolean;
}

const CANDIDATES: Record<string, (salt: number, field: FieldSchema) => unknown[]> = {
  bool: () => [true, false],
  int8: (salt) => [-7 - salt, 5],
  int16: (salt) => [-300 - salt, 1234],
  uint16: (salt) => [65000 + salt, 3],
  int32: (salt) => [-123456 - salt, 70000],
  uint32: (salt) => [4000000000 + salt, 7],
  int64: (salt) => [-1234567890123n - BigInt(salt), 42n],
  float64: (salt) => [3.25 + salt, -1.5],
  string: (salt, field) => [`${field.property}-é✓-${salt}`, 'x'],
  bytes: (salt) => [Buffer.from([1, 2, 3, 0xff, salt & 0xff]), Buffer.from([9])],
  records: (salt) => [Buffer.from(`record-batch-bytes-${salt}`), Buffer.from([0])],
  uuid: (salt) => [`0123abcd-4567-89ef-0123-${(0x456789abcdef + salt).toString(16).padStart(12, '0')}`, 'ffffffff-ffff-ffff-ffff-ffffffffffff'],
};

/** A value of the field's element type that differs from `avoid` (its default). */
function primitiveSample(field: FieldSchema, salt: number, avoid: unknown): unknown {
  const candidates = CANDIDATES[field.type];
  assert.ok(candidates, `no sample for type ${field.type}`);
  const found = candidates(salt, field).find((candidate) => !isDeepStrictEqual(candidate, avoid));
  assert.ok(found !== undefined);
  return found;
}

/** Unknown tags avoiding every tag the struct knows: one inside a gap when there is one, one above, one needing two varint bytes. */
function unknownTaggedFields(struct: StructSchema, salt: number): UnknownTaggedField[] {
  const known = new Set(struct.fields.flatMap((f) => (f.tag === undefined ? [] : [f.tag])));
  const highest = Math.max(-1, ...known);
  const tags: number[] = [];
  for (let tag = 0; tag < highest; tag++) {
    if (!known.has(tag)) {
      tags.push(tag);
      break;
    }
  }
  tags.push(highest + 3, 300 + salt);
  return tags.map((tag, i) => ({ tag, data: i === 0 ? Buffer.from([0xde, 0xad, salt & 0xff]) : Buffer.alloc(i - 1, 7) }));
}

function sampleStruct(schema: MessageSchema, struct: StructSchema, options: SampleOptions, salt: number): Value {
  const value = createStruct(schema, struct);
  for (const field of struct.fields) {
    if (!inRange(options.version, field.versions)) continue;
    if (options.nulls && inRange(options.version, field.nullableVersions)) {
      value[field.property] = null;
      continue;
    }
    value[field.property] = sampleField(schema, field, options, salt, value[field.property]);
  }
  if (options.flexible) value._unknownTaggedFields = unknownTaggedFields(struct, salt);
  return value;
}

function sampleField(schema: MessageSchema, field: FieldSchema, options: SampleOptions, salt: number, avoid: unknown): unknown {
  const element = (i: number): unknown => {
    if (field.type !== 'struct') return primitiveSample(field, salt + i, field.array ? undefined : avoid);
    const struct = schema.structs[field.struct as string];
    assert.ok(struct, `${schema.name}: no struct ${field.struct}`);
    return sampleStruct(schema, struct, options, salt + i + 1);
  };
  return field.array ? [element(0), element(1)] : element(0);
}

function encode(codec: MessageCodec<Value>, value: Value, version: number): Buffer {
  const writer = new Writer(8); // small, so that growth is exercised too
  codec.encode(writer, value, version);
  return Buffer.from(writer.finish());
}

function assertRoundTrip(codec: MessageCodec<Value>, value: Value, version: number, what: string): void {
  const bytes = encode(codec, value, version);
  const reader = new Reader(bytes);
  const decoded = codec.decode(reader, version);
  assert.equal(reader.remaining, 0, `${what}: bytes left after decoding`);
  assert.deepStrictEqual(decoded, value, `${what}: decoded value differs`);
  assert.deepStrictEqual(encode(codec, decoded, version), bytes, `${what}: re-encoding differs`);
}

function versionsOf(schema: MessageSchema): number[] {
  const [min, max] = schema.validVersions;
  return Array.from({ length: max - min + 1 }, (_, i) => min + i);
}

test('the schema metadata covers every definition', () => {
  assert.ok(MESSAGE_SCHEMAS.length >= 180, `only ${MESSAGE_SCHEMAS.length} schemas`);
  for (const name of ['ProduceRequest', 'FetchResponse', 'RequestHeader', 'ResponseHeader', 'ApiVersionsResponse']) {
    assert.ok(MESSAGE_SCHEMAS.some((s) => s.name === name), name);
  }
});

for (const schema of MESSAGE_SCHEMAS) {
  test(`${schema.name} round-trips in every version`, () => {
    const codec = codecOf(schema);
    assert.equal(codec.name, schema.name);
    assert.equal(codec.apiKey, schema.apiKey);
    assert.equal(codec.minVersion, schema.validVersions[0]);
    assert.equal(codec.maxVersion, schema.validVersions[1]);
    const firstFlexible = schema.flexibleVersions === null ? null : schema.flexibleVersions[0];
    assert.equal(codec.firstFlexibleVersion, firstFlexible !== null && firstFlexible <= codec.maxVersion ? firstFlexible : null);
    const root = schema.structs[schema.name] as StructSchema;
    for (const struct of Object.values(schema.structs)) createStruct(schema, struct);

    for (const version of versionsOf(schema)) {
      const flexible = inRange(version, schema.flexibleVersions);
      const defaults = codec.create();
      assertRoundTrip(codec, defaults, version, `v${version} defaults`);
      assert.deepStrictEqual(codec.create(), defaults, 'create() returns fresh, equal values');

      const full = sampleStruct(schema, root, { version, flexible, nulls: false }, 1);
      assertRoundTrip(codec, full, version, `v${version} values`);
      if (root.fields.some((f) => inRange(version, f.versions)) || flexible) {
        assert.notDeepStrictEqual(encode(codec, full, version), encode(codec, defaults, version), `v${version} sample`);
      }

      const withNulls = sampleStruct(schema, root, { version, flexible, nulls: true }, 2);
      assertRoundTrip(codec, withNulls, version, `v${version} nulls`);
    }
  });
}

test('every field present in some version is exercised with a non-default value', () => {
  // Guards the sample builder itself: a field left at its default would not prove its encoding.
  for (const schema of MESSAGE_SCHEMAS) {
    const codec = codecOf(schema);
    const root = schema.structs[schema.name] as StructSchema;
    for (const version of versionsOf(schema)) {
      const sample = sampleStruct(schema, root, { version, flexible: false, nulls: false }, 1);
      const defaults = codec.create();
      for (const field of root.fields) {
        if (!inRange(version, field.versions)) continue;
        assert.notDeepStrictEqual(sample[field.property], defaults[field.property], `${schema.name} v${version} ${field.name}`);
      }
    }
  }
});
