import { randomUUID } from 'node:crypto';
import {
  ConfigError,
  KEY_PREFIX,
  PostroomError,
  SEND_JOB_NAME,
  ValidationError,
} from '@postroom/core';
import type { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import { MailClient } from './client.js';
import {
  countJobs,
  createClient,
  keysOfQueue,
  onCleanup,
  openQueue,
  openRedis,
  redisUrl,
  uniqueQueueName,
  validMessage,
} from './testing/helpers.js';

describe('send', () => {
  test('enqueues job with payload and Message-ID', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });

    const result = await client.send(validMessage({ tags: ['invoice'] }));

    expect(result.duplicate).toBe(false);
    expect(result.id).toMatch(/^msg_[0-9a-f]{32}$/);
    const job = await openQueue(queueName).getJob(result.id);
    expect(job?.name).toBe(SEND_JOB_NAME);
    expect(job?.data.version).toBe(1);
    expect(job?.data.messageId).toMatch(/^<[0-9a-f-]{36}@example\.com>$/);
    expect(job?.data.message.from).toEqual({ name: 'Billing', address: 'billing@example.com' });
    expect(job?.data.message.to).toEqual([{ address: 'ada@example.com' }]);
    expect(job?.data.message.tags).toEqual(['invoice']);
    expect(job?.data.payloadHash).toBeUndefined();
    expect(Math.abs(Date.now() - (job?.data.enqueuedAtMs ?? 0))).toBeLessThan(10_000);
  });

  test('sets job options the worker expects', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName, idempotencyWindowMs: 90_500 });

    const { id } = await client.send(validMessage({ priority: 'high' }));

    const job = await openQueue(queueName).getJob(id);
    expect(job?.opts.priority).toBe(1);
    expect(job?.opts.attempts).toBe(1);
    expect(job?.opts.removeOnComplete).toEqual({ age: 91 });
    expect(job?.opts.removeOnFail).toBe(false);
    expect(await job?.getState()).toBe('prioritized');
  });

  test('ranks priority by class and mailbox backlog', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });
    const queue = openQueue(queueName);
    const rankOf = async (id: string) => (await queue.getJob(id))?.opts.priority;

    const high = await client.send(validMessage({ priority: 'high' }));
    const first = await client.send(validMessage());
    const second = await client.send(validMessage({ priority: 'normal' }));
    const low = await client.send(validMessage({ priority: 'low' }));
    const otherMailbox = await client.send(validMessage({ from: 'other@example.com' }));

    expect(await rankOf(high.id)).toBe(1);
    // Normal messages rank 2 + their mailbox's recent enqueue count.
    expect(await rankOf(first.id)).toBe(3);
    expect(await rankOf(second.id)).toBe(4);
    expect(await rankOf(low.id)).toBe(1_000_005);
    // The first message of another mailbox goes ahead of the first mailbox's backlog.
    expect(await rankOf(otherMailbox.id)).toBe(3);
  });

  test('delays job until notBefore', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });
    const notBeforeMs = Date.now() + 60_000;

    const { id } = await client.send(validMessage({ notBefore: new Date(notBeforeMs) }));

    const job = await openQueue(queueName).getJob(id);
    expect(await job?.getState()).toBe('delayed');
    expect(job?.opts.delay).toBeGreaterThan(55_000);
    expect(job?.opts.delay).toBeLessThanOrEqual(60_000);
  });

  test('past notBefore enqueues without delay', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });

    const { id } = await client.send(validMessage({ notBefore: '2020-01-01T00:00:00Z' }));

    const job = await openQueue(queueName).getJob(id);
    expect(job?.opts.delay ?? 0).toBe(0);
    expect(await job?.getState()).toBe('prioritized');
  });

  test('invalid message writes nothing to Redis', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName });

    const error = await client
      .send(validMessage({ from: 'nobody', subject: '', to: ['ada@example.com', 'bad'] }))
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ValidationError);
    const paths = (error as ValidationError).issues.map((issue) => issue.path).sort();
    expect(paths).toEqual(['from', 'subject', 'to[1]']);
    expect(await keysOfQueue(openRedis(), queueName)).toEqual([]);
  });

  test('rejects payload over maxPayloadBytes', async () => {
    const queueName = uniqueQueueName();
    const client = createClient({ queueName, maxPayloadBytes: 1000 });

    const error = await client
      .send(validMessage({ text: 'x'.repeat(2000) }))
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.message).toContain('over the limit of 1000 bytes');
    expect(await keysOfQueue(openRedis(), queueName)).toEqual([]);
  });

  test('rejects idempotencyKey option that differs from message', async () => {
    const client = createClient();

    const sending = client.send(validMessage({ idempotencyKey: 'a' }), { idempotencyKey: 'b' });

    await expect(sending).rejects.toThrow(ValidationError);
    await expect(sending).rejects.toMatchObject({
      issues: [{ path: 'idempotencyKey' }],
    });
  });

  test('rejects invalid idempotencyKey option', async () => {
    const client = createClient();

    const sending = client.send(validMessage(), { idempotencyKey: 'has space' });

    await expect(sending).rejects.toMatchObject({ issues: [{ path: 'idempotencyKey' }] });
  });
});

