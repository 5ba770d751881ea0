import {
  type Classification,
  deadlineMs,
  type JobPayload,
  parseEnhancedCode,
  recipientsOf,
  retryDelayMs,
} from '@postroom/core';
import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { MailboxConfig } from './config.js';
import type { ExistingSubmission, MailboxState } from './gate.js';
import { codeLabel } from './metrics.js';
import type { ProcessorDeps, SendResult } from './processor.js';
import type { SubmitResult } from './smtp/session.js';
import type { TokenError } from './tokens/errors.js';
import { mailboxesSharingApp } from './tokens/registry.js';

export interface FailureContext {
  job: Job<JobPayload>;
  token: string | undefined;
  jobId: string;
  payload: JobPayload;
  mailbox: string;
  /** The owner of this attempt's submission claim, also its id in the rate log. */
  claimOwner?: string;
  /** Redis time at which the gate let this attempt send. */
  grantedAtMs?: number;
}

const CIRCUIT_STATES: Partial<Record<Classification['class'], MailboxState>> = {
  mailbox_blocked: 'blocked',
  configuration: 'auth_failed',
  auth_failed: 'auth_failed',
};

// Waits that end early when the mailbox is resumed or a slot frees. Their fallback wake-up is
// capped at the deadline, so such a wait never fails the job at once.
const PARKED_REASONS = new Set([
  'parked',
  'paused',
  'blocked',
  'auth_failed',
  'throttled',
  'quota_exhausted',
]);

/**
 * Turns outcomes into job transitions: complete, delay without an attempt, retry with backoff,
 * or fail for good, with the status record, metrics and one log line for each.
 */
export class FailurePolicy {
  readonly #deps: ProcessorDeps;

  constructor(deps: ProcessorDeps) {
    this.#deps = deps;
  }

  async complete(
    context: FailureContext,
    mailbox: MailboxConfig,
    result: SubmitResult,
  ): Promise<SendResult> {
    const { metrics, logger, gate, config } = this.#deps;
    await gate.finishSend(mailbox, {
      jobId: context.jobId,
      ...(context.claimOwner ? { sendId: context.claimOwner } : {}),
      messageId: context.payload.messageId,
      recipients: recipientsOf(context.payload.message).length,
      grantedAtMs: context.grantedAtMs,
      reply: result.response,
      rejectedRecipients: result.rejected,
      submissionTtlMs: config.submissionRecordTtlMs,
      statusTtlMs: config.recordRetentionMs,
    });
    metrics.sent.inc({ mailbox: context.mailbox });
    metrics.replies.inc({
      mailbox: context.mailbox,
      code: result.response.slice(0, 3),
      enhanced_code: codeLabel(parseEnhancedCode(result.response)),
    });
    logger.info(
      {
        jobId: context.jobId,
        mailbox: context.mailbox,
        reply: result.response,
        rejected: result.rejected.length,
      },
      'message sent',
    );
    return {
      messageId: context.payload.messageId,
      reply: result.response,
      rejectedRecipients: result.rejected,
      duplicateRun: false,
    };
  }

