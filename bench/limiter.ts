import { setTimeout as delay } from 'node:timers/promises';
import type { AcceptedMessage } from '@postroom/m365-emulator';
import { benchMessage, mailboxAddresses } from './lib/messages.js';
import { CommandMeter, topCommands } from './lib/redis-info.js';
import { printFigures, printLine, printTable } from './lib/report.js';
import { BenchStack } from './lib/stack.js';
import { max, median, min, round } from './lib/stats.js';
import { waitFor } from './lib/wait.js';

const MAILBOX_COUNT = 20;
const WORKER_COUNT = 3;
/** One emulated minute. The worker's rate window has the same length. */
const TIME_UNIT_MS = 3000;
const MESSAGES_PER_WINDOW = 10;
/** Kept small, because the gate's rate log of accepted sends keeps the limit, not this margin. */
const RATE_GUARD_MS = 50;
/** High-priority messages per mailbox, injected once each at these shares of the backlog sent. */
const HIGH_PRIORITY_AT = [0.25, 0.45, 0.65];
const PHASE_TIMEOUT_MS = 90_000;

interface Phase {
  /** Backlog per mailbox, in rate windows: windows × MESSAGES_PER_WINDOW messages. */
  windows: number;
  injectHighPriority: boolean;
}

// The middle phase carries the high-priority messages. The outer two differ only in backlog
// depth, so their Redis command counts show whether the cost per message grows with the backlog.
const PHASES: Phase[] = [
  { windows: 2, injectHighPriority: false },
  { windows: 4, injectHighPriority: true },
  { windows: 6, injectHighPriority: false },
];

interface MailboxResult {
  mailbox: string;
  accepted: number;
  busyMs: number;
  achievedRatio: number;
}

interface HighPriorityResult {
  mailbox: string;
  delaySlots: number;
  delayMs: number;
}

interface PhaseResult {
  phase: Phase;
  messages: number;
  elapsedMs: number;
  mailboxes: MailboxResult[];
  highPriority: HighPriorityResult[];
  throttlingReplies: number;
  connectionViolations: number;
  maxConnections: number;
  duplicateMessageIds: number;
  redisCommands: number;
  commandsByName: Map<string, number>;
}

/**
 * Drains deep backlogs of 20 mailboxes with three worker processes. Measures how close each
 * mailbox sends to its limit, counts throttling replies, measures how far high-priority messages
 * overtake the backlog, and compares the Redis commands per message at two backlog depths.
 */
export async function run(): Promise<void> {
  const addresses = mailboxAddresses(MAILBOX_COUNT);
  const stack = await BenchStack.start({
    timeUnitMs: TIME_UNIT_MS,
    mailboxes: addresses.map((address) => ({ address, messagesPerMinute: MESSAGES_PER_WINDOW })),
    workerEnv: { POSTROOM_RATE_GUARD_MS: String(RATE_GUARD_MS), POSTROOM_LOG_LEVEL: 'warn' },
  });
  try {
    for (let index = 0; index < WORKER_COUNT; index++) await stack.addWorker();
    printLine(
      `limiter: ${MAILBOX_COUNT} mailboxes, ${WORKER_COUNT} workers, ${MESSAGES_PER_WINDOW} messages per ${TIME_UNIT_MS} ms window, rate guard ${RATE_GUARD_MS} ms`,
    );

    const results: PhaseResult[] = [];
    let completedBefore = 0;
    for (const phase of PHASES) {
      const before = completedBefore;
      const result = await stack.withDiagnostics(() => runPhase(stack, addresses, phase, before));
      completedBefore += result.messages;
      results.push(result);
      // Let every rate window empty before the next phase, then clear the emulator's records.
      await delay(TIME_UNIT_MS + RATE_GUARD_MS);
      stack.emulator.reset();
    }
    report(results);
  } finally {
    await stack.stop();
  }
}

