/**
 * deploy/: the IAM policy grants exactly the Kinesis and DynamoDB actions the code calls (every
 * *Command imported from the SDK clients under src/), and the CloudFormation tables are the ones
 * src/aws/dynamodb.ts creates (names, key schemas, the by-time index). The template is checked
 * by the offline CloudFormation validator bundled with aws-cdk-lib (a dev dependency through
 * the kubectl layer package).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { gatewayTableSpecs, TableNames, type TableSpec } from '../../src/aws/dynamodb.js';
import { RECORDS_CLIENT_OPERATIONS } from '../../src/kinesis/records-client.js';
import { REPO_ROOT } from './helm.js';

const TEMPLATE_PATH = join(REPO_ROOT, 'deploy', 'cloudformation', 'gateway.yaml');

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}
interface PolicyDocument {
  Version: string;
  Statement: Statement[];
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/**
 * Every `XxxCommand` imported from @aws-sdk/client-<service> anywhere under src/, and the
 * operations the records client calls without the SDK's commands, as IAM actions.
 */
function actionsCalledByCode(): Set<string> {
  const actions = new Set<string>(RECORDS_CLIENT_OPERATIONS.map((operation) => `kinesis:${operation}`));
  const importPattern = /import\s*(?:type\s*)?\{([^}]*)\}\s*from\s*['"]@aws-sdk\/client-(kinesis|dynamodb)['"]/g;
  for (const file of sourceFiles(join(REPO_ROOT, 'src'))) {
    for (const match of readFileSync(file, 'utf8').matchAll(importPattern)) {
      const service = match[2] as string;
      for (const raw of (match[1] as string).split(',')) {
        const name = raw.trim().replace(/^type\s+/, '').split(/\s+as\s+/)[0] ?? '';
        if (raw.trim().startsWith('type ')) continue;
        const command = /^(\w+)Command$/.exec(name);
        if (command) actions.add(`${service}:${command[1]}`);
      }
    }
  }
  return actions;
}

const actionsOf = (policy: PolicyDocument): string[] =>
  policy.Statement.flatMap((s) => {
    assert.equal(s.Effect, 'Allow');
    return Array.isArray(s.Action) ? s.Action : [s.Action];
  });
const readJson = <T>(path: string): T => JSON.parse(readFileSync(join(REPO_ROOT, path), 'utf8')) as T;

interface Template {
  Parameters: Record<string, { Default?: string; AllowedPattern?: string }>;
  Resources: Record<string, { Type: string; Condition?: string; Properties: Record<string, unknown> }>;
}
const template = parseYaml(readFileSync(TEMPLATE_PATH, 'utf8')) as Template;

/** `{"Fn::Sub": "x"}` as "x"; other values as they are. */
const unSub = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(unSub);
  if (typeof value === 'object' && value !== null && 'Fn::Sub' in value) return (value as { 'Fn::Sub': unknown })['Fn::Sub'];
  return value;
};

test('the IAM policy allows exactly the Kinesis and DynamoDB actions the code calls', () => {
  const called = actionsCalledByCode();
  assert.ok(called.has('kinesis:PutRecords') && called.has('dynamodb:GetItem'), 'the scan finds the SDK calls');
  const gateway = readJson<PolicyDocument>('deploy/iam/gateway-policy.json');
  const createTables = readJson<PolicyDocument>('deploy/iam/create-tables-policy.json');
  const granted = actionsOf(gateway);
  assert.equal(new Set(granted).size, granted.length, 'no action twice');
  const expected = [...called].filter((a) => a !== 'dynamodb:CreateTable').sort();
  assert.deepEqual([...granted].sort(), expected, 'deploy/iam/gateway-policy.json (the tables come from CloudFormation, so no CreateTable)');
  assert.deepEqual(actionsOf(createTables), ['dynamodb:CreateTable'], 'only --create-tables true needs CreateTable');
  assert.ok(called.has('dynamodb:CreateTable'));
  // Resources: the prefixed streams and tables only; ListStreams has no resource-level permission.
  for (const statement of gateway.Statement) {
    const resources = [statement.Resource].flat() as string[];
    for (const resource of resources) {
      if (resource === '*') assert.deepEqual(statement.Action, ['kinesis:ListStreams']);
      else assert.match(resource, /:(stream\/\$\{StreamPrefix\}\*|table\/\$\{TablePrefix\}\*(\/index\/\*)?)$/);
    }
  }
});

