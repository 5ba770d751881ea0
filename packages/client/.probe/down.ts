import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { RedisServer } from '../../../test/harness/index.js';

const server = await RedisServer.start();
const url = server.url;
await server.stop();
const client = new Redis(url, { maxRetriesPerRequest: 3 });
client.on('error', () => {});
const queue = new Queue('probe', { connection: client, prefix: '{postroom}' });
queue.on('error', () => {});
const t0 = Date.now();
const timeout = new Promise((_, rej) => setTimeout(() => rej(new Error('timeout 15s')), 15000));
try {
  await Promise.race([queue.add('send', { a: 1 }, { jobId: 'x1' }), timeout]);
  console.log('added?');
} catch (e) {
  console.log('add rejected after', Date.now() - t0, 'ms:', (e as Error).message);
}
const t1 = Date.now();
try {
  await Promise.race([client.set('k', 'v'), timeout]);
} catch (e) {
  console.log('set rejected after', Date.now() - t1, 'ms:', (e as Error).message);
}
// now bring redis back and see whether queue works
await server.resume();
const t2 = Date.now();
try {
  const job = await Promise.race([queue.add('send', { a: 1 }, { jobId: 'x2' }), new Promise((_, rej) => setTimeout(() => rej(new Error('timeout 15s')), 15000))]);
  console.log('after resume add ok', Date.now() - t2, (job as any).id);
} catch (e) {
  console.log('after resume add failed', Date.now() - t2, (e as Error).message);
}
await queue.close();
await client.quit();
await server.close();
process.exit(0);
