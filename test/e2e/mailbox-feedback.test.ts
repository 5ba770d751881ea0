import { expect, test, vi } from 'vitest';
import { runMailbox } from '../../apps/cli/src/commands/mailbox.js';
import { useSharedStack, waitForFinal, waitUntil } from '../harness/index.js';

// Each test stops its own mailbox, so that leftovers of one test cannot leak into the next.
const CIRCUIT = 'circuit@contoso.example';
const SPAM = 'spam@contoso.example';
const STORM = 'storm@contoso.example';
const PAUSE = 'pause@contoso.example';
const B = 'billing@contoso.example';
const CASED = 'Case.Sensitive@contoso.example';
const shared = useSharedStack({
  stack: {
    timeUnitMs: 1000,
    mailboxes: [CIRCUIT, SPAM, STORM, PAUSE, B, CASED].map((address) => ({ address })),
    workerEnv: { POSTROOM_CIRCUIT_OPEN_MS: '600000', POSTROOM_CONNECTION_IDLE_MS: '0' },
  },
});

const message = (from: string, index: number, extra: Record<string, unknown> = {}) => ({
  from,
  to: `user${index}@fabrikam.example`,
  subject: `Notice ${index}`,
  text: `notice ${index}`,
  ...extra,
});

async function captureStdout(action: () => Promise<unknown>): Promise<string> {
  const chunks: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await action();
  } finally {
    spy.mockRestore();
  }
  return chunks.join('');
}

async function stateOf(id: string): Promise<string | undefined> {
  return (await shared.client.status(id))?.state;
}

test('configuration reply opens the circuit and keeps the jobs', async () => {
  shared.stack.emulator.addFault({
    stage: 'auth',
    action: 'reply',
    mailbox: CIRCUIT,
    count: 100,
    reply:
      '535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.',
  });
  const blocked = await shared.client.sendMany([0, 1, 2].map((index) => message(CIRCUIT, index)));
  const other = await shared.client.sendMany([3, 4].map((index) => message(B, index)));

  for (const result of other)
    expect((await waitForFinal(shared.client, result.id)).state).toBe('sent');
  await waitUntil('blocked jobs parked', async () => {
    const states = await Promise.all(blocked.map((result) => shared.client.status(result.id)));
    return states.every(
      (status) => status?.state === 'waiting_for_mailbox' && status.waitReason === 'auth_failed',
    );
  });
  expect(shared.stack.emulator.stats().replies['535 5.7.139']).toBe(1);

  shared.stack.emulator.clearFaults();
  expect(
    await runMailbox({ redisUrl: shared.stack.redisUrl, queueName: shared.stack.queueName }, [
      'resume',
      CIRCUIT,
    ]),
  ).toBe(0);
  for (const result of blocked)
    expect((await waitForFinal(shared.client, result.id)).state).toBe('sent');
  expect(shared.stack.emulator.stats().replies['535 5.7.139']).toBe(1);
});

test('outbound spam block keeps the backlog out of the failed set', async () => {
  shared.stack.emulator.addFault({
    stage: 'data-end',
    action: 'reply',
    mailbox: SPAM,
    count: 1000,
    reply:
      '554 5.2.0 STOREDRV.Submission.Exception:OutboundSpamException; WASCL UserAction verdict is not None. Failed to process message due to a permanent exception with message [BeginDiagnosticData]',
  });
  const backlog = await shared.client.sendMany(
    Array.from({ length: 30 }, (_, index) => message(SPAM, index)),
  );
  const other = await shared.client.sendMany([0, 1, 2].map((index) => message(B, index)));

  for (const result of other)
    expect((await waitForFinal(shared.client, result.id)).state).toBe('sent');
  await waitUntil('backlog parked', async () => {
    const states = await Promise.all(backlog.map((result) => stateOf(result.id)));
    return states.every((state) => state === 'waiting_for_mailbox');
  });
  // Only submissions already in flight when the first block reply came, one per connection.
  const blockReplies = shared.stack.emulator.stats().repliesByCode['554'] ?? 0;
  expect(blockReplies).toBeGreaterThanOrEqual(1);
  expect(blockReplies).toBeLessThanOrEqual(3);
  expect(shared.stack.emulator.messages(SPAM)).toHaveLength(0);
});

test('throttle storm spends no attempt and ends at the deadline', async () => {
  shared.stack.emulator.addFault({
    stage: 'mail',
    action: 'reply',
    mailbox: STORM,
    count: 100,
    reply:
      '432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.',
  });
  const expiresAt = new Date(Date.now() + 3500).toISOString();
  const { id } = await shared.client.send(message(STORM, 1, { expiresAt }));

  const status = await waitForFinal(shared.client, id, 15_000);
  expect(status.state).toBe('failed');
  expect(status.failureReason).toBe('throttled_too_long');
  expect(status.attempts).toBe(0);
  const throttles = shared.stack.emulator.stats().repliesByCode['432'] ?? 0;
  expect(throttles).toBeGreaterThanOrEqual(2);
  expect(throttles).toBeLessThanOrEqual(4);
});

test('pause and resume from the CLI', async () => {
  const env = { redisUrl: shared.stack.redisUrl, queueName: shared.stack.queueName };
  expect(await runMailbox(env, ['pause', PAUSE])).toBe(0);
  const results = await shared.client.sendMany([0, 1, 2, 3].map((index) => message(PAUSE, index)));

  await waitUntil('paused jobs wait', async () => {
    const statuses = await Promise.all(results.map((result) => shared.client.status(result.id)));
    return statuses.every(
      (status) => status?.state === 'waiting_for_mailbox' && status.waitReason === 'paused',
    );
  });
  expect(shared.stack.emulator.messages(PAUSE)).toHaveLength(0);
  const listing = await captureStdout(() => runMailbox(env, ['list']));
  const row = listing.split('\n').find((line) => line.startsWith(PAUSE)) ?? '';
  expect(row).toMatch(/\bpaused\b/);
  expect(row.split(/\s+/)[5]).toBe('4');

  expect(await runMailbox(env, ['resume', PAUSE])).toBe(0);
  for (const result of results)
    expect((await waitForFinal(shared.client, result.id)).state).toBe('sent');
  expect(await runMailbox(env, ['pause', 'nobody@contoso.example'])).toBe(1);
});

test('pause and resume ignore address case', async () => {
  const env = { redisUrl: shared.stack.redisUrl, queueName: shared.stack.queueName };
  expect(await runMailbox(env, ['pause', CASED.toLowerCase()])).toBe(0);
  const { id } = await shared.client.send(message(CASED, 0));

  await waitUntil(
    'the job to wait for the paused mailbox',
    async () => (await shared.client.status(id))?.waitReason === 'paused',
  );
  expect(await runMailbox(env, ['resume', CASED.toUpperCase()])).toBe(0);
  expect((await waitForFinal(shared.client, id)).state).toBe('sent');
});

test('send as denied fails at once without retry', async () => {
  shared.stack.emulator.addFault({
    stage: 'data-end',
    action: 'reply',
    mailbox: B,
    count: 5,
    reply: '550 5.7.60 SMTP; Client does not have permissions to send as this sender',
  });
  const { id } = await shared.client.send(message(B, 9));
  const status = await waitForFinal(shared.client, id);
  expect(status.state).toBe('failed');
  expect(status.failureReason).toBe('send_as_denied');
  expect(shared.stack.emulator.stats().replies['550 5.7.60']).toBe(1);
});
