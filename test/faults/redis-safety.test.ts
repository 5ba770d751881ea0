import { readFile } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { freePort, LocalStack, RedisServer } from '../harness/index.js';

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

test('unreachable Redis names the variable and address', async () => {
  // Nothing listens on a free port, so the connection is refused.
  const port = await freePort();
  const password = 'redis-start-secret';
  const worker = stack.addWorker({ POSTROOM_REDIS_URL: `redis://:${password}@127.0.0.1:${port}` });

  await expect(worker).rejects.toThrow(/worker exited with code 1/);
  const log = await readFile(stack.workers.at(-1)?.logFile ?? '', 'utf8');
  expect(log).toContain(`postroom-worker: cannot connect to Redis at 127.0.0.1:${port}`);
  expect(log).toContain('POSTROOM_REDIS_URL');
  expect(log).toContain('ECONNREFUSED');
  expect(log).not.toContain(password);
});
