import { createHash, randomBytes } from 'node:crypto';
import { expect, test } from 'vitest';
import { account, useSharedStack, waitForFinal } from '../harness/index.js';

const MAILBOX = 'noreply@contoso.example';
const SEND_AS = 'billing@contoso.example';
const BUSY = 'busy@contoso.example';

const shared = useSharedStack({
  stack: {
    timeUnitMs: 1000,
    mailboxes: [
      { address: MAILBOX, transport: 'graph', sendAs: [SEND_AS], messagesPerMinute: 100 },
      { address: BUSY, transport: 'graph', messagesPerMinute: 1000 },
    ],
    workerEnv: { POSTROOM_CONCURRENCY: '8', POSTROOM_GRAPH_TIMEOUT_MS: '1500' },
  },
  startWorkers: async (stack) => {
    // Two replicas, so the cap on concurrent requests must hold across processes.
    return Promise.all([stack.addWorker(), stack.addWorker()]);
  },
});

test('Graph delivers MIME with Bcc and attachment', async () => {
  const attachment = randomBytes(20_000);
  const { id } = await shared.client.send({
    from: `Billing <${SEND_AS}>`,
    to: 'ada@fabrikam.example',
    bcc: 'audit@contoso.example',
    subject: 'Invoice über Graph',
    text: 'Invoice attached.',
    attachments: [
      {
        filename: 'invoice.pdf',
        content: attachment.toString('base64'),
        contentType: 'application/pdf',
      },
    ],
  });

  const status = await waitForFinal(shared.client, id);
  const [received] = shared.stack.emulator.messages(MAILBOX);
  expect(status.state).toBe('sent');
  expect(status.reply).toBe('202 Accepted');
  expect(received?.transport).toBe('graph');
  expect(received?.messageId).toBe(status.messageId);
  expect(received?.subject).toBe('Invoice über Graph');
  expect(received?.from).toBe(SEND_AS);
  expect(received?.bcc).toEqual(['audit@contoso.example']);
  expect(received?.headers.bcc).toBeUndefined();
  expect(received?.attachments[0]?.sha256).toBe(
    createHash('sha256').update(attachment).digest('hex'),
  );
  expect(shared.stack.emulator.stats().graphResponses).toEqual({ '202': 1 });
});

test('Graph 429 cools down without an attempt', async () => {
  shared.stack.emulator.addFault({
    stage: 'graph',
    action: 'reply',
    status: 429,
    retryAfterSeconds: 1,
    mailbox: MAILBOX,
  });
  const started = Date.now();
  const { id } = await shared.client.send({
    from: MAILBOX,
    to: 'grace@fabrikam.example',
    subject: 'Throttled',
    text: 'x',
  });

  const status = await waitForFinal(shared.client, id);
  expect(status.state).toBe('sent');
  expect(status.attempts ?? 0).toBe(0);
  expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  expect(shared.stack.emulator.stats().graphResponses).toEqual({ '202': 1, '429': 1 });
  expect(shared.stack.emulator.messages(MAILBOX)).toHaveLength(1);
});

test('Graph 401 gets one fresh token and sends', async () => {
  shared.stack.emulator.addFault({
    stage: 'graph',
    action: 'reply',
    status: 401,
    mailbox: MAILBOX,
  });
  const { id } = await shared.client.send({
    from: MAILBOX,
    to: 'grace@fabrikam.example',
    subject: 'Token',
    text: 'x',
  });

  const status = await waitForFinal(shared.client, id);
  expect(status.state).toBe('sent');
  expect(shared.stack.emulator.stats().graphResponses).toEqual({ '202': 1, '401': 1 });
  // The retry asked for a new token; a replica without a cached token asked once more before.
  expect(shared.stack.emulator.stats().tokenRequests.ok).toBeGreaterThanOrEqual(1);
});

test('lost Graph response is outcome unknown', async () => {
  shared.stack.emulator.addFault({
    stage: 'graph',
    action: 'hang',
    accept: true,
    mailbox: MAILBOX,
  });
  const { id } = await shared.client.send({
    from: MAILBOX,
    to: 'grace@fabrikam.example',
    subject: 'Lost reply',
    text: 'x',
  });

  const status = await waitForFinal(shared.client, id);
  expect(status.state).toBe('outcome_unknown');
  expect(status.failureReason).toBe('no_response_after_request');
  expect(shared.stack.emulator.messages(MAILBOX)).toHaveLength(1);
});

test('Graph requests capped at 4 per mailbox', async () => {
  shared.stack.emulator.addFault({
    stage: 'graph',
    action: 'delay',
    delayMs: 250,
    mailbox: BUSY,
    count: 24,
  });
  const results = await shared.client.sendMany(
    Array.from({ length: 24 }, (_, index) => ({
      from: BUSY,
      to: `user${index}@fabrikam.example`,
      subject: `Busy ${index}`,
      text: 'x',
    })),
  );

  const books = await account(
    shared.client,
    results.map((result) => result.id),
    shared.stack.emulator,
    30_000,
  );
  const stats = shared.stack.emulator.stats();
  expect(books.sent).toBe(24);
  expect(stats.maxConcurrentGraphRequests[BUSY]).toBe(4);
  expect(stats.graphResponses['429']).toBeUndefined();
  expect(stats.violations.graphConcurrency).toBe(0);
});
