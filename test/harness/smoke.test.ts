import { Redis } from 'ioredis';
import { expect, inject, test } from 'vitest';

test('harness redis answers PING', async () => {
  const redis = new Redis(inject('redisUrl'));
  expect(await redis.ping()).toBe('PONG');
  await redis.quit();
});
