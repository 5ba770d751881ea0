import { readFile } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { MailClient } from '@postroom/client';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import type { WorkerProcess } from '../../apps/cli/src/worker-process.js';
import { type Account, account, LocalStack } from '../harness/index.js';

// Two apps, one with a client secret and one with a certificate, each with a mailbox, send at a
// steady pace for more than three token lifetimes through one worker logging at debug level.
const SECRET_MAILBOX = 'secret@contoso.example';
const CERTIFICATE_MAILBOX = 'certificate@contoso.example';
const TOKEN_LIFETIME_SECONDS = 5;
const RENEW_BEFORE_EXPIRY_MS = 250;
const RUN_MS = 15_000;
const PACE_MS = 250;

let stack: LocalStack;
let client: MailClient;
let worker: WorkerProcess;
let books: Account;
let elapsedMs: number;
let log: string;

beforeAll(async () => {
  stack = await LocalStack.start({
    redisUrl: inject('redisUrl'),
    timeUnitMs: 1000,
    tokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS,
    apps: [{ name: 'secret-app' }, { name: 'certificate-app', credential: 'certificate' }],
    mailboxes: [
      { address: SECRET_MAILBOX, app: 'secret-app', messagesPerMinute: 100 },
      { address: CERTIFICATE_MAILBOX, app: 'certificate-app', messagesPerMinute: 100 },
    ],
  });
  worker = await stack.addWorker({
    POSTROOM_LOG_LEVEL: 'debug',
    POSTROOM_TOKEN_RENEW_BEFORE_EXPIRY_MS: String(RENEW_BEFORE_EXPIRY_MS),
  });
  client = new MailClient({ connection: stack.redisUrl, queueName: stack.queueName });

  const ids: string[] = [];
  const started = Date.now();
  for (let index = 0; Date.now() - started < RUN_MS; index++) {
    const from = index % 2 === 0 ? SECRET_MAILBOX : CERTIFICATE_MAILBOX;
    const { id } = await client.send({
      from,
      to: `user${index}@fabrikam.example`,
      subject: `Steady ${index}`,
      text: 'steady',
    });
    ids.push(id);
    // Paced on purpose: the test needs traffic spread over several token lifetimes.
    await delay(PACE_MS);
  }
  books = await account(client, ids, stack.emulator, 30_000);
  elapsedMs = Date.now() - started;

  // Stop the worker first, so that every line it wrote has reached the file.
  await worker.stop('SIGTERM');
  log = await readFile(worker.logFile, 'utf8');
}, 90_000);

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

test('secret and certificate credentials both deliver', () => {
  expect(books.sent).toBe(books.enqueued);
  expect(books.duplicates).toBe(0);
  expect(stack.emulator.messages(SECRET_MAILBOX).length).toBeGreaterThan(10);
  expect(stack.emulator.messages(CERTIFICATE_MAILBOX).length).toBeGreaterThan(10);
});

test('at most one token request per lifetime', () => {
  const lifetimes = Math.ceil(elapsedMs / (TOKEN_LIFETIME_SECONDS * 1000));
  const perApp = lifetimes + 1;
  const { tokenRequests } = stack.emulator.stats();

  expect(tokenRequests.error).toBe(0);
  expect(tokenRequests.ok).toBeLessThanOrEqual(2 * perApp);
  // Each app renewed at least once per lifetime that passed, so tokens were not kept too long.
  expect(tokenRequests.ok).toBeGreaterThanOrEqual(2 * (lifetimes - 1));
});

test('no AUTH used an expired token', () => {
  const { replies, violations } = stack.emulator.stats();

  expect(replies['535 5.7.3'] ?? 0).toBe(0);
  expect(violations.auth).toBe(0);
});

test('debug log holds no credentials or tokens', () => {
  expect(log).toContain('"msg":"access token acquired"');
  expect(log).toContain('"credential":"certificate"');
  for (const secret of stack.credentialSecrets) {
    const body = secret.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    expect(log).not.toContain(body.slice(0, 40));
  }
  // Access tokens and client assertions are JWTs, whose base64url header starts with eyJ.
  expect(log).not.toContain('eyJ');
  expect(log).not.toContain('client_assertion=');
});