describe('options', () => {
  test('invalid options throw ConfigError naming each', () => {
    const create = () =>
      new MailClient({
        connection: redisUrl,
        queueName: 'a:b',
        maxPayloadBytes: 0,
        idempotencyWindowMs: 10,
        senderCacheMs: -1,
      });

    expect(create).toThrow(ConfigError);
    try {
      create();
    } catch (error) {
      const paths = (error as ConfigError).issues.map((issue) => issue.path);
      expect(paths).toEqual([
        'queueName',
        'maxPayloadBytes',
        'idempotencyWindowMs',
        'senderCacheMs',
      ]);
    }
  });

  test('queue name follows the worker rule', () => {
    for (const queueName of ['orders.eu', 'q'.repeat(65), 'grüße', '{postroom}', '']) {
      expect(() => new MailClient({ connection: redisUrl, queueName })).toThrow(
        /queueName .* must be 1 to 64 ASCII letters, digits, _ or -/,
      );
    }
  });

  test('client with keyPrefix is rejected', () => {
    const redis = openRedis();
    const prefixed = redis.duplicate({ keyPrefix: 'app:' });
    onCleanup(async () => prefixed.disconnect());

    expect(() => new MailClient({ connection: prefixed })).toThrow(ConfigError);
  });

  test('invalid connection URL is rejected', () => {
    for (const connection of ['', 'http://127.0.0.1:6379', 'redis://127.0.0.1:notaport']) {
      expect(() => new MailClient({ connection })).toThrow(ConfigError);
      expect(() => new MailClient({ connection })).toThrow(/connection: /);
    }
  });

  test('accepts ioredis options', async () => {
    const url = new URL(redisUrl);
    const queueName = uniqueQueueName();
    const client = createClient({
      queueName,
      connection: { host: url.hostname, port: Number(url.port) },
    });

    const { id } = await client.send(validMessage());

    expect(await openQueue(queueName).getJob(id)).toBeDefined();
  });
});

describe('close', () => {
  test('close twice is safe', async () => {
    const client = new MailClient({ connection: redisUrl, queueName: uniqueQueueName() });
    await client.send(validMessage());

    const first = client.close();
    const second = client.close();

    expect(second).toBe(first);
    await first;
    await expect(client.close()).resolves.toBeUndefined();
  });

  test('calls after close reject', async () => {
    const client = new MailClient({ connection: redisUrl, queueName: uniqueQueueName() });
    await client.close();

    await expect(client.send(validMessage())).rejects.toThrow(PostroomError);
    await expect(client.send(validMessage())).rejects.toMatchObject({
      code: 'POSTROOM_CLIENT_CLOSED',
    });
    await expect(client.status('msg_1')).rejects.toThrow(PostroomError);
  });

  test('leaves a caller-owned connection open', async () => {
    const redis = openRedis();
    const queueName = uniqueQueueName();
    const client = new MailClient({ connection: redis, queueName });
    const { id } = await client.send(validMessage());

    await client.close();

    expect(redis.status).toBe('ready');
    expect(await redis.exists(`${KEY_PREFIX}:${queueName}:${id}`)).toBe(1);
    expect(await countJobs(openQueue(queueName, redis))).toBe(1);
  });

  test('closes the connection it created', async () => {
    const url = new URL(redisUrl);
    const connectionName = `postroom-test-${randomUUID()}`;
    const client = new MailClient({
      connection: { host: url.hostname, port: Number(url.port), connectionName },
      queueName: uniqueQueueName(),
    });
    await client.send(validMessage());
    const redis = openRedis();
    expect(await listClientNames(redis)).toContain(connectionName);

    await client.close();

    await expect.poll(() => listClientNames(redis)).not.toContain(connectionName);
  });
});

async function listClientNames(redis: Redis): Promise<string[]> {
  const list = String(await redis.client('LIST'));
  return [...list.matchAll(/ name=(\S*)/g)].map((match) => match[1] ?? '');
}
