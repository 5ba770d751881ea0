import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RedisServer } from '../../../test/harness/index.js';
import { MailClient } from './client.js';
import { onCleanup, openRedis, uniqueQueueName, validMessage } from './testing/helpers.js';

// MONITOR reports the commands of every client, so this file uses a Redis of its own.
let server: RedisServer;

beforeAll(async () => {
  server = await RedisServer.start();
});

afterAll(async () => {
  await server.close();
});

/**
 * Lists the commands that clients sent while `action` ran, leaving out those that Lua scripts
 * ran, by watching MONITOR until a marker sent after the action comes through.
 */
async function commandsDuring(admin: Redis, action: () => Promise<unknown>): Promise<string[]> {
  const monitor = await admin.duplicate().monitor();
  onCleanup(async () => monitor.disconnect());
  const marker = `marker-${randomUUID()}`;
  const commands: string[] = [];
  const markerSeen = new Promise<void>((resolve) => {
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (args[0]?.toLowerCase() === 'echo' && args[1] === marker) resolve();
      else if (source !== 'lua') commands.push(args[0]?.toLowerCase() ?? '');
    });
  });

  await action();
  await admin.echo(marker);
  await markerSeen;
  return commands;
}

function countOf(commands: readonly string[], name: string): number {
  return commands.filter((command) => command === name).length;
}

describe('sendMany Redis commands', () => {
  test('unkeyed messages cost one script call each', async () => {
    const admin = openRedis(server.url);
    const client = new MailClient({ connection: server.url, queueName: uniqueQueueName() });
    onCleanup(() => client.close());
    // Loads BullMQ's scripts and the mailbox registry, so that the measured call does neither.
    await client.sendMany([validMessage()]);
    const messages = Array.from({ length: 50 }, (_, index) =>
      validMessage({ subject: `Invoice ${index}` }),
    );

    const commands = await commandsDuring(admin, () => client.sendMany(messages));

    expect(countOf(commands, 'evalsha')).toBe(50);
    // One script call ranks the jobs for fairness.
    expect(countOf(commands, 'eval')).toBe(1);
    expect(new Set(commands)).toEqual(new Set(['evalsha', 'eval']));
  });

  test('new keys add one SET each', async () => {
    const admin = openRedis(server.url);
    const client = new MailClient({ connection: server.url, queueName: uniqueQueueName() });
    onCleanup(() => client.close());
    await client.sendMany([validMessage()]);
    const messages = Array.from({ length: 20 }, (_, index) =>
      validMessage({ subject: `Invoice ${index}`, idempotencyKey: `order-${index}` }),
    );

    const commands = await commandsDuring(admin, () => client.sendMany(messages));

    expect(countOf(commands, 'evalsha')).toBe(20);
    expect(countOf(commands, 'set')).toBe(20);
    expect(countOf(commands, 'eval')).toBe(1);
    expect(new Set(commands)).toEqual(new Set(['set', 'evalsha', 'eval']));
  });
});
