/**
 * The shape of a generated Kafka message codec, the small runtime helpers the generated code
 * (src/protocol/messages/, written by scripts/generate-protocol.ts) calls, and the types of the
 * schema metadata the generator exports for tests and tooling.
 */

import type { Reader, UnknownTaggedField, Writer } from './primitives.js';

/** Encoder, decoder and default factory for one Kafka message (request, response, header or data). */
export interface MessageCodec<T> {
  /** The message name from its definition, e.g. 'ProduceRequest'. */
  readonly name: string;
  /** The API key, or -1 for headers and embedded data structures. */
  readonly apiKey: number;
  readonly minVersion: number;
  readonly maxVersion: number;
  /** The first version using compact encodings and tagged fields, or null if none does. */
  readonly firstFlexibleVersion: number | null;
  /** Writes value as the given version. Throws RangeError for an unsupported version or a null in a non-nullable field. */
  encode(writer: Writer, value: T, version: number): void;
  /** Reads one message of the given version. Throws ProtocolDecodeError on malformed bytes, RangeError for an unsupported version. */
  decode(reader: Reader, version: number): T;
  /** A new value with every field at its default. */
  create(): T;
}

/** The error a codec throws when asked for a version outside its valid range. */
export function unsupportedVersion(name: string, version: number, minVersion: number, maxVersion: number): RangeError {
  return new RangeError(`${name} version ${version} is not supported (valid versions ${minVersion}-${maxVersion})`);
}

function writeRawTaggedField(w: Writer, field: UnknownTaggedField): void {
  w.uvarint(field.tag);
  w.uvarint(field.data.length);
  w.raw(field.data);
}

/** Writes a tagged-field section holding only the given unknown fields (a struct without known tags). */
export function writeTaggedFields(w: Writer, fields: readonly UnknownTaggedField[] | undefined): void {
  if (fields === undefined || fields.length === 0) {
    w.uint8(0);
    return;
  }
  w.uvarint(fields.length);
  for (let i = 0; i < fields.length; i++) writeRawTaggedField(w, fields[i] as UnknownTaggedField);
}

/**
 * Writes the unknown tagged fields from index `from` on whose tag is below `tag`, so that they
 * interleave with the known ones in ascending tag order; returns the index of the first one left.
 * Unknown fields are expected in ascending tag order, as decoding produces them.
 */
export function writeUnknownTaggedFieldsBefore(
  w: Writer,
  fields: readonly UnknownTaggedField[] | undefined,
  from: number,
  tag: number,
): number {
  if (fields === undefined) return from;
  let i = from;
  for (; i < fields.length; i++) {
    const field = fields[i] as UnknownTaggedField;
    if (field.tag >= tag) break;
    writeRawTaggedField(w, field);
  }
  return i;
}

/** An inclusive version range [min, max]; an open-ended range ("3+") has max 32767. */
export type VersionRange = readonly [min: number, max: number];

/** One field of a struct, as declared in the message definition (version ranges are not clipped). */
export interface FieldSchema {
  /** The name in the definition, e.g. 'TopicData'. */
  readonly name: string;
  /** The property name in the generated interface, e.g. 'topicData'. */
  readonly property: string;
  /** A primitive type name ('int32', 'string', 'records', ...) or 'struct'; for arrays, the element type. */
  readonly type: string;
  readonly array: boolean;
  /** For struct types and arrays of structs: the interface name of the struct. */
  readonly struct?: string;
  readonly versions: VersionRange;
  readonly nullableVersions?: VersionRange;
  readonly taggedVersions?: VersionRange;
  readonly tag?: number;
  /** Set when the field overrides the message's flexible versions; null means "none". */
  readonly flexibleVersions?: VersionRange | null;
}

export interface StructSchema {
  /** The generated interface name, e.g. 'ProduceRequestTopicProduceData'. */
  readonly name: string;
  readonly fields: readonly FieldSchema[];
}

export interface MessageSchema {
  readonly name: string;
  readonly type: 'request' | 'response' | 'header' | 'data';
  readonly apiKey: number;
  readonly validVersions: VersionRange;
  readonly flexibleVersions: VersionRange | null;
  /** Every struct of the message by interface name; the top-level struct is under `name`. */
  readonly structs: Readonly<Record<string, StructSchema>>;
}
