import { connectRedis, EXCHANGE_ONLINE_LIMITS, postroomKeys } from '@postroom/core';
import { afterAll, beforeEach, expect, inject, test } from 'vitest';
import type { MailboxConfig } from './config.js';
import { type GateRequest, MailboxGate, type SendClaim } from './gate.js';
import { ClaimTakenOver, SubmissionGuard } from './guard.js';

// Provided by the test harness's global set-up, which starts the Redis server.
declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

const redis = connectRedis(inject('redisUrl'));
let keys = postroomKeys('gate-test');
let gate: MailboxGate;
// One message a second: slots are 1 s apart, so each test can tell which job has which slot.
const mailbox = {
  address: 'gate@contoso.example',
  limits: { ...EXCHANGE_ONLINE_LIMITS, messagesPerWindow: 60, rateWindowMs: 60_000 },
} as MailboxConfig;
let queueIndex = 0;

beforeEach(() => {
  queueIndex += 1;
  keys = postroomKeys(`gate-test-${process.pid}-${queueIndex}`);
  gate = new MailboxGate(redis, keys, {
    rateGuardMs: 0,
    leaseTtlMs: 30_000,
    connectionWaitMs: 250,
  });
});

afterAll(() => redis.disconnect());

function request(jobId: string, priority: GateRequest['priority'] = 'normal'): GateRequest {
  return { jobId, leaseId: '', recipients: 1, priority, enqueuedAtMs: 1000 };
}

function claim(messageId: string): SendClaim {
  return {
    messageId,
    owner: `test/${messageId}`,
    claimMs: 30_000,
    state: 'inflight',
    submissionTtlMs: 60_000,
    statusTtlMs: 60_000,
  };
}

test('woken job keeps its reserved slot', async () => {
  const first = await gate.acquire(mailbox, request('a'));
  const second = await gate.acquire(mailbox, request('b'));
  const parked = await gate.acquire(mailbox, request('c'));
  expect(first.allowed).toBe(true);
  expect(second).toMatchObject({ allowed: false, reason: 'rate_limit' });
  expect(parked).toMatchObject({ allowed: false, reason: 'parked' });

  // b's slot comes (moved here to now, with the next slot 1 s on); its grant wakes c with that
  // next slot.
  await redis.hset(keys.mailbox(mailbox.address).reservations, 'b', Date.now() - 1);
  await redis.set(keys.mailbox(mailbox.address).nextSlot, Date.now() + 1000);
  const granted = await gate.acquire(mailbox, request('b'));
  expect(granted.allowed).toBe(true);
  expect(granted.promote?.jobId).toBe('c');
  expect(await redis.zcard(keys.mailbox(mailbox.address).parked)).toBe(0);

  // A job that comes in first does not take c's slot; c keeps it and is not parked again.
  const newer = await gate.acquire(mailbox, request('d'));
  expect(newer).toMatchObject({ allowed: false, reason: 'parked' });
  const woken = await gate.acquire(mailbox, request('c'));
  expect(woken).toMatchObject({ allowed: false, reason: 'rate_limit' });
  if (!woken.allowed) expect(woken.retryAtMs).toBeCloseTo(granted.promote?.atMs ?? 0, -2);
});

test('repair wakes only broken chains', async () => {
  const mailboxKeys = keys.mailbox(mailbox.address);
  await redis.zadd(mailboxKeys.parked, 2, 'normal-job', 1, 'high-job');

  expect(await gate.repairPromotions([mailbox])).toMatchObject([{ jobId: 'high-job' }]);
  // The woken job's reservation shows the chain is alive again.
  expect(await gate.repairPromotions([mailbox])).toEqual([]);
  expect(await redis.zrange(mailboxKeys.parked, 0, -1)).toEqual(['normal-job']);

  // A reservation from long ago is woken again and no longer counts, but a paused mailbox
  // wakes no parked job.
  await redis.hset(mailboxKeys.reservations, 'high-job', Date.now() - 120_000);
  await redis.del(mailboxKeys.nextSlot);
  await gate.setHealth(mailbox.address, 'paused', 0, 'test');
  expect(await gate.repairPromotions([mailbox])).toMatchObject([{ jobId: 'high-job' }]);
  await gate.setHealth(mailbox.address, 'healthy', 0, '');
  expect(await gate.repairPromotions([mailbox])).toMatchObject([{ jobId: 'normal-job' }]);
});

test('repair wakes a job woken but lost', async () => {
  const mailboxKeys = keys.mailbox(mailbox.address);
  // A worker reserved a slot for this job and died before waking it; no job is parked.
  await redis.hset(mailboxKeys.reservations, 'lost-job', Date.now() - 120_000);
  await redis.set(mailboxKeys.nextSlot, Date.now() + 500);

  expect(await gate.repairPromotions([mailbox])).toMatchObject([{ jobId: 'lost-job' }]);
  expect(await redis.hexists(mailboxKeys.reservations, 'lost-job')).toBe(0);
});

