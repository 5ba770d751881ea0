import {
  type Classification,
  classifyFailure,
  deadlineMs,
  type JobPayload,
  parseEnhancedCode,
  recipientsOf,
} from '@postroom/core';
import type { Job } from 'bullmq';
import type { Logger } from 'pino';
import type { MailboxConfig, WorkerConfig } from './config.js';
import { type FailureContext, FailurePolicy } from './failure-policy.js';
import type { MailboxGate, SendClaim } from './gate.js';
import { GraphFailure } from './graph/classify.js';
import type { GraphSender } from './graph/sender.js';
import { ClaimTakenOver, type SubmissionGuard } from './guard.js';
import type { MailboxDirectory } from './mailboxes.js';
import { codeLabel, type Metrics } from './metrics.js';
import { type RenderedMessage, renderMessage } from './mime.js';
import type { JobPromoter } from './promoter.js';
import type { PooledSession, SessionPool } from './smtp/pool.js';
import { type SmtpEndpoint, SmtpFailure, SmtpSession } from './smtp/session.js';
import type { StatusStore } from './status-store.js';
import { TokenError } from './tokens/errors.js';
import type { TokenProvider } from './tokens/provider.js';

export interface SendResult {
  messageId: string;
  reply: string;
  rejectedRecipients: string[];
  duplicateRun: boolean;
}

export interface ProcessorDeps {
  config: WorkerConfig;
  directory: MailboxDirectory;
  gate: MailboxGate;
  pool: SessionPool;
  guard: SubmissionGuard;
  status: StatusStore;
  tokens: Map<string, TokenProvider>;
  endpoint: SmtpEndpoint;
  /** Submits for mailboxes with transport `graph`; required when any mailbox has it. */
  graph?: GraphSender;
  promoter: JobPromoter;
  metrics: Metrics;
  logger: Logger;
}

/**
 * Runs one send job: gate, duplicate guard, connection, submission, then the action its
 * classification calls for. Waits move the job to delayed and never spend an attempt.
 */
export class SendProcessor {
  readonly #deps: ProcessorDeps;
  readonly #failures: FailurePolicy;
  #shortWaiters = 0;

  constructor(deps: ProcessorDeps) {
    this.#deps = deps;
    this.#failures = new FailurePolicy(deps);
  }

