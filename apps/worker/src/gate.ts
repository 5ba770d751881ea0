import { randomUUID } from 'node:crypto';
import type { PostroomKeys, RedisConnection } from '@postroom/core';
import type { MailboxConfig } from './config.js';
import {
  ACCEPTED_SCRIPT,
  ACQUIRE_SCRIPT,
  BEGIN_AUTH_SCRIPT,
  LEASE_SCRIPT,
  REFUND_SCRIPT,
  RENEW_SCRIPT,
} from './gate-scripts.js';

export type GateDecision =
  | { allowed: true; grantedAtMs: number; promoteJobId?: string }
  | { allowed: false; retryAtMs: number; reason: string; promoteJobId?: string };

export interface GateRequest {
  jobId: string;
  /** Id of a new connection lease to take, or '' when reusing an open connection. */
  leaseId: string;
  /** To + Cc + Bcc of the message, counted against the rolling recipient limit. */
  recipients: number;
  priority: 'high' | 'normal' | 'low';
  enqueuedAtMs: number;
}

const PRIORITY_TIERS = { high: 0, normal: 1, low: 2 } as const;
// Larger than any enqueue time in ms, so the tier always decides before the enqueue time.
const TIER_SPAN = 1e13;
// The recipient window is counted in this many buckets (10 minutes each for 24 hours).
const RECIPIENT_BUCKETS = 144;
// How long one successful AUTH lets connections of a mailbox authenticate without a probe.
const AUTH_VERIFIED_TTL_MS = 10 * 60_000;

/** Mailbox health states shared by every replica. */
export type MailboxState =
  | 'healthy'
  | 'throttled'
  | 'quota_exhausted'
  | 'auth_failed'
  | 'blocked'
  | 'paused';

export interface GateOptions {
  /** Added to each rate window so that network jitter cannot let one message too many in. */
  rateGuardMs: number;
  /** Lifetime of a connection lease without renewal, in ms. */
  leaseTtlMs: number;
  /** Delay before a job that found every connection busy tries again, in ms. */
  connectionWaitMs: number;
}

interface GateCommands {
  postroomAcquire(...args: (string | number)[]): Promise<[number, number, string, number, string]>;
  postroomAccepted(...args: (string | number)[]): Promise<number>;
  postroomRefund(...args: (string | number)[]): Promise<number>;
  postroomBeginAuth(...args: (string | number)[]): Promise<string>;
  postroomLease(...args: (string | number)[]): Promise<number>;
  postroomRenew(...args: (string | number)[]): Promise<number>;
}

/**
 * The per-mailbox gate in Redis: message rate (GCRA slots), connection leases and health state,
 * decided in one atomic step so that every replica shares one schedule.
 */
export class MailboxGate {
  readonly #redis: RedisConnection & GateCommands;
  readonly #keys: PostroomKeys;
  readonly #options: GateOptions;

  constructor(redis: RedisConnection, keys: PostroomKeys, options: GateOptions) {
    redis.defineCommand('postroomAcquire', { numberOfKeys: 7, lua: ACQUIRE_SCRIPT });
    redis.defineCommand('postroomAccepted', { numberOfKeys: 2, lua: ACCEPTED_SCRIPT });
    redis.defineCommand('postroomRefund', { numberOfKeys: 2, lua: REFUND_SCRIPT });
    redis.defineCommand('postroomBeginAuth', { numberOfKeys: 3, lua: BEGIN_AUTH_SCRIPT });
    redis.defineCommand('postroomLease', { numberOfKeys: 1, lua: LEASE_SCRIPT });
    redis.defineCommand('postroomRenew', { numberOfKeys: 1, lua: RENEW_SCRIPT });
    this.#redis = redis as RedisConnection & GateCommands;
    this.#keys = keys;
    this.#options = options;
  }

  get leaseTtlMs(): number {
    return this.#options.leaseTtlMs;
  }

  /** Creates an id for a new connection lease. */
  newLeaseId(): string {
    return randomUUID();
  }

  /**
   * Asks to submit one job now. Pass `leaseId` to take a new connection lease as well, or ''
   * when the caller already holds an open connection for this mailbox. A returned
   * `promoteJobId` names a parked job that should be woken now.
   */
  async acquire(mailbox: MailboxConfig, request: GateRequest): Promise<GateDecision> {
    const keys = this.#keys.mailbox(mailbox.address);
    const limits = mailbox.limits;
    const interval = (limits.rateWindowMs + this.#options.rateGuardMs) / limits.messagesPerWindow;
    const args = {
      jobId: request.jobId,
      leaseId: request.leaseId,
      recipients: request.recipients,
      parkScore: PRIORITY_TIERS[request.priority] * TIER_SPAN + request.enqueuedAtMs,
      interval,
      // One slot ahead: with the slot in use, a new high-priority job waits at most two slots.
      horizon: interval,
      // A job that comes back late keeps its slot: the rate log still enforces the window, and
      // dropping the slot would leave it unused. Only a slot a whole window old is given up.
      lateTolerance: limits.rateWindowMs,
      window: limits.rateWindowMs,
      limit: limits.messagesPerWindow,
      recipientLimit: limits.recipientsPerDay,
      recipientWindow: limits.recipientWindowMs,
      bucket: limits.recipientWindowMs / RECIPIENT_BUCKETS,
      maxConnections: limits.maxConnections,
      leaseTtl: this.#options.leaseTtlMs,
      connectionWait: this.#options.connectionWaitMs,
    };
    const [allowed, retryAtMs, reason, redisNowMs, promote] = await this.#redis.postroomAcquire(
      keys.nextSlot,
      keys.leases,
      keys.health,
      keys.reservations,
      keys.rateLog,
      keys.parked,
      keys.recipients,
      JSON.stringify(args),
    );
    const promoteJobId = promote ? { promoteJobId: promote } : {};
    if (allowed === 1) return { allowed: true, grantedAtMs: Number(redisNowMs), ...promoteJobId };
    // Convert from Redis's clock to this process's clock, which BullMQ's delays use.
    const localRetryAtMs = Date.now() + (Number(retryAtMs) - Number(redisNowMs));
    return { allowed: false, retryAtMs: localRetryAtMs, reason, ...promoteJobId };
  }

