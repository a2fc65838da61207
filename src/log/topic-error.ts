import { errorName } from '../protocol/errors.js';

/**
 * A topic operation that failed for a reason the client should see: a Kafka error code and a
 * message written for the person running the tool (CreateTopics, AlterConfigs, ... return both).
 */
export class TopicError extends Error {
  override name = 'TopicError';

  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }

  override toString(): string {
    return `${errorName(this.code)}: ${this.message}`;
  }
}
