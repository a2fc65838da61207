/**
 * kinesalite and dynalite in this process (in memory), with the gateway tables created under a
 * unique prefix: what a test needs to run the real Kinesis and DynamoDB code paths.
 */
import { randomBytes } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { createDynamoClient, ensureGatewayTables, type TableNames } from '../../src/aws/dynamodb.js';
import { startDynalite, startKinesalite, type LocalService } from '../../src/embedded-aws.js';
import { createKinesisClient } from '../../src/kinesis/client.js';

const REGION = 'us-east-1';
const CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

export interface TestAws {
  readonly kinesisService: LocalService;
  readonly dynamoService: LocalService;
  readonly kinesis: KinesisClient;
  readonly dynamo: DynamoDBClient;
  readonly tables: TableNames;
  /** Unique per call: use it to prefix stream names too. */
  readonly prefix: string;
  /** More clients on the same servers (a second gateway node); closed with the rest. */
  newKinesisClient(): KinesisClient;
  newDynamoClient(): DynamoDBClient;
  close(): Promise<void>;
}

export async function startTestAws(label = 'test'): Promise<TestAws> {
  const prefix = `${label}-${randomBytes(4).toString('hex')}-`;
  const [kinesisService, dynamoService] = await Promise.all([startKinesalite(), startDynalite()]);
  const kinesisClients: KinesisClient[] = [];
  const dynamoClients: DynamoDBClient[] = [];
  const newKinesisClient = (): KinesisClient => {
    const client = createKinesisClient({ endpoint: kinesisService.endpoint, region: REGION, credentials: CREDENTIALS });
    kinesisClients.push(client);
    return client;
  };
  const newDynamoClient = (): DynamoDBClient => {
    const client = createDynamoClient({ endpoint: dynamoService.endpoint, region: REGION, credentials: CREDENTIALS });
    dynamoClients.push(client);
    return client;
  };
  const kinesis = newKinesisClient();
  const dynamo = newDynamoClient();
  const tables = await ensureGatewayTables(dynamo, prefix);
  return {
    kinesisService,
    dynamoService,
    kinesis,
    dynamo,
    tables,
    prefix,
    newKinesisClient,
    newDynamoClient,
    async close() {
      for (const client of kinesisClients) client.destroy();
      for (const client of dynamoClients) client.destroy();
      await Promise.all([kinesisService.close(), dynamoService.close()]);
    },
  };
}
