import type { JobPayload } from '@postroom/core';
import { Job, type Queue } from 'bullmq';
import type { Logger } from 'pino';

const ATTEMPTS = 5;
const RETRY_DELAY_MS = 100;

/**
 * Wakes parked jobs: moves a delayed job to waiting so a worker picks it up now. A job may still
 * be on its way into the delayed set when it is picked for promotion, so a failed promotion is
 * tried again a few times. After that the job wakes at its own fallback time.
 */
export class JobPromoter {
  readonly #queue: Queue<JobPayload>;
  readonly #logger: Logger;

  constructor(queue: Queue<JobPayload>, logger: Logger) {
    this.#queue = queue;
    this.#logger = logger;
  }

  async promote(jobId: string): Promise<void> {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        const job = await Job.fromId<JobPayload>(this.#queue, jobId);
        if (!job) return;
        const state = await job.getState();
        if (state === 'delayed') {
          await job.promote();
          return;
        }
        if (state !== 'active') return;
      } catch (error) {
        this.#logger.debug({ err: error, jobId, attempt }, 'promotion of a parked job failed');
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * attempt));
    }
    this.#logger.warn({ jobId }, 'parked job not promoted; it wakes at its fallback time');
  }
}
