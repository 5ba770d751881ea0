import { randomUUID } from 'node:crypto';
import type { PostroomKeys, RedisConnection } from '@postroom/core';
import type { MailboxConfig } from './config.js';

type MailboxKeys = ReturnType<PostroomKeys['mailbox']>;

import {
  ACQUIRE_SCRIPT,
  BEGIN_AUTH_SCRIPT,
  BEGIN_SEND_SCRIPT,
  FINISH_SEND_SCRIPT,
  LEASE_SCRIPT,
  REFUND_SCRIPT,
  RENEW_SCRIPT,
  REPAIR_SCRIPT,
} from './gate-scripts.js';

/** A parked job to wake, and when its reserved slot comes (this process's clock). */
export interface Promotion {
  jobId: string;
  atMs: number;
}

export type GateDecision =
  | { allowed: true; grantedAtMs: number; promote?: Promotion }
  | { allowed: false; retryAtMs: number; reason: string; promote?: Promotion };

/** The submission record that a send's first step found for its message. */
export type ExistingSubmission =
  | { kind: 'sent'; reply: string }
  | { kind: 'unknown' }
  | { kind: 'busy'; untilMs: number }
  | { kind: 'abandoned'; untilMs: number };

export type BeginDecision = GateDecision | { allowed: false; existing: ExistingSubmission };

/** The submission claim and status record that `beginSend` writes when the gate lets a job in. */
export interface SendClaim {
  messageId: string;
  /** Identifies this attempt; only the owner may renew the claim. */
  owner: string;
  /** How long the claim lasts without renewal, in ms. */
  claimMs: number;
  /**
   * 'claimed' when the sender calls SubmissionGuard.markStarted before the message data, so that
   * a send that never began can be taken over; 'inflight' when the send may begin at any time.
   */
  state: 'claimed' | 'inflight';
  submissionTtlMs: number;
  statusTtlMs: number;
}

/** The outcome of an accepted send, as `finishSend` records it. */
export interface AcceptedSend {
  jobId: string;
  /** The attempt's id in the rate log, as given to the gate; the job id when absent. */
  sendId?: string;
  messageId: string;
  recipients: number;
  /** The gate's grant time (Redis clock), or undefined when the send held no grant. */
  grantedAtMs: number | undefined;
  reply: string;
  rejectedRecipients: string[];
  submissionTtlMs: number;
  statusTtlMs: number;
}

export interface GateRequest {
  jobId: string;
  /** Identifies this attempt in the rate log (the claim owner); the job id when absent. */
  sendId?: string;
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
// The latest a parked job wakes by itself. Promotions wake it, and a broken chain of promotions
// is restarted by repairPromotions, so this only matters when no worker runs at all.
const PARK_FALLBACK_MS = 15 * 60_000;
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
  postroomAcquire(...args: (string | number)[]): Promise<(number | string)[]>;
  postroomBeginSend(
    ...args: (string | number)[]
  ): Promise<[number, string, string, number, string]>;
  postroomFinishSend(...args: (string | number)[]): Promise<number>;
  postroomRefund(...args: (string | number)[]): Promise<number>;
  postroomRepair(...args: (string | number)[]): Promise<(string | number)[]>;
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
  readonly #mailboxKeyCache = new Map<string, MailboxKeys>();
  // The gate arguments that depend only on the mailbox, as JSON members, built once per mailbox.
  readonly #fixedArgs = new WeakMap<MailboxConfig, string>();

  constructor(redis: RedisConnection, keys: PostroomKeys, options: GateOptions) {
    redis.defineCommand('postroomAcquire', { numberOfKeys: 7, lua: ACQUIRE_SCRIPT });
    redis.defineCommand('postroomBeginSend', { numberOfKeys: 9, lua: BEGIN_SEND_SCRIPT });
    redis.defineCommand('postroomFinishSend', { numberOfKeys: 4, lua: FINISH_SEND_SCRIPT });
    redis.defineCommand('postroomRefund', { numberOfKeys: 2, lua: REFUND_SCRIPT });
    // The number of keys depends on the mailboxes and comes first in each call.
    redis.defineCommand('postroomRepair', { lua: REPAIR_SCRIPT });
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

  get connectionWaitMs(): number {
    return this.#options.connectionWaitMs;
  }

  /** Creates an id for a new connection lease. */
  newLeaseId(): string {
    return randomUUID();
  }

  /**
   * Asks to submit one job now. Pass `leaseId` to take a new connection lease as well, or ''
   * when the caller already holds an open connection for this mailbox. A returned
   * `promote` names a parked job to wake, with the time of the slot reserved for it.
   */
  async acquire(mailbox: MailboxConfig, request: GateRequest): Promise<GateDecision> {
    const keys = this.#mailboxKeys(mailbox.address);
    const reply = await this.#redis.postroomAcquire(
      ...this.#gateKeys(keys),
      this.#gateArgs(mailbox, request),
    );
    return this.#decision(reply);
  }