  async process(job: Job<JobPayload>, token: string | undefined): Promise<SendResult> {
    const payload = job.data;
    const jobId = job.id as string;
    const mailbox = this.#deps.directory.resolve(payload.message.from.address);
    const context: FailureContext = {
      job,
      token,
      jobId,
      payload,
      mailbox: mailbox?.address ?? 'unknown',
    };

    if (!mailbox) {
      return this.#failures.fail(
        context,
        {
          class: 'configuration',
          action: 'fail',
          reason: 'sender_not_configured',
        },
        `from address ${payload.message.from.address} is not a configured mailbox or Send As address`,
      );
    }
    const deadline = deadlineMs(
      this.#deps.config.retry,
      payload.enqueuedAtMs,
      payload.message.expiresAt,
    );
    if (Date.now() >= deadline) {
      const waitReason = await this.#deps.status.lastWaitReason(jobId);
      return this.#failures.expire(
        context,
        `deadline passed before sending (last wait: ${waitReason ?? 'none'})`,
        expiryReason(waitReason),
      );
    }

    const claim: SendClaim = {
      messageId: payload.messageId,
      owner: `${this.#deps.config.instanceId}/${jobId}/${Date.now()}`,
      claimMs: this.#deps.config.lockDurationMs,
      // SMTP marks the start of the message data itself (see #submit); a Graph request may
      // deliver the message as soon as it is sent.
      state: mailbox.transport === 'smtp' ? 'claimed' : 'inflight',
      submissionTtlMs: this.#deps.config.submissionRecordTtlMs,
      statusTtlMs: this.#deps.config.recordRetentionMs,
    };
    context.claimOwner = claim.owner;
    const begun = await this.#begin(context, mailbox, deadline, claim);
    if ('result' in begun) return begun.result;
    return this.#submit(context, mailbox, deadline, begun.connection, claim.owner);
  }

  // Passes the gate and claims the submission, or waits (by throwing DelayedError). When every
  // connection of the mailbox is busy and this process has some of them, the job passes the
  // gate without a new lease. It then takes the first of them to come free, instead of going
  // back to the delayed set, so the connection does not wait while the job's Redis work runs.
  async #begin(
    context: FailureContext,
    mailbox: MailboxConfig,
    deadline: number,
    claim: SendClaim,
  ): Promise<{ connection: Connection } | { result: SendResult }> {
    const { gate, pool } = this.#deps;
    // A Graph request holds a lease only while it runs; there are no connections to reuse.
    const smtp = mailbox.transport === 'smtp';
    const priority = context.payload.message.priority;
    let idle = smtp ? pool.takeIdle(mailbox) : undefined;
    let reuse =
      idle !== undefined || (smtp && pool.heldCount(mailbox) >= mailbox.limits.maxConnections);
    let shortWaits = 0;
    for (let call = 1; ; call++) {
      const leaseId = reuse ? '' : gate.newLeaseId();
      const decision = await gate.beginSend(
        mailbox,
        {
          jobId: context.jobId,
          sendId: claim.owner,
          leaseId,
          recipients: recipientsOf(context.payload.message).length,
          priority,
          enqueuedAtMs: context.payload.enqueuedAtMs,
        },
        claim,
      );
      if ('existing' in decision) {
        if (idle) pool.release(idle);
        return { result: await this.#failures.onExistingClaim(context, decision.existing) };
      }
      if (decision.promote) void this.#deps.promoter.wake(decision.promote);
      if (!decision.allowed) {
        // All leases are taken, some by this process: pass the gate again to share them.
        const busyHere = decision.reason === 'connections' && pool.busyCount(mailbox) > 0;
        if (!reuse && busyHere && call === 1) {
          reuse = true;
          continue;
        }
        if (idle) pool.release(idle);
        idle = undefined;
        if (this.#mayWaitShortly(decision.reason, decision.retryAtMs) && shortWaits < 2) {
          shortWaits += 1;
          await this.#waitShortly(decision.retryAtMs);
          idle = smtp ? pool.takeIdle(mailbox) : undefined;
          reuse =
            idle !== undefined ||
            (smtp && pool.heldCount(mailbox) >= mailbox.limits.maxConnections);
          continue;
        }
        return this.#failures.wait(context, decision.retryAtMs, decision.reason, deadline);
      }
      context.grantedAtMs = decision.grantedAtMs;
      if (!reuse) {
        if (smtp) pool.leaseTaken(mailbox, leaseId);
        return { connection: leaseId };
      }
      return { connection: idle ?? HANDED_OVER };
    }
  }

  // A slot that comes within SHORT_WAIT_MS is waited for here: a trip through the delayed set
  // costs more Redis work and often comes back tens of ms late, which leaves the slot unused for
  // that long. At most half of the concurrency waits like this, so other mailboxes keep going.
  #mayWaitShortly(reason: string, retryAtMs: number): boolean {
    return (
      reason === 'rate_limit' &&
      retryAtMs - Date.now() <= SHORT_WAIT_MS &&
      this.#shortWaiters < Math.floor(this.#deps.config.concurrency / 2)
    );
  }

  async #waitShortly(untilMs: number): Promise<void> {
    this.#shortWaiters += 1;
    try {
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, untilMs - Date.now())));
    } finally {
      this.#shortWaiters -= 1;
    }
  }

  // Waits for a connection of the mailbox that a job of this process is using, or for one of
  // them to close so that a new lease can be taken.
  async #takeFreedConnection(
    mailbox: MailboxConfig,
    priority: 'high' | 'normal' | 'low',
  ): Promise<PooledSession | string | undefined> {
    const outcome = await this.#deps.pool.waitForRelease(
      mailbox,
      priority,
      LOCAL_CONNECTION_WAIT_MS,
    );
    if (typeof outcome !== 'string') return outcome;
    if (outcome === 'timeout') return undefined;
    const leaseId = this.#deps.gate.newLeaseId();
    if (!(await this.#deps.gate.takeLease(mailbox, leaseId))) return undefined;
    this.#deps.pool.leaseTaken(mailbox, leaseId);
    return leaseId;
  }

  async #submit(
    context: FailureContext,
    mailbox: MailboxConfig,
    deadline: number,
    granted: Connection,
    owner: string,
  ): Promise<SendResult> {
    const { guard, config, pool } = this.#deps;
    const { payload } = context;
    let connection = granted;
    let rendered: RenderedMessage | undefined;
    if (mailbox.transport === 'smtp') {
      // Rendered before a handed-over connection is taken, so the connection goes straight from
      // one transaction to the next.
      try {
        rendered = await renderMessage(payload, recipientsOf(payload.message));
      } catch (error) {
        await this.#giveBack(context, mailbox, connection);
        throw error;
      }
      if (connection === HANDED_OVER) {
        const handed = await this.#takeFreedConnection(mailbox, payload.message.priority);
        if (!handed) {
          // Nothing came free in time: give the grant and the claim back, wait in the queue.
          await this.#giveBack(context, mailbox, connection);
          const retryAtMs = Date.now() + this.#deps.gate.connectionWaitMs;
          return this.#failures.wait(context, retryAtMs, 'connections', deadline);
        }
        connection = handed;
      }
    }
    const started = performance.now();
    // Renewed like the job lock, so the claim lapses soon after this process dies or stalls.
    const heartbeat = setInterval(() => {
      guard.extend(payload.messageId, owner, Date.now() + config.lockDurationMs).catch(() => {});
    }, config.lockDurationMs / 2);
    let pooled: PooledSession | undefined;
    try {
      if (mailbox.transport === 'graph' || !rendered) {
        const result = await this.#sendWithGraph(mailbox, payload, connection);
        this.#observe(mailbox, 'sent', started);
        return await this.#failures.complete(context, mailbox, result);
      }
      pooled = typeof connection === 'string' ? await this.#open(mailbox, connection) : connection;
      // The claim becomes 'inflight' during the envelope's round trip, and the message data
      // waits for it. A run that dies before then leaves a claim that the next run takes over.
      const marked = guard.markStarted(payload.messageId, owner);
      const result = await pooled.session.submit(rendered.envelope, rendered.raw, marked);
      pool.release(pooled);
      this.#observe(mailbox, 'sent', started);
      return await this.#failures.complete(context, mailbox, result);
    } catch (error) {
      if (pooled) void pool.discard(pooled);
      else if (typeof connection === 'string' && mailbox.transport === 'smtp')
        await pool.returnLease(mailbox, connection);
      else if (typeof connection === 'string')
        await this.#deps.gate.releaseLease(mailbox, connection);
      this.#observe(mailbox, 'failed', started);
      return this.#onError(context, mailbox, error);
    } finally {
      clearInterval(heartbeat);
    }
  }

  // Undoes a begun send that never reached the server: returns the connection or its lease,
  // the grant and the submission claim.
  async #giveBack(
    context: FailureContext,
    mailbox: MailboxConfig,
    connection: Connection,
  ): Promise<void> {
    if (typeof connection === 'string') {
      if (connection !== HANDED_OVER) await this.#deps.pool.returnLease(mailbox, connection);
    } else {
      this.#deps.pool.release(connection);
    }
    await this.#refund(context, mailbox);
    await this.#releaseClaim(context);
  }

  async #onError(context: FailureContext, mailbox: MailboxConfig, error: unknown): Promise<never> {
    if (error instanceof ClaimTakenOver) {
      // Another run owns the claim now, and this one sent none of the message.
      this.#deps.logger.warn(
        { jobId: context.jobId, mailbox: mailbox.address },
        'submission claim taken over by another run; dropped the connection before the message data',
      );
      await this.#refund(context, mailbox);
      return this.#failures.wait(
        context,
        Date.now() + this.#deps.config.lockDurationMs,
        'in_flight_elsewhere',
        Number.POSITIVE_INFINITY,
      );
    }
    if (
      error instanceof AuthProbeBusy ||
      error instanceof TokenError ||
      isBeforeTransaction(error) ||
      isRejected(error)
    ) {
      await this.#refund(context, mailbox);
    }
    if (error instanceof AuthProbeBusy) {
      await this.#releaseClaim(context);
      return this.#failures.wait(
        context,
        Date.now() + AUTH_PROBE_WAIT_MS,
        'auth_probe',
        Number.POSITIVE_INFINITY,
      );
    }
    if (error instanceof TokenError) {
      await this.#releaseClaim(context);
      return this.#failures.onTokenError(context, mailbox, error);
    }
    if (error instanceof GraphFailure) {
      if (error.classification.class !== 'unknown_outcome') await this.#releaseClaim(context);
      return this.#failures.onSmtpFailure(
        context,
        mailbox,
        error.classification,
        error.reply,
        error.coolDownMs,
      );
    }
    if (!(error instanceof SmtpFailure)) {
      await this.#releaseClaim(context);
      throw error;
    }
    const classification: Classification = classifyFailure(error.failure);
    if (classification.class !== 'unknown_outcome') await this.#releaseClaim(context);
    return this.#failures.onSmtpFailure(context, mailbox, classification, error.failure.response);
  }

  // Drops this attempt's claim; a claim that another attempt took over stays.
  async #releaseClaim(context: FailureContext): Promise<void> {
    if (context.claimOwner === undefined) return;
    await this.#deps.guard.release(context.payload.messageId, context.claimOwner);
  }

  // A grant whose message never reached a mail transaction counts against no limit.
  async #refund(context: FailureContext, mailbox: MailboxConfig): Promise<void> {
    if (context.grantedAtMs === undefined) return;
    const recipients = recipientsOf(context.payload.message).length;
    const sendId = context.claimOwner ?? context.jobId;
    await this.#deps.gate.refund(mailbox, sendId, recipients, context.grantedAtMs);
    delete context.grantedAtMs;
  }

  // Opens and authenticates a connection. A `535 5.7.3` on a cached token gets one retry with a
  // fresh token, because nodemailer only refreshes on a 334 challenge and Exchange sends 535.
  async #open(mailbox: MailboxConfig, leaseId: string): Promise<PooledSession> {
    const provider = this.#deps.tokens.get(mailbox.app);
    if (!provider) throw new Error(`no token provider for app ${mailbox.app}`);

    const { gate } = this.#deps;
    const auth = await gate.beginAuth(mailbox.address, this.#maxSendMs());
    if (auth === 'busy') throw new AuthProbeBusy();

    let accessToken: Awaited<ReturnType<TokenProvider['getToken']>>;
    try {
      accessToken = await provider.getToken();
    } catch (error) {
      if (auth === 'probe') await gate.endAuth(mailbox.address, false);
      throw error;
    }
    for (let attempt = 1; ; attempt++) {
      const session = new SmtpSession(this.#deps.endpoint);
      const untrack = this.#deps.pool.trackOpening(session);
      try {
        await session.open(mailbox.address, accessToken.token);
        if (auth === 'probe') await gate.endAuth(mailbox.address, true);
        untrack();
        const pooled = { session, leaseId, mailbox, tokenExpiresAtMs: accessToken.expiresAtMs };
        this.#deps.pool.add(pooled);
        return pooled;
      } catch (error) {
        untrack();
        session.close();
        const rejectedToken =
          error instanceof SmtpFailure &&
          classifyFailure(error.failure).reason === 'smtp_auth_not_authorized';
        if (error instanceof SmtpFailure && error.failure.responseCode === 535) {
          const code = codeLabel(parseEnhancedCode(error.failure.response));
          this.#deps.metrics.authFailures.inc({ app: mailbox.app, source: 'smtp', code });
        }
        if (!rejectedToken || attempt > 1) {
          // After a configuration failure the failure policy opens the circuit first and only
          // then ends the probe, so no other connection slips in between.
          if (isConfigurationFailure(error)) throw error;
          if (auth === 'probe') await gate.endAuth(mailbox.address, false);
          throw error;
        }
        this.#deps.logger.warn(
          { mailbox: mailbox.address },
          'token rejected with 535 5.7.3; retrying once with a fresh token',
        );
        accessToken = await provider.getToken(true);
      }
    }
  }

  // The Graph sender releases the lease when its request ends.
  async #sendWithGraph(mailbox: MailboxConfig, payload: JobPayload, leaseId: Connection) {
    if (!this.#deps.graph || typeof leaseId !== 'string' || leaseId === HANDED_OVER)
      throw new Error(`no Graph sender for mailbox ${mailbox.address}`);
    return this.#deps.graph.send(mailbox, payload, leaseId);
  }

  #maxSendMs(): number {
    const { connectionTimeoutMs, greetingTimeoutMs, socketTimeoutMs } = this.#deps.config.smtp;
    return connectionTimeoutMs + greetingTimeoutMs + 3 * socketTimeoutMs;
  }

  #observe(mailbox: MailboxConfig, outcome: string, started: number): void {
    this.#deps.metrics.sendDuration.observe(
      { mailbox: mailbox.address, outcome },
      (performance.now() - started) / 1000,
    );
  }
}

