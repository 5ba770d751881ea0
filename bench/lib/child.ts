import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { track } from './cleanup.js';

const tsxLoader = createRequire(import.meta.url).resolve('tsx');

/**
 * A TypeScript helper process of the benchmarks, started with the same loader as the workers and
 * talked to over the IPC channel. It is killed when the run's resources are released.
 */
export class ChildHelper {
  readonly process: ChildProcess;
  readonly #release: () => Promise<void>;

  private constructor(child: ChildProcess, release: () => Promise<void>) {
    this.process = child;
    this.#release = release;
  }

  /** Starts `bench/lib/processes/<name>.ts` with `args`. */
  static start(name: string, args: string[] = []): ChildHelper {
    const file = fileURLToPath(new URL(`./processes/${name}.ts`, import.meta.url));
    const child = fork(file, args, {
      execArgv: ['--conditions=source', '--import', tsxLoader],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Structured clone instead of JSON, so that message sources travel as bytes.
      serialization: 'advanced',
    });
    const release = track(`${name} process`, async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    });
    return new ChildHelper(child, release);
  }

  get pid(): number {
    if (this.process.pid === undefined) throw new Error('helper process has no pid; did it start?');
    return this.process.pid;
  }

  /** Sends a request and resolves with the next message the process sends back. */
  async request<T>(message: unknown, timeoutMs = 60_000): Promise<T> {
    const reply = this.next<T>(timeoutMs);
    this.process.send(message as never);
    return reply;
  }

  /** Resolves with the next message from the process; rejects if it exits or time runs out. */
  next<T>(timeoutMs = 60_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => finish(new Error(`no reply from helper within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onMessage = (message: unknown) => finish(undefined, message as T);
      const onExit = (code: number | null) =>
        finish(new Error(`helper process exited with code ${code}`));
      const finish = (error?: Error, value?: T) => {
        clearTimeout(timer);
        this.process.off('message', onMessage);
        this.process.off('exit', onExit);
        if (error) reject(error);
        else resolve(value as T);
      };
      this.process.on('message', onMessage);
      this.process.on('exit', onExit);
    });
  }

  stop(): Promise<void> {
    return this.#release();
  }
}
