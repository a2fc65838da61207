// Byte-level checks of the generated codecs against hand-assembled Kafka encodings: these fail if
// compact and classic encodings, tagged-field sections or header versions were mixed up.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  API_NAMES,
  ApiKey,
  REQUEST_CODECS,
  RESPONSE_CODECS,
  apiVersionsRequest,
  apiVersionsResponse,
  consumerGroupHeartbeatResponse,
  createApiVersionsResponseApiVersion,
  createApiVersionsResponseSupportedFeatureKey,
  createConsumerGroupHeartbeatResponseAssignment,
  createFetchResponseFetchableTopicResponse,
  createFetchResponsePartitionData,
  createMetadataRequestMetadataRequestTopic,
  fetchResponse,
  metadataRequest,
  produceRequest,
  requestHeader,
  requestHeaderVersion,
  responseHeader,
  responseHeaderVersion,
  type ApiVersionsResponse,
  type FetchResponse,
} from '../../src/protocol/messages/index.js';
import { writeUnknownTaggedFieldsBefore, type MessageCodec } from '../../src/protocol/codec.js';
import { ErrorCode, errorName } from '../../src/protocol/errors.js';
import { ProtocolDecodeError, Reader, Writer, ZERO_UUID } from '../../src/protocol/primitives.js';

function encode<T>(codec: MessageCodec<T>, value: T, version: number): Buffer {
  const writer = new Writer(8);
  codec.encode(writer, value, version);
  return Buffer.from(writer.finish());
}

function decode<T>(codec: MessageCodec<T>, bytes: Buffer, version: number): T {
  const reader = new Reader(bytes);
  const value = codec.decode(reader, version);
  assert.equal(reader.remaining, 0, 'every byte consumed');
  return value;
}

const ascii = (text: string): number[] => [...Buffer.from(text, 'ascii')];

test('ApiVersionsRequest v3 uses compact strings and a tagged-field section; v0-v2 have no body', () => {
  const value = { clientSoftwareName: 'apache-kafka-java', clientSoftwareVersion: '3.7.0' };
  const bytes = Buffer.from([0x12, ...ascii('apache-kafka-java'), 0x06, ...ascii('3.7.0'), 0x00]);
  assert.deepEqual(encode(apiVersionsRequest, value, 3), bytes);
  assert.deepEqual(decode(apiVersionsRequest, bytes, 3), value);
  assert.deepEqual(encode(apiVersionsRequest, value, 2), Buffer.alloc(0));
  assert.deepEqual(decode(apiVersionsRequest, Buffer.alloc(0), 0), { clientSoftwareName: '', clientSoftwareVersion: '' });
});

test('RequestHeader v2 keeps the two-byte ClientId length and adds a tagged-field section', () => {
  const value = { requestApiKey: 18, requestApiVersion: 3, correlationId: 7, clientId: 'adminclient-1' };
  const v1 = [0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x07, 0x00, 0x0d, ...ascii('adminclient-1')];
  assert.deepEqual(encode(requestHeader, value, 1), Buffer.from(v1));
  assert.deepEqual(encode(requestHeader, value, 2), Buffer.from([...v1, 0x00]));
  assert.deepEqual(decode(requestHeader, Buffer.from([...v1, 0x00]), 2), value);

  const anonymous = { ...value, clientId: null };
  const nullBytes = Buffer.from([0x00, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x07, 0xff, 0xff, 0x00]);
  assert.deepEqual(encode(requestHeader, anonymous, 2), nullBytes);
  assert.deepEqual(decode(requestHeader, nullBytes, 2), anonymous);
  // v0 (ControlledShutdown v0 only) has no ClientId at all.
  assert.deepEqual(encode(requestHeader, value, 0), Buffer.from(v1.slice(0, 8)));
});

