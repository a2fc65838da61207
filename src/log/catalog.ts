/** A topic as the protocol layer needs to describe it. */
export interface TopicDescription {
  readonly name: string;
  readonly topicId: string;
  readonly partitionCount: number;
  /** As requested at creation; Metadata lists min(this, live nodes) replicas. */
  readonly replicationFactor: number;
  readonly internal: boolean;
}

/** Where topics come from: Kinesis streams and their stored settings (the data path). */
export interface TopicCatalog {
  listTopics(): Promise<readonly TopicDescription[]>;
  getTopic(name: string): Promise<TopicDescription | undefined>;
  getTopicById(topicId: string): Promise<TopicDescription | undefined>;
}

/** A fixed set of topics held in memory. */
export class StaticTopicCatalog implements TopicCatalog {
  private readonly byName: Map<string, TopicDescription>;

  constructor(topics: readonly TopicDescription[] = []) {
    this.byName = new Map(topics.map((t) => [t.name, t]));
  }

  async listTopics(): Promise<readonly TopicDescription[]> {
    return [...this.byName.values()];
  }

  async getTopic(name: string): Promise<TopicDescription | undefined> {
    return this.byName.get(name);
  }

  async getTopicById(topicId: string): Promise<TopicDescription | undefined> {
    return [...this.byName.values()].find((t) => t.topicId === topicId);
  }
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]+$/;

/**
 * Why a topic name cannot be used, or null when it can. Kinesis stream names allow 1-128
 * characters of [a-zA-Z0-9_.-], a subset of Kafka's rule, so the stricter limit applies
 * (after the stream name prefix).
 */
export function invalidTopicNameReason(name: string, streamPrefixLength = 0): string | null {
  const maxLength = 128 - streamPrefixLength;
  if (name.length === 0) return 'topic name is empty';
  if (name === '.' || name === '..') return `topic name cannot be "${name}"`;
  if (name.length > maxLength) return `topic name is longer than ${maxLength} characters`;
  if (!TOPIC_NAME.test(name)) return 'topic name may contain only ASCII letters, digits, ".", "_" and "-"';
  return null;
}
