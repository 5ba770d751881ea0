import { MailClient, type MessageInput } from '@postroom/client';
import {
  createJobId,
  createJobPayload,
  EXCHANGE_ONLINE_LIMITS,
  KEY_PREFIX,
  parseMessage,
  postroomKeys,
  SEND_JOB_NAME,
} from '@postroom/core';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { RedisServer } from '../apps/cli/src/redis-server.js';
import { type BulkJob, jobOptionsFor } from '../packages/client/src/enqueue.js';
import { track } from './lib/cleanup.js';
import { benchMessage, mailboxAddresses } from './lib/messages.js';
import { CommandMeter } from './lib/redis-info.js';
import { printFigures, printLine, printTable } from './lib/report.js';
import { median, round } from './lib/stats.js';

const QUEUE_NAME = 'bench-enqueue';
const MAILBOX_COUNT = 10;
const ROUNDS = 7;
/** Messages per round and path, enqueued in batches of BATCH_SIZE. */
const MESSAGES_PER_ROUND = 20_000;
const BATCH_SIZE = 500;
/** Messages per round for the one-at-a-time comparison, `send()` against `queue.add()`. */
const SINGLES_PER_ROUND = 1000;
const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

interface Sample {
  messagesPerSecond: number;
  commandsPerMessage: number;
}

type Path = 'postroom' | 'bare';

/**
 * Compares the enqueue throughput of `MailClient.sendMany` (validation, hashing, fairness
 * ranking, addBulk) with a bare BullMQ `queue.addBulk` of the same job data and options, in
 * interleaved rounds on one Redis. The bare jobs are built before the clock starts, so the bare
 * figure is the ceiling that BullMQ and Redis set.
 */
export async function run(): Promise<void> {
  const redisServer = await RedisServer.start();
  const admin = new Redis(redisServer.url);
  const client = new MailClient({ connection: redisServer.url, queueName: QUEUE_NAME });
  const queue = new Queue(QUEUE_NAME, { connection: { url: redisServer.url }, prefix: KEY_PREFIX });
  const release = track('enqueue benchmark', async () => {
    await client.close();
    await queue.close();
    admin.disconnect();
    await redisServer.close();
  });
  try {
    const addresses = mailboxAddresses(MAILBOX_COUNT, 'enqueue');
    printLine(
      `enqueue: ${ROUNDS} interleaved rounds of ${MESSAGES_PER_ROUND} messages in batches of ${BATCH_SIZE}, ${MAILBOX_COUNT} mailboxes`,
    );
    const bulk = { postroom: [] as Sample[], bare: [] as Sample[] };
    const single = { postroom: [] as Sample[], bare: [] as Sample[] };
    for (let round = 0; round < ROUNDS; round++) {
      // Alternate which path goes first, so that neither always runs on a warmer process.
      const order: Path[] = round % 2 === 0 ? ['postroom', 'bare'] : ['bare', 'postroom'];
      for (const path of order) {
        await resetRedis(admin, addresses);
        const messages = roundMessages(addresses, round, MESSAGES_PER_ROUND);
        bulk[path].push(await measureBulk(path, messages, client, queue, admin));
        await resetRedis(admin, addresses);
        const singles = roundMessages(addresses, round, SINGLES_PER_ROUND);
        single[path].push(await measureSingle(path, singles, client, queue, admin));
      }
    }
    report(bulk, single);
  } finally {
    await release();
  }
}

function roundMessages(addresses: string[], round: number, count: number): MessageInput[] {
  return Array.from({ length: count }, (_, index) =>
    benchMessage(addresses[index % addresses.length] as string, round * count + index),
  );
}

/**
 * Empties Redis and publishes the mailboxes the way a worker does, so that the client checks
 * each sender against a real registry.
 */
async function resetRedis(admin: Redis, addresses: string[]): Promise<void> {
  await admin.flushdb();
  const limits = JSON.stringify({ sendAs: [], limits: EXCHANGE_ONLINE_LIMITS });
  await admin.hset(
    postroomKeys(QUEUE_NAME).mailboxRegistry,
    ...addresses.flatMap((address) => [address, limits]),
  );
}

/**
 * Builds the jobs that `sendMany` would add: the same payload shape, job id form and options,
 * with BullMQ priorities in the normal class ranked by position as the client's fairness ranking
 * would rank them.
 */
