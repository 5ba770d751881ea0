import { postroomKeys, SenderNotAllowedError, ValidationError } from '@postroom/core';
import { describe, expect, test } from 'vitest';
import {
  countJobs,
  createClient,
  keysOfQueue,
  openQueue,
  openRedis,
  uniqueQueueName,
  validMessage,
} from './testing/helpers.js';

describe('sendMany', () => {
  test('enqueues every message in input order', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });
    const subjects = ['one', 'two', 'three', 'four'];

    const results = await client.sendMany(subjects.map((subject) => validMessage({ subject })));

    expect(results).toHaveLength(4);
    const queue = openQueue(queueName);
    for (const [index, result] of results.entries()) {
      expect(result.duplicate).toBe(false);
      const job = await queue.getJob(result.id);
      expect(job?.data.message.subject).toBe(subjects[index]);
    }
    expect(await countJobs(queue)).toBe(4);
  });

  test('one invalid message rejects the whole batch', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });
    const messages = [
      validMessage(),
      validMessage({ to: ['ada@example.com', 'not an address'] }),
      validMessage(),
      validMessage({ subject: '' }),
    ];

    const error = await client.sendMany(messages).catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ValidationError);
    const paths = (error as ValidationError).issues.map((issue) => issue.path);
    expect(paths).toEqual(['[1].to[1]', '[3].subject']);
    expect((error as ValidationError).message).toContain('[1].to[1]:');
    expect(await keysOfQueue(openRedis(), queueName)).toEqual([]);
  });

  test('message-wide issue gets the bare index', async () => {
    const client = createClient({ maxPayloadBytes: 500 });

    const sending = client.sendMany([validMessage(), validMessage({ text: 'x'.repeat(600) })]);

    await expect(sending).rejects.toMatchObject({ issues: [{ path: '[1]' }] });
  });

  test('non-array input is a ValidationError', async () => {
    const client = createClient();

    const sending = client.sendMany('nope' as unknown as []);

    await expect(sending).rejects.toThrow(ValidationError);
  });

  test('empty batch returns no results', async () => {
    const client = createClient();

    expect(await client.sendMany([])).toEqual([]);
  });

  test('mixes keyed and unkeyed messages', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });
    const earlier = await client.send(validMessage({ subject: 'b' }), { idempotencyKey: 'k-b' });

    const results = await client.sendMany([
      validMessage({ subject: 'a' }),
      validMessage({ subject: 'b', idempotencyKey: 'k-b' }),
      validMessage({ subject: 'c', idempotencyKey: 'k-c' }),
      validMessage({ subject: 'c', idempotencyKey: 'k-c' }),
    ]);

    expect(results[0]?.duplicate).toBe(false);
    expect(results[1]).toEqual({ id: earlier.id, duplicate: true });
    expect(results[2]?.duplicate).toBe(false);
    expect(results[3]).toEqual({ id: results[2]?.id, duplicate: true });
    expect(await countJobs(openQueue(queueName))).toBe(3);
  });

  test('one key with two payloads in a batch is invalid', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });

    const sending = client.sendMany([
      validMessage({ idempotencyKey: 'k' }),
      validMessage({ idempotencyKey: 'k', subject: 'other' }),
    ]);

    await expect(sending).rejects.toMatchObject({ issues: [{ path: '[1].idempotencyKey' }] });
    expect(await keysOfQueue(openRedis(), queueName)).toEqual([]);
  });

  test('conflict with an earlier key enqueues nothing', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });
    await client.send(validMessage({ subject: 'first' }), { idempotencyKey: 'k-old' });
    const redis = openRedis();
    const keysBefore = await keysOfQueue(redis, queueName);

    const sending = client.sendMany([
      validMessage({ subject: 'new', idempotencyKey: 'k-new' }),
      validMessage({ subject: 'plain' }),
      validMessage({ subject: 'changed', idempotencyKey: 'k-old' }),
    ]);

    await expect(sending).rejects.toMatchObject({ code: 'POSTROOM_IDEMPOTENCY_CONFLICT' });
    expect(await countJobs(openQueue(queueName))).toBe(1);
    expect(await redis.exists(postroomKeys(queueName).idempotency('k-new'))).toBe(0);
    expect(await keysOfQueue(redis, queueName)).toEqual(keysBefore);
  });

  test('sender outside the registry rejects the batch', async () => {
    const queueName = uniqueQueueName();
    const redis = openRedis();
    await redis.hset(postroomKeys(queueName).mailboxRegistry, 'billing@example.com', '{}');
    const client = createClient({ queueName });

    const sending = client.sendMany([
      validMessage(),
      validMessage({ from: 'someone@example.com' }),
    ]);

    await expect(sending).rejects.toThrow(SenderNotAllowedError);
    expect(await countJobs(openQueue(queueName))).toBe(0);
  });
});
