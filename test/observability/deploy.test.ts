import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';
import { findExecutable } from './prometheus-server.js';

// The same checks as .ci/run runs before the tests, so that `npm test` covers them too, plus
// consistency checks between the compose file, the Prometheus config and the Kubernetes manifests.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

async function runTool(binary: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(binary, args, { cwd: ROOT });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

// Parses YAML files with PyYAML, which Debian's docker-compose depends on; Node has no YAML
// parser among this repository's dependencies.
async function readYaml(files: string[]): Promise<unknown[][]> {
  const python = findExecutable('python3', 'python3-yaml');
  const script =
    'import json, sys, yaml; print(json.dumps([list(yaml.safe_load_all(open(f))) for f in sys.argv[1:]]))';
  const { stdout } = await run(python, ['-c', script, ...files], { cwd: ROOT });
  return JSON.parse(stdout) as unknown[][];
}

describe('promtool', () => {
  const promtool = () => findExecutable('promtool', 'prometheus');

  test('alert rules are valid', async () => {
    const result = await runTool(promtool(), ['check', 'rules', 'deploy/prometheus/alerts.yml']);

    expect(result.code, result.output).toBe(0);
  });

  test('alert rule unit tests pass', async () => {
    const result = await runTool(promtool(), [
      'test',
      'rules',
      'deploy/prometheus/alerts.test.yml',
    ]);

    expect(result.code, result.output).toBe(0);
  });

  test('scrape config is valid', async () => {
    const result = await runTool(promtool(), [
      'check',
      'config',
      'deploy/prometheus/prometheus.yml',
    ]);

    expect(result.code, result.output).toBe(0);
  });

  test('every alert rule has a unit test', async () => {
    const [[rules], [tests]] = (await readYaml([
      'deploy/prometheus/alerts.yml',
      'deploy/prometheus/alerts.test.yml',
    ])) as [
      [{ groups: { rules: { alert: string }[] }[] }],
      [{ tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] }],
    ];
    const alerts = rules.groups.flatMap((group) => group.rules.map((rule) => rule.alert));
    const cases = tests.tests.flatMap((test) => test.alert_rule_test);

    for (const alert of alerts) {
      const ofAlert = cases.filter((entry) => entry.alertname === alert);
      expect(
        ofAlert.some((entry) => entry.exp_alerts.length > 0),
        `${alert} has a firing case`,
      ).toBe(true);
      expect(
        ofAlert.some((entry) => entry.exp_alerts.length === 0),
        `${alert} has a quiet case`,
      ).toBe(true);
    }
  });
});

describe('docker-compose', () => {
  test('compose file is valid', async () => {
    const result = await runTool(findExecutable('docker-compose', 'docker-compose'), [
      'config',
      '-q',
    ]);

    expect(result.code, result.output).toBe(0);
  });

  test('prometheus scrapes every worker service', async () => {
    const [[compose], [prometheus]] = (await readYaml([
      'docker-compose.yml',
      'deploy/prometheus/prometheus.yml',
    ])) as [
      [{ services: Record<string, { environment?: Record<string, string> }> }],
      [{ scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] }],
    ];
    const workers = Object.entries(compose.services)
      .filter(
        ([, service]) =>
          service.environment?.POSTROOM_REDIS_URL && service.environment.POSTROOM_CONFIG,
      )
      .map(([name]) => `${name}:9464`);
    const job = prometheus.scrape_configs.find((config) => config.job_name === 'postroom-worker');

    expect(workers.length).toBeGreaterThanOrEqual(2);
    expect(job?.static_configs.flatMap((config) => config.targets).sort()).toEqual(workers.sort());
  });
});

describe('kubernetes manifests', () => {
  interface EnvVar {
    name: string;
    value?: string;
    valueFrom?: { secretKeyRef?: { name: string; key: string } };
  }
  interface Container {
    env: EnvVar[];
    livenessProbe: { httpGet: { path: string } };
    readinessProbe: { httpGet: { path: string } };
    resources: { requests: { cpu?: string }; limits: { memory?: string } };
  }
  interface Deployment {
    metadata: { name: string };
    spec: {
      template: {
        metadata: { labels: Record<string, string> };
        spec: { terminationGracePeriodSeconds: number; containers: Container[] };
      };
    };
  }
  interface Manifests {
    Deployment: Deployment;
    Service: { spec: { clusterIP: string; selector: Record<string, string> } };
    PodDisruptionBudget: { spec: { selector: { matchLabels: Record<string, string> } } };
    ScaledObject: {
      spec: {
        scaleTargetRef: { name: string };
        triggers: { type: string; metadata: { query: string } }[];
      };
    };
  }

  const load = async (): Promise<Manifests> => {
    const dir = join(ROOT, 'deploy/k8s');
    const files = readdirSync(dir).filter(
      (file) => file.endsWith('.yaml') && file !== 'kustomization.yaml',
    );
    const documents = (await readYaml(files.map((file) => join(dir, file)))).flat() as {
      kind: string;
    }[];
    return Object.fromEntries(
      documents.map((document) => [document.kind, document]),
    ) as unknown as Manifests;
  };
  const workerContainer = (deployment: Deployment) =>
    deployment.spec.template.spec.containers[0] as Container;

  test('grace period outlasts the shutdown timeout', async () => {
    const { Deployment: deployment } = await load();
    const env = workerContainer(deployment).env;
    const timeoutMs = Number(
      env.find((entry) => entry.name === 'POSTROOM_SHUTDOWN_TIMEOUT_MS')?.value,
    );

    expect(timeoutMs).toBeGreaterThan(0);
    expect(deployment.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
      timeoutMs,
    );
  });

  test('worker probes, resources and secrets are set', async () => {
    const container = workerContainer((await load()).Deployment);
    const secretVars = container.env.filter((entry) => entry.valueFrom?.secretKeyRef);

    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    expect(container.resources.requests.cpu).toBeTruthy();
    expect(container.resources.limits.memory).toBeTruthy();
    expect(secretVars.map((entry) => entry.name)).toContain('CONTOSO_CLIENT_SECRET');
  });

  test('service, disruption budget and scaler select the workers', async () => {
    const manifests = await load();
    const podLabels = manifests.Deployment.spec.template.metadata.labels;
    const trigger = manifests.ScaledObject.spec.triggers[0];

    expect(podLabels).toMatchObject(manifests.Service.spec.selector);
    expect(podLabels).toMatchObject(manifests.PodDisruptionBudget.spec.selector.matchLabels);
    expect(manifests.Service.spec.clusterIP).toBe('None');
    expect(manifests.ScaledObject.spec.scaleTargetRef.name).toBe(
      manifests.Deployment.metadata.name,
    );
    expect(trigger?.type).toBe('prometheus');
    expect(trigger?.metadata.query).toContain('postroom_queue_jobs');
  });
});