test('ResponseHeader v1 adds an empty tagged-field section to v0', () => {
  assert.deepEqual(encode(responseHeader, { correlationId: 258 }, 0), Buffer.from([0, 0, 1, 2]));
  assert.deepEqual(encode(responseHeader, { correlationId: 258 }, 1), Buffer.from([0, 0, 1, 2, 0]));
  const withUnknown = { correlationId: 258, _unknownTaggedFields: [{ tag: 9, data: Buffer.from([0xab]) }] };
  const bytes = Buffer.from([0, 0, 1, 2, 0x01, 0x09, 0x01, 0xab]);
  assert.deepEqual(encode(responseHeader, withUnknown, 1), bytes);
  assert.deepEqual(decode(responseHeader, bytes, 1), withUnknown);
  // Version 0 has no tagged fields: unknown ones are not written.
  assert.deepEqual(encode(responseHeader, withUnknown, 0), Buffer.from([0, 0, 1, 2]));
});

test('MetadataRequest null topics: int32 -1 in v1, compact 0 in v9, an error in v0', () => {
  const all = { ...metadataRequest.create(), topics: null };
  assert.deepEqual(encode(metadataRequest, all, 1), Buffer.from([0xff, 0xff, 0xff, 0xff]));
  assert.deepEqual(decode(metadataRequest, Buffer.from([0xff, 0xff, 0xff, 0xff]), 1), all);
  // v9: topics, AllowAutoTopicCreation (default true), IncludeClusterAuthorizedOperations (8-10),
  // IncludeTopicAuthorizedOperations, tagged fields.
  assert.deepEqual(encode(metadataRequest, all, 9), Buffer.from([0x00, 0x01, 0x00, 0x00, 0x00]));
  assert.deepEqual(decode(metadataRequest, Buffer.from([0x00, 0x01, 0x00, 0x00, 0x00]), 9), all);

  assert.throws(() => encode(metadataRequest, all, 0), (err: unknown) => {
    assert.ok(err instanceof RangeError);
    assert.match(err.message, /MetadataRequest\.topics/);
    return true;
  });
  assert.throws(() => decode(metadataRequest, Buffer.from([0xff, 0xff, 0xff, 0xff]), 0), ProtocolDecodeError);
});

test('MetadataRequest v10 topic: a raw 16-byte UUID and a compact nullable name', () => {
  const topicId = '0123abcd-4567-89ef-0123-456789abcdef';
  const value = {
    ...metadataRequest.create(),
    topics: [{ ...createMetadataRequestMetadataRequestTopic(), topicId, name: null }],
  };
  const bytes = Buffer.from([
    0x02, // one topic
    ...Buffer.from(topicId.replace(/-/g, ''), 'hex'),
    0x00, // null name
    0x00, // topic tagged fields
    0x01, // AllowAutoTopicCreation
    0x00,
    0x00,
    0x00,
  ]);
  assert.deepEqual(encode(metadataRequest, value, 10), bytes);
  assert.deepEqual(decode(metadataRequest, bytes, 10), value);
  assert.equal(createMetadataRequestMetadataRequestTopic().topicId, ZERO_UUID);
});

test('ApiVersionsResponse v3 tagged fields: known ones when not default, then unknown ones, in tag order', () => {
  // Known tags: 0 SupportedFeatures, 1 FinalizedFeaturesEpoch, 2 FinalizedFeatures, 3 ZkMigrationReady.
  const unknown = [
    { tag: 4, data: Buffer.from([0xaa]) },
    { tag: 7, data: Buffer.from([0xbb, 0xcc]) },
  ];
  const value: ApiVersionsResponse = {
    ...apiVersionsResponse.create(),
    apiKeys: [{ ...createApiVersionsResponseApiVersion(), apiKey: 0, minVersion: 3, maxVersion: 11 }],
    finalizedFeaturesEpoch: 0x0102n,
    zkMigrationReady: true,
    _unknownTaggedFields: unknown,
  };
  const bytes = Buffer.from([
    0x00, 0x00, // ErrorCode
    0x02, 0x00, 0x00, 0x00, 0x03, 0x00, 0x0b, 0x00, // ApiKeys: one entry and its empty tag section
    0x00, 0x00, 0x00, 0x00, // ThrottleTimeMs
    0x04, // four tagged fields
    0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, // tag 1: FinalizedFeaturesEpoch
    0x03, 0x01, 0x01, // tag 3: ZkMigrationReady
    0x04, 0x01, 0xaa, // tag 4: unknown
    0x07, 0x02, 0xbb, 0xcc, // tag 7: unknown
  ]);
  assert.deepEqual(encode(apiVersionsResponse, value, 3), bytes);
  assert.deepEqual(decode(apiVersionsResponse, bytes, 3), value);

  // At their defaults the tagged fields are left out entirely.
  const plain = { ...value, finalizedFeaturesEpoch: -1n, zkMigrationReady: false, _unknownTaggedFields: [] };
  assert.deepEqual(encode(apiVersionsResponse, plain, 3).subarray(14), Buffer.from([0x00]));
  // Version 2 is classic: int32 array length, no tagged fields.
  assert.deepEqual(
    encode(apiVersionsResponse, value, 2),
    Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 11, 0, 0, 0, 0]),
  );
});

