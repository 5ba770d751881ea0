import { type JobPayload, SEND_JOB_NAME } from '@postroom/core';
import { Job, type Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { Promotion } from './gate.js';

const ATTEMPTS = 5;
const RETRY_DELAY_MS = 100;
// A slot closer than this is taken now rather than through another delay.
const MIN_DELAY_MS = 5;

/**
 * Wakes parked jobs. The gate reserves a slot for each job it wakes, and the job's delay is
 * moved to that slot, or the job moves to waiting when the slot is now. The job then passes the
 * gate at once, without another round through the gate and the delayed set. A job may still be on
 * its way into the delayed set when it is picked, so a failed wake is tried again a few times.
 * After that the job wakes at its own fallback time and still finds its slot.
 */
export class JobPromoter {
  readonly #queue: Queue<JobPayload>;
  readonly #logger: Logger;

  constructor(queue: Queue<JobPayload>, logger: Logger) {
    this.#queue = queue;
    this.#logger = logger;
  }

  async wake(promotion: Promotion): Promise<void> {
    const { jobId } = promotion;
    // Only the id is needed: the scripts below check the job's state in Redis.
    const job = new Job<JobPayload>(this.#queue, SEND_JOB_NAME, undefined as never, {}, jobId);
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        const delayMs = promotion.atMs - Date.now();
        if (delayMs >= MIN_DELAY_MS) await job.changeDelay(Math.ceil(delayMs));
        else await job.promote();
        return;
      } catch (error) {
        // A job that is gone (cancelled, or removed after it finished) has nothing to wake.
        if (error instanceof Error && error.message.startsWith('Missing key')) return;
        this.#logger.debug({ err: error, jobId, attempt }, 'waking a parked job failed');
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * attempt));
    }
    this.#logger.warn({ jobId }, 'parked job not woken; it wakes at its fallback time');
  }
}