async function runPhase(
  stack: BenchStack,
  addresses: string[],
  phase: Phase,
  completedBefore: number,
): Promise<PhaseResult> {
  const perMailbox = phase.windows * MESSAGES_PER_WINDOW;
  const backlog = Array.from({ length: perMailbox * addresses.length }, (_, index) =>
    benchMessage(addresses[index % addresses.length] as string, index),
  );
  const highCount = phase.injectHighPriority ? HIGH_PRIORITY_AT.length * addresses.length : 0;
  const total = backlog.length + highCount;

  const meter = new CommandMeter(stack.admin);
  await meter.start();
  const startedAt = Date.now();
  await stack.client.sendMany(backlog);

  const injected: { id: string; mailbox: string; enqueuedAt: number }[] = [];
  if (phase.injectHighPriority) {
    for (const share of HIGH_PRIORITY_AT) {
      await waitFor(
        `${Math.round(share * 100)}% of the backlog to be sent`,
        () => acceptedCount(stack) >= share * backlog.length,
        PHASE_TIMEOUT_MS,
        20,
      );
      injected.push(...(await injectHighPriority(stack, addresses)));
    }
  }

  const finished = () => meter.zcard(stack.queueKey('completed'));
  const failed = () => meter.zcard(stack.queueKey('failed'));
  await waitFor(
    `${total} messages to finish`,
    async () => (await finished()) + (await failed()) >= completedBefore + total,
    PHASE_TIMEOUT_MS,
    200,
  );
  const commands = await meter.stop();
  const elapsedMs = Date.now() - startedAt;
  const failedJobs = await stack.admin.zcard(stack.queueKey('failed'));
  if (failedJobs > 0) throw new Error(`${failedJobs} jobs failed; see the worker logs`);

  const accepted = stack.emulator.messages();
  const stats = stack.emulator.stats();
  return {
    phase,
    messages: total,
    elapsedMs,
    mailboxes: addresses.map((address) => mailboxResult(address, accepted)),
    highPriority: await highPriorityResults(stack, injected, accepted),
    throttlingReplies: (stats.repliesByCode['432'] ?? 0) + stats.violations.rate,
    connectionViolations: stats.violations.connections,
    maxConnections: max(Object.values(stats.maxConcurrentConnections)),
    duplicateMessageIds: stats.duplicateMessageIds,
    redisCommands: commands.total,
    commandsByName: commands.byCommand,
  };
}

function acceptedCount(stack: BenchStack): number {
  const byMailbox = stack.emulator.stats().messagesByMailbox;
  return Object.values(byMailbox).reduce((sum, count) => sum + count, 0);
}

/** Sends one high-priority message per mailbox and notes when each send was called. */
async function injectHighPriority(stack: BenchStack, addresses: string[]) {
  return Promise.all(
    addresses.map(async (mailbox, index) => {
      const enqueuedAt = Date.now();
      const message = {
        ...benchMessage(mailbox, 1_000_000 + index, 'high'),
        subject: 'Sign-in code',
      };
      const { id } = await stack.client.send(message);
      return { id, mailbox, enqueuedAt };
    }),
  );
}

/**
 * Achieved ratio of one mailbox: the messages accepted after its first one, divided by what its
 * limit allows in the time from its first to its last acceptance (that time × messages per
 * window ÷ window length). Sending exactly at the limit rate gives 1.
 */
function mailboxResult(mailbox: string, accepted: AcceptedMessage[]): MailboxResult {
  const times = accepted
    .filter((message) => message.mailbox === mailbox)
    .map((message) => message.acceptedAt)
    .sort((a, b) => a - b);
  const busyMs = (times.at(-1) ?? 0) - (times[0] ?? 0);
  const allowed = (busyMs * MESSAGES_PER_WINDOW) / TIME_UNIT_MS;
  return {
    mailbox,
    accepted: times.length,
    busyMs,
    achievedRatio: allowed > 0 ? (times.length - 1) / allowed : Number.NaN,
  };
}

/**
 * Delay of each high-priority message in send slots: how many normal messages of its mailbox the
 * emulator accepted after `send()` was called for it and before it was accepted itself.
 */