test('unknown tagged fields interleave with known ones by tag', () => {
  // No current schema has a gap in its tags, so check the merge helper the generated writers use.
  const writer = new Writer(4);
  const unknown = [
    { tag: 1, data: Buffer.from([0x11]) },
    { tag: 4, data: Buffer.from([0x44]) },
    { tag: 9, data: Buffer.from([0x99]) },
  ];
  let next = writeUnknownTaggedFieldsBefore(writer, unknown, 0, 2);
  writer.uvarint(2).uvarint(1).uint8(0x22); // known tag 2
  next = writeUnknownTaggedFieldsBefore(writer, unknown, next, 5);
  writer.uvarint(5).uvarint(1).uint8(0x55); // known tag 5
  writeUnknownTaggedFieldsBefore(writer, unknown, next, Infinity);
  assert.deepEqual(
    writer.finish(),
    Buffer.from([1, 1, 0x11, 2, 1, 0x22, 4, 1, 0x44, 5, 1, 0x55, 9, 1, 0x99]),
  );
});

test('a tagged field longer than 127 bytes gets a two-byte size', () => {
  const name = 'f'.repeat(200);
  const value: ApiVersionsResponse = {
    ...apiVersionsResponse.create(),
    supportedFeatures: [{ ...createApiVersionsResponseSupportedFeatureKey(), name, minVersion: 1, maxVersion: 2 }],
  };
  const bytes = encode(apiVersionsResponse, value, 3);
  // ErrorCode, empty ApiKeys, ThrottleTimeMs, then one tagged field: tag 0 with size
  // 1 (array length) + 2 (name length 201) + 200 + 2 + 2 + 1 (tags) = 208 = varint d0 01.
  assert.deepEqual(bytes.subarray(0, 12), Buffer.from([0, 0, 0x01, 0, 0, 0, 0, 0x01, 0x00, 0xd0, 0x01, 0x02]));
  assert.equal(bytes.length, 11 + 208);
  assert.deepEqual(decode(apiVersionsResponse, bytes, 3), value);
});

test('a known tagged field whose size does not match its content is rejected', () => {
  // ZkMigrationReady (tag 3, a bool) announced with two bytes.
  const bytes = Buffer.from([0, 0, 0x01, 0, 0, 0, 0, 0x01, 0x03, 0x02, 0x01, 0x01]);
  assert.throws(() => decode(apiVersionsResponse, bytes, 3), ProtocolDecodeError);
});

test('a nullable struct is preceded by a presence byte', () => {
  const base = consumerGroupHeartbeatResponse.create();
  const withoutAssignment = encode(consumerGroupHeartbeatResponse, base, 0);
  assert.deepEqual(withoutAssignment.subarray(-2), Buffer.from([0xff, 0x00]));
  const assigned = { ...base, assignment: createConsumerGroupHeartbeatResponseAssignment() };
  const withAssignment = encode(consumerGroupHeartbeatResponse, assigned, 0);
  // presence 1, empty TopicPartitions array, assignment tags, response tags
  assert.deepEqual(withAssignment.subarray(-4), Buffer.from([0x01, 0x01, 0x00, 0x00]));
  assert.deepEqual(decode(consumerGroupHeartbeatResponse, withAssignment, 0), assigned);
});

