/**
 * The Helm chart, rendered by a real helm: lint, template with the default values and with the
 * realistic values files in helm/kafka-kinesis-gateway/ci/, and checks that what it renders
 * agrees with the gateway itself: every flag, environment variable and config.json key exists in
 * src/config.ts; the rendered start command, run through the real CLI (--print-config), yields
 * the node id, advertised host, ports and data folder the chart's objects assume; the probe
 * paths answer on a running gateway's metrics port.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseArgs, promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { CONFIG_OPTIONS, loadConfig, printableConfig } from '../../src/config.js';
import { startGateway, type RunningGateway } from '../support/gateway.js';
import { CHART_DIR, REPO_ROOT, helm, renderChart, type K8sObject } from './helm.js';

const run = promisify(execFile);
const CI_VALUES = join(CHART_DIR, 'ci');
const values = (name: string): string => join(CI_VALUES, name);
const RELEASE_FULLNAME = 'kkg-kafka-kinesis-gateway';
const NAMESPACE = 'streaming';
const CONFIG_MOUNT = '/etc/kafka-kinesis-gateway';
const ENTRY_POINT = '/app/dist/src/cli.js';

const optionByFlag = new Map(CONFIG_OPTIONS.map((o) => [o.flag, o]));
const optionByEnv = new Map(CONFIG_OPTIONS.map((o) => [o.env, o]));
const optionKeys = new Set<string>(CONFIG_OPTIONS.map((o) => o.key));
const defaultOf = (flag: string): string | undefined => optionByFlag.get(flag)?.default;

// ---------------------------------------------------------------------------------------------
// Typed views of the rendered objects (only the fields the tests read).

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
interface Probe {
  httpGet: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  args: string[];
  env: EnvVar[];
  envFrom?: unknown[];
  ports: { name: string; containerPort: number }[];
  startupProbe: Probe;
  livenessProbe: Probe;
  readinessProbe: Probe;
  volumeMounts: { name: string; mountPath: string }[];
  securityContext: Record<string, unknown>;
}
interface PodSpec {
  serviceAccountName: string;
  containers: Container[];
  volumes: { name: string; configMap?: { name: string }; emptyDir?: unknown }[];
  affinity?: { podAntiAffinity?: Record<string, unknown> };
  topologySpreadConstraints?: { topologyKey: string }[];
  securityContext: Record<string, unknown>;
}
interface StatefulSet extends K8sObject {
  spec: {
    replicas: number;
    serviceName: string;
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: { metadata: { name: string } }[];
  };
}
interface Service extends K8sObject {
  spec: {
    type?: string;
    clusterIP?: string;
    selector: Record<string, string>;
    ports: { name: string; port: number; targetPort: string | number }[];
  };
}

const find = <T extends K8sObject>(objects: K8sObject[], kind: string, name?: string): T => {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  assert.equal(found.length, 1, `exactly one ${kind}${name === undefined ? '' : ` ${name}`} (found ${found.length})`);
  return found[0] as T;
};
const all = <T extends K8sObject>(objects: K8sObject[], kind: string): T[] => objects.filter((o) => o.kind === kind) as T[];
const gatewayContainer = (sts: StatefulSet): Container => {
  const container = sts.spec.template.spec.containers.find((c) => c.name === 'gateway');
  assert.ok(container, 'a container named gateway');
  return container;
};
const configJson = (objects: K8sObject[]): Record<string, unknown> => {
  const configMap = find<K8sObject & { data: Record<string, string> }>(objects, 'ConfigMap', RELEASE_FULLNAME);
  return JSON.parse(configMap.data['config.json'] ?? 'null') as Record<string, unknown>;
};

// ---------------------------------------------------------------------------------------------
// The start command, run for real: the rendered shell script, with a stand-in `node` that runs
// the gateway's CLI from source with --print-config added.

let scratch: string;
before(() => {
  scratch = mkdtempSync(join(tmpdir(), 'kkg-chart-'));
  writeFileSync(
    join(scratch, 'node'),
    [
      '#!/bin/sh',
      `[ "$1" = "${ENTRY_POINT}" ] || { echo "unexpected entry point: $1" >&2; exit 3; }`,
      'shift',
      // Either the real CLI (from source) with --print-config added, or just the arguments.
      'if [ "$KKG_TEST_MODE" = args ]; then printf "%s\\0" "$@"; exit 0; fi',
      'cd "$KKG_TEST_REPO" && exec "$KKG_TEST_NODE" --import tsx src/cli.ts --print-config "$@"',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
});
after(() => rmSync(scratch, { recursive: true, force: true }));

interface PodStart {
  config: Record<string, unknown>;
  /** The gateway flags the script passes (without their values). */
  flags: string[];
}

