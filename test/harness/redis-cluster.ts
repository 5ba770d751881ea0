import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { freePort } from '../../apps/cli/src/redis-server.js';

const run = promisify(execFile);

/**
 * A three-master Redis Cluster from `redis-server` on loopback, without replicas, in a
 * temporary directory. Its URL has the `redis+cluster://` form Postroom's components accept.
 */
export class RedisCluster {
  readonly ports: number[];
  readonly #dir: string;
  readonly #processes: ChildProcess[];

  private constructor(ports: number[], dir: string, processes: ChildProcess[]) {
    this.ports = ports;
    this.#dir = dir;
    this.#processes = processes;
  }

  static async start(masters = 3): Promise<RedisCluster> {
    const dir = await mkdtemp(join(tmpdir(), 'postroom-cluster-'));
    // Cluster nodes also listen on port + 10000 for their bus, so pick ports below 55536.
    const ports: number[] = [];
    while (ports.length < masters) {
      const port = await freePort();
      if (port < 55_536 && !ports.includes(port)) ports.push(port);
    }
    const processes = ports.map((port) =>
      spawn(
        'redis-server',
        [
          '--bind',
          '127.0.0.1',
          '--port',
          String(port),
          '--dir',
          dir,
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          `nodes-${port}.conf`,
          '--save',
          '',
          '--appendonly',
          'no',
          '--maxmemory-policy',
          'noeviction',
        ],
        { stdio: 'ignore' },
      ),
    );
    const cluster = new RedisCluster(ports, dir, processes);
    try {
      await cluster.#create();
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  get url(): string {
    return `redis+cluster://${this.ports.map((port) => `127.0.0.1:${port}`).join(',')}`;
  }

  async close(): Promise<void> {
    for (const child of this.#processes) child.kill('SIGKILL');
    await Promise.all(
      this.#processes.map((child) =>
        child.exitCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined,
      ),
    );
    await rm(this.#dir, { recursive: true, force: true });
  }

  async #create(): Promise<void> {
    for (const port of this.ports) await waitForPing(port);
    const nodes = this.ports.map((port) => `127.0.0.1:${port}`);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes,
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const { stdout } = await run('redis-cli', ['-p', String(this.ports[0]), 'cluster', 'info']);
      if (stdout.includes('cluster_state:ok')) return;
      await delay(100);
    }
    throw new Error('Redis Cluster did not reach cluster_state:ok within 20 s');
  }
}

async function waitForPing(port: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      const { stdout } = await run('redis-cli', ['-p', String(port), 'ping']);
      if (stdout.trim() === 'PONG') return;
    } catch {
      // Not listening yet.
    }
    await delay(50);
  }
  throw new Error(`redis-server on port ${port} did not answer PING within 10 s`);
}
