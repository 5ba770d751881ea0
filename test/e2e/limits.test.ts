import { MailClient } from '@postroom/client';
import { afterEach, describe, expect, inject, test } from 'vitest';
import { LocalStack, waitForFinal } from '../harness/index.js';

const MAILBOX = 'alerts@contoso.example';
const TIME_UNIT_MS = 2000;
const PER_MINUTE = 10;
let stack: LocalStack | undefined;
let client: MailClient | undefined;

afterEach(async () => {
  await client?.close();
  await stack?.stop();
});

describe.each([2, 3])('%i workers on one mailbox', (workers) => {
  test('stay within its rate and connection limits', async () => {
    stack = await LocalStack.start({
      redisUrl: inject('redisUrl'),
      timeUnitMs: TIME_UNIT_MS,
      mailboxes: [{ address: MAILBOX, messagesPerMinute: PER_MINUTE }],
      workerEnv: { POSTROOM_CONCURRENCY: '4' },
    });
    await Promise.all(Array.from({ length: workers }, () => stack?.addWorker()));
    client = new MailClient({ connection: stack.redisUrl, queueName: stack.queueName });

    const messages = Array.from({ length: 30 }, (_, index) => ({
      from: MAILBOX,
      to: `user${index}@fabrikam.example`,
      subject: `Alert ${index}`,
      text: `alert number ${index}`,
    }));
    const started = Date.now();
    const results = await client.sendMany(messages);
    const statuses = await Promise.all(
      results.map((result) => waitForFinal(client as MailClient, result.id, 30_000)),
    );
    const elapsedMs = Date.now() - started;

    expect(statuses.filter((status) => status.state === 'sent')).toHaveLength(30);
    const stats = stack.emulator.stats();
    expect(stats.repliesByCode['432'] ?? 0).toBe(0);
    expect(stats.violations.rate).toBe(0);
    expect(stats.violations.connections).toBe(0);
    expect(stats.maxConcurrentConnections[MAILBOX]).toBeLessThanOrEqual(3);
    expect(stats.duplicateMessageIds).toBe(0);
    // 30 messages at 10 per 2 s window need at least two windows after the first message.
    expect(elapsedMs).toBeGreaterThan(2 * TIME_UNIT_MS);

    const acceptedAt = stack.emulator
      .messages(MAILBOX)
      .map((message) => message.acceptedAt)
      .sort((a, b) => a - b);
    acceptedAt.slice(PER_MINUTE).forEach((accepted, index) => {
      expect(accepted - (acceptedAt[index] as number)).toBeGreaterThan(TIME_UNIT_MS);
    });
  }, 60_000);
});