/**
 * Runs pod `ordinal`'s start command as its container would; the gateway's effective config.
 * With `realCli` the stand-in node runs the gateway's CLI (--print-config); otherwise it hands
 * back the arguments, which are parsed here as the CLI parses them (faster: no process start).
 */
async function startCommand(
  objects: K8sObject[],
  ordinal: number,
  secretValues: Record<string, string> = {},
  realCli = false,
): Promise<PodStart> {
  const sts = find<StatefulSet>(objects, 'StatefulSet', RELEASE_FULLNAME);
  const container = gatewayContainer(sts);
  const [shell, dashC, script] = container.args;
  assert.deepEqual([shell, dashC], ['/bin/sh', '-c'], 'the gateway is started through sh -c');
  assert.ok(script !== undefined);
  const configMount = container.volumeMounts.find((m) => m.name === 'config');
  assert.equal(configMount?.mountPath, CONFIG_MOUNT);
  assert.ok(script.includes(`--config ${CONFIG_MOUNT}/config.json`), 'the ConfigMap file is passed with --config');
  const configFile = join(scratch, `config-${ordinal}.json`);
  writeFileSync(configFile, JSON.stringify(configJson(objects)));

  const env: Record<string, string> = {
    PATH: `${scratch}:${process.env.PATH ?? '/usr/bin:/bin'}`,
    KKG_TEST_NODE: process.execPath,
    KKG_TEST_REPO: REPO_ROOT,
    HOME: scratch,
  };
  for (const variable of container.env) {
    if (variable.value !== undefined) env[variable.name] = variable.value;
    else if (variable.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[variable.name] = `${RELEASE_FULLNAME}-${ordinal}`;
    else if (variable.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[variable.name] = NAMESPACE;
    else if (variable.valueFrom?.fieldRef?.fieldPath === 'status.hostIP') env[variable.name] = nodeIp(ordinal);
    else if (variable.valueFrom?.secretKeyRef !== undefined) {
      const { name, key } = variable.valueFrom.secretKeyRef;
      const secret = secretValues[`${name}/${key}`];
      assert.ok(secret !== undefined, `test has a value for secret ${name}/${key}`);
      env[variable.name] = secret;
    }
  }
  if (!realCli) env.KKG_TEST_MODE = 'args';
  const { stdout } = await run('/bin/sh', ['-c', script.replace(`${CONFIG_MOUNT}/config.json`, configFile)], { env });
  const flags = [...script.matchAll(/(?<=\s)--([a-z][a-z0-9-]*)/g)].map((m) => m[1] as string);
  if (realCli) return { config: JSON.parse(stdout) as Record<string, unknown>, flags };
  const args = stdout.split('\0').slice(0, -1);
  const parsed = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: Object.fromEntries([...CONFIG_OPTIONS.map((o) => o.flag), 'config'].map((flag) => [flag, { type: 'string' as const }])),
  });
  const config = loadConfig({ flags: parsed.values as Record<string, string>, env });
  return { config: printableConfig(config), flags };
}

// ---------------------------------------------------------------------------------------------
// Checks shared by every values file.

