import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoClient, ensureGatewayTables, type TableNames } from '../../src/aws/dynamodb.js';
import { startDynalite, type LocalService } from '../../src/embedded-aws.js';

export interface TestDynamo {
  readonly service: LocalService;
  readonly client: DynamoDBClient;
  readonly tables: TableNames;
  /** Another client on the same server (a second gateway node). */
  newClient(): DynamoDBClient;
  close(): Promise<void>;
}

/** In-memory dynalite with the gateway tables created under `prefix`. */
export async function startTestDynamo(prefix = 'test-'): Promise<TestDynamo> {
  const service = await startDynalite();
  const clients: DynamoDBClient[] = [];
  const newClient = (): DynamoDBClient => {
    const client = createDynamoClient({
      endpoint: service.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    clients.push(client);
    return client;
  };
  const client = newClient();
  const tables = await ensureGatewayTables(client, prefix);
  return {
    service,
    client,
    tables,
    newClient,
    async close() {
      for (const c of clients) c.destroy();
      await service.close();
    },
  };
}