test('beginSend and finishSend keep the records', async () => {
  await redis.hset(keys.submission('<sent@x>'), { state: 'sent', reply: '250 2.0.0 OK' });
  const existing = await gate.beginSend(mailbox, request('job-1'), claim('<sent@x>'));
  expect(existing).toEqual({
    allowed: false,
    existing: { kind: 'sent', reply: '250 2.0.0 OK' },
  });
  expect(await redis.exists(keys.mailbox(mailbox.address).nextSlot)).toBe(0);

  const begun = await gate.beginSend(mailbox, request('job-2'), claim('<new@x>'));
  expect(begun.allowed).toBe(true);
  expect(await redis.hget(keys.submission('<new@x>'), 'state')).toBe('inflight');
  expect(await redis.hgetall(keys.status('job-2'))).toMatchObject({
    state: 'sending',
    messageId: '<new@x>',
    mailbox: mailbox.address,
  });

  await gate.finishSend(mailbox, {
    jobId: 'job-2',
    messageId: '<new@x>',
    recipients: 1,
    grantedAtMs: begun.allowed ? begun.grantedAtMs : undefined,
    reply: '250 2.0.0 queued',
    rejectedRecipients: [],
    submissionTtlMs: 60_000,
    statusTtlMs: 60_000,
  });
  expect(await redis.hget(keys.submission('<new@x>'), 'state')).toBe('sent');
  expect(await redis.hgetall(keys.status('job-2'))).toMatchObject({
    state: 'sent',
    reply: '250 2.0.0 queued',
  });
  expect(await redis.zscore(keys.mailbox(mailbox.address).rateLog, 'job-2')).not.toBeNull();
});

test('parked job of equal age goes first', async () => {
  const mailboxKeys = keys.mailbox(mailbox.address);
  await gate.acquire(mailbox, request('a'));
  await gate.acquire(mailbox, request('b'));
  expect(await gate.acquire(mailbox, request('x'))).toMatchObject({ reason: 'parked' });

  // The slots are free again, and x has not been woken. y, as old as x, must not pass it.
  await redis.del(mailboxKeys.nextSlot, mailboxKeys.reservations);
  expect(await gate.acquire(mailbox, request('y'))).toMatchObject({ reason: 'parked' });
  const granted = await gate.acquire(mailbox, request('x'));
  expect(granted.allowed).toBe(true);
  expect(granted.promote?.jobId).toBe('y');
});

test('sub-millisecond interval does not park', async () => {
  // 100,000 messages a second: a send every 10 microseconds. With a clock in whole milliseconds
  // every third send within one millisecond found its slot in the future and was parked.
  const fast = {
    address: 'fast@contoso.example',
    limits: { ...EXCHANGE_ONLINE_LIMITS, messagesPerWindow: 6_000_000, rateWindowMs: 60_000 },
  } as MailboxConfig;
  const decisions = await Promise.all(
    Array.from({ length: 20 }, (_, index) => gate.acquire(fast, request(`job-${index}`))),
  );
  expect(decisions.filter((decision) => !decision.allowed && decision.reason === 'parked')).toEqual(
    [],
  );
  expect(decisions.filter((decision) => decision.allowed).length).toBeGreaterThanOrEqual(18);
});

test('expired claim of an unbegun send is taken over', async () => {
  const claimed = { ...claim('<old@x>'), state: 'claimed' as const };
  await redis.hset(keys.submission('<old@x>'), {
    state: 'claimed',
    owner: 'dead/1',
    until: Date.now() - 1,
  });
  const begun = await gate.beginSend(mailbox, request('job-3'), claimed);
  expect(begun.allowed).toBe(true);
  expect(await redis.hgetall(keys.submission('<old@x>'))).toMatchObject({
    state: 'claimed',
    owner: 'test/<old@x>',
  });

  // A live claim is another run's send in progress.
  await redis.hset(keys.submission('<live@x>'), {
    state: 'claimed',
    owner: 'live/1',
    until: Date.now() + 10_000,
  });
  const busy = await gate.beginSend(mailbox, request('job-4'), claim('<live@x>'));
  expect(busy).toMatchObject({ allowed: false, existing: { kind: 'busy' } });
});

test('markStarted refuses a claim taken over', async () => {
  const guard = new SubmissionGuard(redis, keys);
  await redis.hset(keys.submission('<m@x>'), {
    state: 'claimed',
    owner: 'run-1',
    until: Date.now() + 10_000,
  });
  await guard.markStarted('<m@x>', 'run-1');
  expect(await redis.hget(keys.submission('<m@x>'), 'state')).toBe('inflight');
  await expect(guard.markStarted('<m@x>', 'run-2')).rejects.toBeInstanceOf(ClaimTakenOver);

  // A stale attempt's release leaves the claim of the attempt that holds it.
  await guard.release('<m@x>', 'run-2');
  expect(await redis.hget(keys.submission('<m@x>'), 'owner')).toBe('run-1');
  await guard.release('<m@x>', 'run-1');
  expect(await redis.exists(keys.submission('<m@x>'))).toBe(0);
});

test('refund removes only its own attempt', async () => {
  const fast = {
    address: 'refund@contoso.example',
    limits: { ...EXCHANGE_ONLINE_LIMITS, messagesPerWindow: 6_000_000, rateWindowMs: 60_000 },
  } as MailboxConfig;
  // Two attempts of one job: a stale one and the one that took the job over.
  const stale = await gate.acquire(fast, { ...request('job-r'), sendId: 'run-stale' });
  const current = await gate.acquire(fast, { ...request('job-r'), sendId: 'run-current' });
  expect(stale.allowed).toBe(true);
  expect(current.allowed).toBe(true);

  await gate.refund(fast, 'run-stale', 1, stale.allowed ? stale.grantedAtMs : 0);
  const rateLog = keys.mailbox(fast.address).rateLog;
  expect(await redis.zscore(rateLog, 'run-stale')).toBeNull();
  expect(await redis.zscore(rateLog, 'run-current')).not.toBeNull();
});
