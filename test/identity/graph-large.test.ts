import { createHash, randomBytes } from 'node:crypto';
import { expect, test } from 'vitest';
import { useSharedStack, waitForFinal } from '../harness/index.js';

const MAILBOX = 'large@contoso.example';
const MIB = 1024 * 1024;
/** Largest Graph request body, which the worker must stay under with every request. */
const GRAPH_MAX_REQUEST_BYTES = 4 * MIB;

const shared = useSharedStack({
  stack: {
    timeUnitMs: 1000,
    mailboxes: [{ address: MAILBOX, transport: 'graph', messagesPerMinute: 100 }],
    workerEnv: { POSTROOM_GRAPH_TIMEOUT_MS: '10000' },
  },
  // The default 10 MB cap on a serialized message is below a 10 MB message in base64.
  client: { maxPayloadBytes: 20 * MIB },
});

function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Builds a message of about 10 MB: files of 6 MB and 3.5 MB to upload, and a small one. */
function largeMessage(subject: string) {
  const files = {
    'report.pdf': randomBytes(6_000_000),
    'scan.tiff': randomBytes(3_500_000),
    'notes.txt': randomBytes(20_000),
  };
  const message = {
    from: MAILBOX,
    to: 'ada@fabrikam.example',
    subject,
    text: 'Files attached.',
    attachments: Object.entries(files).map(([filename, content]) => ({
      filename,
      content: content.toString('base64'),
    })),
  };
  return { files, message };
}

test('large message arrives once through draft', async () => {
  const { files, message } = largeMessage('Quarterly files');
  const { id } = await shared.client.send(message);

  const status = await waitForFinal(shared.client, id, 60_000);
  const received = shared.stack.emulator.messages(MAILBOX);
  const attachments = new Map(
    received[0]?.attachments.map((attachment) => [attachment.filename, attachment]),
  );
  const stats = shared.stack.emulator.stats();
  expect(status.state).toBe('sent');
  expect(status.reply).toBe('202 Accepted');
  expect(received).toHaveLength(1);
  expect(received[0]?.messageId).toBe(status.messageId);
  expect(received[0]?.subject).toBe('Quarterly files');
  expect(received[0]?.text?.trim()).toBe('Files attached.');
  expect([...attachments.keys()].sort()).toEqual(['notes.txt', 'report.pdf', 'scan.tiff']);
  for (const [filename, content] of Object.entries(files)) {
    expect(attachments.get(filename)?.sha256, filename).toBe(sha256(content));
  }
  expect(shared.stack.emulator.drafts()).toEqual([]);
  expect(stats.duplicateMessageIds).toBe(0);
  // 201: the draft, two upload sessions and the last range of each file; 200: the first range
  // of the 6 MB file; 202: the send.
  expect(stats.graphResponses).toEqual({ '200': 1, '201': 5, '202': 1 });
});

test('429 during upload delays without an attempt', async () => {
  shared.stack.emulator.addFault({
    stage: 'graph-upload',
    action: 'reply',
    status: 429,
    retryAfterSeconds: 1,
    mailbox: MAILBOX,
  });
  const started = Date.now();
  const { message } = largeMessage('Throttled upload');
  const { id } = await shared.client.send(message);

  const status = await waitForFinal(shared.client, id, 60_000);
  const stats = shared.stack.emulator.stats();
  expect(status.state).toBe('sent');
  expect(status.attempts ?? 0).toBe(0);
  expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
  expect(shared.stack.emulator.messages(MAILBOX)).toHaveLength(1);
  expect(shared.stack.emulator.drafts()).toEqual([]);
  expect(stats.graphResponses['429']).toBe(1);
  // The draft of the throttled attempt was deleted before the job waited.
  expect(stats.graphResponses['204']).toBe(1);
});

test('dropped draft send is outcome unknown', async () => {
  shared.stack.emulator.addFault({
    stage: 'graph-send',
    action: 'drop',
    accept: true,
    mailbox: MAILBOX,
  });
  const { message } = largeMessage('Lost send reply');
  const { id } = await shared.client.send(message);

  const status = await waitForFinal(shared.client, id, 60_000);
  const stats = shared.stack.emulator.stats();
  expect(status.state).toBe('outcome_unknown');
  expect(status.failureReason).toBe('no_response_after_request');
  expect(shared.stack.emulator.messages(MAILBOX)).toHaveLength(1);
  expect(stats.duplicateMessageIds).toBe(0);
  // One draft only: the worker created no second draft to send again.
  expect(stats.graphResponses['201']).toBe(5);
  expect(stats.graphResponses['204']).toBeUndefined();
});

test('rejected upload fails and leaves no draft', async () => {
  shared.stack.emulator.addFault({
    stage: 'graph-upload',
    action: 'reply',
    status: 400,
    mailbox: MAILBOX,
  });
  const { message } = largeMessage('Rejected upload');
  const { id } = await shared.client.send(message);

  const status = await waitForFinal(shared.client, id, 60_000);
  expect(status.state).toBe('failed');
  expect(status.failureReason).toBe('graph_rejected');
  expect(status.reply).toContain('(uploadRange)');
  expect(shared.stack.emulator.messages(MAILBOX)).toEqual([]);
  expect(shared.stack.emulator.drafts()).toEqual([]);
  expect(shared.stack.emulator.stats().graphResponses['204']).toBe(1);
});

test('dropped upload retries from a new draft', async () => {
  shared.stack.emulator.addFault({ stage: 'graph-upload', action: 'drop', mailbox: MAILBOX });
  const { message } = largeMessage('Dropped upload');
  const { id } = await shared.client.send(message);

  const status = await waitForFinal(shared.client, id, 60_000);
  expect(status.state).toBe('sent');
  expect(status.attempts).toBe(1);
  expect(shared.stack.emulator.messages(MAILBOX)).toHaveLength(1);
  expect(shared.stack.emulator.drafts()).toEqual([]);
  expect(shared.stack.emulator.stats().graphResponses['204']).toBe(1);
});

test('message just under 4 MB uses sendMail', async () => {
  // Base64 in the MIME text with line breaks, then base64 again for the request: about 1.82
  // request bytes per file byte, so this file gives a request some 10 KB under 4 MB.
  const content = randomBytes(2_290_000);
  const { id } = await shared.client.send({
    from: MAILBOX,
    to: 'ada@fabrikam.example',
    subject: 'Just under',
    text: 'One file.',
    attachments: [{ filename: 'data.bin', content: content.toString('base64') }],
  });

  const status = await waitForFinal(shared.client, id, 60_000);
  const [received] = shared.stack.emulator.messages(MAILBOX);
  const requestBytes = Math.ceil((received?.sizeBytes ?? 0) / 3) * 4;
  expect(status.state).toBe('sent');
  expect(shared.stack.emulator.stats().graphResponses).toEqual({ '202': 1 });
  expect(requestBytes).toBeGreaterThan(GRAPH_MAX_REQUEST_BYTES - 50_000);
  expect(requestBytes).toBeLessThanOrEqual(GRAPH_MAX_REQUEST_BYTES);
  expect(received?.attachments[0]?.sha256).toBe(sha256(content));
});
