import { setTimeout as delay } from 'node:timers/promises';
import { benchMessage } from './lib/messages.js';
import { printFigures, printLine, printTable } from './lib/report.js';
import { BenchStack } from './lib/stack.js';
import { max, median, percentile, round } from './lib/stats.js';
import { waitFor } from './lib/wait.js';

const MAILBOX = 'alerts@contoso.example';
/** Time between two sends: 10 messages per second, far below what one worker can send. */
const SEND_INTERVAL_MS = 100;
const WARM_MESSAGES = 400;
/** Fewer, because each of these opens a connection with STARTTLS and AUTH. */
const COLD_MESSAGES = 150;
const WARM_UP_MESSAGES = 20;

interface Variant {
  name: string;
  connectionIdleMs: number;
  messages: number;
}

// Warm: connections stay open between messages, as under steady traffic. Cold: every message
// opens, upgrades and authenticates a new connection, as after a quiet spell.
const VARIANTS: Variant[] = [
  { name: 'warm connection', connectionIdleMs: 5000, messages: WARM_MESSAGES },
  { name: 'new connection per message', connectionIdleMs: 0, messages: COLD_MESSAGES },
];

interface Samples {
  variant: Variant;
  /** From `send()` resolving to the server accepting the message, in ms. */
  acceptanceMs: number[];
  /** Duration of the `send()` call itself, in ms. */
  sendCallMs: number[];
}

/**
 * Measures latency at low load: the time from `send()` resolving (the job is stored) to the
 * emulator's acceptance of the message, matched by Message-ID. Both clocks are this process's.
 */
export async function run(): Promise<void> {
  const stack = await BenchStack.start({
    timeUnitMs: 1000,
    mailboxes: [{ address: MAILBOX, messagesPerMinute: 1000 }],
    workerEnv: { POSTROOM_LOG_LEVEL: 'warn' },
  });
  try {
    printLine(`latency: 1 worker, 1 mailbox, one message every ${SEND_INTERVAL_MS} ms`);
    const samples: Samples[] = [];
    for (const variant of VARIANTS) {
      samples.push(await stack.withDiagnostics(() => measure(stack, variant)));
    }
    report(samples);
  } finally {
    await stack.stop();
  }
}

async function measure(stack: BenchStack, variant: Variant): Promise<Samples> {
  const worker = await stack.addWorker({
    POSTROOM_CONNECTION_IDLE_MS: String(variant.connectionIdleMs),
  });
  try {
    // The first messages pay for the token request and module warm-up; they are not measured.
    await sendAndWait(stack, WARM_UP_MESSAGES);
    const sent: { id: string; resolvedAt: number; callMs: number }[] = [];
    for (let index = 0; index < variant.messages; index++) {
      const calledAt = performance.now();
      const { id } = await stack.client.send(benchMessage(MAILBOX, index));
      sent.push({ id, resolvedAt: Date.now(), callMs: performance.now() - calledAt });
      await delay(SEND_INTERVAL_MS);
    }
    await waitFor(
      'every message to be final',
      async () => (await stack.unfinishedJobs()) === 0,
      60_000,
      100,
    );

    const acceptedAt = new Map(
      stack.emulator.messages(MAILBOX).map((message) => [message.messageId, message.acceptedAt]),
    );
    const acceptanceMs = await Promise.all(
      sent.map(async (entry) => {
        const status = await stack.client.status(entry.id);
        const at = status ? acceptedAt.get(status.messageId) : undefined;
        if (at === undefined)
          throw new Error(`message ${entry.id} was not accepted (status ${status?.state})`);
        return at - entry.resolvedAt;
      }),
    );
    return { variant, acceptanceMs, sendCallMs: sent.map((entry) => entry.callMs) };
  } finally {
    await worker.stop('SIGTERM');
    stack.emulator.reset();
  }
}

async function sendAndWait(stack: BenchStack, count: number): Promise<void> {
  for (let index = 0; index < count; index++) {
    await stack.client.send(benchMessage(MAILBOX, index));
    await delay(SEND_INTERVAL_MS);
  }
  await waitFor(
    'the warm-up messages',
    async () => (await stack.unfinishedJobs()) === 0,
    60_000,
    100,
  );
}

function report(samples: Samples[]): void {
  printTable(
    'Enqueue to acceptance, ms',
    ['connection', 'messages', 'p50', 'p90', 'p99', 'max', 'send() p50', 'send() p99'],
    samples.map((entry) => [
      entry.variant.name,
      entry.acceptanceMs.length,
      round(median(entry.acceptanceMs), 1),
      round(percentile(entry.acceptanceMs, 90), 1),
      round(percentile(entry.acceptanceMs, 99), 1),
      round(max(entry.acceptanceMs), 1),
      round(median(entry.sendCallMs), 2),
      round(percentile(entry.sendCallMs, 99), 2),
    ]),
  );
  const [warm, cold] = samples as [Samples, Samples];
  printFigures({
    benchmark: 'latency',
    sendIntervalMs: SEND_INTERVAL_MS,
    messages: warm.acceptanceMs.length,
    p50Ms: round(median(warm.acceptanceMs), 1),
    p99Ms: round(percentile(warm.acceptanceMs, 99), 1),
    maxMs: round(max(warm.acceptanceMs), 1),
    newConnectionP50Ms: round(median(cold.acceptanceMs), 1),
    newConnectionP99Ms: round(percentile(cold.acceptanceMs, 99), 1),
    sendCallP50Ms: round(median(warm.sendCallMs), 2),
    sendCallP99Ms: round(percentile(warm.sendCallMs, 99), 2),
  });
}