test('the CloudFormation managed policy has the same statements as deploy/iam/gateway-policy.json', () => {
  const resource = template.Resources.GatewayPolicy;
  assert.equal(resource?.Type, 'AWS::IAM::ManagedPolicy');
  const document = resource.Properties.PolicyDocument as PolicyDocument;
  const statements = document.Statement.map((s) => ({ ...s, Resource: unSub(s.Resource) }));
  assert.deepEqual(statements, readJson<PolicyDocument>('deploy/iam/gateway-policy.json').Statement);
});

test('the CloudFormation tables are the tables the gateway uses (names, keys, indexes)', () => {
  const prefix = 'PREFIX-';
  const expected = new Map(gatewayTableSpecs(new TableNames(prefix)).map((spec) => [spec.name, spec]));
  const tables = Object.values(template.Resources).filter((r) => r.Type === 'AWS::DynamoDB::Table');
  assert.equal(tables.length, expected.size, `one table per gatewayTableSpecs entry (${[...expected.keys()].join(', ')})`);
  type Key = { AttributeName: string; KeyType: string };
  const keys = (spec: { partitionKey: { name: string }; sortKey?: { name: string } }): Key[] => [
    { AttributeName: spec.partitionKey.name, KeyType: 'HASH' },
    ...(spec.sortKey ? [{ AttributeName: spec.sortKey.name, KeyType: 'RANGE' }] : []),
  ];
  const attributes = (spec: TableSpec): Map<string, string> => {
    const all = new Map<string, string>();
    for (const key of [spec.partitionKey, spec.sortKey, ...(spec.globalSecondaryIndexes ?? []).flatMap((i) => [i.partitionKey, i.sortKey])]) {
      if (key) all.set(key.name, key.type);
    }
    return all;
  };
  for (const table of tables) {
    const props = table.Properties;
    const name = String(unSub(props.TableName)).replace('${TablePrefix}', prefix);
    const spec = expected.get(name);
    assert.ok(spec, `table ${name} is one the gateway uses`);
    assert.equal(props.BillingMode, 'PAY_PER_REQUEST');
    assert.deepEqual(props.KeySchema, keys(spec), `${name} key schema`);
    const defined = new Map((props.AttributeDefinitions as { AttributeName: string; AttributeType: string }[]).map((a) => [a.AttributeName, a.AttributeType]));
    assert.deepEqual(defined, attributes(spec), `${name} attribute definitions`);
    const indexes = (props.GlobalSecondaryIndexes ?? []) as { IndexName: string; KeySchema: Key[]; Projection: { ProjectionType: string } }[];
    assert.deepEqual(
      indexes.map((i) => ({ name: i.IndexName, keys: i.KeySchema, projection: i.Projection.ProjectionType })),
      (spec.globalSecondaryIndexes ?? []).map((i) => ({ name: i.name, keys: keys(i), projection: i.projection ?? 'KEYS_ONLY' })),
      `${name} global secondary indexes`,
    );
    expected.delete(name);
  }
  assert.deepEqual([...expected.keys()], []);
  // The prefix parameter accepts what --table-prefix accepts, with the same default.
  assert.equal(template.Parameters.TablePrefix?.Default, 'kkg-');
  assert.equal(template.Parameters.TablePrefix?.AllowedPattern, '^[a-zA-Z0-9_.-]{1,200}$');
});

test('the CloudFormation template passes the offline validator with no warning or error', async () => {
  // Bundled inside aws-cdk-lib (a peer of @aws-cdk/lambda-layer-kubectl-v33); not published on its own.
  const cdk = createRequire(import.meta.url).resolve('aws-cdk-lib/package.json');
  const validatorPath = createRequire(join(dirname(cdk), 'package.json')).resolve('@aws/cloudformation-validate');
  const { CompositeEngine, TemplateFile } = (await import(validatorPath)) as {
    CompositeEngine: new () => {
      validateTemplate(template: unknown): { diagnostics: { severity: string; ruleId: string; message: string }[] };
      free(): void;
    };
    TemplateFile: new (path: string) => unknown;
  };
  const engine = new CompositeEngine();
  try {
    const report = engine.validateTemplate(new TemplateFile(TEMPLATE_PATH));
    const problems = report.diagnostics.filter((d) => d.severity !== 'INFO');
    assert.deepEqual(problems.map((d) => `[${d.severity}] ${d.ruleId}: ${d.message}`), []);
  } finally {
    engine.free();
  }
});
