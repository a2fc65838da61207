// Minimal types for the kafkajs internals (plain JS, no typings) that the record-batch interop tests
// use to build and read RecordBatches without a broker, and for the kafkajs compression codec
// plugins. Only what the tests touch is declared.

declare module 'kafkajs/src/utils/long.js' {
  class Long {
    readonly value: bigint;
    static fromValue(value: bigint | number | string | Long): Long;
    toString(): string;
  }
  export = Long;
}

declare module 'kafkajs/src/protocol/encoder.js' {
  class Encoder {
    constructor();
    readonly buffer: Buffer;
  }
  export = Encoder;
}

declare module 'kafkajs/src/protocol/decoder.js' {
  class Decoder {
    constructor(buffer: Buffer);
    offset: number;
  }
  export = Decoder;
}

declare module 'kafkajs/src/protocol/recordBatch/record/v0/index.js' {
  import type Encoder from 'kafkajs/src/protocol/encoder.js';
  interface KafkajsRecordInput {
    offsetDelta?: number;
    timestampDelta?: number | bigint;
    key: Buffer | null;
    value: Buffer | null;
    headers?: Record<string, Buffer | string | Array<Buffer | string>>;
  }
  function Record(input: KafkajsRecordInput): Encoder;
  export = Record;
}

declare module 'kafkajs/src/protocol/recordBatch/v0/index.js' {
  import type Encoder from 'kafkajs/src/protocol/encoder.js';
  import type Long from 'kafkajs/src/utils/long.js';
  interface KafkajsRecordBatchInput {
    compression?: number;
    firstOffset?: Long;
    firstTimestamp?: number | string | Long;
    maxTimestamp?: number | string | Long;
    partitionLeaderEpoch?: number;
    lastOffsetDelta?: number;
    transactional?: boolean;
    producerId?: Long;
    producerEpoch?: number;
    firstSequence?: number;
    records?: Encoder[];
  }
  export function RecordBatch(input: KafkajsRecordBatchInput): Promise<Encoder>;
  export const MAGIC_BYTE: number;
}

declare module 'kafkajs/src/protocol/recordBatch/v0/decoder.js' {
  import type Decoder from 'kafkajs/src/protocol/decoder.js';
  interface KafkajsDecodedRecord {
    magicByte: number;
    attributes: number;
    timestamp: string;
    offset: string;
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, Buffer | null | Array<Buffer | null>>;
    isControlRecord: boolean;
  }
  interface KafkajsDecodedBatch {
    firstOffset: string;
    firstTimestamp: string;
    partitionLeaderEpoch: number;
    inTransaction: boolean;
    isControlBatch: boolean;
    lastOffsetDelta: number;
    producerId: string;
    producerEpoch: number;
    firstSequence: number;
    maxTimestamp: string;
    timestampType: number;
    records: KafkajsDecodedRecord[];
  }
  function decodeRecordBatch(decoder: Decoder): Promise<KafkajsDecodedBatch>;
  export = decodeRecordBatch;
}

declare module 'kafkajs-snappy' {
  interface KafkajsCodec {
    compress(encoder: { buffer: Buffer }): Promise<Buffer>;
    decompress(buffer: Buffer): Promise<Buffer>;
  }
  function SnappyCodec(): KafkajsCodec;
  export = SnappyCodec;
}

declare module 'kafkajs-lz4' {
  interface KafkajsCodec {
    compress(encoder: { buffer: Buffer }): Promise<Buffer>;
    decompress(buffer: Buffer): Promise<Buffer>;
  }
  class LZ4Codec {
    constructor(options?: { blockMaxSize?: number; blockChecksum?: boolean; highCompression?: boolean });
    codec: () => KafkajsCodec;
  }
  export = LZ4Codec;
}