  /**
   * Runs the first step of a send in one round trip. When the message has no submission record
   * yet, the gate decides as in `acquire`. If it allows the send, this claims the submission and
   * sets the status to `sending`. A message with a record gets `existing` and no slot.
   */
  async beginSend(
    mailbox: MailboxConfig,
    request: GateRequest,
    claim: SendClaim,
  ): Promise<BeginDecision> {
    const keys = this.#mailboxKeys(mailbox.address);
    const now = Date.now();
    const args = this.#gateArgs(mailbox, request, {
      clientNow: now,
      owner: claim.owner,
      claimUntil: now + claim.claimMs,
      claimState: claim.state,
      submissionTtl: claim.submissionTtlMs,
      statusTtl: claim.statusTtlMs,
      messageId: claim.messageId,
    });
    const reply = await this.#redis.postroomBeginSend(
      ...this.#gateKeys(keys),
      this.#keys.submission(claim.messageId),
      this.#keys.status(request.jobId),
      args,
    );
    if (Number(reply[0]) !== 2) return this.#decision(reply);
    const kind = String(reply[1]);
    const detail = String(reply[2]);
    if (kind === 'sent') return { allowed: false, existing: { kind, reply: detail } };
    if (kind === 'busy' || kind === 'abandoned')
      return { allowed: false, existing: { kind, untilMs: Number(detail) } };
    return { allowed: false, existing: { kind: 'unknown' } };
  }

  /**
   * Records an accepted send in one round trip: sets the submission record and the status to
   * `sent`, and moves the send, and its recipients, from the grant time to the acceptance time.
   */
  async finishSend(mailbox: MailboxConfig, sent: AcceptedSend): Promise<void> {
    const keys = this.#mailboxKeys(mailbox.address);
    const args = {
      jobId: sent.jobId,
      ...(sent.sendId ? { sendId: sent.sendId } : {}),
      recipients: sent.recipients,
      grantedAt: sent.grantedAtMs ?? -1,
      bucket: mailbox.limits.recipientWindowMs / RECIPIENT_BUCKETS,
      reply: sent.reply,
      sentAt: new Date().toISOString(),
      rejected: sent.rejectedRecipients.length > 0 ? JSON.stringify(sent.rejectedRecipients) : '',
      submissionTtl: sent.submissionTtlMs,
      statusTtl: sent.statusTtlMs,
    };
    await this.#redis.postroomFinishSend(
      keys.rateLog,
      keys.recipients,
      this.#keys.submission(sent.messageId),
      this.#keys.status(sent.jobId),
      JSON.stringify(args),
    );
  }

  #mailboxKeys(address: string): MailboxKeys {
    let keys = this.#mailboxKeyCache.get(address);
    if (!keys) {
      keys = this.#keys.mailbox(address);
      this.#mailboxKeyCache.set(address, keys);
    }
    return keys;
  }

  #gateKeys(keys: MailboxKeys): string[] {
    return [
      keys.nextSlot,
      keys.leases,
      keys.health,
      keys.reservations,
      keys.rateLog,
      keys.parked,
      keys.recipients,
    ];
  }

  // The JSON argument of the gate scripts: the request's fields and `extra`, then the fields
  // that depend only on the mailbox.
  #gateArgs(mailbox: MailboxConfig, request: GateRequest, extra: object = {}): string {
    let fixed = this.#fixedArgs.get(mailbox);
    if (fixed === undefined) {
      fixed = JSON.stringify(this.#mailboxArgs(mailbox)).slice(1, -1);
      this.#fixedArgs.set(mailbox, fixed);
    }
    const varying = JSON.stringify({
      jobId: request.jobId,
      ...(request.sendId ? { sendId: request.sendId } : {}),
      leaseId: request.leaseId,
      recipients: request.recipients,
      parkScore: PRIORITY_TIERS[request.priority] * TIER_SPAN + request.enqueuedAtMs,
      ...extra,
    });
    return `${varying.slice(0, -1)},${fixed}}`;
  }

  #mailboxArgs(mailbox: MailboxConfig) {
    const limits = mailbox.limits;
    const interval = this.#interval(mailbox);
    return {
      mailbox: mailbox.address,
      leaseChannel: this.#keys.leaseWanted,
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
      parkFallback: PARK_FALLBACK_MS,
    };
  }

  // Time between send slots: the rate window, widened by the guard, over the messages it allows.
  #interval(mailbox: MailboxConfig): number {
    const { rateWindowMs, messagesPerWindow } = mailbox.limits;
    return (rateWindowMs + this.#options.rateGuardMs) / messagesPerWindow;
  }

  #decision(reply: (number | string)[]): GateDecision {
    const [allowed, retryAtMs, reason, redisNowMs, promoteJobId, promoteSlotMs] = reply;
    // Converts from Redis's clock to this process's clock, which BullMQ's delays use.
    const offsetMs = Date.now() - Number(redisNowMs);
    const promote = promoteJobId
      ? { promote: { jobId: String(promoteJobId), atMs: Number(promoteSlotMs) + offsetMs } }
      : {};
    if (Number(allowed) === 1)
      return { allowed: true, grantedAtMs: Number(redisNowMs), ...promote };
    return {
      allowed: false,
      retryAtMs: Number(retryAtMs) + offsetMs,
      reason: String(reason),
      ...promote,
    };
  }

  /**
   * Decides whether this process may authenticate a new connection. Until one AUTH of the
   * mailbox succeeds, only one connection at a time may try, so a configuration error such as
   * `535 5.7.139` is met once rather than once per connection (Exchange blocks mailboxes that
   * repeat errors). Returns `verified`, `probe` (go ahead, then report) or `busy` (wait).
   */
  async beginAuth(address: string, probeTtlMs: number): Promise<'verified' | 'probe' | 'busy'> {
    const keys = this.#mailboxKeys(address);
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
    const keys = this.#mailboxKeys(address);
    const pipeline = this.#redis.multi().del(keys.authProbe);
    if (succeeded) pipeline.set(keys.authVerified, '1', 'PX', AUTH_VERIFIED_TTL_MS);
    else pipeline.del(keys.authVerified);
    await pipeline.exec();
  }

  /**
   * Wakes the best parked job of each mailbox whose chain of promotions broke (see
   * REPAIR_SCRIPT). Returns the jobs to wake, with their reserved slots on this process's clock.
   */
  async repairPromotions(mailboxes: MailboxConfig[]): Promise<Promotion[]> {
    if (mailboxes.length === 0) return [];
    const keys = mailboxes.flatMap((mailbox) => {
      const mailboxKeys = this.#mailboxKeys(mailbox.address);
      return [
        mailboxKeys.nextSlot,
        mailboxKeys.health,
        mailboxKeys.reservations,
        mailboxKeys.parked,
      ];
    });
    const args = mailboxes.map((mailbox) => ({
      interval: this.#interval(mailbox),
      window: mailbox.limits.rateWindowMs,
    }));
    const reply = await this.#redis.postroomRepair(keys.length, ...keys, JSON.stringify(args));
    const offsetMs = Date.now() - Number(reply.at(-1));
    const woken: Promotion[] = [];
    for (let index = 0; index + 1 < reply.length; index += 2) {
      woken.push({ jobId: String(reply[index]), atMs: Number(reply[index + 1]) + offsetMs });
    }
    return woken;
  }

  /** Parks a job that waits for a stopped mailbox, so that a resume wakes it. */
  async park(
    address: string,
    request: Pick<GateRequest, 'jobId' | 'priority' | 'enqueuedAtMs'>,
  ): Promise<void> {
    const score = PRIORITY_TIERS[request.priority] * TIER_SPAN + request.enqueuedAtMs;
    await this.#redis.zadd(this.#mailboxKeys(address).parked, score, request.jobId);
  }

  /** Gives back a grant whose message never reached the server, so it counts against no limit. */
  async refund(
    mailbox: MailboxConfig,
    sendId: string,
    recipients: number,
    grantedAtMs: number,
  ): Promise<void> {
    const keys = this.#mailboxKeys(mailbox.address);
    const bucketMs = mailbox.limits.recipientWindowMs / RECIPIENT_BUCKETS;
    await this.#redis.postroomRefund(
      keys.rateLog,
      keys.recipients,
      sendId,
      recipients,
      grantedAtMs,
      bucketMs,
    );
  }

  /** Takes a connection lease without a send slot. */
  async takeLease(mailbox: MailboxConfig, leaseId: string): Promise<boolean> {
    const keys = this.#mailboxKeys(mailbox.address);
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
    const keys = this.#mailboxKeys(mailbox.address);
    return (await this.#redis.postroomRenew(keys.leases, leaseId, this.#options.leaseTtlMs)) === 1;
  }

  async releaseLease(mailbox: MailboxConfig, leaseId: string): Promise<void> {
    await this.#redis.zrem(this.#mailboxKeys(mailbox.address).leases, leaseId);
  }

  /** Sets the mailbox state for every replica; `untilMs` 0 keeps it until changed again. */
  async setHealth(
    address: string,
    state: MailboxState,
    untilMs: number,
    reason: string,
  ): Promise<void> {
    const key = this.#mailboxKeys(address).health;
    if (state === 'healthy') {
      await this.#redis.del(key);
      return;
    }
    await this.#redis.hset(key, { state, until: untilMs, reason, changedAt: Date.now() });
  }

  async getHealth(
    address: string,
  ): Promise<{ state: MailboxState; untilMs: number; reason: string }> {
    const health = await this.#redis.hgetall(this.#mailboxKeys(address).health);
    const untilMs = Number(health.until ?? 0);
    if (!health.state || (untilMs > 0 && untilMs <= Date.now())) {
      return { state: 'healthy', untilMs: 0, reason: '' };
    }
    return { state: health.state as MailboxState, untilMs, reason: health.reason ?? '' };
  }
}
