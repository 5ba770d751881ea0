import type { FaultSpec } from '@postroom/m365-emulator';
import { balanceBooks } from './lib/accounting.js';
import { benchMessage, mailboxAddresses } from './lib/messages.js';
import { printFigures, printLine, printTable } from './lib/report.js';
import { BenchStack } from './lib/stack.js';
import { round } from './lib/stats.js';
import { waitFor } from './lib/wait.js';

const MESSAGE_COUNT = 20_000;
const MAILBOX_COUNT = 10;
const WORKER_COUNT = 2;
const TIME_UNIT_MS = 1000;
/** High enough that the limits never hold a message back, because this run is about faults. */
const MESSAGES_PER_MINUTE = 600;
const ENQUEUE_BATCH = 1000;
/** One fault per this many SMTP transactions: 1 in 20 is 5%. */
const TRANSACTIONS_PER_FAULT = 20;
/** The worker is killed when this share of the messages has been accepted. */
const KILL_AT_SHARE = 0.4;
const DRAIN_TIMEOUT_MS = 5 * 60_000;

interface FaultKind {
  name: string;
  spec: FaultSpec;
}

// One cycle of 20 faults: the order in which they are injected, repeated for the whole run.
const FAULT_KINDS: Record<string, FaultKind> = {
  dropBeforeData: {
    name: 'connection dropped at MAIL FROM',
    spec: { stage: 'mail', action: 'drop' },
  },
  rcpt421: {
    name: '421 4.3.0 at RCPT TO',
    spec: {
      stage: 'rcpt',
      action: 'reply',
      reply: '421 4.3.0 Temporary system problem, try again later',
    },
  },
  mail451: {
    name: '451 4.7.500 at MAIL FROM',
    spec: {
      stage: 'mail',
      action: 'reply',
      reply: '451 4.7.500 Server busy. Please try again later.',
    },
  },
  dropAfterData: {
    name: 'connection dropped after DATA, message kept',
    spec: { stage: 'data-end', action: 'drop', accept: true },
  },
};
const FAULT_CYCLE = [
  ...Array<string>(8).fill('dropBeforeData'),
  ...Array<string>(5).fill('rcpt421'),
  ...Array<string>(5).fill('mail451'),
  ...Array<string>(2).fill('dropAfterData'),
];

/**
 * Sends 20,000 messages through two workers while the emulator fails about 5% of SMTP
 * transactions and one worker is killed with SIGKILL and replaced. Checks that every message
 * reaches a final state and that the server receives no message twice.
 */
export async function run(): Promise<void> {
  const addresses = mailboxAddresses(MAILBOX_COUNT, 'soak');
  const stack = await BenchStack.start({
    timeUnitMs: TIME_UNIT_MS,
    mailboxes: addresses.map((address) => ({ address, messagesPerMinute: MESSAGES_PER_MINUTE })),
    workerEnv: {
      POSTROOM_LOG_LEVEL: 'warn',
      // A killed worker's jobs come back once their lock expires, so the lock is short for this run.
      POSTROOM_SMTP_SOCKET_TIMEOUT_MS: '2000',
      POSTROOM_LOCK_DURATION_MS: '4000',
      POSTROOM_STALLED_INTERVAL_MS: '1000',
    },
  });
  try {
    for (let index = 0; index < WORKER_COUNT; index++) await stack.addWorker();
    printLine(
      `soak: ${MESSAGE_COUNT} messages, ${MAILBOX_COUNT} mailboxes, ${WORKER_COUNT} workers, 1 fault per ${TRANSACTIONS_PER_FAULT} SMTP transactions`,
    );
    await stack.withDiagnostics(() => soak(stack, addresses));
  } finally {
    await stack.stop();
  }
}

