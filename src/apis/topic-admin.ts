/**
 * Wiring for the topic admin APIs: CreateTopics, DeleteTopics, CreatePartitions,
 * DescribeConfigs, AlterConfigs and IncrementalAlterConfigs over one TopicAdmin (the
 * KinesisTopicManager), plus the Metadata auto-creation hook.
 *
 *   const topics = new KinesisTopicManager(kinesis, new DynamoTopicStore(dynamo, tables.topics), {...});
 *   registerTopicAdminApis(registry, { topics, cluster, onTopicDeleted: (t) => logs.forgetTopic(t.topicId) });
 *   registry.add(registerApi(metadataHandler({ cluster, catalog: topics, streamPrefixLength: topics.streamPrefix.length,
 *     autoCreate: metadataAutoCreate(topics), topicBeingCreated: (name) => topics.isBeingCreated(name) })));
 */
import type { ClusterView } from '../cluster/cluster.js';
import type { TopicAdmin } from '../log/topic-manager.js';
import { alterConfigsHandler } from './alter-configs.js';
import { createPartitionsHandler } from './create-partitions.js';
import { createTopicsHandler } from './create-topics.js';
import { deleteTopicsHandler, type DeleteTopicsDependencies } from './delete-topics.js';
import { describeConfigsHandler } from './describe-configs.js';
import { registerApi, type ApiRegistry, type RegisteredApi } from './handler.js';
import { incrementalAlterConfigsHandler } from './incremental-alter-configs.js';
import type { MetadataAutoCreateOutcome } from './metadata.js';

export interface TopicAdminApiDependencies {
  readonly topics: TopicAdmin;
  readonly cluster: ClusterView;
  /** After DeleteTopics removed a topic: let the log layer drop its state. */
  readonly onTopicDeleted?: DeleteTopicsDependencies['onTopicDeleted'];
  /** More read-only settings DescribeConfigs reports for this broker. */
  readonly brokerSettings?: Readonly<Record<string, string>>;
}

export function topicAdminApis(deps: TopicAdminApiDependencies): RegisteredApi[] {
  const { topics, cluster } = deps;
  return [
    registerApi(createTopicsHandler({ topics })),
    registerApi(
      deleteTopicsHandler({ topics, ...(deps.onTopicDeleted !== undefined ? { onTopicDeleted: deps.onTopicDeleted } : {}) }),
    ),
    registerApi(describeConfigsHandler({ topics, cluster, ...(deps.brokerSettings !== undefined ? { brokerSettings: deps.brokerSettings } : {}) })),
    registerApi(alterConfigsHandler({ topics })),
    registerApi(createPartitionsHandler({ topics })),
    registerApi(incrementalAlterConfigsHandler({ topics })),
  ];
}

export function registerTopicAdminApis(registry: ApiRegistry, deps: TopicAdminApiDependencies): ApiRegistry {
  for (const api of topicAdminApis(deps)) registry.add(api);
  return registry;
}

/** Metadata's auto-creation hook (MetadataDependencies.autoCreate) backed by the topic manager. */
export function metadataAutoCreate(topics: TopicAdmin): (name: string) => Promise<MetadataAutoCreateOutcome> {
  return async (name) => {
    const outcome = await topics.autoCreateTopic(name);
    return 'topic' in outcome ? { topic: outcome.topic } : { errorCode: outcome.errorCode };
  };
}
