import {
  createJobId,
  hashMessage,
  IdempotencyConflictError,
  parseMessage,
  postroomKeys,
} from '@postroom/core';
import { describe, expect, test } from 'vitest';
import {
  countJobs,
  createClient,
  openQueue,
  openRedis,
  uniqueQueueName,
  validMessage,
} from './testing/helpers.js';

describe('idempotent send', () => {
  test('repeated key returns the same id once enqueued', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });

    const first = await client.send(validMessage(), { idempotencyKey: 'order-1' });
    const second = await client.send(validMessage(), { idempotencyKey: 'order-1' });

    expect(first.duplicate).toBe(false);
    expect(second).toEqual({ id: first.id, duplicate: true });
    expect(await countJobs(openQueue(queueName))).toBe(1);
  });

  test('key inside the message works like the option', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });

    const first = await client.send(validMessage({ idempotencyKey: 'order-2' }));
    const second = await client.send(validMessage(), { idempotencyKey: 'order-2' });

    expect(second).toEqual({ id: first.id, duplicate: true });
    const job = await openQueue(queueName).getJob(first.id);
    expect(job?.data.message.idempotencyKey).toBe('order-2');
  });

  test('stores job id and payload hash with expiry', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName, idempotencyWindowMs: 60_000 });
    const message = validMessage();

    const { id } = await client.send(message, { idempotencyKey: 'order-3' });

    const redis = openRedis();
    const key = postroomKeys(queueName).idempotency('order-3');
    const expected = hashMessage(parseMessage(message));
    expect(await redis.get(key)).toBe(`${id} ${expected}`);
    expect(await redis.pttl(key)).toBeGreaterThan(50_000);
    expect(await redis.pttl(key)).toBeLessThanOrEqual(60_000);
    const job = await openQueue(queueName).getJob(id);
    expect(job?.data.payloadHash).toBe(expected);
  });

  test('same key with different payload throws conflict', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });
    const { id } = await client.send(validMessage(), { idempotencyKey: 'order-4' });

    const error = await client
      .send(validMessage({ subject: 'Another invoice' }), { idempotencyKey: 'order-4' })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(IdempotencyConflictError);
    expect((error as IdempotencyConflictError).existingId).toBe(id);
    expect((error as IdempotencyConflictError).idempotencyKey).toBe('order-4');
    expect(await countJobs(openQueue(queueName))).toBe(1);
  });

  test('concurrent sends with one key enqueue one job', async () => {
    const queueName = uniqueQueueName();
    const clients = [createClient({ queueName }), createClient({ queueName })];

    const results = await Promise.all(
      Array.from({ length: 10 }, (_, index) =>
        clients[index % 2]?.send(validMessage(), { idempotencyKey: 'order-5' }),
      ),
    );

    const ids = new Set(results.map((result) => result?.id));
    expect(ids.size).toBe(1);
    expect(results.filter((result) => result?.duplicate === false)).toHaveLength(1);
    expect(await countJobs(openQueue(queueName))).toBe(1);
  });

  test('key stored without a job enqueues the job', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });
    const message = validMessage();
    const jobId = createJobId();
    const key = postroomKeys(queueName).idempotency('order-6');
    // What a producer leaves behind when it dies between SET NX and adding the job.
    await openRedis().set(key, `${jobId} ${hashMessage(parseMessage(message))}`, 'PX', 60_000);

    const result = await client.send(message, { idempotencyKey: 'order-6' });

    expect(result).toEqual({ id: jobId, duplicate: true });
    const job = await openQueue(queueName).getJob(jobId);
    expect(job?.data.message.subject).toBe('Your invoice');
  });

  test('cancelled message is not enqueued again', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });
    const message = validMessage({ notBefore: new Date(Date.now() + 60_000) });
    const { id } = await client.send(message, { idempotencyKey: 'order-7' });
    expect(await client.cancel(id)).toBe(true);

    const again = await client.send(message, { idempotencyKey: 'order-7' });

    expect(again).toEqual({ id, duplicate: true });
    expect(await countJobs(openQueue(queueName))).toBe(0);
    expect((await client.status(id))?.state).toBe('cancelled');
  });

  test('sends without a key are always new', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });

    const first = await client.send(validMessage());
    const second = await client.send(validMessage());

    expect(second.id).not.toBe(first.id);
    expect(second.duplicate).toBe(false);
    expect(await countJobs(openQueue(queueName))).toBe(2);
  });
});
