import type { RecordFormat } from '../kinesis/record-formats.js';
import type { ShardInfo } from '../kinesis/lineage.js';
import type { TopicCatalog, TopicDescription } from './catalog.js';
import type { ProduceAckMode } from './topic-configs.js';

/** A topic with what the data path needs: its stream, format and limits. */
export interface Topic extends TopicDescription {
  readonly streamName: string;
  /**
   * The partition-map history, oldest first (CreatePartitions adds one); the last is in force.
   * Records keep the partition they were written to, so a partition's records lie in the
   * shards that held its slice under any of these maps.
   */
  readonly partitionMaps: readonly { readonly partitionCount: number; readonly sinceMs: number }[];
  /** kinesis.record.format */
  readonly recordFormat: RecordFormat;
  /** produce.ack.mode: whether a Produce waits for its records to be read back. */
  readonly produceAckMode: ProduceAckMode;
  /** max.message.bytes: the largest record batch a producer may send. */
  readonly maxMessageBytes: number;
  /** The stream's shards, cached; `refresh` asks Kinesis again (after a shard closes). */
  listShards(refresh?: boolean): Promise<readonly ShardInfo[]>;
}

/** The topics the data path reads and writes (backed by Kinesis streams and the topics table). */
export interface TopicRegistry extends TopicCatalog {
  topic(name: string): Promise<Topic | undefined>;
}
