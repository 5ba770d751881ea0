import { setTimeout as delay } from 'node:timers/promises';
import { MailClient } from '@postroom/client';
import { postroomKeys } from '@postroom/core';
import { Redis } from 'ioredis';
import { afterEach, expect, test } from 'vitest';
import { account, LocalStack, RedisServer, waitUntil } from '../harness/index.js';

const MAILBOX = 'receipts@contoso.example';
let stack: LocalStack | undefined;
let client: MailClient | undefined;
let redis: RedisServer | undefined;

afterEach(async () => {
  await client?.close();
  await stack?.stop();
  await redis?.close();
  client = undefined;
  stack = undefined;
  redis = undefined;
});

async function startStack(workerEnv: Record<string, string>): Promise<LocalStack> {
  redis = await RedisServer.start({ appendOnly: true });
  stack = await LocalStack.start({
    redisUrl: redis.url,
    timeUnitMs: 1000,
    mailboxes: [{ address: MAILBOX, messagesPerMinute: 20 }],
    workerEnv,
  });
  client = new MailClient({ connection: stack.redisUrl, queueName: stack.queueName });
  return stack;
}

const messages = (count: number) =>
  Array.from({ length: count }, (_, index) => ({
    from: MAILBOX,
    to: `buyer${index}@fabrikam.example`,
    subject: `Receipt ${index}`,
    text: `receipt ${index}`,
  }));

async function isReady(port: number): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
  return response?.status === 200;
}

test('redis killed mid-run and restarted loses and duplicates nothing', async () => {
  const local = await startStack({});
  const worker = await local.addWorker();
  const ids = (await (client as MailClient).sendMany(messages(40))).map((result) => result.id);

  await waitUntil('some messages sent', () => local.emulator.messages(MAILBOX).length >= 5);
  await redis?.stop('SIGKILL');
  await waitUntil('readiness to fail', async () => !(await isReady(worker.httpPort)), 10_000);
  await delay(2000);
  await redis?.resume();
  await waitUntil('readiness to return', () => isReady(worker.httpPort), 20_000);

  const books = await account(client as MailClient, ids, local.emulator, 60_000);
  expect(books.sent + books.failed + books.unknown).toBe(40);
  expect(books.withoutReason).toBe(0);
  expect(books.duplicates).toBe(0);
  // A send cut off by the outage may end unknown, but nothing is lost.
  expect(books.sent).toBeGreaterThanOrEqual(38);
  const stats = local.emulator.stats();
  expect(stats.violations.rate).toBe(0);
  expect(stats.violations.connections).toBe(0);
  expect(worker.running).toBe(true);
}, 120_000);

test('redis restart republishes the mailbox registry', async () => {
  const local = await startStack({});
  const worker = await local.addWorker();
  const keys = postroomKeys(local.queueName);
  const admin = new Redis(local.redisUrl);
  try {
    expect(await admin.hkeys(keys.mailboxRegistry)).toEqual([MAILBOX]);
    await admin.flushall();
    await redis?.stop('SIGKILL');
    await redis?.resume();
    await waitUntil('the registry to return', async () => {
      const registered = await admin.hkeys(keys.mailboxRegistry).catch(() => []);
      return registered.includes(MAILBOX);
    });
    expect(worker.running).toBe(true);
  } finally {
    admin.disconnect();
  }
}, 60_000);

test('redis that stops answering fails readiness', async () => {
  const local = await startStack({});
  const worker = await local.addWorker();
  await waitUntil('readiness', () => isReady(worker.httpPort));

  redis?.signal('SIGSTOP');
  try {
    await waitUntil('readiness to fail', async () => !(await isReady(worker.httpPort)), 15_000);
  } finally {
    redis?.signal('SIGCONT');
  }
  await waitUntil('readiness to return', () => isReady(worker.httpPort), 15_000);
}, 60_000);

test('event loop stall past the lock does not send twice', async () => {
  const local = await startStack({
    POSTROOM_SMTP_SOCKET_TIMEOUT_MS: '2000',
    POSTROOM_LOCK_DURATION_MS: '4000',
    POSTROOM_STALLED_INTERVAL_MS: '1000',
  });
  const stalled = await local.addWorker();
  local.emulator.addFault({ stage: 'data-end', action: 'delay', delayMs: 1500, mailbox: MAILBOX });
  const [result] = await (client as MailClient).sendMany(messages(1));
  const id = (result as { id: string }).id;

  await waitUntil('the send to start', async () => (await client?.status(id))?.state === 'sending');
  process.kill(stalled.pid as number, 'SIGSTOP');
  await local.addWorker();
  // Past the lock and a stalled-job check: the second worker now owns the job.
  await delay(6000);
  process.kill(stalled.pid as number, 'SIGCONT');

  const books = await account(client as MailClient, [id], local.emulator, 30_000);
  // The stalled worker's timers fire before it reads the buffered reply, so it may record the
  // outcome as unknown instead of sent. Either way the recipient never gets two copies.
  expect(books.sent + books.unknown).toBe(1);
  expect(books.withoutReason).toBe(0);
  expect(books.duplicates).toBe(0);
  // Stopped before its data was all sent, the message never reaches the server and is reported
  // as unknown rather than resent; it never arrives twice.
  const copies = local.emulator.messages(MAILBOX).length;
  expect(copies).toBeLessThanOrEqual(1);
  if (copies === 0) expect(books.unknown).toBe(1);
}, 60_000);

