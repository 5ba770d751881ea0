import type { WorkerProcess } from '../apps/cli/src/worker-process.js';
import { benchMessage, mailboxAddresses } from './lib/messages.js';
import { ResidentSampler } from './lib/process-stats.js';
import { usedMemoryBytes } from './lib/redis-info.js';
import { printFigures, printLine, printTable } from './lib/report.js';
import { BenchStack } from './lib/stack.js';
import { round } from './lib/stats.js';
import { waitFor } from './lib/wait.js';

const MESSAGE_COUNT = 100_000;
const MAILBOX_COUNT = 1000;
const WORKER_COUNT = 2;
/** One emulated minute of 10 s with 10 messages in it: each mailbox may send one per second. */
const TIME_UNIT_MS = 10_000;
const MESSAGES_PER_MINUTE = 10;
const ENQUEUE_BATCH = 1000;
const RSS_SAMPLE_INTERVAL_MS = 500;
const DRAIN_TIMEOUT_MS = 9 * 60_000;
const RSS_TARGET_BYTES = 300 * 1024 * 1024;
const PROGRESS_HEADER = [
  'seconds',
  'accepted',
  'jobs not yet taken',
  'jobs delayed',
  'SMTP connections open',
  'SMTP connections opened',
  'max worker RSS MB so far',
];

/**
 * Queues 100,000 messages for 1,000 mailboxes and measures the Redis memory per queued message,
 * the workers' resident memory while they drain the queue, and the time the drain takes.
 */
export async function run(): Promise<void> {
  const addresses = mailboxAddresses(MAILBOX_COUNT, 'tenant');
  const stack = await BenchStack.start({
    timeUnitMs: TIME_UNIT_MS,
    mailboxes: addresses.map((address) => ({ address, messagesPerMinute: MESSAGES_PER_MINUTE })),
    workerEnv: { POSTROOM_LOG_LEVEL: 'warn' },
    // Compiled, as in production: tsx would add about 46 MB and its start-up CPU to the figures.
    workerRuntime: 'compiled',
  });
  try {
    await stack.withDiagnostics(() => drainBacklog(stack, addresses));
  } finally {
    await stack.stop();
  }
}

