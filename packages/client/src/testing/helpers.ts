import { randomUUID } from 'node:crypto';
import { type JobPayload, KEY_PREFIX, type MessageInput, type SEND_JOB_NAME } from '@postroom/core';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, inject } from 'vitest';
import { MailClient } from '../client.js';
import type { MailClientOptions } from '../options.js';

/** URL of the Redis that the vitest global setup started for this run. */
export const redisUrl = inject('redisUrl');

const cleanups: (() => Promise<unknown>)[] = [];

afterEach(async () => {
  const pending = cleanups.splice(0).reverse();
  for (const cleanup of pending) await cleanup();
});

/** Returns a queue name no other test uses. */
export function uniqueQueueName(): string {
  return `test-${randomUUID()}`;
}

/** Returns a valid message; fields given override the defaults. */
export function validMessage(overrides: Partial<MessageInput> = {}): MessageInput {
  return {
    from: 'Billing <billing@example.com>',
    to: 'ada@example.com',
    subject: 'Your invoice',
    text: 'Hello Ada',
    ...overrides,
  };
}

/** Creates a MailClient on the shared Redis that is closed after the test. */
export function createClient(options: Partial<MailClientOptions> = {}): MailClient {
  const client = new MailClient({ connection: redisUrl, queueName: uniqueQueueName(), ...options });
  cleanups.push(() => client.close());
  return client;
}

/** Opens a plain Redis connection, closed after the test. */
export function openRedis(url: string = redisUrl): Redis {
  const redis = new Redis(url);
  cleanups.push(() => redis.quit().catch(() => redis.disconnect()));
  return redis;
}

/** Opens the BullMQ queue of a client to inspect its jobs, closed after the test. */
export function openQueue(
  queueName: string,
  redis: Redis = openRedis(),
): Queue<JobPayload, unknown, typeof SEND_JOB_NAME> {
  const queue = new Queue<JobPayload, unknown, typeof SEND_JOB_NAME>(queueName, {
    connection: redis,
    prefix: KEY_PREFIX,
  });
  cleanups.push(() => queue.close());
  return queue;
}

/** Registers a cleanup step that runs after the test, in reverse order of registration. */
export function onCleanup(cleanup: () => Promise<unknown>): void {
  cleanups.push(cleanup);
}

/** Lists every key of a queue, BullMQ's and Postroom's. */
export async function keysOfQueue(redis: Redis, queueName: string): Promise<string[]> {
  return (await redis.keys(`${KEY_PREFIX}:${queueName}*`)).sort();
}

/** Counts the jobs of a queue in any state. */
export async function countJobs(queue: Queue): Promise<number> {
  const counts = await queue.getJobCounts();
  return Object.values(counts).reduce((sum, count) => sum + count, 0);
}