test('unsupported versions and truncated input are rejected', () => {
  assert.throws(() => encode(produceRequest, produceRequest.create(), 12), RangeError);
  assert.throws(() => produceRequest.decode(new Reader(Buffer.alloc(0)), -1), RangeError);
  const bytes = encode(produceRequest, { ...produceRequest.create(), transactionalId: 'tx' }, 9);
  assert.throws(() => produceRequest.decode(new Reader(bytes.subarray(0, bytes.length - 1)), 9), ProtocolDecodeError);
});

test('API key tables and header versions', () => {
  assert.equal(ApiKey.Produce, 0);
  assert.equal(ApiKey.Fetch, 1);
  assert.equal(ApiKey.ApiVersions, 18);
  assert.equal(ApiKey.DescribeTopicPartitions, 75);
  assert.equal(API_NAMES.get(0), 'Produce');
  assert.equal(API_NAMES.get(18), 'ApiVersions');
  assert.equal(REQUEST_CODECS.get(0), produceRequest);
  assert.equal(RESPONSE_CODECS.get(18), apiVersionsResponse);
  assert.equal(REQUEST_CODECS.size, API_NAMES.size);
  assert.equal(RESPONSE_CODECS.size, API_NAMES.size);
  for (const [apiKey, codec] of REQUEST_CODECS) {
    assert.equal(codec.apiKey, apiKey);
    assert.equal(codec.name, `${API_NAMES.get(apiKey)}Request`);
    assert.equal(RESPONSE_CODECS.get(apiKey)?.name, `${API_NAMES.get(apiKey)}Response`);
  }

  assert.equal(requestHeaderVersion(ApiKey.Produce, 8), 1);
  assert.equal(requestHeaderVersion(ApiKey.Produce, 9), 2);
  assert.equal(requestHeaderVersion(ApiKey.Metadata, 9), 2);
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 3), 2);
  assert.equal(requestHeaderVersion(ApiKey.ApiVersions, 99), 2, 'newer than known versions: still flexible');
  assert.equal(requestHeaderVersion(ApiKey.ControlledShutdown, 0), 0);
  assert.equal(requestHeaderVersion(ApiKey.ControlledShutdown, 1), 1);
  assert.equal(responseHeaderVersion(ApiKey.Produce, 9), 1);
  assert.equal(responseHeaderVersion(ApiKey.Metadata, 8), 0);
  assert.equal(responseHeaderVersion(ApiKey.ApiVersions, 3), 0);
  assert.equal(responseHeaderVersion(ApiKey.ConsumerGroupHeartbeat, 0), 1);
  assert.throws(() => requestHeaderVersion(9999, 0), RangeError);
});

test('error codes', () => {
  assert.equal(ErrorCode.NONE, 0);
  assert.equal(ErrorCode.UNKNOWN_SERVER_ERROR, -1);
  assert.equal(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 3);
  assert.equal(ErrorCode.NOT_LEADER_OR_FOLLOWER, 6);
  assert.equal(ErrorCode.UNSUPPORTED_VERSION, 35);
  assert.equal(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 45);
  assert.equal(ErrorCode.UNKNOWN_TOPIC_ID, 100);
  assert.equal(ErrorCode.TRANSACTION_ABORTABLE, 120);
  assert.equal(errorName(3), 'UNKNOWN_TOPIC_OR_PARTITION');
  assert.equal(errorName(-1), 'UNKNOWN_SERVER_ERROR');
  assert.equal(errorName(999), 'UNKNOWN_ERROR_CODE_999');
  assert.equal(new Set(Object.values(ErrorCode)).size, Object.keys(ErrorCode).length, 'codes are unique');
});