  /**
   * Decides whether this process may authenticate a new connection. Until one AUTH of the
   * mailbox succeeds, only one connection at a time may try, so a configuration error such as
   * `535 5.7.139` is met once rather than once per connection (Exchange blocks mailboxes that
   * repeat errors). Returns `verified`, `probe` (go ahead, then report) or `busy` (wait).
   */
  async beginAuth(address: string, probeTtlMs: number): Promise<'verified' | 'probe' | 'busy'> {
    const keys = this.#keys.mailbox(address);
    const result = await this.#redis.postroomBeginAuth(
      keys.health,
      keys.authVerified,
      keys.authProbe,
      probeTtlMs,
    );
    return result as 'verified' | 'probe' | 'busy';
  }

  /** Ends an authentication probe; a success lets other connections authenticate freely. */
  async endAuth(address: string, succeeded: boolean): Promise<void> {
    const keys = this.#keys.mailbox(address);
    const pipeline = this.#redis.multi().del(keys.authProbe);
    if (succeeded) pipeline.set(keys.authVerified, '1', 'PX', AUTH_VERIFIED_TTL_MS);
    else pipeline.del(keys.authVerified);
    await pipeline.exec();
  }

  /** Parks a job that waits for a stopped mailbox, so that a resume wakes it. */
  async park(
    address: string,
    request: Pick<GateRequest, 'jobId' | 'priority' | 'enqueuedAtMs'>,
  ): Promise<void> {
    const score = PRIORITY_TIERS[request.priority] * TIER_SPAN + request.enqueuedAtMs;
    await this.#redis.zadd(this.#keys.mailbox(address).parked, score, request.jobId);
  }

  /** Removes and returns up to `count` parked jobs, best first, for a resumed mailbox. */
  async popParked(address: string, count: number): Promise<string[]> {
    const popped = await this.#redis.zpopmin(this.#keys.mailbox(address).parked, count);
    return popped.filter((_, index) => index % 2 === 0);
  }

  /** Gives back a grant whose message never reached the server, so it counts against no limit. */
  async refund(
    mailbox: MailboxConfig,
    jobId: string,
    recipients: number,
    grantedAtMs: number,
  ): Promise<void> {
    const keys = this.#keys.mailbox(mailbox.address);
    const bucketMs = mailbox.limits.recipientWindowMs / RECIPIENT_BUCKETS;
    await this.#redis.postroomRefund(
      keys.rateLog,
      keys.recipients,
      jobId,
      recipients,
      grantedAtMs,
      bucketMs,
    );
  }

  /**
   * Moves a job's send in the rate log, and its recipients in the day's buckets, from the time
   * the gate granted it (`grantedAtMs`, Redis clock) to the time the server accepted it.
   */
  async markAccepted(
    mailbox: MailboxConfig,
    jobId: string,
    recipients: number,
    grantedAtMs: number,
  ): Promise<void> {
    const keys = this.#keys.mailbox(mailbox.address);
    const bucketMs = mailbox.limits.recipientWindowMs / RECIPIENT_BUCKETS;
    await this.#redis.postroomAccepted(
      keys.rateLog,
      keys.recipients,
      jobId,
      recipients,
      grantedAtMs,
      bucketMs,
    );
  }

  /** Takes a connection lease without a send slot. */
  async takeLease(mailbox: MailboxConfig, leaseId: string): Promise<boolean> {
    const keys = this.#keys.mailbox(mailbox.address);
    const taken = await this.#redis.postroomLease(
      keys.leases,
      leaseId,
      this.#options.leaseTtlMs,
      mailbox.limits.maxConnections,
    );
    return taken === 1;
  }

  /** Extends a held lease; false means it had expired and the connection must close. */
  async renewLease(mailbox: MailboxConfig, leaseId: string): Promise<boolean> {
    const keys = this.#keys.mailbox(mailbox.address);
    return (await this.#redis.postroomRenew(keys.leases, leaseId, this.#options.leaseTtlMs)) === 1;
  }

  async releaseLease(mailbox: MailboxConfig, leaseId: string): Promise<void> {
    await this.#redis.zrem(this.#keys.mailbox(mailbox.address).leases, leaseId);
  }

  /** Sets the mailbox state for every replica; `untilMs` 0 keeps it until changed again. */
  async setHealth(
    address: string,
    state: MailboxState,
    untilMs: number,
    reason: string,
  ): Promise<void> {
    const key = this.#keys.mailbox(address).health;
    if (state === 'healthy') {
      await this.#redis.del(key);
      return;
    }
    await this.#redis.hset(key, { state, until: untilMs, reason, changedAt: Date.now() });
  }

  async getHealth(
    address: string,
  ): Promise<{ state: MailboxState; untilMs: number; reason: string }> {
    const health = await this.#redis.hgetall(this.#keys.mailbox(address).health);
    const untilMs = Number(health.until ?? 0);
    if (!health.state || (untilMs > 0 && untilMs <= Date.now())) {
      return { state: 'healthy', untilMs: 0, reason: '' };
    }
    return { state: health.state as MailboxState, untilMs, reason: health.reason ?? '' };
  }
}
