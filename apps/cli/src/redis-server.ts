import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

export interface RedisServerOptions {
  /** Turns on the append-only file, so a restart after SIGKILL keeps the data. */
  appendOnly?: boolean;
  /** Fixed port; by default a free loopback port is picked. */
  port?: number;
}

/**
 * A throwaway `redis-server` on loopback with its own temporary directory. Fault tests stop and
 * start it on the same port and directory to simulate an outage.
 */
export class RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly #appendOnly: boolean;
  #process: ChildProcess | undefined;

  private constructor(port: number, dir: string, appendOnly: boolean) {
    this.port = port;
    this.dir = dir;
    this.#appendOnly = appendOnly;
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const port = options.port ?? (await freePort());
    const dir = await mkdtemp(join(tmpdir(), 'postroom-redis-'));
    const server = new RedisServer(port, dir, options.appendOnly ?? false);
    await server.resume();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#process !== undefined;
  }

  /** Starts the server process (again) on the same port and directory. */
  async resume(): Promise<void> {
    if (this.#process) return;
    const args = [
      '--bind',
      '127.0.0.1',
      '--port',
      String(this.port),
      '--dir',
      this.dir,
      '--save',
      '',
      '--appendonly',
      this.#appendOnly ? 'yes' : 'no',
      '--appendfsync',
      'always',
      '--maxmemory-policy',
      'noeviction',
      '--protected-mode',
      'no',
    ];
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#process = child;
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('exit', () => {
      if (this.#process === child) this.#process = undefined;
    });
    await waitForPort(this.port, 10_000, () => {
      if (child.exitCode !== null) {
        throw new Error(`redis-server exited with code ${child.exitCode}: ${output.slice(-500)}`);
      }
    });
  }

  /** Sends a signal to the running server, such as SIGSTOP or SIGCONT, without waiting. */
  signal(signal: NodeJS.Signals): void {
    this.#process?.kill(signal);
  }

  /** Stops the server with the given signal and waits until the process is gone. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#process;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    await exited;
    this.#process = undefined;
  }

  async close(): Promise<void> {
    await this.stop('SIGKILL');
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Returns a TCP port that was free on 127.0.0.1 a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the port of a loopback listener'));
      });
    });
  });
}

async function waitForPort(port: number, timeoutMs: number, check: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    check();
    if (await canConnect(port)) return;
    await delay(20);
  }
  throw new Error(`redis-server did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

async function canConnect(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
