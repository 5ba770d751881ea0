import { expect, test } from 'vitest';
import { account, useSharedStack, waitUntil } from '../harness/index.js';

// One emulated minute is 10 ms, so one emulated day (1440 minutes) is 14.4 s.
const TIME_UNIT_MS = 10;
const DAY_MS = TIME_UNIT_MS * 1440;
const QUOTA = 'quota@contoso.example';
const COUNTED = 'counted@contoso.example';
const shared = useSharedStack({
  stack: {
    timeUnitMs: TIME_UNIT_MS,
    mailboxes: [
      { address: QUOTA, messagesPerMinute: 1000 },
      { address: COUNTED, messagesPerMinute: 1000, recipientsPerDay: 10 },
    ],
    workerEnv: { POSTROOM_RATE_GUARD_MS: '0' },
  },
});

const recipients = (prefix: string, count: number) =>
  Array.from({ length: count }, (_, index) => `${prefix}${index}@fabrikam.example`);

test('recipients are counted across a rolling day', async () => {
  const started = Date.now();
  const results = await shared.client.sendMany(
    ['a', 'b', 'c'].map((prefix) => ({
      from: COUNTED,
      to: recipients(prefix, 4),
      subject: `batch ${prefix}`,
      text: prefix,
    })),
  );

  await waitUntil('two messages sent', () => shared.stack.emulator.messages(COUNTED).length === 2);
  // Whichever message got its grant last waits for the first recipients to leave the day.
  await waitUntil('one message waiting for the recipient quota', async () => {
    const statuses = await Promise.all(results.map((result) => shared.client.status(result.id)));
    const waiting = statuses.filter((status) => status?.state === 'waiting_for_mailbox');
    return waiting.length === 1 && waiting[0]?.waitReason === 'recipient_quota';
  });
  expect(shared.stack.emulator.messages(COUNTED)).toHaveLength(2);

  const books = await account(
    shared.client,
    results.map((result) => result.id),
    shared.stack.emulator,
    30_000,
  );
  expect(books.sent).toBe(3);
  // The third waits until the first message's recipients leave the rolling day.
  expect(Date.now() - started).toBeGreaterThan(DAY_MS);
  expect(shared.stack.emulator.stats().violations.recipientsPerDay).toBe(0);
}, 40_000);

test('quota reply pauses the mailbox and it resumes after the pause', async () => {
  shared.stack.emulator.addFault({
    stage: 'data-end',
    action: 'reply',
    mailbox: QUOTA,
    reply:
      '554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message Cannot submit message.',
  });
  const results = await shared.client.sendMany(
    [1, 2, 3].map((index) => ({
      from: QUOTA,
      to: `q${index}@fabrikam.example`,
      subject: `q${index}`,
      text: 'q',
    })),
  );

  await waitUntil('mailbox paused', async () => {
    const statuses = await Promise.all(results.map((result) => shared.client.status(result.id)));
    return statuses.some((status) => status?.waitReason === 'quota_exhausted');
  });
  const books = await account(
    shared.client,
    results.map((result) => result.id),
    shared.stack.emulator,
    20_000,
  );
  expect(books.sent).toBe(3);
  expect(books.failed).toBe(0);
  expect(shared.stack.emulator.stats().repliesByCode['554']).toBe(1);
}, 30_000);
