import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const workerMain = join(dirname(fileURLToPath(import.meta.url)), '../../worker/src/main.ts');
const tsxLoader = createRequire(import.meta.url).resolve('tsx');

/** A `postroom-worker` child process, configured through its environment as in production. */
export class WorkerProcess {
  readonly httpPort: number;
  readonly logFile: string;
  readonly #child: ChildProcess;
  readonly #log: WriteStream;
  readonly exited: Promise<number | null>;

  constructor(env: Record<string, string>, httpPort: number, logFile: string) {
    this.httpPort = httpPort;
    this.logFile = logFile;
    this.#log = createWriteStream(logFile, { flags: 'a' });
    this.#child = spawn(
      process.execPath,
      ['--conditions=source', '--import', tsxLoader, workerMain],
      {
        env: {
          PATH: process.env.PATH ?? '',
          ...env,
          POSTROOM_HTTP_HOST: '127.0.0.1',
          POSTROOM_HTTP_PORT: String(httpPort),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    this.#child.stdout?.pipe(this.#log, { end: false });
    this.#child.stderr?.pipe(this.#log, { end: false });
    this.exited = new Promise((resolve) => this.#child.once('exit', (code) => resolve(code)));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Waits until /readyz returns 200. Throws if the process exits first or the time runs out. */
  async waitReady(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running)
        throw new Error(`worker exited with code ${this.#child.exitCode}; see ${this.logFile}`);
      if (await this.#isReady()) return;
      await delay(50);
    }
    throw new Error(`worker not ready within ${timeoutMs} ms; see ${this.logFile}`);
  }

  /** Sends a signal and waits for the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.running) this.#child.kill(signal);
    const code = await this.exited;
    this.#log.end();
    return code;
  }

  async #isReady(): Promise<boolean> {
    try {
      const response = await fetch(`http://127.0.0.1:${this.httpPort}/readyz`);
      return response.status === 200;
    } catch {
      return false;
    }
  }
}
