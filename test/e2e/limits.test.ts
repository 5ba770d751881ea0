import { MailClient } from '@postroom/client';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { LocalStack, waitForFinal } from '../harness/index.js';

const MAILBOX = 'alerts@contoso.example';
let stack: LocalStack;
let client: MailClient;

beforeAll(async () => {
  stack = await LocalStack.start({
    redisUrl: inject('redisUrl'),
    timeUnitMs: 2000,
    mailboxes: [{ address: MAILBOX, messagesPerMinute: 10 }],
    workerEnv: { POSTROOM_CONCURRENCY: '4' },
  });
  await Promise.all([stack.addWorker(), stack.addWorker()]);
  client = new MailClient({ connection: stack.redisUrl, queueName: stack.queueName });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

test('two workers on one mailbox stay within its rate and connection limits', async () => {
  const messages = Array.from({ length: 30 }, (_, index) => ({
    from: MAILBOX,
    to: `user${index}@fabrikam.example`,
    subject: `Alert ${index}`,
    text: `alert number ${index}`,
  }));
  const started = Date.now();
  const results = await client.sendMany(messages);
  const statuses = await Promise.all(
    results.map((result) => waitForFinal(client, result.id, 30_000)),
  );
  const elapsedMs = Date.now() - started;

  expect(statuses.filter((status) => status.state === 'sent')).toHaveLength(30);
  const stats = stack.emulator.stats();
  expect(stats.repliesByCode['432'] ?? 0).toBe(0);
  expect(stats.violations.rate).toBe(0);
  expect(stats.violations.connections).toBe(0);
  expect(stats.maxConcurrentConnections[MAILBOX]).toBeLessThanOrEqual(3);
  expect(stats.duplicateMessageIds).toBe(0);
  // 30 messages at 10 per 2 s window take at least two full windows after the first burst slot.
  expect(elapsedMs).toBeGreaterThan(4000);

  const acceptedAt = stack.emulator
    .messages(MAILBOX)
    .map((message) => message.acceptedAt)
    .sort((a, b) => a - b);
  for (let index = 10; index < acceptedAt.length; index++) {
    expect(acceptedAt[index]! - acceptedAt[index - 10]!).toBeGreaterThan(2000);
  }
}, 60_000);
