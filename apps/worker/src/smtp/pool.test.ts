import { readFileSync } from 'node:fs';
import { connectRedis, EXCHANGE_ONLINE_LIMITS, postroomKeys } from '@postroom/core';
import type { Emulator } from '@postroom/m365-emulator';
import { fetchAccessToken, MAILBOX, startTestEmulator } from '@postroom/m365-emulator/test-support';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, expect, inject, test } from 'vitest';
import type { MailboxConfig } from '../config.js';
import { MailboxGate } from '../gate.js';
import { createMetrics } from '../metrics.js';
import { type PooledSession, SessionPool } from './pool.js';
import { SmtpSession } from './session.js';

// Provided by the test harness's global set-up, which starts the Redis server.
declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

const keys = postroomKeys(`pool-test-${process.pid}`);
const redis = connectRedis(inject('redisUrl'));
const gate = new MailboxGate(redis, keys, {
  rateGuardMs: 0,
  leaseTtlMs: 30_000,
  connectionWaitMs: 250,
});
const mailbox = {
  address: MAILBOX,
  limits: { ...EXCHANGE_ONLINE_LIMITS },
} as MailboxConfig;

let emulator: Emulator;
let token: string;
const pools: SessionPool[] = [];

beforeAll(async () => {
  emulator = await startTestEmulator();
  token = await fetchAccessToken(emulator);
});

afterEach(async () => {
  await Promise.all(pools.map((pool) => pool.close()));
  pools.length = 0;
  await redis.del(keys.mailbox(MAILBOX).leases);
});

afterAll(async () => {
  await emulator.close();
  redis.disconnect();
});

function newPool(options: { idleMs?: number; maxIdle?: number } = {}): SessionPool {
  const pool = new SessionPool(
    gate,
    { idleMs: options.idleMs ?? 60_000, maxIdle: options.maxIdle ?? 100 },
    pino({ level: 'silent' }),
    createMetrics(),
  );
  pools.push(pool);
  return pool;
}

// Opens a real connection to the emulator under a real lease, as the processor does.
async function openConnection(pool: SessionPool): Promise<PooledSession> {
  const leaseId = gate.newLeaseId();
  expect(await gate.takeLease(mailbox, leaseId)).toBe(true);
  pool.leaseTaken(mailbox, leaseId);
  const session = new SmtpSession({
    host: '127.0.0.1',
    port: emulator.smtpPort,
    ca: readFileSync(emulator.caFile),
    connectionTimeoutMs: 2000,
    greetingTimeoutMs: 2000,
    socketTimeoutMs: 2000,
  });
  await session.open(MAILBOX, token);
  const pooled = { session, leaseId, mailbox, tokenExpiresAtMs: Date.now() + 3_600_000 };
  pool.add(pooled);
  return pooled;
}

async function leases(): Promise<string[]> {
  return redis.zrange(keys.mailbox(MAILBOX).leases, 0, -1);
}

test('release hands over, high priority first', async () => {
  const pool = newPool();
  const busy = await openConnection(pool);
  expect(pool.busyCount(mailbox)).toBe(1);
  expect(pool.heldCount(mailbox)).toBe(1);

  const normal = pool.waitForRelease(mailbox, 'normal', 5000);
  const high = pool.waitForRelease(mailbox, 'high', 5000);
  pool.release(busy);
  expect(await high).toBe(busy);

  pool.release(busy);
  expect(await normal).toBe(busy);
  expect(busy.session.closed).toBe(false);
  expect(pool.openCount(mailbox)).toBe(1);
});

test('wait ends by timeout or lease_freed', async () => {
  const pool = newPool();
  const busy = await openConnection(pool);
  expect(await pool.waitForRelease(mailbox, 'normal', 50)).toBe('timeout');

  const waiting = pool.waitForRelease(mailbox, 'normal', 5000);
  await pool.discard(busy);
  expect(await waiting).toBe('lease_freed');
  expect(await leases()).toEqual([]);
  expect(pool.openCount(mailbox)).toBe(0);
});

test('maxIdle closes the released connection', async () => {
  const pool = newPool({ maxIdle: 1 });
  const first = await openConnection(pool);
  const second = await openConnection(pool);
  pool.release(first);
  pool.release(second);

  expect(first.session.closed).toBe(false);
  expect(second.session.closed).toBe(true);
  await expect.poll(leases).toEqual([first.leaseId]);
  expect(pool.takeIdle(mailbox)).toBe(first);
});

test('yieldIdle skips a mailbox with waiters', async () => {
  const pool = newPool();
  const idle = await openConnection(pool);
  const busy = await openConnection(pool);
  pool.release(idle);

  const waiting = pool.waitForRelease(mailbox, 'normal', 5000);
  pool.yieldIdle(MAILBOX);
  expect(idle.session.closed).toBe(false);

  pool.release(busy);
  expect(await waiting).toBe(busy);
  pool.yieldIdle(MAILBOX);
  expect(idle.session.closed).toBe(true);
  await expect.poll(leases).toEqual([busy.leaseId]);
});

test('opening connection counts as busy', async () => {
  const pool = newPool();
  const opening = gate.newLeaseId();
  expect(await gate.takeLease(mailbox, opening)).toBe(true);
  pool.leaseTaken(mailbox, opening);
  expect(pool.openCount(mailbox)).toBe(0);
  expect(pool.heldCount(mailbox)).toBe(1);
  expect(pool.busyCount(mailbox)).toBe(1);

  // Its job gave up before the connection opened: a job waiting for it may take the lease.
  const waiting = pool.waitForRelease(mailbox, 'normal', 5000);
  await pool.returnLease(mailbox, opening);
  expect(await waiting).toBe('lease_freed');
  expect(pool.heldCount(mailbox)).toBe(0);
  expect(await leases()).toEqual([]);
});

test('lease of an opening connection is renewed', async () => {
  // A lease ttl of 1.5 s: the pool renews every second, and opening may take longer than a ttl.
  const shortGate = new MailboxGate(redis, keys, {
    rateGuardMs: 0,
    leaseTtlMs: 1500,
    connectionWaitMs: 250,
  });
  const pool = new SessionPool(
    shortGate,
    { idleMs: 60_000, maxIdle: 100 },
    pino({ level: 'silent' }),
    createMetrics(),
  );
  pools.push(pool);
  const opening = shortGate.newLeaseId();
  expect(await shortGate.takeLease(mailbox, opening)).toBe(true);
  pool.leaseTaken(mailbox, opening);

  await new Promise((resolve) => setTimeout(resolve, 2600));
  const expiry = Number(await redis.zscore(keys.mailbox(MAILBOX).leases, opening));
  expect(expiry).toBeGreaterThan(Date.now());
  await pool.returnLease(mailbox, opening);
});
