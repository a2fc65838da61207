import { join } from 'node:path';
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { Logger } from 'pino';
import {
  createDynamoClient,
  ensureGatewayTables,
  gatewayTableSpecs,
  isResourceNotFound,
  TableNames,
} from './aws/dynamodb.js';
import type { GatewayConfig } from './config.js';
import { startDynalite, startKinesalite, type LocalService } from './embedded-aws.js';
import { createKinesisClient, isThrottle } from './kinesis/client.js';
import { KinesisRecordsClient } from './kinesis/records-client.js';
import { isDynamoThrottle, observeAwsClient, type CallObserver } from './metrics/aws-observer.js';

/** The AWS clients the gateway uses, and the embedded stand-ins behind them, if any. */
export interface AwsResources {
  readonly kinesis: KinesisClient;
  /** PutRecords and GetRecords, on the Kinesis client's endpoint and credentials. */
  readonly kinesisRecords: KinesisRecordsClient;
  readonly dynamodb: DynamoDBClient;
  readonly tables: TableNames;
  /** Kinesalite/dynalite run in this process (no AWS settings were given). */
  readonly embedded: boolean;
  close(): Promise<void>;
}

/** Observers of every call made through the gateway's AWS clients (metrics). */
export interface AwsObservers {
  readonly kinesis?: CallObserver;
  readonly dynamodb?: CallObserver;
}

const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

function isLoopback(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === 'localhost' || host === '::1' || host === '[::1]' || host.startsWith('127.');
}

/**
 * Embedded when no region and no endpoint is configured: kinesalite and dynalite in-process,
 * data under the data folder. Local endpoints without AWS credentials in the environment get
 * placeholder credentials (local servers accept any); everything else uses the SDK's chain.
 */
export async function setUpAws(
  config: GatewayConfig,
  env: NodeJS.ProcessEnv,
  log: Logger,
  observers: AwsObservers = {},
): Promise<AwsResources> {
  const region = config.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  const embedded = region === undefined && config.kinesisEndpoint === undefined && config.dynamodbEndpoint === undefined;
  const services: LocalService[] = [];
  let kinesisEndpoint = config.kinesisEndpoint;
  let dynamodbEndpoint = config.dynamodbEndpoint;
  if (embedded) {
    const kinesis = await startKinesalite(join(config.dataDir, 'kinesis'));
    services.push(kinesis);
    const dynamodb = await startDynalite(join(config.dataDir, 'dynamodb'));
    services.push(dynamodb);
    kinesisEndpoint = kinesis.endpoint;
    dynamodbEndpoint = dynamodb.endpoint;
    log.info({ kinesis: kinesisEndpoint, dynamodb: dynamodbEndpoint, dataDir: config.dataDir }, 'embedded Kinesis and DynamoDB stand-ins started');
  }
  const credentialsFor = (endpoint: string | undefined): typeof LOCAL_CREDENTIALS | undefined =>
    endpoint !== undefined && isLoopback(endpoint) && env.AWS_ACCESS_KEY_ID === undefined ? LOCAL_CREDENTIALS : undefined;
  const awsRegion = region ?? 'us-east-1';
  const kinesisCredentials = credentialsFor(kinesisEndpoint);
  const dynamoCredentials = credentialsFor(dynamodbEndpoint);
  const kinesis = createKinesisClient({
    region: awsRegion,
    // Throttles are retried by the log layer, which reports them as Kafka throttling.
    maxAttempts: 1,
    ...(kinesisEndpoint !== undefined ? { endpoint: kinesisEndpoint } : {}),
    ...(kinesisCredentials !== undefined ? { credentials: kinesisCredentials } : {}),
  });
  const dynamodb = createDynamoClient({
    region: awsRegion,
    ...(dynamodbEndpoint !== undefined ? { endpoint: dynamodbEndpoint } : {}),
    ...(dynamoCredentials !== undefined ? { credentials: dynamoCredentials } : {}),
  });
  const kinesisRecords = new KinesisRecordsClient(kinesis);
  if (observers.kinesis !== undefined) {
    observeAwsClient(kinesis, observers.kinesis, isThrottle);
    kinesisRecords.observe(observers.kinesis);
  }
  if (observers.dynamodb !== undefined) observeAwsClient(dynamodb, observers.dynamodb, isDynamoThrottle);
  // Against AWS the tables come from deploy/ (CloudFormation), not from the gateway; embedded
  // mode and a local stand-in (a loopback DynamoDB endpoint) get them created by default.
  const createTables = config.createTables ?? (dynamodbEndpoint !== undefined && isLoopback(dynamodbEndpoint));
  let tables: TableNames;
  try {
    if (!createTables) await requireGatewayTables(dynamodb, config.tablePrefix);
    tables = await ensureGatewayTables(dynamodb, config.tablePrefix);
  } catch (err) {
    kinesis.destroy();
    dynamodb.destroy();
    for (const service of services.reverse()) await service.close();
    throw err;
  }
  return {
    kinesis,
    kinesisRecords,
    dynamodb,
    tables,
    embedded,
    async close() {
      kinesis.destroy();
      dynamodb.destroy();
      for (const service of services.reverse()) await service.close();
    },
  };
}

/** Thrown at start when --create-tables is off and some of the gateway's tables do not exist. */
export class MissingTablesError extends Error {
  override name = 'MissingTablesError';

  constructor(readonly missing: readonly string[]) {
    super(
      `DynamoDB tables missing: ${missing.join(', ')}. Create them (deploy/cloudformation/gateway.yaml, ` +
        'with the same table prefix) or start once with --create-tables true.',
    );
  }
}

/** Fails, naming every missing table, unless all the gateway's tables exist. */
async function requireGatewayTables(client: DynamoDBClient, prefix: string): Promise<void> {
  const specs = gatewayTableSpecs(new TableNames(prefix));
  const missing: string[] = [];
  await Promise.all(
    specs.map(async (spec) => {
      try {
        await client.send(new DescribeTableCommand({ TableName: spec.name }));
      } catch (err) {
        if (!isResourceNotFound(err)) throw err;
        missing.push(spec.name);
      }
    }),
  );
  if (missing.length > 0) throw new MissingTablesError(missing.sort());
}
