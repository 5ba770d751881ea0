import { expect, test } from 'vitest';
import { deadlineMs, type RetryPolicy, retryDelayMs } from './retry.js';

const policy: RetryPolicy = {
  baseDelayMs: 1000,
  maxDelayMs: 10_000,
  maxAttempts: 5,
  maxAgeMs: 60_000,
};

test('retry delay doubles its ceiling per attempt up to the cap', () => {
  const ceiling = () => 1 - Number.EPSILON;
  expect(retryDelayMs(policy, 1, ceiling)).toBe(999);
  expect(retryDelayMs(policy, 2, ceiling)).toBe(1999);
  expect(retryDelayMs(policy, 4, ceiling)).toBe(7999);
  expect(retryDelayMs(policy, 9, ceiling)).toBe(9999);
});

test('retry delay is fully jittered from zero', () => {
  expect(retryDelayMs(policy, 3, () => 0)).toBe(0);
  const samples = Array.from({ length: 200 }, () => retryDelayMs(policy, 3));
  expect(Math.min(...samples)).toBeLessThan(1000);
  expect(Math.max(...samples)).toBeGreaterThan(3000);
  expect(Math.max(...samples)).toBeLessThan(4000);
});

test('deadline is the earlier of max age and expiresAt', () => {
  expect(deadlineMs(policy, 1_000_000)).toBe(1_060_000);
  expect(deadlineMs(policy, Date.parse('2026-01-01T00:00:00Z'), '2026-01-01T00:00:30Z')).toBe(
    Date.parse('2026-01-01T00:00:30Z'),
  );
});
