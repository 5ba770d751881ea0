import type { RedisConnection } from '@postroom/core';
import { createJobId, IdempotencyConflictError, type PostroomKeys } from '@postroom/core';
import type { ChainableCommander } from 'ioredis';

/** An idempotency key and the hash of the message sent with it. */
export interface IdempotentRequest {
  key: string;
  payloadHash: string;
}

/** The job an idempotency key names, and whether this caller must add it to the queue. */
export interface IdempotencyClaim {
  jobId: string;
  /** True when the key was already stored, by an earlier call or a concurrent one. */
  duplicate: boolean;
  /** True when no job exists for the key yet, so this caller adds it under `jobId`. */
  enqueue: boolean;
}

// A key can expire between a failed SET NX and the GET that follows, so a new round retries it.
const MAX_CLAIM_ROUNDS = 3;

// Deletes each key only while it still stores the value this caller wrote.
const RELEASE_SCRIPT = `
local released = 0
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i] then
    redis.call('DEL', key)
    released = released + 1
  end
end
return released`;

/**
 * Maps idempotency keys to job ids in Redis. Each key stores `"<jobId> <payloadHash>"`, written
 * with SET NX PX so that exactly one caller creates it and it expires after the window.
 */
export class IdempotencyStore {
  readonly #redis: RedisConnection;
  readonly #keys: PostroomKeys;
  readonly #jobKey: (jobId: string) => string;
  readonly #windowMs: number;

  constructor(
    redis: RedisConnection,
    keys: PostroomKeys,
    jobKey: (jobId: string) => string,
    windowMs: number,
  ) {
    this.#redis = redis;
    this.#keys = keys;
    this.#jobKey = jobKey;
    this.#windowMs = windowMs;
  }

  /**
   * Claims every key, in a few pipelined round trips for the whole list. Keys must be distinct.
   * Throws IdempotencyConflictError when a key is stored with another payload hash, and then
   * releases the keys this call created, so that nothing of the call remains.
   */
  async claim(requests: readonly IdempotentRequest[]): Promise<IdempotencyClaim[]> {
    const claims = new Array<IdempotencyClaim | undefined>(requests.length);
    const created: { key: string; value: string }[] = [];
    let pending = requests.map((_, index) => index);

    for (let round = 0; round < MAX_CLAIM_ROUNDS && pending.length > 0; round++) {
      const outcome = await this.#claimRound(requests, pending, claims, created);
      if (outcome.conflict) {
        await this.#release(created);
        throw outcome.conflict;
      }
      pending = outcome.expired;
    }
    if (pending.length > 0) {
      throw new Error(
        `idempotency keys expired ${MAX_CLAIM_ROUNDS} times while being claimed; set idempotencyWindowMs to at least a few seconds`,
      );
    }

    const done = claims as IdempotencyClaim[];
    await this.#markMissingJobs(done);
    return done;
  }

  async #claimRound(
    requests: readonly IdempotentRequest[],
    pending: readonly number[],
    claims: (IdempotencyClaim | undefined)[],
    created: { key: string; value: string }[],
  ): Promise<{ expired: number[]; conflict?: IdempotencyConflictError }> {
    const proposedIds = pending.map(() => createJobId());
    const setPipeline = this.#redis.pipeline();
    pending.forEach((index, position) => {
      const request = requests[index] as IdempotentRequest;
      const value = `${proposedIds[position]} ${request.payloadHash}`;
      setPipeline.set(this.#keys.idempotency(request.key), value, 'PX', this.#windowMs, 'NX');
    });
    const setReplies = await execPipeline(setPipeline);

    const losers: number[] = [];
    pending.forEach((index, position) => {
      if (setReplies[position] !== 'OK') {
        losers.push(index);
        return;
      }
      const jobId = proposedIds[position] as string;
      const request = requests[index] as IdempotentRequest;
      claims[index] = { jobId, duplicate: false, enqueue: true };
      created.push({
        key: this.#keys.idempotency(request.key),
        value: `${jobId} ${request.payloadHash}`,
      });
    });
    if (losers.length === 0) return { expired: [] };

    return this.#readExisting(requests, losers, claims);
  }

  async #readExisting(
    requests: readonly IdempotentRequest[],
    losers: readonly number[],
    claims: (IdempotencyClaim | undefined)[],
  ): Promise<{ expired: number[]; conflict?: IdempotencyConflictError }> {
    const getPipeline = this.#redis.pipeline();
    for (const index of losers) {
      getPipeline.get(this.#keys.idempotency((requests[index] as IdempotentRequest).key));
    }
    const values = await execPipeline(getPipeline);

    const expired: number[] = [];
    for (const [position, index] of losers.entries()) {
      const value = values[position];
      const request = requests[index] as IdempotentRequest;
      if (typeof value !== 'string') {
        expired.push(index);
        continue;
      }
      const separator = value.indexOf(' ');
      const jobId = separator < 0 ? value : value.slice(0, separator);
      const payloadHash = separator < 0 ? '' : value.slice(separator + 1);
      if (payloadHash !== request.payloadHash) {
        return { expired, conflict: new IdempotencyConflictError(request.key, jobId) };
      }
      claims[index] = { jobId, duplicate: true, enqueue: false };
    }
    return { expired };
  }

  /**
   * Sets `enqueue` on duplicates whose job and status record are both missing: the producer that
   * stored the key failed before adding the job. A job that existed once leaves a status record
   * (written by the worker, or by `cancel`), so a cancelled message is not enqueued again. Adding
   * an existing job id is a no-op in BullMQ, so two producers recovering at once add one job.
   */
  async #markMissingJobs(claims: IdempotencyClaim[]): Promise<void> {
    const duplicates = claims.filter((claim) => claim.duplicate);
    if (duplicates.length === 0) return;

    const pipeline = this.#redis.pipeline();
    for (const claim of duplicates) {
      pipeline.exists(this.#jobKey(claim.jobId), this.#keys.status(claim.jobId));
    }
    const counts = await execPipeline(pipeline);
    duplicates.forEach((claim, position) => {
      claim.enqueue = counts[position] === 0;
    });
  }

  async #release(created: readonly { key: string; value: string }[]): Promise<void> {
    if (created.length === 0) return;
    const keys = created.map((entry) => entry.key);
    const values = created.map((entry) => entry.value);
    await this.#redis.eval(RELEASE_SCRIPT, keys.length, ...keys, ...values);
  }
}

/** Runs a pipeline and returns its replies. Rejects with the first error of any command. */
export async function execPipeline(pipeline: ChainableCommander): Promise<unknown[]> {
  const replies = (await pipeline.exec()) ?? [];
  const replyValues: unknown[] = [];
  for (const [error, reply] of replies) {
    if (error) throw error;
    replyValues.push(reply);
  }
  return replyValues;
}
