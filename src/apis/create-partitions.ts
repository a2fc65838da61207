/**
 * CreatePartitions (API key 37), v0-3: a new partition-map epoch for the topic (records from
 * then on are cut into the new hash slices; earlier records keep their partitions and offsets),
 * plus more shards for PROVISIONED streams where Kinesis can reshard. Manual assignments are
 * refused (INVALID_REQUEST); a count that does not grow is INVALID_PARTITIONS.
 */
import {
  createPartitionsRequest,
  createPartitionsResponse,
  type CreatePartitionsRequest,
  type CreatePartitionsResponse,
} from '../protocol/messages/index.js';
import { ErrorCode } from '../protocol/errors.js';
import type { TopicAdmin } from '../log/topic-manager.js';
import { adminError, duplicates } from './admin-errors.js';
import type { ApiHandler } from './handler.js';

type TopicResult = CreatePartitionsResponse['results'][number];

export interface CreatePartitionsDependencies {
  readonly topics: TopicAdmin;
}

export function createPartitionsHandler(
  deps: CreatePartitionsDependencies,
): ApiHandler<CreatePartitionsRequest, CreatePartitionsResponse> {
  const { topics } = deps;
  const result = (name: string, errorCode: number, errorMessage: string | null): TopicResult => ({ name, errorCode, errorMessage });

  return {
    request: createPartitionsRequest,
    response: createPartitionsResponse,
    minVersion: 0,
    maxVersion: 3,
    async handle(request, context) {
      const response = createPartitionsResponse.create();
      const repeated = duplicates(request.topics.map((t) => t.name));
      const reported = new Set<string>();
      const results: Promise<TopicResult>[] = [];
      for (const topic of request.topics) {
        if (reported.has(topic.name)) continue;
        reported.add(topic.name);
        if (repeated.has(topic.name)) {
          results.push(Promise.resolve(result(topic.name, ErrorCode.INVALID_REQUEST, `Topic '${topic.name}' appears more than once in the request`)));
          continue;
        }
        if (topic.assignments !== null && topic.assignments.length > 0) {
          results.push(
            Promise.resolve(
              result(topic.name, ErrorCode.INVALID_REQUEST, 'Manual replica assignment is not supported: Kinesis places the shards'),
            ),
          );
          continue;
        }
        results.push(
          topics.createPartitions(topic.name, topic.count, request.validateOnly).then(
            () => result(topic.name, ErrorCode.NONE, null),
            (err: unknown) => {
              const { errorCode, errorMessage } = adminError(err, context.log, `adding partitions to topic ${topic.name}`);
              return result(topic.name, errorCode, errorMessage);
            },
          ),
        );
      }
      response.results = await Promise.all(results);
      return response;
    },
  };
}
