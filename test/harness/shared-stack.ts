import { MailClient, type MailClientOptions } from '@postroom/client';
import { afterAll, beforeAll, beforeEach, inject } from 'vitest';
import type { WorkerProcess } from '../../apps/cli/src/worker-process.js';
import { LocalStack, type LocalStackOptions } from '../../apps/cli/src/local-stack.js';

export interface SharedStack {
  readonly stack: LocalStack;
  readonly client: MailClient;
  /** The workers that `startWorkers` started, in order. */
  readonly workers: WorkerProcess[];
}

export interface SharedStackOptions {
  stack: Omit<LocalStackOptions, 'redisUrl'>;
  /** Starts the file's workers; one worker with the stack's settings when left out. */
  startWorkers?: (stack: LocalStack) => Promise<WorkerProcess[]>;
  client?: Omit<MailClientOptions, 'connection' | 'queueName'>;
}

/**
 * Starts one LocalStack on the harness's Redis, its workers and a MailClient for all tests of a
 * file, and stops them after the last test. Before each test the emulator's faults and counters
 * are cleared. The returned object is filled in when the file's tests start.
 */
export function useSharedStack(options: SharedStackOptions): SharedStack {
  const shared = { workers: [] as WorkerProcess[] } as {
    stack: LocalStack;
    client: MailClient;
    workers: WorkerProcess[];
  };
  beforeAll(async () => {
    shared.stack = await LocalStack.start({ redisUrl: inject('redisUrl'), ...options.stack });
    const startWorkers = options.startWorkers ?? (async (stack) => [await stack.addWorker()]);
    shared.workers = await startWorkers(shared.stack);
    shared.client = new MailClient({
      connection: shared.stack.redisUrl,
      queueName: shared.stack.queueName,
      ...options.client,
    });
  }, 60_000);

  afterAll(async () => {
    await shared.client?.close();
    await shared.stack?.stop();
  });

  beforeEach(() => {
    shared.stack.emulator.clearFaults();
    shared.stack.emulator.reset();
  });
  return shared;
}
