import { expect, test } from 'vitest';
import { redisAddress } from './redis.js';

test.each([
  ['redis://127.0.0.1:6380', '127.0.0.1:6380'],
  ['redis://:secret@redis.internal:6379/2', 'redis.internal:6379'],
  ['rediss://user:secret@redis.internal', 'redis.internal:6379'],
  ['redis://[::1]:7000', '[::1]:7000'],
  ['redis+cluster://:secret@10.0.0.1:7000,10.0.0.2:7001', '10.0.0.1:7000, 10.0.0.2:7001'],
])('address of %s is %s', (url, address) => {
  expect(redisAddress(url)).toBe(address);
  expect(redisAddress(url)).not.toContain('secret');
});
