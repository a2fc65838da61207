/**
 * Typed errors of the record layer. Every failure to read or build record bytes surfaces as one of
 * these (never a RangeError or a codec library's own error), so that the Produce and Fetch handlers
 * can map it to a Kafka error code with `err.errorCode`.
 */

/** Kafka error codes used by the record layer. */
export const RecordErrorCode = {
  /** CORRUPT_MESSAGE: bad CRC, malformed bytes, a codec stream that does not decode. */
  CORRUPT_MESSAGE: 2,
  /** UNSUPPORTED_FOR_MESSAGE_FORMAT: magic 0/1 (legacy MessageSet) input. */
  UNSUPPORTED_FOR_MESSAGE_FORMAT: 43,
  /** UNSUPPORTED_COMPRESSION_TYPE: a compression codec id this gateway does not know (5, 6, 7). */
  UNSUPPORTED_COMPRESSION_TYPE: 76,
} as const;

/** Base class; `errorCode` is the Kafka protocol error code a handler should answer with. */
export abstract class RecordError extends Error {
  abstract readonly errorCode: number;
}

/** Bytes that are not a valid record batch, or a compressed payload that does not decode. */
export class CorruptRecordError extends RecordError {
  override name = 'CorruptRecordError';
  readonly errorCode: number = RecordErrorCode.CORRUPT_MESSAGE;
}

/** Magic 0 or 1 (the legacy MessageSet format); only magic 2 (RecordBatch) is supported. */
export class UnsupportedMessageFormatError extends RecordError {
  override name = 'UnsupportedMessageFormatError';
  readonly errorCode: number = RecordErrorCode.UNSUPPORTED_FOR_MESSAGE_FORMAT;

  constructor(readonly magic: number) {
    super(`message format with magic ${magic} is not supported (only RecordBatch magic 2)`);
  }
}

/**
 * A compression codec id outside 0..4. Kafka's own broker fails such a batch as corrupt; code 76
 * (UNSUPPORTED_COMPRESSION_TYPE) tells the client more precisely what is wrong, and clients treat both
 * as non-retriable.
 */
export class UnsupportedCompressionTypeError extends RecordError {
  override name = 'UnsupportedCompressionTypeError';
  readonly errorCode: number = RecordErrorCode.UNSUPPORTED_COMPRESSION_TYPE;

  constructor(readonly compressionId: number) {
    super(`unknown compression codec id ${compressionId}`);
  }
}
