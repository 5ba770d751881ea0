import { postroomKeys, SenderNotAllowedError, ValidationError } from '@postroom/core';
import type { Redis } from 'ioredis';
import { describe, expect, test } from 'vitest';
import {
  createClient,
  keysOfQueue,
  openRedis,
  uniqueQueueName,
  validMessage,
} from './testing/helpers.js';

async function publishMailboxes(
  redis: Redis,
  queueName: string,
  mailboxes: Record<string, unknown>,
): Promise<void> {
  const fields = Object.entries(mailboxes).flatMap(([address, entry]) => [
    address,
    JSON.stringify(entry),
  ]);
  await redis.hset(postroomKeys(queueName).mailboxRegistry, ...fields);
}

describe('mailbox registry', () => {
  test('accepts a mailbox and its Send As address', async () => {
    const queueName = uniqueQueueName();
    await publishMailboxes(openRedis(), queueName, {
      'billing@example.com': { sendAs: ['noreply@example.com'], limits: {} },
    });
    const client = createClient({ queueName });

    const own = await client.send(validMessage({ from: 'billing@example.com' }));
    const alias = await client.send(validMessage({ from: 'NoReply <noreply@EXAMPLE.com>' }));

    expect(own.duplicate).toBe(false);
    expect(alias.duplicate).toBe(false);
  });

  test('rejects another sender and lists the configured addresses', async () => {
    const queueName = uniqueQueueName();
    await publishMailboxes(openRedis(), queueName, {
      'billing@example.com': { sendAs: ['noreply@example.com'], limits: {} },
      'support@example.com': { sendAs: [], limits: {} },
    });
    const client = createClient({ queueName });

    const error = await client
      .send(validMessage({ from: 'ceo@example.com' }))
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(SenderNotAllowedError);
    expect((error as SenderNotAllowedError).from).toBe('ceo@example.com');
    const text = (error as Error).message;
    expect(text).toContain('ceo@example.com');
    expect(text).toContain('billing@example.com, noreply@example.com, support@example.com');
  });

  test('rejected sender writes nothing', async () => {
    const queueName = uniqueQueueName();
    const redis = openRedis();
    await publishMailboxes(redis, queueName, { 'billing@example.com': {} });
    const client = createClient({ queueName });

    await expect(client.send(validMessage({ from: 'x@example.com' }))).rejects.toThrow(
      SenderNotAllowedError,
    );

    expect(await keysOfQueue(redis, queueName)).toEqual([postroomKeys(queueName).mailboxRegistry]);
  });

  test('empty registry accepts any sender', async () => {
    const client = createClient();

    const result = await client.send(validMessage({ from: 'anyone@example.org' }));

    expect(result.duplicate).toBe(false);
  });

  test('applies the mailbox recipients limit', async () => {
    const queueName = uniqueQueueName();
    await publishMailboxes(openRedis(), queueName, {
      'billing@example.com': { sendAs: [], limits: { maxRecipientsPerMessage: 2 } },
    });
    const client = createClient({ queueName });

    await expect(
      client.send(validMessage({ to: ['a@example.com', 'b@example.com'] })),
    ).resolves.toMatchObject({ duplicate: false });
    const error = await client
      .send(validMessage({ to: ['a@example.com', 'b@example.com'], cc: 'c@example.com' }))
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.path).toBe('to');
    expect((error as ValidationError).issues[0]?.message).toContain('limit of 2');
  });

  test('Send As address gets the largest limit of its mailboxes', async () => {
    const queueName = uniqueQueueName();
    await publishMailboxes(openRedis(), queueName, {
      'a@example.com': { sendAs: ['shared@example.com'], limits: { maxRecipientsPerMessage: 1 } },
      'b@example.com': { sendAs: ['shared@example.com'], limits: { maxRecipientsPerMessage: 3 } },
    });
    const client = createClient({ queueName });
    const to = ['x@example.com', 'y@example.com', 'z@example.com'];

    await expect(
      client.send(validMessage({ from: 'shared@example.com', to })),
    ).resolves.toBeDefined();
    await expect(
      client.send(validMessage({ from: 'shared@example.com', to: [...to, 'w@example.com'] })),
    ).rejects.toThrow(ValidationError);
  });

  test('malformed entry still names its mailbox', async () => {
    const queueName = uniqueQueueName();
    await openRedis().hset(postroomKeys(queueName).mailboxRegistry, 'billing@example.com', '{oops');
    const client = createClient({ queueName });

    await expect(client.send(validMessage())).resolves.toBeDefined();
    await expect(client.send(validMessage({ from: 'x@example.com' }))).rejects.toThrow(
      SenderNotAllowedError,
    );
  });

  test('caches the registry for senderCacheMs', async () => {
    const queueName = uniqueQueueName();
    const redis = openRedis();
    const cached = createClient({ queueName, senderCacheMs: 60_000 });
    const uncached = createClient({ queueName, senderCacheMs: 0 });
    await cached.send(validMessage({ from: 'late@example.com' }));

    await publishMailboxes(redis, queueName, { 'billing@example.com': {} });

    await expect(cached.send(validMessage({ from: 'late@example.com' }))).resolves.toBeDefined();
    await expect(uncached.send(validMessage({ from: 'late@example.com' }))).rejects.toThrow(
      SenderNotAllowedError,
    );
  });
});