  /** Delays the job until the stopped mailbox may send again, parked so that a resume wakes it. */
  async waitForMailbox(
    context: FailureContext,
    untilMs: number,
    state: MailboxState,
  ): Promise<never> {
    const { message, enqueuedAtMs } = context.payload;
    await this.#deps.gate.park(context.mailbox, {
      jobId: context.jobId,
      priority: message.priority,
      enqueuedAtMs,
    });
    return this.wait(context, untilMs, state, this.#deadline(context));
  }

  /** Delays the job until `retryAtMs` without spending an attempt, unless that passes the deadline. */
  async wait(
    context: FailureContext,
    requestedRetryAtMs: number,
    reason: string,
    deadline: number,
  ): Promise<never> {
    // A parked job is normally woken early by promotion, so its fallback wake-up only needs to
    // come no later than the deadline.
    const parked = PARKED_REASONS.has(reason);
    const retryAtMs = parked ? Math.min(requestedRetryAtMs, deadline) : requestedRetryAtMs;
    if (!parked && retryAtMs >= deadline) {
      const why = `expired_waiting_for_${reason}`;
      return this.expire(context, `deadline passed while waiting (${reason})`, why);
    }
    const { status, metrics, logger } = this.#deps;
    await status.update(context.jobId, {
      state: 'waiting_for_mailbox',
      waitReason: reason,
      // A parked job's wake-up time is only a fallback: it is woken when its turn comes.
      ...(reason === 'parked' ? {} : { nextAttemptAt: new Date(retryAtMs).toISOString() }),
      mailbox: context.mailbox,
      messageId: context.payload.messageId,
    });
    metrics.waits.inc({ mailbox: context.mailbox, reason });
    logger.debug(
      { jobId: context.jobId, mailbox: context.mailbox, reason, delayMs: retryAtMs - Date.now() },
      'job waits for mailbox',
    );
    await context.job.moveToDelayed(Math.ceil(retryAtMs), context.token);
    throw new DelayedError();
  }

  async expire(context: FailureContext, detail: string, reason = 'expired'): Promise<never> {
    return this.fail(context, { class: 'transient', action: 'fail', reason }, detail);
  }

  async fail(
    context: FailureContext,
    classification: Classification,
    detail: string,
    reply?: string,
  ): Promise<never> {
    const { status, metrics, logger } = this.#deps;
    await status.update(context.jobId, {
      state: classification.class === 'unknown_outcome' ? 'outcome_unknown' : 'failed',
      mailbox: context.mailbox,
      messageId: context.payload.messageId,
      failureClass: classification.class,
      failureReason: classification.reason,
      ...(reply ? { reply } : {}),
    });
    metrics.failed.inc({
      mailbox: context.mailbox,
      class: classification.class,
      reason: classification.reason,
    });
    logger.error(
      {
        jobId: context.jobId,
        mailbox: context.mailbox,
        class: classification.class,
        reason: classification.reason,
        reply,
      },
      'message failed',
    );
    throw new UnrecoverableError(`${classification.reason}: ${detail}`);
  }

  /** Handles a job whose Message-ID already has a submission record. */
  async onExistingClaim(context: FailureContext, claim: ExistingSubmission): Promise<SendResult> {
    const { logger } = this.#deps;
    switch (claim.kind) {
      case 'sent':
        logger.warn(
          { jobId: context.jobId, mailbox: context.mailbox },
          'message was already accepted; completing without resending',
        );
        await this.#deps.status.update(context.jobId, { state: 'sent', reply: claim.reply });
        return {
          messageId: context.payload.messageId,
          reply: claim.reply,
          rejectedRecipients: [],
          duplicateRun: true,
        };
      case 'busy':
        return this.wait(context, claim.untilMs, 'in_flight_elsewhere', Number.POSITIVE_INFINITY);
      case 'abandoned':
        // The owner stopped renewing its claim: it died, or its event loop stalled. Give a
        // stalled owner one more claim period to record its outcome before calling it unknown.
        if (Date.now() < claim.untilMs + this.#deps.config.lockDurationMs) {
          return this.wait(
            context,
            claim.untilMs + this.#deps.config.lockDurationMs,
            'in_flight_elsewhere',
            Number.POSITIVE_INFINITY,
          );
        }
        await this.#deps.guard.markUnknown(context.payload.messageId);
        return this.fail(
          context,
          { class: 'unknown_outcome', action: 'hold', reason: 'worker_lost_during_send' },
          'a previous attempt stopped mid-send; not resending blindly',
        );
      case 'unknown':
        await this.#deps.guard.markUnknown(context.payload.messageId);
        return this.fail(
          context,
          { class: 'unknown_outcome', action: 'hold', reason: 'worker_lost_during_send' },
          'a previous attempt stopped mid-send; not resending blindly',
        );
    }
  }

  async onTokenError(
    context: FailureContext,
    mailbox: MailboxConfig,
    error: TokenError,
  ): Promise<never> {
    const attempt = await this.#deps.status.addTokenWait(context.jobId);
    if (error.kind === 'configuration') {
      // The credential belongs to the app registration, so every mailbox that uses it stops.
      const reason = `token_${error.aadstsCode ?? 'rejected'}`;
      const affected = mailboxesSharingApp(this.#deps.config, mailbox.app);
      this.#deps.logger.error(
        {
          app: mailbox.app,
          aadsts: error.aadstsCode,
          correlationId: error.correlationId,
          fix: error.fix,
          mailboxes: affected.map((each) => each.address),
        },
        "Entra ID rejected the app's credentials; stopping its mailboxes and keeping their jobs",
      );
      for (const each of affected.length > 0 ? affected : [mailbox])
        await this.#openCircuit(each, 'auth_failed', reason);
      return this.waitForMailbox(
        context,
        Date.now() + this.#deps.config.circuitOpenMs,
        'auth_failed',
      );
    }
    const delayMs = retryDelayMs(this.#deps.config.retry, attempt);
    return this.wait(context, Date.now() + delayMs, 'token_unavailable', this.#deadline(context));
  }

  /**
   * Acts on a classified SMTP or Graph failure. `coolDownMs` overrides the cool-down of a
   * throttling reply, for Graph's Retry-After.
   */
  async onSmtpFailure(
    context: FailureContext,
    mailbox: MailboxConfig,
    classification: Classification,
    reply?: string,
    coolDownMs?: number,
  ): Promise<never> {
    const { metrics } = this.#deps;
    if (classification.responseCode) {
      metrics.replies.inc({
        mailbox: mailbox.address,
        code: String(classification.responseCode),
        enhanced_code: codeLabel(classification.enhancedCode),
      });
    }
    switch (classification.action) {
      case 'cool_down': {
        // Retry-After when the server gave one, else one rate window: long enough for
        // Exchange's per-minute counters to move on.
        const waitMs = coolDownMs ?? mailbox.limits.rateWindowMs;
        const untilMs = Date.now() + waitMs;
        await this.#deps.gate.setHealth(
          mailbox.address,
          'throttled',
          untilMs,
          classification.reason,
        );
        this.#deps.logger.warn(
          { jobId: context.jobId, mailbox: mailbox.address, reply, coolDownMs: waitMs },
          'mailbox throttled by the server; cooling down',
        );
        return this.waitForMailbox(context, untilMs, 'throttled');
      }
      case 'pause_mailbox': {
        // The server's window frees gradually and may count mail sent by other clients of the
        // mailbox, so pause for 1/24 of the window (an hour on Exchange Online) and then probe.
        const pauseMs = mailbox.limits.recipientWindowMs / 24;
        const untilMs = Date.now() + pauseMs;
        await this.#deps.gate.setHealth(
          mailbox.address,
          'quota_exhausted',
          untilMs,
          classification.reason,
        );
        this.#deps.logger.error(
          { jobId: context.jobId, mailbox: mailbox.address, reply, pauseMs },
          'recipient quota exhausted; mailbox paused and jobs kept',
        );
        return this.waitForMailbox(context, untilMs, 'quota_exhausted');
      }
      case 'open_circuit':
      case 'refresh_token': {
        const state = CIRCUIT_STATES[classification.class] ?? 'blocked';
        await this.#openCircuit(mailbox, state, classification.reason, reply);
        return this.waitForMailbox(context, Date.now() + this.#deps.config.circuitOpenMs, state);
      }
      case 'retry':
        return this.#retry(context, classification, reply);
      default:
        if (classification.class === 'unknown_outcome')
          await this.#deps.guard.markUnknown(context.payload.messageId);
        return this.fail(context, classification, reply ?? classification.reason, reply);
    }
  }

  async #retry(
    context: FailureContext,
    classification: Classification,
    reply?: string,
  ): Promise<never> {
    const { status, config, metrics, logger } = this.#deps;
    const attempt = await status.addAttempt(context.jobId);
    const limit = Math.min(
      config.retry.maxAttempts,
      classification.attemptLimit ?? Number.POSITIVE_INFINITY,
    );
    if (attempt >= limit) {
      return this.fail(context, classification, `gave up after ${attempt} failed attempts`, reply);
    }
    const retryAtMs = Date.now() + retryDelayMs(config.retry, attempt);
    if (retryAtMs >= this.#deadline(context)) {
      return this.fail(context, classification, 'deadline passed before the next retry', reply);
    }
    metrics.retried.inc({
      mailbox: context.mailbox,
      class: classification.class,
      reason: classification.reason,
    });
    logger.warn(
      {
        jobId: context.jobId,
        mailbox: context.mailbox,
        attempt,
        reason: classification.reason,
        reply,
        delayMs: retryAtMs - Date.now(),
      },
      'attempt failed; retrying',
    );
    await status.update(context.jobId, {
      state: 'scheduled',
      nextAttemptAt: new Date(retryAtMs).toISOString(),
      ...(reply ? { reply } : {}),
    });
    await context.job.moveToDelayed(Math.ceil(retryAtMs), context.token);
    throw new DelayedError();
  }

  async #openCircuit(
    mailbox: MailboxConfig,
    state: MailboxState,
    reason: string,
    reply?: string,
  ): Promise<void> {
    await this.#deps.gate.setHealth(
      mailbox.address,
      state,
      Date.now() + this.#deps.config.circuitOpenMs,
      reason,
    );
    await this.#deps.gate.endAuth(mailbox.address, false);
    this.#deps.logger.error(
      {
        mailbox: mailbox.address,
        state,
        reason,
        reply,
        reopensInMs: this.#deps.config.circuitOpenMs,
      },
      'mailbox circuit opened; its jobs are kept',
    );
  }

  #deadline(context: FailureContext): number {
    return deadlineMs(
      this.#deps.config.retry,
      context.payload.enqueuedAtMs,
      context.payload.message.expiresAt,
    );
  }
}
