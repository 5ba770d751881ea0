import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { LocalStack, RedisServer } from '../harness/index.js';

let redis: RedisServer;
let stack: LocalStack;

beforeAll(async () => {
  redis = await RedisServer.start();
  const admin = new Redis(redis.url);
  await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
  admin.disconnect();
  stack = await LocalStack.start({
    redisUrl: redis.url,
    timeUnitMs: 1000,
    mailboxes: [{ address: 'noreply@contoso.example' }],
  });
}, 30_000);

afterAll(async () => {
  await stack?.stop();
  await redis?.close();
});

test('worker refuses to start when Redis may evict', async () => {
  const worker = stack.addWorker();
  await expect(worker).rejects.toThrow(/worker exited with code 1/);
  const log = await readFile(stack.workers[0]?.logFile ?? '', 'utf8');
  expect(log).toContain('maxmemory-policy is allkeys-lru');
  expect(log).toContain('POSTROOM_ALLOW_EVICTION=true');
});

test('explicit override starts with an error log and a metric', async () => {
  const worker = await stack.addWorker({ POSTROOM_ALLOW_EVICTION: 'true' });
  const metrics = await (await fetch(`http://127.0.0.1:${worker.httpPort}/metrics`)).text();
  expect(metrics).toMatch(/^postroom_redis_eviction_policy_unsafe 1$/m);
  const log = await readFile(worker.logFile, 'utf8');
  expect(log).toMatch(/"level":50.*starting anyway because POSTROOM_ALLOW_EVICTION is set/);
});