/**
 * The connection a job has once it passed the gate: an open connection, the id of a new
 * connection lease, or HANDED_OVER, a busy connection of this process once it comes free.
 */
type Connection = PooledSession | string;
const HANDED_OVER = 'handed-over';

// How long a job waits in this process for one of its busy connections to the same mailbox
// before it goes back to the delayed set. A transaction normally takes milliseconds.
const LOCAL_CONNECTION_WAIT_MS = 1000;

// Maximum wait for a send slot that a job spends in this process rather than in the queue.
const SHORT_WAIT_MS = 500;

// Another connection is checking that this mailbox can authenticate; retry after this long.
const AUTH_PROBE_WAIT_MS = 250;

class AuthProbeBusy extends Error {}

// Failures while connecting or authenticating, before MAIL FROM: the server counted nothing.
function isBeforeTransaction(error: unknown): boolean {
  if (!(error instanceof SmtpFailure)) return false;
  return ['connect', 'greeting', 'tls', 'auth'].includes(error.failure.stage);
}

// The server replied and did not accept the message, so it counts against no limit.
function isRejected(error: unknown): boolean {
  if (error instanceof SmtpFailure) return error.failure.responseCode !== undefined;
  if (error instanceof GraphFailure) return error.classification.class !== 'unknown_outcome';
  return false;
}

function isConfigurationFailure(error: unknown): boolean {
  if (!(error instanceof SmtpFailure)) return false;
  const { class: replyClass } = classifyFailure(error.failure);
  return (
    replyClass === 'configuration' ||
    replyClass === 'auth_failed' ||
    replyClass === 'mailbox_blocked'
  );
}

/** Names why a job expired, after the last thing it waited for. */
function expiryReason(waitReason: string | undefined): string {
  if (waitReason === 'throttled') return 'throttled_too_long';
  return waitReason ? `expired_waiting_for_${waitReason}` : 'expired';
}
