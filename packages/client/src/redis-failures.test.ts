import { MaxRetriesPerRequestError } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RedisServer } from '../../../test/harness/index.js';
import { MailClient } from './client.js';
import { onCleanup, openRedis, uniqueQueueName, validMessage } from './testing/helpers.js';

// These tests change the configuration of Redis or stop it, so they run on a server of their
// own and never on the shared one.
let server: RedisServer;

beforeAll(async () => {
  server = await RedisServer.start();
});

afterAll(async () => {
  await server.close();
});

function createClientOn(url: string, options: { retryDelayMs?: number } = {}): MailClient {
  const { hostname, port } = new URL(url);
  const client = new MailClient({
    connection: {
      host: hostname,
      port: Number(port),
      ...(options.retryDelayMs === undefined ? {} : { retryStrategy: () => options.retryDelayMs }),
    },
    queueName: uniqueQueueName(),
  });
  onCleanup(() => client.close());
  return client;
}

describe('Redis failures', () => {
  test('OOM reply reaches the caller of send', async () => {
    const admin = openRedis(server.url);
    const client = createClientOn(server.url);
    await client.send(validMessage());
    await admin.config('SET', 'maxmemory', '1mb');
    onCleanup(() => admin.config('SET', 'maxmemory', '0'));

    await expect(client.send(validMessage())).rejects.toThrow(/^OOM /);
    await expect(client.send(validMessage(), { idempotencyKey: 'k-oom' })).rejects.toThrow(/^OOM /);
    await expect(client.sendMany([validMessage(), validMessage()])).rejects.toThrow(/^OOM /);
  });

  test('send fails in bounded time while Redis is down', async () => {
    await server.stop();
    onCleanup(() => server.resume());
    const client = createClientOn(server.url);
    const startedMs = Date.now();

    await expect(client.send(validMessage())).rejects.toThrow(MaxRetriesPerRequestError);

    expect(Date.now() - startedMs).toBeLessThan(5000);
  });

  test('client recovers when Redis comes back', async () => {
    await server.stop();
    onCleanup(() => server.resume());
    const client = createClientOn(server.url, { retryDelayMs: 50 });
    await expect(client.send(validMessage())).rejects.toThrow(MaxRetriesPerRequestError);

    await server.resume();

    const result = await client.send(validMessage());
    expect(result.duplicate).toBe(false);
    expect(await client.status(result.id)).toMatchObject({ state: 'queued' });
  });
});
