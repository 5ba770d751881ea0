import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/**
 * Runtime of a worker process. `source` runs the TypeScript sources through tsx, as the tests and
 * the demo do. `compiled` runs the output of `npm run build` with plain Node.js, as production
 * does, without the roughly 46 MB of resident memory that tsx adds to each process.
 */
export type WorkerRuntime = 'source' | 'compiled';

const workerDir = join(dirname(fileURLToPath(import.meta.url)), '../../worker');

/** Path of the compiled worker entry point, `apps/worker/dist/main.js`. */
export const compiledWorkerMain = join(workerDir, 'dist/main.js');

// tsx is resolved on use, not at import, because it is a devDependency and the compiled CLI must
// also load without it.
function nodeArguments(runtime: WorkerRuntime): string[] {
  if (runtime === 'compiled') {
    if (!existsSync(compiledWorkerMain)) {
      throw new Error(
        `compiled worker ${compiledWorkerMain} not found; run npm run build, or start workers from the sources`,
      );
    }
    return [compiledWorkerMain];
  }
  let tsxLoader: string;
  try {
    tsxLoader = createRequire(import.meta.url).resolve('tsx');
  } catch {
    throw new Error(
      'tsx is not installed, so workers cannot run from the TypeScript sources; install the devDependencies (npm ci), or run npm run build and start compiled workers',
    );
  }
  return ['--conditions=source', '--import', tsxLoader, join(workerDir, 'src/main.ts')];
}

/** A `postroom-worker` child process, configured through its environment as in production. */
export class WorkerProcess {
  readonly httpPort: number;
  readonly logFile: string;
  readonly #child: ChildProcess;
  readonly #log: WriteStream;
  readonly exited: Promise<number | null>;

  constructor(
    env: Record<string, string>,
    httpPort: number,
    logFile: string,
    runtime: WorkerRuntime = 'source',
  ) {
    this.httpPort = httpPort;
    this.logFile = logFile;
    const args = nodeArguments(runtime);
    this.#log = createWriteStream(logFile, { flags: 'a' });
    this.#child = spawn(process.execPath, args, {
      env: {
        PATH: process.env.PATH ?? '',
        ...env,
        POSTROOM_HTTP_HOST: '127.0.0.1',
        POSTROOM_HTTP_PORT: String(httpPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
