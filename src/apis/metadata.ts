import {
  createMetadataResponseMetadataResponseTopic,
  metadataRequest,
  metadataResponse,
  type MetadataRequest,
  type MetadataRequestMetadataRequestTopic,
  type MetadataResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ClusterView } from '../cluster/cluster.js';
import { invalidTopicNameReason, type TopicCatalog, type TopicDescription } from '../log/catalog.js';
import { CLUSTER_AUTHORIZED_OPERATIONS, TOPIC_AUTHORIZED_OPERATIONS } from './authorized-operations.js';
import type { ApiHandler } from './handler.js';

type TopicEntry = MetadataResponse['topics'][number];

/** What auto-creating a topic gave: the topic, or the error to report for it (LEADER_NOT_AVAILABLE while it is being created). */
export type MetadataAutoCreateOutcome = { readonly topic: TopicDescription } | { readonly errorCode: number };

export interface MetadataDependencies {
  readonly cluster: ClusterView;
  readonly catalog: TopicCatalog;
  readonly streamPrefixLength: number;
  /**
   * Creates a missing topic when the request allows it (v4+ allow_auto_topic_creation; always
   * for v0-3, as Kafka does); absent: missing topics are UNKNOWN_TOPIC_OR_PARTITION. Whether
   * the gateway auto-creates at all (auto.create.topics.enable) is this function's business.
   */
  readonly autoCreate?: (name: string) => Promise<MetadataAutoCreateOutcome>;
  /** Whether a missing topic is being created (LEADER_NOT_AVAILABLE, which clients retry, instead of UNKNOWN_TOPIC_OR_PARTITION). */
  readonly topicBeingCreated?: (name: string) => boolean;
}

export function metadataHandler(deps: MetadataDependencies): ApiHandler<MetadataRequest, MetadataResponse> {
  const { cluster, catalog } = deps;

  function describe(topic: TopicDescription): TopicEntry {
    const entry = errorEntry(topic.name, ErrorCode.NONE);
    entry.topicId = topic.topicId;
    entry.isInternal = topic.internal;
    for (let partition = 0; partition < topic.partitionCount; partition++) {
      const leadership = cluster.leadership(topic.name, partition, topic.replicationFactor, topic.topicId);
      entry.partitions.push({
        errorCode: ErrorCode.NONE,
        partitionIndex: partition,
        leaderId: leadership.leaderId,
        leaderEpoch: leadership.leaderEpoch,
        replicaNodes: [...leadership.replicas],
        isrNodes: [...leadership.isr],
        offlineReplicas: [],
      });
    }
    return entry;
  }

  async function lookup(requested: MetadataRequestMetadataRequestTopic, allowAutoCreate: boolean): Promise<TopicEntry> {
    if (requested.name === null) {
      const byId = await catalog.getTopicById(requested.topicId);
      if (byId !== undefined) return describe(byId);
      const entry = errorEntry(null, ErrorCode.UNKNOWN_TOPIC_ID);
      entry.topicId = requested.topicId;
      return entry;
    }
    if (invalidTopicNameReason(requested.name, deps.streamPrefixLength) !== null) {
      return errorEntry(requested.name, ErrorCode.INVALID_TOPIC_EXCEPTION);
    }
    const topic = await catalog.getTopic(requested.name);
    if (topic !== undefined) return describe(topic);
    if (allowAutoCreate && deps.autoCreate !== undefined) {
      const outcome = await deps.autoCreate(requested.name);
      return 'topic' in outcome ? describe(outcome.topic) : errorEntry(requested.name, outcome.errorCode);
    }
    if (deps.topicBeingCreated?.(requested.name) === true) return errorEntry(requested.name, ErrorCode.LEADER_NOT_AVAILABLE);
    return errorEntry(requested.name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  }

  return {
    request: metadataRequest,
    response: metadataResponse,
    minVersion: 0,
    maxVersion: 12,
    async handle(request, context) {
      const response = metadataResponse.create();
      await cluster.prepare?.();
      response.clusterId = cluster.clusterId;
      response.controllerId = cluster.controllerId;
      response.brokers = cluster.brokers().map((b) => ({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack }));
      // v0 asks for every topic with an empty list; v1+ with null, and an empty list means none.
      const everyTopic = request.topics === null || (context.apiVersion === 0 && request.topics.length === 0);
      if (everyTopic) {
        response.topics = (await catalog.listTopics()).map(describe);
      } else {
        const allowAutoCreate = context.apiVersion < 4 || request.allowAutoTopicCreation;
        response.topics = await Promise.all((request.topics ?? []).map((t) => lookup(t, allowAutoCreate)));
      }
      if (request.includeTopicAuthorizedOperations) {
        for (const topic of response.topics) {
          if (topic.errorCode === ErrorCode.NONE) topic.topicAuthorizedOperations = TOPIC_AUTHORIZED_OPERATIONS;
        }
      }
      if (request.includeClusterAuthorizedOperations) {
        response.clusterAuthorizedOperations = CLUSTER_AUTHORIZED_OPERATIONS;
      }
      return response;
    },
  };
}

function errorEntry(name: string | null, errorCode: number): TopicEntry {
  const entry = createMetadataResponseMetadataResponseTopic();
  entry.name = name;
  entry.errorCode = errorCode;
  return entry;
}
