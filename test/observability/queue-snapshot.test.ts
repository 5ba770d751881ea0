import { randomUUID } from 'node:crypto';
import { EXCHANGE_ONLINE_LIMITS, KEY_PREFIX, postroomKeys } from '@postroom/core';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import type { MailboxConfig } from '../../apps/worker/src/config.js';
import { createMetrics } from '../../apps/worker/src/metrics.js';
import { QueueSnapshotReader } from '../../apps/worker/src/queue-snapshot.js';

const WINDOW_MS = 60_000;
const mailbox = (address: string): MailboxConfig => ({
  address,
  app: 'contoso',
  sendAs: [],
  limits: {
    ...EXCHANGE_ONLINE_LIMITS,
    rateWindowMs: WINDOW_MS,
    messagesPerWindow: 30,
    maxConnections: 3,
  },
});
const THROTTLED = 'throttled@contoso.example';
const EXPIRED = 'expired@contoso.example';
const PAUSED = 'paused@contoso.example';
const MAILBOXES = [mailbox(THROTTLED), mailbox(EXPIRED), mailbox(PAUSED)];

let redis: Redis;
let queue: Queue;
let reader: QueueSnapshotReader;
let queueName: string;

// The job payload as the SDK stores it: the message first, enqueuedAtMs near the end.
const payload = (enqueuedAtMs: number, text = 'hello') => ({
  version: 1,
  message: { from: { address: THROTTLED }, subject: 'snapshot test', text },
  messageId: `<${randomUUID()}@contoso.example>`,
  enqueuedAtMs,
  payloadHash: 'f'.repeat(64),
});

beforeAll(async () => {
  redis = new Redis(inject('redisUrl'), { maxRetriesPerRequest: null });
  queueName = `snapshot-${randomUUID().slice(0, 8)}`;
  queue = new Queue(queueName, { connection: redis, prefix: KEY_PREFIX });
  reader = new QueueSnapshotReader(redis, queue, postroomKeys(queueName), MAILBOXES);
});

afterAll(async () => {
  await queue?.obliterate({ force: true });
  await queue?.close();
  redis?.disconnect();
});

test('empty queue reports no waiting age', async () => {
  const snapshot = await reader.read();

  expect(snapshot.oldestWaitingAgeSeconds).toBe(0);
  expect(snapshot.jobCounts.failed).toBe(0);
});

test('oldest waiting age comes from enqueuedAtMs of due jobs', async () => {
  const now = Date.now();
  await queue.add('send', payload(now - 10_000), { priority: 5 });
  await queue.add('send', payload(now - 20_000));
  // A large body before enqueuedAtMs, so the script must find it in the last 1 KB.
  await queue.add('send', payload(now - 95_000, 'x'.repeat(200_000)), {
    priority: 1,
    timestamp: now - 95_000,
  });
  // A job whose payload lists enqueuedAtMs first: the script falls back to a full search.
  const reordered = { enqueuedAtMs: now - 90_000, padding: 'y'.repeat(5000) };
  await queue.add('send', reordered, { priority: 10, timestamp: now - 90_000 });
  // Scheduled for later: not due, so not waiting, however old its enqueue time.
  await queue.add('send', payload(now - 500_000), { delay: 3_600_000, timestamp: now - 500_000 });

  const snapshot = await reader.read();

  expect(snapshot.oldestWaitingAgeSeconds).toBeGreaterThanOrEqual(95);
  expect(snapshot.oldestWaitingAgeSeconds).toBeLessThan(100);
  expect(snapshot.jobCounts.prioritized).toBe(3);
  expect(snapshot.jobCounts.waiting).toBe(1);
  expect(snapshot.jobCounts.delayed).toBe(1);
});

test('scheduled job counts from its notBefore once due', async () => {
  const now = Date.now();
  // Enqueued 10 min ago for 5 min later: due for 5 min, so waiting 300 s.
  await queue.add('send', payload(now - 600_000), { delay: 300_000, timestamp: now - 600_000 });

  const snapshot = await reader.read();

  expect(snapshot.oldestWaitingAgeSeconds).toBeGreaterThanOrEqual(300);
  expect(snapshot.oldestWaitingAgeSeconds).toBeLessThan(305);
});

test('mailbox usage reads state, rate log and leases', async () => {
  const keys = postroomKeys(queueName);
  const now = Date.now();
  const throttled = keys.mailbox(THROTTLED);
  await redis.hset(throttled.health, { state: 'throttled', until: now + 60_000, reason: 'test' });
  await redis.hset(keys.mailbox(EXPIRED).health, {
    state: 'blocked',
    until: now - 1000,
    reason: 'test',
  });
  await redis.hset(keys.mailbox(PAUSED).health, { state: 'paused', until: 0, reason: 'test' });
  await redis.zadd(
    throttled.rateLog,
    now - 100,
    'a',
    now - 500,
    'b',
    now - WINDOW_MS - 5000,
    'old',
  );
  await redis.zadd(throttled.leases, now + 10_000, 'live', now - 5000, 'expired');

  const { mailboxes } = await reader.read();

  expect(mailboxes.map((m) => m.state)).toEqual(['throttled', 'healthy', 'paused']);
  expect(mailboxes[0]?.sendsInWindow).toBe(2);
  expect(mailboxes[0]?.connections).toBe(1);
  expect(mailboxes[0]?.rateLimit).toBe(30);
  expect(mailboxes[0]?.connectionLimit).toBe(3);
  expect(mailboxes[1]?.sendsInWindow).toBe(0);
});

test('gauges export the snapshot and drop series without one', async () => {
  const metrics = createMetrics();
  metrics.sources.queueSnapshot = () => reader.read();

  const text = await metrics.registry.metrics();

  expect(text).toContain(
    'postroom_mailbox_state{mailbox="throttled@contoso.example",state="throttled"} 1',
  );
  expect(text).toContain(
    'postroom_mailbox_state{mailbox="throttled@contoso.example",state="healthy"} 0',
  );
  expect(text).toContain(
    'postroom_mailbox_state{mailbox="expired@contoso.example",state="healthy"} 1',
  );
  expect(text).toContain('postroom_mailbox_sends_in_window{mailbox="throttled@contoso.example"} 2');
  expect(text).toContain('postroom_mailbox_connection_limit{mailbox="paused@contoso.example"} 3');
  expect(text).toMatch(/^postroom_oldest_waiting_message_age_seconds\{queue="snapshot-\w+"\} \d/m);
  expect(text).toContain(`postroom_dead_letters{queue="${queueName}"} 0`);
  expect(text).toContain(`postroom_queue_jobs{queue="${queueName}",state="prioritized"} 3`);

  metrics.sources.queueSnapshot = async () => undefined;
  const withoutRedis = await metrics.registry.metrics();

  expect(withoutRedis).not.toMatch(/^postroom_mailbox_state\{/m);
  expect(withoutRedis).not.toMatch(/^postroom_dead_letters\{/m);
  expect(withoutRedis).not.toMatch(/^postroom_oldest_waiting_message_age_seconds\{/m);
  expect(withoutRedis).not.toMatch(/^postroom_queue_jobs\{/m);
});