test('Writer growth keeps bytes written across reallocations', () => {
  const writer = new Writer(1);
  writer.int8(1).int16(2).int32(3).int64(4n).float64(0.5).uvarint(300).compactString('héllo').uuid(ZERO_UUID).bool(true);
  const mark = writer.startUvarintLength();
  writer.raw(Buffer.alloc(200, 9));
  writer.endUvarintLength(mark);
  const reader = new Reader(Buffer.from(writer.finish()));
  assert.deepEqual(
    [reader.int8(), reader.int16(), reader.int32(), reader.int64(), reader.float64(), reader.uvarint()],
    [1, 2, 3, 4n, 0.5, 300],
  );
  assert.equal(reader.compactString(), 'héllo');
  assert.equal(reader.uuid(), ZERO_UUID);
  assert.equal(reader.bool(), true);
  assert.equal(reader.uvarint(), 200);
  assert.deepEqual(reader.raw(200), Buffer.alloc(200, 9));
  assert.equal(reader.remaining, 0);
});

test('large byte fields are written by reference: the parts hold them uncopied and add up to the same bytes', () => {
  const big = [Buffer.alloc(20_000, 1), Buffer.alloc(70_000, 2)];
  const writeFrame = (writer: Writer): void => {
    const sizeDone = writer.int32LengthPrefix();
    writer.int32(7).bytes(big[0] as Buffer).int16(3).compactNullableBytes(big[1] as Buffer).bytes(Buffer.from('small'));
    sizeDone();
  };
  const byReference = new Writer(8);
  writeFrame(byReference);
  const parts = byReference.finishParts();
  assert.equal(parts.length, 5, 'header, first field, middle, second field, tail');
  assert.equal(parts[1], big[0]);
  assert.equal(parts[3], big[1]);
  const bytes = Buffer.concat(parts);
  assert.deepEqual(byReference.finish(), bytes);
  assert.equal(byReference.offset, bytes.length);
  // The length prefix, filled in after the parts were split off, is in the first part.
  assert.equal(bytes.readInt32BE(0), bytes.length - 4);
  const reader = new Reader(bytes.subarray(4));
  assert.equal(reader.int32(), 7);
  assert.deepEqual(reader.bytes(), big[0]);
  assert.equal(reader.int16(), 3);
  assert.deepEqual(reader.compactNullableBytes(), big[1]);
  assert.deepEqual(reader.bytes(), Buffer.from('small'));
  assert.equal(reader.remaining, 0);
});

test('a large byte field inside a tagged field is copied (its length is filled in after it)', () => {
  const writer = new Writer(8);
  writer.int8(1);
  const mark = writer.startUvarintLength();
  writer.raw(Buffer.alloc(30_000, 5));
  writer.endUvarintLength(mark);
  writer.int8(2);
  assert.equal(writer.finishParts().length, 1);
  const bytes = writer.finish();
  const reader = new Reader(bytes);
  assert.equal(reader.int8(), 1);
  assert.equal(reader.uvarint(), 30_000);
  assert.deepEqual(bytes.subarray(reader.offset, reader.offset + 30_000), Buffer.alloc(30_000, 5));
  assert.equal(bytes[bytes.length - 1], 2);
});

test('a Fetch answer given as record batches encodes as their concatenation, classic and compact', () => {
  const batches = [Buffer.alloc(30_000, 1), Buffer.alloc(100, 2), Buffer.alloc(20_000, 3)];
  const answer = (records: Buffer | readonly Buffer[]): FetchResponse => ({
    ...fetchResponse.create(),
    responses: [{ ...createFetchResponseFetchableTopicResponse(), topic: 't', partitions: [{ ...createFetchResponsePartitionData(), partitionIndex: 2, records }] }],
  });
  for (const version of [4, 12]) {
    const asParts = new Writer(8);
    fetchResponse.encode(asParts, answer(batches), version);
    const whole = encode(fetchResponse, answer(Buffer.concat(batches)), version);
    assert.deepEqual(asParts.finish(), whole, `version ${version}`);
    assert.ok(asParts.finishParts().includes(batches[0] as Buffer), 'a large batch is not copied');
    assert.deepEqual(decode(fetchResponse, whole, version).responses[0]?.partitions[0]?.records, Buffer.concat(batches));
  }
});
