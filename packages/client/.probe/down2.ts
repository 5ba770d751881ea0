import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { RedisServer } from '../../../test/harness/index.js';

const withTimeout = <T,>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`timeout ${ms}ms`)), ms))]);

for (const skipVersionCheck of [false, true]) {
  const server = await RedisServer.start();
  await server.stop();
  const client = new Redis(server.url, { maxRetriesPerRequest: 3 });
  client.on('error', () => {});
  const queue = new Queue('probe', { connection: client, prefix: '{postroom}', skipWaitingForReady: true, skipVersionCheck });
  queue.on('error', () => {});
  let t = Date.now();
  try {
    await withTimeout(queue.add('send', { a: 1 }, { jobId: 'x1' }), 15000);
    console.log(skipVersionCheck, 'added?');
  } catch (e) {
    console.log(skipVersionCheck, 'add rejected after', Date.now() - t, 'ms:', (e as Error).constructor.name, (e as Error).message);
  }
  t = Date.now();
  try {
    await withTimeout(queue.add('send', { a: 1 }, { jobId: 'x1b' }), 30000);
  } catch (e) {
    console.log(skipVersionCheck, 'second add rejected after', Date.now() - t, 'ms:', (e as Error).message);
  }
  await server.resume();
  t = Date.now();
  try {
    const job = await withTimeout(queue.add('send', { a: 1 }, { jobId: 'x2' }), 15000);
    console.log(skipVersionCheck, 'after resume add ok', Date.now() - t, job.id);
  } catch (e) {
    console.log(skipVersionCheck, 'after resume add failed', Date.now() - t, (e as Error).message);
  }
  await queue.close();
  await client.quit();
  await server.close();
}
process.exit(0);
