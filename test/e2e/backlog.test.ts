import { MailClient } from '@postroom/client';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { LocalStack, waitForFinal, waitUntil } from '../harness/index.js';

const BUSY = 'newsletter@contoso.example';
const QUIET = 'security@contoso.example';
const TIME_UNIT_MS = 3000;
const PER_MINUTE = 10;
let stack: LocalStack;
let client: MailClient;

beforeAll(async () => {
  stack = await LocalStack.start({
    redisUrl: inject('redisUrl'),
    timeUnitMs: TIME_UNIT_MS,
    mailboxes: [
      { address: BUSY, messagesPerMinute: PER_MINUTE },
      { address: QUIET, messagesPerMinute: PER_MINUTE },
    ],
    workerEnv: { POSTROOM_CONCURRENCY: '16', POSTROOM_LOG_LEVEL: 'warn' },
  });
  await Promise.all([stack.addWorker(), stack.addWorker()]);
  client = new MailClient({ connection: stack.redisUrl, queueName: stack.queueName });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

const message = (from: string, index: number, priority: 'high' | 'normal' = 'normal') => ({
  from,
  to: `reader${index}@fabrikam.example`,
  subject: `Issue ${index}`,
  text: `newsletter ${index}`,
  priority,
});

test('backlog of one mailbox does not delay another, and high priority overtakes it', async () => {
  const backlog = Array.from({ length: 10_000 }, (_, index) => message(BUSY, index));
  for (let start = 0; start < backlog.length; start += 1000) {
    await client.sendMany(backlog.slice(start, start + 1000));
  }
  await waitUntil(
    'the busy mailbox to start sending',
    () => stack.emulator.messages(BUSY).length >= 2,
    30_000,
  );

  const quietSentAt = Date.now();
  const quiet = await client.send(message(QUIET, 1));
  const quietStatus = await waitForFinal(client, quiet.id, 20_000);
  const quietDelayMs = Date.parse(quietStatus.sentAt ?? '') - quietSentAt;
  expect(quietStatus.state).toBe('sent');
  // Its first slot is free, so it goes out at once. Behind the busy mailbox's backlog it took
  // 3.8 s here; the bound leaves room for a loaded machine.
  expect(quietDelayMs).toBeLessThan(1500);

  const busyBefore = stack.emulator.messages(BUSY).length;
  const urgent = await client.send({ ...message(BUSY, 99_999, 'high'), subject: 'Password reset' });
  const urgentStatus = await waitForFinal(client, urgent.id, 20_000);
  expect(urgentStatus.state).toBe('sent');
  const busyMessages = stack.emulator.messages(BUSY);
  const urgentIndex = busyMessages.findIndex((received) => received.subject === 'Password reset');
  // Without priorities it would wait behind thousands. Slots already handed out and jobs
  // holding a slot while they wait for a connection go first: two on an idle machine, up to
  // four seen on a loaded one.
  expect(urgentIndex - busyBefore).toBeLessThanOrEqual(5);

  const stats = stack.emulator.stats();
  expect(stats.violations.rate).toBe(0);
  expect(stats.repliesByCode['432'] ?? 0).toBe(0);
}, 120_000);
