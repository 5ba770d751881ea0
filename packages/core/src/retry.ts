/** Retry policy for failed attempts. Waiting for a limit or a cool-down is not an attempt. */
export interface RetryPolicy {
  /** Delay cap of the first retry, in ms; it doubles with every failed attempt. */
  baseDelayMs: number;
  /** Upper bound of any single retry delay, in ms. */
  maxDelayMs: number;
  /** Failed attempts after which the job fails for good. */
  maxAttempts: number;
  /** Age after enqueue at which a job fails even if attempts remain, in ms. */
  maxAgeMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  baseDelayMs: 5_000,
  maxDelayMs: 10 * 60_000,
  maxAttempts: 8,
  maxAgeMs: 24 * 60 * 60_000,
});

/**
 * Returns the delay before the retry that follows failed attempt number `attempt` (1-based):
 * exponential backoff with full jitter, a uniform draw from [0, min(maxDelayMs, base * 2^(n-1))].
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.max(0, attempt - 1);
  const ceilingMs = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent);
  return Math.floor(random() * ceilingMs);
}

/** Returns the time after which a job must fail, in ms since the epoch. */
export function deadlineMs(policy: RetryPolicy, enqueuedAtMs: number, expiresAt?: string): number {
  const byAge = enqueuedAtMs + policy.maxAgeMs;
  if (!expiresAt) return byAge;
  return Math.min(byAge, Date.parse(expiresAt));
}