test('worker killed mid-send leaves no message lost or duplicated', async () => {
  const local = await startStack({
    POSTROOM_SMTP_SOCKET_TIMEOUT_MS: '2000',
    POSTROOM_LOCK_DURATION_MS: '4000',
    POSTROOM_STALLED_INTERVAL_MS: '1000',
    POSTROOM_CONCURRENCY: '4',
  });
  const doomed = await local.addWorker();
  local.emulator.addFault({
    stage: 'data-end',
    action: 'delay',
    delayMs: 400,
    mailbox: MAILBOX,
    count: 1000,
  });
  const ids = (await (client as MailClient).sendMany(messages(20))).map((result) => result.id);

  await waitUntil('some messages sent', () => local.emulator.messages(MAILBOX).length >= 3);
  await doomed.stop('SIGKILL');
  await local.addWorker();

  const books = await account(client as MailClient, ids, local.emulator, 60_000);
  expect(books.sent + books.failed + books.unknown).toBe(20);
  expect(books.withoutReason).toBe(0);
  expect(books.duplicates).toBe(0);
  expect(books.failed).toBe(0);
}, 90_000);

// A SIGKILL can cut off only the sends whose message data was on its way: at most one per
// connection, 3 for the mailbox. Jobs that held a claim while they waited in the worker for a
// connection never reached the server, and the next worker sends them.
test('killed worker holds only sends it began', async () => {
  redis = await RedisServer.start({ appendOnly: true });
  stack = await LocalStack.start({
    redisUrl: redis.url,
    timeUnitMs: 1000,
    mailboxes: [{ address: MAILBOX, messagesPerMinute: 1_000_000 }],
    workerEnv: {
      POSTROOM_CONCURRENCY: '8',
      POSTROOM_SMTP_SOCKET_TIMEOUT_MS: '3000',
      POSTROOM_LOCK_DURATION_MS: '6000',
      POSTROOM_STALLED_INTERVAL_MS: '1000',
    },
  });
  const local = stack;
  client = new MailClient({ connection: local.redisUrl, queueName: local.queueName });
  const doomed = await local.addWorker();
  // Each message keeps its connection for 1.5 s after its data, so 5 of the 8 jobs wait in
  // the worker for a connection, holding their claims, when the worker is killed.
  local.emulator.addFault({
    stage: 'data-end',
    action: 'delay',
    delayMs: 1500,
    mailbox: MAILBOX,
    count: 1000,
  });
  const ids = (await client.sendMany(messages(24))).map((result) => result.id);
  await waitUntil('a first round of sends', () => local.emulator.messages(MAILBOX).length >= 3);
  await delay(700);
  await doomed.stop('SIGKILL');
  await local.addWorker();

  const books = await account(client, ids, local.emulator, 90_000);
  const delivered = new Set(local.emulator.messages(MAILBOX).map((message) => message.messageId));
  const unknown = books.statuses.filter((status) => status.state === 'outcome_unknown');
  expect(books.duplicates).toBe(0);
  expect(books.failed).toBe(0);
  expect(books.sent + books.unknown).toBe(24);
  expect(unknown.length).toBeLessThanOrEqual(3);
  expect(unknown.filter((status) => !delivered.has(status.messageId))).toEqual([]);
}, 120_000);

test('SIGTERM drains in-flight sends and exits 0', async () => {
  const local = await startStack({
    POSTROOM_SHUTDOWN_TIMEOUT_MS: '5000',
    POSTROOM_CONCURRENCY: '3',
  });
  const worker = await local.addWorker();
  local.emulator.addFault({
    stage: 'data-end',
    action: 'delay',
    delayMs: 1000,
    mailbox: MAILBOX,
    count: 1000,
  });
  const ids = (await (client as MailClient).sendMany(messages(30))).map((result) => result.id);

  await waitUntil('sends in flight', async () => {
    const statuses = await Promise.all(ids.map((id) => client?.status(id)));
    return statuses.some((status) => status?.state === 'sending');
  });
  const stoppedAt = Date.now();
  expect(await worker.stop('SIGTERM')).toBe(0);
  expect(Date.now() - stoppedAt).toBeLessThan(5000);

  const statuses = await Promise.all(ids.map((id) => client?.status(id)));
  expect(statuses.filter((status) => status?.state === 'sending')).toHaveLength(0);
  const sentBeforeStop = statuses.filter((status) => status?.state === 'sent').length;
  expect(sentBeforeStop).toBeGreaterThanOrEqual(1);

  local.emulator.clearFaults();
  await local.addWorker();
  const books = await account(client as MailClient, ids, local.emulator, 60_000);
  expect(books.sent).toBe(30);
  expect(books.duplicates).toBe(0);
}, 90_000);

test('SIGTERM past the drain time cuts the send off and exits', async () => {
  const local = await startStack({ POSTROOM_SHUTDOWN_TIMEOUT_MS: '2000' });
  const worker = await local.addWorker();
  local.emulator.addFault({
    stage: 'data-end',
    action: 'delay',
    delayMs: 20_000,
    mailbox: MAILBOX,
  });
  const [result] = await (client as MailClient).sendMany(messages(1));
  const id = (result as { id: string }).id;

  await waitUntil('the send to start', async () => (await client?.status(id))?.state === 'sending');
  const stoppedAt = Date.now();
  expect(await worker.stop('SIGTERM')).toBe(0);
  expect(Date.now() - stoppedAt).toBeLessThan(8000);
}, 60_000);
