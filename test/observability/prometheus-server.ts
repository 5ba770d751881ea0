import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { freePort } from '../harness/index.js';

/** A sample vector or matrix entry of the Prometheus HTTP API. */
export interface PromSeries {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

/**
 * Finds an executable on the PATH or in /usr/bin. Throws with the install command when it is
 * missing, because a test that depends on it must fail, not skip.
 */
export function findExecutable(name: string, debianPackage: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/bin'];
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error(
    `${name} not found on the PATH or in /usr/bin; install it with "apt-get install ${debianPackage}" (.ci/run installs it)`,
  );
}

/** A `prometheus` process on a free loopback port with its data in `dir`. */
export class PrometheusServer {
  readonly url: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #output = '';

  private constructor(child: ChildProcess, port: number) {
    this.#child = child;
    this.url = `http://127.0.0.1:${port}`;
    this.#exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const keep = (chunk: Buffer) => {
      this.#output = (this.#output + chunk.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
  }

  /** Writes `config` (YAML) to `dir`, starts Prometheus with it and waits until it is ready. */
  static async start(config: string, dir: string): Promise<PrometheusServer> {
    const binary = findExecutable('prometheus', 'prometheus');
    await mkdir(join(dir, 'data'), { recursive: true });
    const configFile = join(dir, 'prometheus.yml');
    await writeFile(configFile, config);
    const port = await freePort();
    const child = spawn(
      binary,
      [
        `--config.file=${configFile}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const server = new PrometheusServer(child, port);
    await server.#waitReady(15_000);
    return server;
  }

  /** Runs an instant query and returns its result; throws with Prometheus's error. */
  async query(promql: string): Promise<PromSeries[]> {
    const response = await fetch(`${this.url}/api/v1/query`, {
      method: 'POST',
      body: new URLSearchParams({ query: promql }),
    });
    const body = (await response.json()) as {
      status: string;
      error?: string;
      data?: { result: PromSeries[] };
    };
    if (body.status !== 'success') throw new Error(`query failed: ${promql}: ${body.error}`);
    return body.data?.result ?? [];
  }

  /** Returns the API's JSON for a GET path such as `/api/v1/rules`. */
  async get<T>(path: string): Promise<T> {
    const response = await fetch(`${this.url}${path}`);
    const body = (await response.json()) as { status: string; error?: string; data: T };
    if (body.status !== 'success') throw new Error(`GET ${path} failed: ${body.error}`);
    return body.data;
  }

  /** Last lines Prometheus printed, for failure messages. */
  get output(): string {
    return this.#output;
  }

  async stop(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null)
      this.#child.kill('SIGTERM');
    await this.#exited;
  }

  async #waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.#child.exitCode !== null) {
        throw new Error(`prometheus exited with code ${this.#child.exitCode}: ${this.#output}`);
      }
      const ready = await fetch(`${this.url}/-/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return;
      await delay(100);
    }
    await this.stop();
    throw new Error(`prometheus not ready within ${timeoutMs} ms: ${this.#output}`);
  }
}
