import { randomUUID } from 'node:crypto';
import { KEY_PREFIX, postroomKeys } from '@postroom/core';
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import {
  countJobs,
  createClient,
  onCleanup,
  openQueue,
  openRedis,
  redisUrl,
  uniqueQueueName,
  validMessage,
} from './testing/helpers.js';

describe('status', () => {
  test('waiting job is queued', async () => {
    const client = createClient();
    const before = Date.now();

    const { id } = await client.send(validMessage());
    const status = await client.status(id);

    expect(status?.id).toBe(id);
    expect(status?.state).toBe('queued');
    expect(status?.attempts).toBe(0);
    expect(status?.mailbox).toBe('billing@example.com');
    expect(status?.messageId).toMatch(/@example\.com>$/);
    expect(Date.parse(status?.enqueuedAt ?? '')).toBeGreaterThanOrEqual(before - 1000);
    expect(status?.nextAttemptAt).toBeUndefined();
  });

  test('notBefore job is scheduled', async () => {
    const client = createClient();
    const notBefore = new Date(Date.now() + 120_000);

    const { id } = await client.send(validMessage({ notBefore }));
    const status = await client.status(id);

    expect(status?.state).toBe('scheduled');
    const nextAttemptMs = Date.parse(status?.nextAttemptAt ?? '');
    expect(Math.abs(nextAttemptMs - notBefore.getTime())).toBeLessThan(1000);
  });

  test('worker status hash wins over the job', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });
    const { id } = await client.send(validMessage());
    await openRedis().hset(postroomKeys(queueName).status(id), {
      state: 'sent',
      messageId: '<fixed@example.com>',
      mailbox: 'billing@example.com',
      attempts: '2',
      enqueuedAt: '2026-01-01T00:00:00.000Z',
      sentAt: '2026-01-01T00:00:05.000Z',
      reply: '250 2.0.0 OK <fixed@example.com>',
      rejectedRecipients: JSON.stringify(['gone@example.com']),
    });

    const status = await client.status(id);

    expect(status).toEqual({
      id,
      state: 'sent',
      messageId: '<fixed@example.com>',
      mailbox: 'billing@example.com',
      attempts: 2,
      enqueuedAt: '2026-01-01T00:00:00.000Z',
      sentAt: '2026-01-01T00:00:05.000Z',
      reply: '250 2.0.0 OK <fixed@example.com>',
      rejectedRecipients: ['gone@example.com'],
    });
  });

  test('partial hash is completed from job data', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });
    const { id } = await client.send(validMessage());
    await openRedis().hset(postroomKeys(queueName).status(id), {
      state: 'waiting_for_mailbox',
      waitReason: 'rate_limit',
      nextAttemptAt: '2026-01-01T00:01:00.000Z',
      failureClass: 'throttled',
      failureReason: 'concurrent_connections',
    });

    const status = await client.status(id);

    expect(status?.state).toBe('waiting_for_mailbox');
    expect(status?.waitReason).toBe('rate_limit');
    expect(status?.nextAttemptAt).toBe('2026-01-01T00:01:00.000Z');
    expect(status?.failureClass).toBe('throttled');
    expect(status?.failureReason).toBe('concurrent_connections');
    expect(status?.mailbox).toBe('billing@example.com');
    expect(status?.messageId).toMatch(/@example\.com>$/);
  });

  test('unknown id has no status', async () => {
    const client = createClient();

    expect(await client.status('msg_missing')).toBeUndefined();
  });

  test('active job is sending', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });
    const { id } = await client.send(validMessage());

    await takeNextJob(queueName);

    expect((await client.status(id))?.state).toBe('sending');
  });
});

describe('cancel', () => {
  test('removes a delayed job and records cancelled', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });
    const { id } = await client.send(validMessage({ notBefore: new Date(Date.now() + 60_000) }));

    expect(await client.cancel(id)).toBe(true);

    expect(await openQueue(queueName).getJob(id)).toBeUndefined();
    const status = await client.status(id);
    expect(status?.state).toBe('cancelled');
    expect(status?.mailbox).toBe('billing@example.com');
    expect(status?.messageId).toMatch(/@example\.com>$/);
    const ttlMs = await openRedis().pttl(postroomKeys(queueName).status(id));
    expect(ttlMs).toBeGreaterThan(0);
  });

  test('removes a waiting job', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });
    const { id } = await client.send(validMessage());

    expect(await client.cancel(id)).toBe(true);

    expect(await countJobs(openQueue(queueName))).toBe(0);
  });

  test('active job is not cancelled', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });
    const { id } = await client.send(validMessage());
    await takeNextJob(queueName);

    expect(await client.cancel(id)).toBe(false);

    expect(await openQueue(queueName).getJobState(id)).toBe('active');
    expect((await client.status(id))?.state).toBe('sending');
  });

  test('unknown job is not cancelled', async () => {
    const client = createClient();

    expect(await client.cancel('msg_missing')).toBe(false);
  });

  test('cancelled job cannot be cancelled again', async () => {
    const client = createClient();
    const { id } = await client.send(validMessage());

    expect(await client.cancel(id)).toBe(true);
    expect(await client.cancel(id)).toBe(false);
  });
});

// Moves the next job to active and holds its lock, as a worker does before sending.
async function takeNextJob(queueName: string): Promise<void> {
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker(queueName, null, { connection, prefix: KEY_PREFIX, autorun: false });
  onCleanup(async () => {
    await worker.close(true);
    connection.disconnect();
  });
  const job = await worker.getNextJob(randomUUID());
  expect(job).toBeDefined();
}