function bareJobs(messages: MessageInput[]): BulkJob[] {
  const nowMs = Date.now();
  return messages.map((input, index) => {
    const payload = createJobPayload(parseMessage(input), nowMs);
    const opts = jobOptionsFor(payload.message, createJobId(), IDEMPOTENCY_WINDOW_MS, nowMs);
    opts.priority = 2 + Math.floor(index / MAILBOX_COUNT) + 1;
    return { name: SEND_JOB_NAME, data: payload, opts };
  });
}

async function measureBulk(
  path: Path,
  messages: MessageInput[],
  client: MailClient,
  queue: Queue,
  admin: Redis,
): Promise<Sample> {
  const jobs = path === 'bare' ? bareJobs(messages) : [];
  const meter = new CommandMeter(admin);
  await meter.start();
  const startedAt = performance.now();
  for (let start = 0; start < messages.length; start += BATCH_SIZE) {
    if (path === 'postroom') await client.sendMany(messages.slice(start, start + BATCH_SIZE));
    else await queue.addBulk(jobs.slice(start, start + BATCH_SIZE));
  }
  const elapsedMs = performance.now() - startedAt;
  const commands = await meter.stop();
  return sample(messages.length, elapsedMs, commands.total);
}

async function measureSingle(
  path: Path,
  messages: MessageInput[],
  client: MailClient,
  queue: Queue,
  admin: Redis,
): Promise<Sample> {
  const jobs = path === 'bare' ? bareJobs(messages) : [];
  const meter = new CommandMeter(admin);
  await meter.start();
  const startedAt = performance.now();
  for (let index = 0; index < messages.length; index++) {
    if (path === 'postroom') await client.send(messages[index] as MessageInput);
    else {
      const job = jobs[index] as BulkJob;
      await queue.add(job.name, job.data, job.opts);
    }
  }
  const elapsedMs = performance.now() - startedAt;
  const commands = await meter.stop();
  return sample(messages.length, elapsedMs, commands.total);
}

function sample(count: number, elapsedMs: number, commands: number): Sample {
  return { messagesPerSecond: count / (elapsedMs / 1000), commandsPerMessage: commands / count };
}

function report(bulk: Record<Path, Sample[]>, single: Record<Path, Sample[]>): void {
  const rate = (samples: Sample[]) => samples.map((entry) => entry.messagesPerSecond);
  printTable(
    'Messages per second in each round',
    ['round', 'sendMany', 'addBulk', 'ratio', 'send()', 'queue.add()', 'ratio'],
    bulk.postroom.map((entry, index) => {
      const bare = bulk.bare[index] as Sample;
      const singlePostroom = single.postroom[index] as Sample;
      const singleBare = single.bare[index] as Sample;
      return [
        index + 1,
        Math.round(entry.messagesPerSecond),
        Math.round(bare.messagesPerSecond),
        round(entry.messagesPerSecond / bare.messagesPerSecond, 3),
        Math.round(singlePostroom.messagesPerSecond),
        Math.round(singleBare.messagesPerSecond),
        round(singlePostroom.messagesPerSecond / singleBare.messagesPerSecond, 3),
      ];
    }),
  );
  const postroomRate = median(rate(bulk.postroom));
  const bareRate = median(rate(bulk.bare));
  const singlePostroomRate = median(rate(single.postroom));
  const singleBareRate = median(rate(single.bare));
  const commands = (samples: Sample[]) =>
    round(median(samples.map((entry) => entry.commandsPerMessage)), 2);
  printTable(
    'Medians',
    ['path', 'messages/s', 'redis commands/message'],
    [
      ['MailClient.sendMany', Math.round(postroomRate), commands(bulk.postroom)],
      ['queue.addBulk', Math.round(bareRate), commands(bulk.bare)],
      ['MailClient.send', Math.round(singlePostroomRate), commands(single.postroom)],
      ['queue.add', Math.round(singleBareRate), commands(single.bare)],
    ],
  );

  printFigures({
    benchmark: 'enqueue',
    rounds: ROUNDS,
    messagesPerRound: MESSAGES_PER_ROUND,
    batchSize: BATCH_SIZE,
    sendManyPerSecond: Math.round(postroomRate),
    addBulkPerSecond: Math.round(bareRate),
    ratio: round(postroomRate / bareRate, 3),
    sendPerSecond: Math.round(singlePostroomRate),
    addPerSecond: Math.round(singleBareRate),
    singleRatio: round(singlePostroomRate / singleBareRate, 3),
    sendManyCommandsPerMessage: commands(bulk.postroom),
    addBulkCommandsPerMessage: commands(bulk.bare),
  });
}
