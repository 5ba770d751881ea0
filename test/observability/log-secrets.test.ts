import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { MailClient } from '@postroom/client';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import type { WorkerProcess } from '../../apps/cli/src/worker-process.js';
import { LocalStack, waitForFinal } from '../harness/index.js';

// A worker at debug level goes through a success, a token the server rejects with 535, and a
// permanent failure. Its log must still contain no secret, token or message content.
const MAILBOX = 'noreply@contoso.example';
const marker = (kind: string) => `${kind}-${randomUUID()}`;
const base64 = (text: string) => Buffer.from(text).toString('base64');

let stack: LocalStack;
let client: MailClient;
let worker: WorkerProcess;
let log: string;
const sentContent: string[] = [];

function message(to: string) {
  const subject = marker('subject');
  const text = marker('body');
  const html = marker('html');
  const attachment = randomBytes(48).toString('base64');
  sentContent.push(subject, text, html, attachment);
  return {
    from: MAILBOX,
    to,
    subject,
    text,
    html: `<p>${html}</p>`,
    attachments: [
      { filename: 'data.bin', content: attachment, contentType: 'application/octet-stream' },
    ],
  };
}

beforeAll(async () => {
  stack = await LocalStack.start({
    redisUrl: inject('redisUrl'),
    timeUnitMs: 2000,
    mailboxes: [{ address: MAILBOX }],
  });
  // No idle connections: each message opens a new one, so a revoked token meets AUTH.
  worker = await stack.addWorker({ POSTROOM_LOG_LEVEL: 'debug', POSTROOM_CONNECTION_IDLE_MS: '0' });
  client = new MailClient({ connection: stack.redisUrl, queueName: stack.queueName });

  const first = await client.send(message('ada@fabrikam.example'));
  expect((await waitForFinal(client, first.id)).state).toBe('sent');

  stack.emulator.revokeTokens();
  const second = await client.send(message('grace@fabrikam.example'));
  expect((await waitForFinal(client, second.id)).state).toBe('sent');

  stack.emulator.addFault({
    stage: 'rcpt',
    action: 'reply',
    reply: '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found',
  });
  const third = await client.send(message('nobody@fabrikam.example'));
  expect((await waitForFinal(client, third.id)).state).toBe('failed');

  // Stop the worker first, so that every line it wrote has reached the file.
  await worker.stop('SIGTERM');
  log = await readFile(worker.logFile, 'utf8');
}, 60_000);

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

test('log covers the three outcomes at debug level', () => {
  const levels = log
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { level: number }).level);

  expect(levels).toContain(20);
  expect(log).toContain('"msg":"message sent"');
  expect(log).toContain('535 5.7.3');
  expect(log).toContain('"msg":"message failed"');
  expect(stack.emulator.stats().replies['535 5.7.3']).toBe(1);
});

test('log holds no client secret', () => {
  const secret = stack.workerEnv().POSTROOM_DEMO_CLIENT_SECRET ?? '';

  expect(secret.length).toBeGreaterThan(10);
  expect(log).not.toContain(secret);
  expect(log).not.toContain(base64(secret));
  expect(log).not.toContain(encodeURIComponent(secret));
});

test('log holds no access token', () => {
  // Every JWT starts with a base64url JSON header, `eyJ`; XOAUTH2 wraps it in base64 of `user=`.
  expect(log).not.toContain('eyJ');
  expect(log).not.toContain(base64('user='));
  expect(log.toLowerCase()).not.toContain('bearer');
});

test('log holds no message content', () => {
  expect(sentContent).toHaveLength(12);
  for (const content of sentContent) expect(log).not.toContain(content);
});