function checkAgreesWithGateway(objects: K8sObject[]): void {
  const sts = find<StatefulSet>(objects, 'StatefulSet', RELEASE_FULLNAME);
  const pod = sts.spec.template;
  const container = gatewayContainer(sts);

  // Selector, pod labels, headless Service.
  for (const [label, value] of Object.entries(sts.spec.selector.matchLabels)) {
    assert.equal(pod.metadata.labels[label], value, `pod label ${label} matches the selector`);
  }
  const headless = find<Service>(objects, 'Service', `${RELEASE_FULLNAME}-headless`);
  assert.equal(sts.spec.serviceName, headless.metadata.name, 'the StatefulSet names its headless Service');
  assert.equal(headless.spec.clusterIP, 'None');
  const bootstrap = find<Service>(objects, 'Service', `${RELEASE_FULLNAME}-bootstrap`);

  // Every Service selects the gateway pods and targets a declared container port.
  const portNames = new Set(container.ports.map((p) => p.name));
  for (const service of all<Service>(objects, 'Service')) {
    for (const [label, value] of Object.entries(service.spec.selector)) {
      if (label === 'statefulset.kubernetes.io/pod-name') {
        assert.match(value, new RegExp(`^${RELEASE_FULLNAME}-\\d+$`));
        continue;
      }
      assert.equal(pod.metadata.labels[label], value, `${service.metadata.name} selects the pods (${label})`);
    }
    for (const port of service.spec.ports) {
      assert.ok(portNames.has(String(port.targetPort)), `${service.metadata.name} targets container port ${port.targetPort}`);
    }
  }
  assert.deepEqual(bootstrap.spec.ports.map((p) => p.name), ['kafka']);

  // Ports agree with the gateway's config: the config.json the pods read and the defaults.
  const config = loadConfig({ flags: {}, env: {} });
  const fileConfig = configJson(objects);
  const kafkaPort = container.ports.find((p) => p.name === 'kafka')?.containerPort;
  const metricsPort = container.ports.find((p) => p.name === 'metrics')?.containerPort;
  assert.equal(kafkaPort, Number(fileConfig.port ?? config.port));
  assert.equal(metricsPort, Number(fileConfig.metricsPort ?? config.metricsPort));
  for (const service of [headless, bootstrap]) {
    assert.equal(service.spec.ports.find((p) => p.name === 'kafka')?.port, kafkaPort, `${service.metadata.name} serves the Kafka port`);
  }

  // Probes: on the metrics port, /healthz for liveness and startup, /readyz for readiness.
  for (const probe of [container.startupProbe, container.livenessProbe, container.readinessProbe]) {
    assert.equal(probe.httpGet.port, 'metrics');
  }
  assert.equal(container.livenessProbe.httpGet.path, '/healthz');
  assert.equal(container.startupProbe.httpGet.path, '/healthz');
  assert.equal(container.readinessProbe.httpGet.path, '/readyz');

  // Every config.json key is an option, and the file passes the gateway's own validation.
  for (const key of Object.keys(fileConfig)) assert.ok(optionKeys.has(key), `config.json key ${key} is a gateway option`);
  const configFile = join(scratch, 'validate.json');
  writeFileSync(configFile, JSON.stringify(fileConfig));
  assert.doesNotThrow(() => loadConfig({ flags: { config: configFile }, env: {} }));

  // Every KKG_* variable the chart sets is an option's environment twin.
  for (const variable of container.env) {
    if (variable.name.startsWith('KKG_')) assert.ok(optionByEnv.has(variable.name), `${variable.name} is a gateway option`);
  }

  // The data folder is mounted where the gateway keeps it; the root filesystem is read-only.
  const dataMount = container.volumeMounts.find((m) => m.name === 'data');
  assert.equal(dataMount?.mountPath, fileConfig.dataDir ?? config.dataDir);
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(pod.spec.securityContext.runAsNonRoot, true);
  const configVolume = pod.spec.volumes.find((v) => v.name === 'config');
  assert.equal(configVolume?.configMap?.name, RELEASE_FULLNAME);
}

/** The rendered start command's flags all exist, and the pod's effective config is what the chart assumes. */
async function checkPodStart(
  objects: K8sObject[],
  ordinal: number,
  expectedHost: string,
  secretValues: Record<string, string> = {},
  expectedAdvertisedPort?: number,
  realCli = false,
): Promise<Record<string, unknown>> {
  const { config, flags } = await startCommand(objects, ordinal, secretValues, realCli);
  for (const flag of flags) {
    assert.ok(flag === 'config' || optionByFlag.has(flag), `rendered flag --${flag} exists in src/config.ts`);
  }
  const perPod = ['config', 'node-id', 'advertised-host', ...(expectedAdvertisedPort === undefined ? [] : ['advertised-port'])];
  assert.deepEqual(new Set(flags), new Set(perPod));
  assert.equal(config.nodeId, ordinal);
  assert.equal(config.advertisedHost, expectedHost);
  assert.equal(config.advertisedPort, expectedAdvertisedPort);
  const sts = find<StatefulSet>(objects, 'StatefulSet', RELEASE_FULLNAME);
  const container = gatewayContainer(sts);
  assert.equal(config.port, container.ports.find((p) => p.name === 'kafka')?.containerPort);
  assert.equal(config.metricsPort, container.ports.find((p) => p.name === 'metrics')?.containerPort);
  assert.equal(config.dataDir, container.volumeMounts.find((m) => m.name === 'data')?.mountPath);
  assert.equal(config.host, '0.0.0.0', 'pods listen on all addresses');
  return config;
}

