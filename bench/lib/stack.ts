import { readFile, writeFile } from 'node:fs/promises';
import { MailClient } from '@postroom/client';
import { KEY_PREFIX } from '@postroom/core';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { LocalStack, type LocalStackOptions } from '../../apps/cli/src/local-stack.js';
import { RedisServer } from '../../apps/cli/src/redis-server.js';
import type { WorkerProcess } from '../../apps/cli/src/worker-process.js';
import { track } from './cleanup.js';

export type BenchStackOptions = Omit<LocalStackOptions, 'redisUrl'>;

/** Tenant and client id of the app that LocalStack writes into the worker's mailbox file. */
export interface StackApp {
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

/**
 * A LocalStack (the emulator and worker processes) on a `redis-server` that the benchmark starts
 * itself, so that `INFO commandstats` and `INFO memory` count only this run. Adds a producer
 * client, an admin connection for INFO and a BullMQ queue handle for job counts.
 */
export class BenchStack {
  readonly local: LocalStack;
  readonly redisServer: RedisServer;
  readonly admin: Redis;
  readonly client: MailClient;
  readonly queue: Queue;
  readonly #untrack: () => Promise<void>;

  private constructor(local: LocalStack, redisServer: RedisServer, untrack: () => Promise<void>) {
    this.local = local;
    this.redisServer = redisServer;
    this.admin = new Redis(redisServer.url, { maxRetriesPerRequest: null });
    this.client = new MailClient({ connection: redisServer.url, queueName: local.queueName });
    this.queue = new Queue(local.queueName, { connection: this.admin, prefix: KEY_PREFIX });
    this.#untrack = untrack;
  }

  static async start(options: BenchStackOptions): Promise<BenchStack> {
    const redisServer = await RedisServer.start();
    let local: LocalStack;
    try {
      local = await LocalStack.start({ ...options, redisUrl: redisServer.url });
    } catch (error) {
      await redisServer.close();
      throw error;
    }
    let stack: BenchStack | undefined;
    const untrack = track('local stack', async () => {
      if (stack) {
        await stack.#close();
        return;
      }
      await local.stop();
      await redisServer.close();
    });
    stack = new BenchStack(local, redisServer, untrack);
    return stack;
  }

  get emulator() {
    return this.local.emulator;
  }

  get queueName(): string {
    return this.local.queueName;
  }

  /** Full Redis key of a BullMQ queue key such as `completed` or `wait`. */
  queueKey(name: string): string {
    return `${KEY_PREFIX}:${this.local.queueName}:${name}`;
  }

  /** Starts a worker process; when it fails to start, the error carries the end of its log. */
  async addWorker(extraEnv: Record<string, string> = {}): Promise<WorkerProcess> {
    try {
      return await this.local.addWorker(extraEnv);
    } catch (error) {
      const worker = this.local.workers.at(-1);
      const log = worker ? await readFile(worker.logFile, 'utf8').catch(() => '') : '';
      throw new Error(`${errorText(error)}\n${log.slice(-2000)}`);
    }
  }

  /**
   * Changes limits in the worker's mailbox file, for every mailbox. Only workers started
   * afterwards read them; the emulator keeps its own limits.
   */
  async overrideWorkerLimits(limits: Record<string, number>): Promise<void> {
    const file = JSON.parse(await readFile(this.local.mailboxFile, 'utf8')) as {
      mailboxes: { limits: Record<string, number> }[];
    };
    for (const mailbox of file.mailboxes) Object.assign(mailbox.limits, limits);
    await writeFile(this.local.mailboxFile, JSON.stringify(file, null, 2));
  }

  /** Reads the app that LocalStack registered, so a baseline client can get tokens too. */
  async app(): Promise<StackApp> {
    const file = JSON.parse(await readFile(this.local.mailboxFile, 'utf8')) as {
      apps: { tenantId: string; clientId: string; clientSecretEnv: string }[];
    };
    const app = file.apps[0];
    if (!app) throw new Error(`no app in ${this.local.mailboxFile}`);
    const clientSecret = this.local.workerEnv()[app.clientSecretEnv];
    if (!clientSecret) throw new Error(`LocalStack did not set ${app.clientSecretEnv}`);
    return { tenantId: app.tenantId, clientId: app.clientId, clientSecret };
  }

  /** Number of jobs not yet finished: waiting, prioritized, delayed or active. */
  async unfinishedJobs(): Promise<number> {
    const counts = await this.queue.getJobCounts('wait', 'prioritized', 'delayed', 'active');
    return Object.values(counts).reduce((sum, count) => sum + count, 0);
  }

  /**
   * Runs `work`; when it throws, adds the job counts, the emulator's reply counts and the end of
   * each worker's log to the error, because the logs are deleted with the stack.
   */
  async withDiagnostics<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw new Error(`${errorText(error)}\n${await this.#diagnose()}`);
    }
  }

  /** Stops workers (SIGTERM), the emulator and Redis, and removes every temporary directory. */
  stop(): Promise<void> {
    return this.#untrack();
  }

  async #diagnose(): Promise<string> {
    const lines = [
      `jobs: ${JSON.stringify(await this.queue.getJobCounts().catch(() => ({})))}`,
      `emulator replies: ${JSON.stringify(this.emulator.stats().repliesByCode)}`,
    ];
    for (const worker of this.local.workers) {
      const log = await readFile(worker.logFile, 'utf8').catch(() => '');
      const tail = log.trimEnd().split('\n').slice(-15).join('\n');
      lines.push(`--- last lines of worker pid ${worker.pid} (running: ${worker.running})`, tail);
    }
    return lines.join('\n');
  }

  async #close(): Promise<void> {
    await this.client.close();
    await this.queue.close();
    this.admin.disconnect();
    await this.local.stop();
    await this.redisServer.close();
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