async function drainBacklog(stack: BenchStack, addresses: string[]): Promise<void> {
  const perMailbox = MESSAGE_COUNT / MAILBOX_COUNT;
  const limitBoundSeconds = ((perMailbox - 1) * TIME_UNIT_MS) / MESSAGES_PER_MINUTE / 1000;
  printLine(
    `backlog: ${MESSAGE_COUNT} messages, ${MAILBOX_COUNT} mailboxes, ${MESSAGES_PER_MINUTE} messages per ${TIME_UNIT_MS} ms window each, ${WORKER_COUNT} workers`,
  );

  // Enqueue with no worker running, so the memory figure is for queued messages only.
  const memoryBeforeBytes = await usedMemoryBytes(stack.admin);
  const enqueueStartedAt = Date.now();
  for (let start = 0; start < MESSAGE_COUNT; start += ENQUEUE_BATCH) {
    const batch = Array.from({ length: ENQUEUE_BATCH }, (_, offset) =>
      benchMessage(addresses[(start + offset) % addresses.length] as string, start + offset),
    );
    await stack.client.sendMany(batch);
  }
  const enqueueMs = Date.now() - enqueueStartedAt;
  const queuedBytes = (await usedMemoryBytes(stack.admin)) - memoryBeforeBytes;

  const workers: WorkerProcess[] = [];
  for (let index = 0; index < WORKER_COUNT; index++) workers.push(await stack.addWorker());
  const sampler = new ResidentSampler(
    workers.map((worker) => worker.pid as number),
    RSS_SAMPLE_INTERVAL_MS,
  );
  const drainStartedAt = Date.now();
  const progress: number[][] = [];
  try {
    await waitFor(
      `${MESSAGE_COUNT} messages to be drained`,
      async () => {
        const accepted = acceptedCount(stack);
        const seconds = Math.floor((Date.now() - drainStartedAt) / 1000);
        if (seconds % 30 === 0 && progress.at(-1)?.[0] !== seconds) {
          progress.push(await progressRow(stack, seconds, accepted, sampler));
        }
        return accepted >= MESSAGE_COUNT && (await stack.unfinishedJobs()) === 0;
      },
      DRAIN_TIMEOUT_MS,
      250,
    );
  } catch (error) {
    // On a loaded machine the drain can outlast its time limit. The progress and the worker
    // memory until then are still measurements, so they are printed before the failure.
    printTable('Drain progress until the time limit', PROGRESS_HEADER, progress);
    printLine(
      `max worker RSS MB until the time limit: ${round(sampler.stop() / 2 ** 20, 1)} (${sampler.samples} samples, ${acceptedCount(stack)} messages accepted)`,
    );
    throw error;
  } finally {
    sampler.stop();
  }
  const drainMs = Date.now() - drainStartedAt;
  const retainedBytes = (await usedMemoryBytes(stack.admin)) - memoryBeforeBytes;
  const stats = stack.emulator.stats();
  const failed = await stack.admin.zcard(stack.queueKey('failed'));
  const accepted = acceptedCount(stack);

  printTable('Drain progress', PROGRESS_HEADER, progress);
  printTable(
    'Backlog',
    ['figure', 'value'],
    [
      ['enqueue seconds', round(enqueueMs / 1000, 1)],
      ['Redis bytes per queued message', Math.round(queuedBytes / MESSAGE_COUNT)],
      ['drain seconds', round(drainMs / 1000, 1)],
      ['minimum drain seconds the limits allow', round(limitBoundSeconds, 1)],
      ['messages per second while draining', Math.round(accepted / (drainMs / 1000))],
      ['SMTP connections opened (235 replies to AUTH)', stats.repliesByCode['235'] ?? 0],
      ['max worker RSS MB', round(sampler.maxBytes / 2 ** 20, 1)],
      ['RSS samples', sampler.samples],
      ['accepted by the emulator', accepted],
      ['failed jobs', failed],
      [
        'throttling replies (432 + rate)',
        (stats.repliesByCode['432'] ?? 0) + stats.violations.rate,
      ],
      ['duplicate Message-IDs', stats.duplicateMessageIds],
      ['Redis bytes per message kept after sending', Math.round(retainedBytes / MESSAGE_COUNT)],
    ],
  );

  printFigures({
    benchmark: 'backlog',
    messages: MESSAGE_COUNT,
    mailboxes: MAILBOX_COUNT,
    workers: WORKER_COUNT,
    timeUnitMs: TIME_UNIT_MS,
    messagesPerWindow: MESSAGES_PER_MINUTE,
    redisBytesPerQueuedMessage: Math.round(queuedBytes / MESSAGE_COUNT),
    drained: accepted,
    failed,
    drainSeconds: round(drainMs / 1000, 1),
    limitBoundDrainSeconds: round(limitBoundSeconds, 1),
    smtpConnectionsOpened: stats.repliesByCode['235'] ?? 0,
    maxWorkerRssMb: round(sampler.maxBytes / 2 ** 20, 1),
    workerRssUnderTarget: sampler.maxBytes < RSS_TARGET_BYTES,
    throttlingReplies: (stats.repliesByCode['432'] ?? 0) + stats.violations.rate,
    duplicateMessageIds: stats.duplicateMessageIds,
    redisBytesPerSentMessageRetained: Math.round(retainedBytes / MESSAGE_COUNT),
    enqueueSeconds: round(enqueueMs / 1000, 1),
  });
}

/**
 * Builds one row of the progress table. Jobs not yet taken wait in BullMQ's priority order. A
 * job that reached the gate and must wait for its mailbox is delayed (parked) until its turn.
 */
async function progressRow(
  stack: BenchStack,
  seconds: number,
  accepted: number,
  sampler: ResidentSampler,
): Promise<number[]> {
  const counts = await stack.queue.getJobCounts('wait', 'prioritized', 'delayed');
  const stats = stack.emulator.stats();
  const openConnections = Object.values(stats.openConnections);
  return [
    seconds,
    accepted,
    (counts.wait ?? 0) + (counts.prioritized ?? 0),
    counts.delayed ?? 0,
    openConnections.reduce((sum, count) => sum + count, 0),
    stats.repliesByCode['235'] ?? 0,
    Math.round(sampler.maxBytes / 2 ** 20),
  ];
}

function acceptedCount(stack: BenchStack): number {
  const byMailbox = stack.emulator.stats().messagesByMailbox;
  return Object.values(byMailbox).reduce((sum, count) => sum + count, 0);
}