/** The IP of the Kubernetes node pod `ordinal` runs on, in these tests. */
const nodeIp = (ordinal: number): string => `10.20.0.${ordinal + 10}`;

const headlessHost = (ordinal: number): string =>
  `${RELEASE_FULLNAME}-${ordinal}.${RELEASE_FULLNAME}-headless.${NAMESPACE}.svc.cluster.local`;

// ---------------------------------------------------------------------------------------------

describe('helm chart', { timeout: 300_000 }, () => {
  test('helm lint --strict passes with the default values and every ci/ values file', async () => {
    await helm(['lint', '--strict', CHART_DIR]);
    for (const file of [
      'three-replicas-values.yaml',
      'external-access-values.yaml',
      'external-nodeport-values.yaml',
      'monitoring-values.yaml',
      'existing-secrets-values.yaml',
    ]) {
      const { stdout } = await helm(['lint', '--strict', CHART_DIR, '--values', values(file)]);
      assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/, file);
    }
  });

  test('default values: one gateway, headless and bootstrap Services, ConfigMap, PDB, service account', async () => {
    const objects = await renderChart();
    assert.deepEqual(
      objects.map((o) => o.kind).sort(),
      ['ConfigMap', 'PodDisruptionBudget', 'Service', 'Service', 'ServiceAccount', 'StatefulSet'],
    );
    checkAgreesWithGateway(objects);
    const sts = find<StatefulSet>(objects, 'StatefulSet', RELEASE_FULLNAME);
    assert.equal(sts.spec.replicas, 1);
    const container = gatewayContainer(sts);
    assert.equal(container.ports.find((p) => p.name === 'kafka')?.containerPort, Number(defaultOf('port')));
    assert.equal(container.ports.find((p) => p.name === 'metrics')?.containerPort, Number(defaultOf('metrics-port')));
    assert.equal(container.image, 'kafka-kinesis-gateway:0.1.0');
    const pod = sts.spec.template.spec;
    assert.ok(pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution, 'soft anti-affinity');
    assert.equal(pod.topologySpreadConstraints?.[0]?.topologyKey, 'topology.kubernetes.io/zone');
    assert.equal(pod.serviceAccountName, RELEASE_FULLNAME);
    const pdb = find<K8sObject & { spec: { maxUnavailable: number } }>(objects, 'PodDisruptionBudget');
    assert.equal(pdb.spec.maxUnavailable, 1);
    // The real CLI, started as the container starts it.
    await checkPodStart(objects, 0, headlessHost(0), {}, undefined, true);
  });

  test('three replicas: node ids from the ordinal, advertised headless DNS names, IRSA, hard anti-affinity', async () => {
    const objects = await renderChart([values('three-replicas-values.yaml')]);
    checkAgreesWithGateway(objects);
    const sts = find<StatefulSet>(objects, 'StatefulSet', RELEASE_FULLNAME);
    assert.equal(sts.spec.replicas, 3);
    assert.ok(sts.spec.template.spec.affinity?.podAntiAffinity?.requiredDuringSchedulingIgnoredDuringExecution);
    assert.deepEqual(sts.spec.volumeClaimTemplates?.map((t) => t.metadata.name), ['data']);
    assert.equal(sts.spec.template.spec.volumes.some((v) => v.name === 'data'), false, 'the data volume comes from the claim');
    const account = find<K8sObject>(objects, 'ServiceAccount');
    assert.equal(account.metadata.annotations?.['eks.amazonaws.com/role-arn'], 'arn:aws:iam::123456789012:role/kafka-kinesis-gateway');
    for (const ordinal of [0, 1, 2]) {
      const config = await checkPodStart(objects, ordinal, headlessHost(ordinal));
      assert.equal(config.region, 'eu-west-1');
      assert.equal(config.tablePrefix, 'prod-kkg-');
      assert.equal(config.autoCreateTopics, false);
      assert.equal(config.tailCacheBytes, 268435456);
    }
  });

  test('external access: one LoadBalancer per pod, each pod advertising its own external name', async () => {
    const objects = await renderChart([values('external-access-values.yaml')]);
    checkAgreesWithGateway(objects);
    const external = all<Service>(objects, 'Service').filter((s) => s.metadata.name.endsWith('-external'));
    assert.equal(external.length, 3);
    for (const [ordinal, service] of external.entries()) {
      assert.equal(service.spec.type, 'LoadBalancer');
      assert.equal(service.spec.selector['statefulset.kubernetes.io/pod-name'], `${RELEASE_FULLNAME}-${ordinal}`);
      const host = `kafka-${ordinal}.streaming.example.com`;
      assert.equal(service.metadata.annotations?.['external-dns.alpha.kubernetes.io/hostname'], host);
      assert.equal(service.metadata.annotations?.['service.beta.kubernetes.io/aws-load-balancer-scheme'], 'internal');
      await checkPodStart(objects, ordinal, host);
    }

    // Or one explicit address per pod.
    const listed = await renderChart(
      [values('external-access-values.yaml')],
      ['externalAccess.hostnameTemplate=', 'externalAccess.addresses={10.1.0.7,b.example.com,c.example.com}'],
    );
    await checkPodStart(listed, 0, '10.1.0.7');
    await checkPodStart(listed, 2, 'c.example.com');
    await assert.rejects(
      renderChart([values('external-access-values.yaml')], ['externalAccess.hostnameTemplate=', 'externalAccess.addresses={a.example.com}']),
      /externalAccess\.addresses has 1 entries for 3 replicas/,
    );
  });

  test('external access by NodePort: pod N advertises its node\'s IP and node port base + N', async () => {
    const objects = await renderChart([values('external-nodeport-values.yaml')]);
    checkAgreesWithGateway(objects);
    const external = all<Service>(objects, 'Service').filter((s) => s.metadata.name.endsWith('-external'));
    assert.equal(external.length, 3);
    for (const [ordinal, service] of external.entries()) {
      assert.equal(service.spec.type, 'NodePort');
      assert.equal(service.spec.selector['statefulset.kubernetes.io/pod-name'], `${RELEASE_FULLNAME}-${ordinal}`);
      const port = service.spec.ports[0] as { nodePort?: number; targetPort: string | number };
      assert.equal(port.nodePort, 31090 + ordinal);
      assert.equal(port.targetPort, 'kafka');
      await checkPodStart(objects, ordinal, nodeIp(ordinal), {}, 31090 + ordinal);
    }
    // With names of their own, pods advertise those instead of the node IP.
    const named = await renderChart([values('external-nodeport-values.yaml')], ['externalAccess.hostnameTemplate=node-{ordinal}.example.com']);
    await checkPodStart(named, 1, 'node-1.example.com', {}, 31091);
  });

  test('monitoring: the ServiceMonitor scrapes the metrics port of the headless Service; PrometheusRule', async () => {
    const objects = await renderChart([values('monitoring-values.yaml')]);
    checkAgreesWithGateway(objects);
    const monitor = find<K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] } }>(
      objects,
      'ServiceMonitor',
    );
    const selected = all<Service>(objects, 'Service').filter((s) =>
      Object.entries(monitor.spec.selector.matchLabels).every(([label, value]) => s.metadata.labels?.[label] === value),
    );
    assert.deepEqual(selected.map((s) => s.metadata.name), [`${RELEASE_FULLNAME}-headless`], 'selects exactly the headless Service');
    assert.deepEqual(monitor.spec.endpoints.map((e) => [e.port, e.path]), [['metrics', '/metrics']]);
    assert.ok(selected[0]?.spec.ports.some((p) => p.name === 'metrics'));
    type Rules = K8sObject & { spec: { groups: { name: string; rules: { alert: string; expr: string }[] }[] } };
    const rule = find<Rules>(objects, 'PrometheusRule');
    assert.equal(rule.metadata.labels?.release, 'kube-prometheus-stack');
    assert.ok(rule.spec.groups.length > 0 && rule.spec.groups.every((g) => g.rules.every((r) => r.alert && r.expr)), 'alert rules');

    // Rule groups of one's own replace the gateway's; "{{ $labels.pod }}" is kept for Prometheus.
    const custom = [{ name: 'own', rules: [{ alert: 'GatewayDown', expr: 'up == 0', annotations: { summary: 'gateway {{ $labels.pod }} down' } }] }];
    const own = find<Rules>(
      await renderChart([values('monitoring-values.yaml')], [], ['--set-json', `metrics.prometheusRule.groups=${JSON.stringify(custom)}`]),
      'PrometheusRule',
    );
    assert.deepEqual(own.spec.groups, custom);
  });

  test('the PrometheusRule falls back to the repository alert rules (files/ links to alerts/)', async () => {
    const source = join(REPO_ROOT, 'alerts', 'prometheus-rules.yaml');
    const copy = join(CHART_DIR, 'files', 'prometheus-rules.yaml');
    if (existsSync(source)) {
      assert.ok(existsSync(copy), `link ${copy} to ${source} (helm reads only files inside the chart)`);
      assert.equal(readFileSync(copy, 'utf8'), readFileSync(source, 'utf8'), `${copy} is not ${source}: make it a link to it`);
      const objects = await renderChart([], ['metrics.prometheusRule.enabled=true']);
      const rule = find<K8sObject & { spec: { groups: unknown[] } }>(objects, 'PrometheusRule');
      const parsed = parseYaml(readFileSync(source, 'utf8')) as { groups?: unknown[]; spec?: { groups?: unknown[] } };
      assert.deepEqual(rule.spec.groups, parsed.groups ?? parsed.spec?.groups);
    } else {
      assert.equal(existsSync(copy), false, `${copy} has no source in alerts/`);
      await assert.rejects(renderChart([], ['metrics.prometheusRule.enabled=true']), /needs rule groups/);
    }
  });

  test('existing secrets: the Redis URL comes from a Secret, and --print-config masks its password', async () => {
    const objects = await renderChart([values('existing-secrets-values.yaml')]);
    checkAgreesWithGateway(objects);
    assert.equal(all(objects, 'ServiceAccount').length, 0, 'no ServiceAccount is created');
    const sts = find<StatefulSet>(objects, 'StatefulSet', RELEASE_FULLNAME);
    assert.equal(sts.spec.template.spec.serviceAccountName, 'streaming-apps');
    const container = gatewayContainer(sts);
    const redis = container.env.find((e) => e.name === 'KKG_REDIS_URL');
    assert.deepEqual(redis?.valueFrom?.secretKeyRef, { name: 'kkg-redis', key: 'url' });
    assert.deepEqual(container.envFrom, [{ secretRef: { name: 'kkg-aws-credentials' } }]);
    const configMapText = JSON.stringify(configJson(objects));
    assert.doesNotMatch(configMapText, /redis/i, 'the ConfigMap holds no Redis URL');
    const config = await checkPodStart(objects, 1, headlessHost(1), { 'kkg-redis/url': 'redis://:s3cret-pw@redis.streaming:6379/0' }, undefined, true);
    assert.equal(config.redisUrl, 'redis://:***@redis.streaming:6379/0');
  });

  test('values.schema.json and the chart refuse bad values with a message', async () => {
    await assert.rejects(renderChart([], ['replicaCount=0']), /replicaCount/);
    await assert.rejects(renderChart([], ['config.logLevel=loud']), /logLevel/);
    await assert.rejects(renderChart([], ['externalAccess.type=Ingress']), /externalAccess/);
    await assert.rejects(renderChart([], ['config.nodeId=4']), /nodeIdOffset/);
    await assert.rejects(renderChart([], ['config.redisUrl=redis://:pw@r:6379']), /existingSecret/);
    await assert.rejects(renderChart([], ['externalAccess.enabled=true']), /addresses \(one per replica\) or a hostnameTemplate/);
    await assert.rejects(renderChart([], ['config.advertisedPort=1234']), /externalAccess/);
  });

  test('NOTES.txt gives the bootstrap address', async () => {
    const { stdout } = await helm(['install', 'kkg', CHART_DIR, '--namespace', NAMESPACE, '--dry-run=client']);
    assert.match(stdout, new RegExp(`${RELEASE_FULLNAME}-bootstrap\\.${NAMESPACE}\\.svc\\.cluster\\.local:9092`));
    const external = await helm(['install', 'kkg', CHART_DIR, '--namespace', NAMESPACE, '--dry-run=client', '--values', values('external-access-values.yaml')]);
    assert.match(external.stdout, /node 2: kafka-2\.streaming\.example\.com:9092/);
  });
});

describe('probe paths on a running gateway', () => {
  let gw: RunningGateway;
  before(async () => {
    gw = await startGateway();
  });
  after(async () => {
    await gw.stop();
  });

  test('every probe path the chart renders answers 200 on the metrics port', async () => {
    const objects = await renderChart();
    const container = gatewayContainer(find<StatefulSet>(objects, 'StatefulSet', RELEASE_FULLNAME));
    const paths = new Set([container.startupProbe, container.livenessProbe, container.readinessProbe].map((p) => p.httpGet.path));
    for (const path of paths) {
      const deadline = Date.now() + 15_000;
      const get = async (): Promise<number> => (await fetch(`http://127.0.0.1:${gw.gateway.addresses.metricsPort}${path}`)).status;
      let status = await get();
      while (status !== 200 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        status = await get();
      }
      assert.equal(status, 200, `GET ${path} on the metrics port`);
    }
  });
});