async function soak(stack: BenchStack, addresses: string[]): Promise<void> {
  const startedAt = Date.now();
  const injector = new FaultInjector(stack);
  const ids: string[] = [];
  for (let start = 0; start < MESSAGE_COUNT; start += ENQUEUE_BATCH) {
    const batch = Array.from(
      { length: Math.min(ENQUEUE_BATCH, MESSAGE_COUNT - start) },
      (_, offset) =>
        benchMessage(addresses[(start + offset) % addresses.length] as string, start + offset),
    );
    const results = await stack.client.sendMany(batch);
    ids.push(...results.map((result) => result.id));
  }
  const enqueuedMs = Date.now() - startedAt;

  let killedAt = 0;
  let activeAtKill: string[] = [];
  try {
    await waitFor(
      `${KILL_AT_SHARE * 100}% of the messages to be accepted`,
      () => injector.accepted() >= KILL_AT_SHARE * MESSAGE_COUNT,
      DRAIN_TIMEOUT_MS,
    );
    const victim = stack.local.workers[0];
    if (!victim) throw new Error('no worker process to kill: the stack started none');
    activeAtKill = (await stack.queue.getJobs(['active'])).map((job) => job.id as string);
    await victim.stop('SIGKILL');
    killedAt = injector.accepted();
    await stack.addWorker();

    await waitFor(
      'every job to finish',
      async () => (await stack.unfinishedJobs()) === 0,
      DRAIN_TIMEOUT_MS,
      500,
    );
  } finally {
    injector.stop();
  }
  const elapsedMs = Date.now() - startedAt;

  const accepted = stack.emulator.messages();
  const books = await balanceBooks(stack.client, ids, accepted);
  const activeBooks = await balanceBooks(stack.client, activeAtKill, accepted);
  const stats = stack.emulator.stats();
  const duplicates = stats.duplicateMessageIds + books.repeatedMessageIds;

  printTable(
    'Faults injected',
    ['fault', 'count'],
    Object.entries(injector.counts).map(([kind, count]) => [
      FAULT_KINDS[kind]?.name ?? kind,
      count,
    ]),
  );
  printLine(`faults not yet consumed at the end: ${stack.emulator.faults().length}`);
  printLine(
    `worker killed with SIGKILL after ${killedAt} acceptances and replaced; of the ${activeAtKill.length} jobs active in either worker just before, ${activeBooks.sent} ended sent, ${activeBooks.unknown} unknown (${activeBooks.unknownButAccepted} of them accepted by the server), ${activeBooks.failed} failed, ${activeBooks.lost} without a final state`,
  );
  printTable(
    'Outcomes',
    ['outcome', 'messages'],
    [...books.reasons].sort((a, b) => b[1] - a[1]),
  );
  printTable(
    'Accounting',
    ['figure', 'value'],
    [
      ['enqueued', books.enqueued],
      ['sent', books.sent],
      ['failed', books.failed],
      ['outcome unknown', books.unknown],
      ['lost (no final state)', books.lost],
      ['duplicates', duplicates],
      ['sent but not accepted by the server', books.sentButNotAccepted],
      ['failed but accepted by the server', books.failedButAccepted],
      ['outcome unknown, and accepted by the server', books.unknownButAccepted],
      [
        'throttling replies (432 + rate)',
        (stats.repliesByCode['432'] ?? 0) + stats.violations.rate,
      ],
      ['seconds', round(elapsedMs / 1000, 1)],
    ],
  );

  printFigures({
    benchmark: 'soak',
    mailboxes: MAILBOX_COUNT,
    workers: WORKER_COUNT,
    enqueued: books.enqueued,
    sent: books.sent,
    failed: books.failed,
    unknown: books.unknown,
    lost: books.lost,
    duplicates,
    duplicateMessageIds: stats.duplicateMessageIds,
    repeatedMessageIds: books.repeatedMessageIds,
    sentButNotAccepted: books.sentButNotAccepted,
    failedButAccepted: books.failedButAccepted,
    unknownButAccepted: books.unknownButAccepted,
    faultsInjected: injector.total,
    faultShare: round(injector.total / (injector.accepted() + injector.total), 3),
    throttlingReplies: (stats.repliesByCode['432'] ?? 0) + stats.violations.rate,
    killedAfterAccepted: killedAt,
    activeAtKill: activeAtKill.length,
    activeAtKillUnknown: activeBooks.unknown,
    enqueueSeconds: round(enqueuedMs / 1000, 1),
    elapsedSeconds: round(elapsedMs / 1000, 1),
    messagesPerSecond: round(books.sent / (elapsedMs / 1000), 1),
  });
}

/**
 * Keeps injected faults at one per TRANSACTIONS_PER_FAULT transactions: every 50 ms it adds the
 * faults that the acceptances since the last check call for, in the order of FAULT_CYCLE. A fault
 * applies to the next SMTP command of its stage on any connection.
 */
class FaultInjector {
  readonly counts: Record<string, number> = {};
  total = 0;
  readonly #stack: BenchStack;
  readonly #timer: NodeJS.Timeout;

  constructor(stack: BenchStack) {
    this.#stack = stack;
    this.#timer = setInterval(() => this.#topUp(), 50);
  }

  accepted(): number {
    const byMailbox = this.#stack.emulator.stats().messagesByMailbox;
    return Object.values(byMailbox).reduce((sum, count) => sum + count, 0);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  #topUp(): void {
    // Faults make up 1 in TRANSACTIONS_PER_FAULT of accepted plus faulted transactions.
    const due = Math.floor(this.accepted() / (TRANSACTIONS_PER_FAULT - 1));
    while (this.total < due) {
      const kind = FAULT_CYCLE[this.total % FAULT_CYCLE.length] as string;
      this.#stack.emulator.addFault((FAULT_KINDS[kind] as FaultKind).spec);
      this.counts[kind] = (this.counts[kind] ?? 0) + 1;
      this.total += 1;
    }
  }
}
