import { MailClient } from '@postroom/client';
import { afterEach, expect, inject, test } from 'vitest';
import { LocalStack, waitForFinal, waitUntil } from '../harness/index.js';

const MAILBOX = 'receipts@contoso.example';
let stack: LocalStack | undefined;
let client: MailClient | undefined;

afterEach(async () => {
  await client?.close();
  await stack?.stop();
});

function messages(count: number, from = 0) {
  return Array.from({ length: count }, (_, index) => ({
    from: MAILBOX,
    to: `customer${from + index}@fabrikam.example`,
    subject: `Receipt ${from + index}`,
    text: `Thank you for order ${from + index}.`,
  }));
}

// With a rate limit far above Exchange's, only the mailbox's 3 connections hold a burst back.
// A job that finds them all taken, or still opening, waits inside the worker for one to come
// free. A trip through the delayed set would cost Redis work and leave connections unused.
test('burst waits in the worker, not the queue', async () => {
  stack = await LocalStack.start({
    redisUrl: inject('redisUrl'),
    timeUnitMs: 1000,
    mailboxes: [{ address: MAILBOX, messagesPerMinute: 1_000_000 }],
    workerEnv: { POSTROOM_CONCURRENCY: '8', POSTROOM_CONNECTION_IDLE_MS: '200' },
  });
  const worker = await stack.addWorker();
  const emulator = stack.emulator;
  client = new MailClient({ connection: stack.redisUrl, queueName: stack.queueName });

  // A first message checks the mailbox's credentials, so that the burst does not wait for that.
  const [first] = await client.sendMany(messages(1));
  expect((await waitForFinal(client, first?.id as string, 20_000)).state).toBe('sent');
  await waitUntil(
    'the first connection to close',
    () => (emulator.stats().openConnections[MAILBOX] ?? 0) === 0,
    10_000,
  );

  // Connections that take 300 ms to open: the burst's first jobs find every lease taken by a
  // connection that is still opening.
  emulator.addFault({ stage: 'connect', action: 'delay', delayMs: 300, count: 3 });
  const results = await client.sendMany(messages(150, 1));
  const statuses = await Promise.all(
    results.map((result) => waitForFinal(client as MailClient, result.id, 30_000)),
  );

  expect(statuses.filter((status) => status.state === 'sent')).toHaveLength(150);
  const metrics = await (await fetch(`http://127.0.0.1:${worker.httpPort}/metrics`)).text();
  const waits = metrics
    .split('\n')
    .filter((line) => line.startsWith('postroom_mailbox_waits_total{'));
  expect(waits).toEqual([]);
  const stats = emulator.stats();
  expect(stats.maxConcurrentConnections[MAILBOX]).toBeLessThanOrEqual(3);
  expect(stats.violations.connections).toBe(0);
  expect(stats.duplicateMessageIds).toBe(0);
}, 60_000);
