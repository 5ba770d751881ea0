import {
  createJobId,
  createJobPayload,
  hashMessage,
  type JobPayload,
  type Message,
  SEND_JOB_NAME,
} from '@postroom/core';
import type { JobsOptions } from 'bullmq';
import type { IdempotencyStore } from './idempotency.js';

/** Outcome of a send: the job id, and whether the idempotency key named an earlier message. */
export interface SendResult {
  /** Job id; pass it to `status()` and `cancel()`. */
  id: string;
  /** True when the idempotency key was used before, so this call created no new message. */
  duplicate: boolean;
}

/** A BullMQ job as `Queue.addBulk` takes it. */
export interface BulkJob {
  name: typeof SEND_JOB_NAME;
  data: JobPayload;
  opts: JobsOptions;
}

// BullMQ takes the lowest number first; 0 would mean "no priority" and go ahead of all of them.
const PRIORITY_RANK = { high: 1, normal: 5, low: 10 } as const;

/**
 * Builds the job options the worker expects. `attempts` is 1 because the worker runs its own
 * retry policy. Completed jobs stay as long as idempotency keys, so a repeated key finds its job.
 */
export function jobOptionsFor(
  message: Message,
  jobId: string,
  idempotencyWindowMs: number,
  nowMs: number,
): JobsOptions {
  const options: JobsOptions = {
    jobId,
    priority: PRIORITY_RANK[message.priority],
    attempts: 1,
    removeOnComplete: { age: Math.ceil(idempotencyWindowMs / 1000) },
    removeOnFail: false,
  };
  if (message.notBefore !== undefined) {
    options.delay = Math.max(0, Date.parse(message.notBefore) - nowMs);
  }
  return options;
}

/**
 * Turns validated messages into jobs to add and results in input order. Messages without an
 * idempotency key get new ids without any Redis call. Keyed messages are claimed together. A key
 * repeated inside the list names one job, and its later uses are duplicates.
 */
export async function planJobs(
  messages: readonly Message[],
  store: IdempotencyStore,
  idempotencyWindowMs: number,
): Promise<{ jobs: BulkJob[]; results: SendResult[] }> {
  const nowMs = Date.now();
  const payloads = messages.map((message) => createJobPayload(message, nowMs));
  const results = new Array<SendResult>(payloads.length);
  const jobs: BulkJob[] = [];
  const addJob = (payload: JobPayload, jobId: string) => {
    const opts = jobOptionsFor(payload.message, jobId, idempotencyWindowMs, nowMs);
    jobs.push({ name: SEND_JOB_NAME, data: payload, opts });
  };

  const firstIndexByKey = new Map<string, number>();
  payloads.forEach((payload, index) => {
    const key = payload.message.idempotencyKey;
    if (key !== undefined) {
      if (!firstIndexByKey.has(key)) firstIndexByKey.set(key, index);
      return;
    }
    const jobId = createJobId();
    results[index] = { id: jobId, duplicate: false };
    addJob(payload, jobId);
  });

  if (firstIndexByKey.size > 0) {
    await planKeyedJobs(payloads, firstIndexByKey, store, results, addJob);
  }
  return { jobs, results };
}

async function planKeyedJobs(
  payloads: readonly JobPayload[],
  firstIndexByKey: ReadonlyMap<string, number>,
  store: IdempotencyStore,
  results: SendResult[],
  addJob: (payload: JobPayload, jobId: string) => void,
): Promise<void> {
  const requests = [...firstIndexByKey].map(([key, index]) => {
    const payload = payloads[index] as JobPayload;
    // createJobPayload sets the hash on every message that has a key, so the fallback never runs.
    return { key, payloadHash: payload.payloadHash ?? hashMessage(payload.message) };
  });
  const claims = await store.claim(requests);
  const claimByKey = new Map(requests.map((request, position) => [request.key, claims[position]]));

  payloads.forEach((payload, index) => {
    const key = payload.message.idempotencyKey;
    const claim = key === undefined ? undefined : claimByKey.get(key);
    if (key === undefined || !claim) return;

    const isFirst = firstIndexByKey.get(key) === index;
    results[index] = { id: claim.jobId, duplicate: claim.duplicate || !isFirst };
    if (isFirst && claim.enqueue) addJob(payload, claim.jobId);
  });
}