async function highPriorityResults(
  stack: BenchStack,
  injected: { id: string; mailbox: string; enqueuedAt: number }[],
  accepted: AcceptedMessage[],
): Promise<HighPriorityResult[]> {
  const byMessageId = new Map(accepted.map((message) => [message.messageId, message]));
  const highIds = new Set<string>();
  const resolved = await Promise.all(
    injected.map(async (entry) => {
      const status = await stack.client.status(entry.id);
      const message = status ? byMessageId.get(status.messageId) : undefined;
      if (!message) throw new Error(`high-priority message ${entry.id} was not accepted`);
      highIds.add(message.messageId);
      return { ...entry, acceptedAt: message.acceptedAt };
    }),
  );
  return resolved.map((entry) => {
    const overtaken = accepted.filter(
      (message) =>
        message.mailbox === entry.mailbox &&
        !highIds.has(message.messageId) &&
        message.acceptedAt > entry.enqueuedAt &&
        message.acceptedAt < entry.acceptedAt,
    );
    return {
      mailbox: entry.mailbox,
      delaySlots: overtaken.length,
      delayMs: entry.acceptedAt - entry.enqueuedAt,
    };
  });
}

function report(results: PhaseResult[]): void {
  printTable(
    'Per phase (ratios over the mailboxes of the phase)',
    [
      'backlog windows',
      'messages',
      'seconds',
      'ratio min',
      'ratio median',
      'ratio max',
      'throttling replies',
      'max connections',
      'redis commands/message',
    ],
    results.map((result) => {
      const ratios = result.mailboxes.map((mailbox) => mailbox.achievedRatio);
      return [
        result.phase.windows,
        result.messages,
        round(result.elapsedMs / 1000, 1),
        round(min(ratios), 3),
        round(median(ratios), 3),
        round(max(ratios), 3),
        result.throttlingReplies,
        result.maxConnections,
        round(result.redisCommands / result.messages, 1),
      ];
    }),
  );

  const highPriority = results.flatMap((result) => result.highPriority);
  const slots = highPriority.map((entry) => entry.delaySlots);
  const delaysMs = highPriority.map((entry) => entry.delayMs);
  const histogram = new Map<number, number>();
  for (const slot of slots) histogram.set(slot, (histogram.get(slot) ?? 0) + 1);
  printTable(
    `High-priority messages (${highPriority.length}): normal messages of the same mailbox accepted before them`,
    ['slots', 'messages'],
    [...histogram].sort((a, b) => a[0] - b[0]),
  );
  printLine(
    `high-priority delay from send() to acceptance: median ${round(median(delaysMs))} ms, max ${round(max(delaysMs))} ms (send interval ${round((TIME_UNIT_MS + RATE_GUARD_MS) / MESSAGES_PER_WINDOW)} ms)`,
  );
  for (const result of results) {
    const perMessage = topCommands(result.commandsByName, 8, result.messages);
    printLine(`commands per message, ${result.phase.windows} windows: ${perMessage}`);
  }

  const ratios = results.flatMap((result) =>
    result.mailboxes.map((mailbox) => mailbox.achievedRatio),
  );
  const commandsPerMessage = Object.fromEntries(
    results
      .filter((result) => !result.phase.injectHighPriority)
      .map((result) => [
        `${result.phase.windows}windows`,
        round(result.redisCommands / result.messages, 1),
      ]),
  );
  printFigures({
    benchmark: 'limiter',
    mailboxes: MAILBOX_COUNT,
    workers: WORKER_COUNT,
    timeUnitMs: TIME_UNIT_MS,
    messagesPerWindow: MESSAGES_PER_WINDOW,
    rateGuardMs: RATE_GUARD_MS,
    messages: results.reduce((sum, result) => sum + result.messages, 0),
    achievedRatioMin: round(min(ratios), 3),
    achievedRatioMedian: round(median(ratios), 3),
    achievedRatioMax: round(max(ratios), 3),
    achievedRatioCeiling: round(TIME_UNIT_MS / (TIME_UNIT_MS + RATE_GUARD_MS), 3),
    throttlingReplies: results.reduce((sum, result) => sum + result.throttlingReplies, 0),
    connectionViolations: results.reduce((sum, result) => sum + result.connectionViolations, 0),
    duplicateMessageIds: results.reduce((sum, result) => sum + result.duplicateMessageIds, 0),
    highPriorityMessages: highPriority.length,
    highPriorityMaxDelaySlots: max(slots),
    highPriorityMedianDelayMs: round(median(delaysMs)),
    redisCommandsPerMessage: commandsPerMessage,
  });
}
