import { expect, test } from 'vitest';
import { account, useSharedStack } from '../harness/index.js';

const MAILBOX = 'orders@contoso.example';
const shared = useSharedStack({
  stack: {
    timeUnitMs: 1000,
    mailboxes: [{ address: MAILBOX }],
    workerEnv: {
      POSTROOM_CONNECTION_IDLE_MS: '0',
      POSTROOM_SMTP_SOCKET_TIMEOUT_MS: '1500',
      POSTROOM_SMTP_GREETING_TIMEOUT_MS: '500',
      POSTROOM_RETRY_BASE_DELAY_MS: '100',
      POSTROOM_RETRY_MAX_DELAY_MS: '500',
    },
  },
});

const send = (index: number) =>
  shared.client.send({
    from: MAILBOX,
    to: `buyer${index}@fabrikam.example`,
    subject: `Order ${index}`,
    text: `order ${index}`,
  });

test('connection dropped before data is retried and sent once', async () => {
  shared.stack.emulator.addFault({ stage: 'mail', action: 'drop', mailbox: MAILBOX, count: 2 });
  const { id } = await send(1);

  const books = await account(shared.client, [id], shared.stack.emulator);
  expect(books.sent).toBe(1);
  expect(books.duplicates).toBe(0);
  expect(books.statuses[0]?.attempts).toBe(2);
  expect(shared.stack.emulator.messages(MAILBOX)).toHaveLength(1);
});

test('server that never greets is retried and kept', async () => {
  shared.stack.emulator.addFault({ stage: 'connect', action: 'hang', count: 1 });
  const { id } = await send(8);

  const books = await account(shared.client, [id], shared.stack.emulator);
  expect(books.sent).toBe(1);
  expect(books.statuses[0]?.attempts).toBe(1);
  expect(shared.stack.emulator.messages(MAILBOX)).toHaveLength(1);
});

test('421 before EHLO is retried', async () => {
  shared.stack.emulator.addFault({
    stage: 'connect',
    action: 'reply',
    reply: '421 4.3.2 Service not available',
    count: 1,
  });
  const { id } = await send(9);

  const books = await account(shared.client, [id], shared.stack.emulator);
  expect(books.sent).toBe(1);
  expect(books.statuses[0]?.attempts).toBe(1);
});

test('421 mid-session is retried', async () => {
  shared.stack.emulator.addFault({
    stage: 'rcpt',
    action: 'reply',
    mailbox: MAILBOX,
    reply: '421 4.3.0 Temporary system problem, try again later',
  });
  const { id } = await send(2);

  const books = await account(shared.client, [id], shared.stack.emulator);
  expect(books.sent).toBe(1);
  expect(shared.stack.emulator.stats().repliesByCode['421']).toBe(1);
  expect(shared.stack.emulator.messages(MAILBOX)).toHaveLength(1);
});

test('connection lost after data is outcome unknown, not resent', async () => {
  shared.stack.emulator.addFault({
    stage: 'data-end',
    action: 'drop',
    mailbox: MAILBOX,
    accept: true,
  });
  const { id } = await send(3);

  const books = await account(shared.client, [id], shared.stack.emulator);
  expect(books.unknown).toBe(1);
  expect(books.statuses[0]?.failureReason).toBe('connection_lost_after_data');
  expect(books.withoutReason).toBe(0);
  // The server kept the message; a resend would have made a second copy.
  expect(shared.stack.emulator.messages(MAILBOX)).toHaveLength(1);
});

test('withheld final reply times out as outcome unknown', async () => {
  shared.stack.emulator.addFault({ stage: 'data-end', action: 'hang', mailbox: MAILBOX });
  const { id } = await send(4);

  const books = await account(shared.client, [id], shared.stack.emulator, 20_000);
  expect(books.unknown).toBe(1);
  expect(books.statuses[0]?.failureClass).toBe('unknown_outcome');
  expect(books.duplicates).toBe(0);
});

test('token endpoint outage waits without spending attempts', async () => {
  shared.stack.emulator.revokeTokens();
  shared.stack.emulator.addFault({
    stage: 'token',
    action: 'reply',
    status: 503,
    retryAfterSeconds: 1,
    count: 3,
  });
  const results = await Promise.all([5, 6, 7].map(send));

  const books = await account(
    shared.client,
    results.map((result) => result.id),
    shared.stack.emulator,
    30_000,
  );
  expect(books.sent).toBe(3);
  for (const status of books.statuses) expect(status.attempts).toBe(0);
  expect(books.duplicates).toBe(0);
});

test('per-recipient rejection sends to the others and reports it', async () => {
  shared.stack.emulator.addFault({
    stage: 'rcpt',
    action: 'reply',
    mailbox: MAILBOX,
    reply: '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found',
  });
  const { id } = await shared.client.send({
    from: MAILBOX,
    to: ['gone@fabrikam.example', 'here@fabrikam.example'],
    subject: 'Partial',
    text: 'partial',
  });

  const books = await account(shared.client, [id], shared.stack.emulator);
  expect(books.sent).toBe(1);
  expect(books.statuses[0]?.rejectedRecipients).toEqual(['gone@fabrikam.example']);
  expect(shared.stack.emulator.messages(MAILBOX)[0]?.envelope.to).toEqual([
    'here@fabrikam.example',
  ]);
});
