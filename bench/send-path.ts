import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createJobPayload, parseMessage } from '@postroom/core';
import type { WorkerProcess } from '../apps/cli/src/worker-process.js';
import { renderMessage } from '../apps/worker/src/mime.js';
import { type BaselineMessage, type BaselineRound, NodemailerBaseline } from './lib/baseline.js';
import { benchMessage } from './lib/messages.js';
import { cpuTimeMs } from './lib/process-stats.js';
import { CommandMeter, topCommands } from './lib/redis-info.js';
import { printFigures, printLine, printTable } from './lib/report.js';
import { SmtpSink } from './lib/smtp-sink.js';
import { BenchStack } from './lib/stack.js';
import { median, round } from './lib/stats.js';
import { fetchAccessToken } from './lib/token.js';
import { waitFor } from './lib/wait.js';

const MAILBOX = 'receipts@contoso.example';
const MAX_CONNECTIONS = 3;
const MESSAGES_PER_ROUND = 3000;
const ROUNDS = 5;
/** The worker's default concurrency, used by the two main comparisons. */
const DEFAULT_CONCURRENCY = 16;
/** Half the default, to show what the concurrency adds. */
const HALF_CONCURRENCY = 8;
/** Rounds of the two extra runs, at half the default concurrency and at the connection limit. */
const LOW_CONCURRENCY_ROUNDS = 3;
/**
 * Unrecorded rounds of each path before the recorded ones. Both processes are new, and their
 * first rounds measure V8 compiling their code, and the first token and authentication, more
 * than sending: the worker's CPU per message fell for the first two rounds of 3,000 and then held.
 */
const WARM_UP_ROUNDS = 2;
/** Short, so that the worker's connections are closed between rounds and each round opens its own. */
const CONNECTION_IDLE_MS = 1000;
const ROUND_TIMEOUT_MS = 120_000;

/** A server the messages go to, either the emulator or the sink that accepts everything. */
interface Server {
  name: string;
  port: number;
  accepted(): Promise<number>;
  /** Resolves once no connection of the previous round is left open. */
  idle(): Promise<void>;
  /** Clears the server's counters between rounds, so its rolling-day recipient limit never bites. */
  reset(): Promise<void>;
}

interface RoundResult {
  messagesPerSecond: number;
  cpuMsPerMessage: number;
  redisCommandsPerMessage?: number;
  /** The commands Redis ran most often in the round, per message. */
  topCommands?: string;
}

type Path = 'postroom' | 'composed' | 'preRendered';

interface Comparison {
  server: string;
  concurrency: number;
  postroom: RoundResult[];
  /** nodemailer composing each message from its fields, as a plain nodemailer sender does. */
  composed: RoundResult[];
  /** nodemailer sending MIME rendered before the round: the wire's ceiling. */
  preRendered: RoundResult[];
}

/**
 * Compares the throughput of one worker process, with the limits out of the way, against a plain
 * nodemailer pooled loop that sends the same messages to the same server over the same STARTTLS
 * and XOAUTH2: once composed by nodemailer, as a nodemailer sender does, and once pre-rendered.
 * The loop is the ceiling of this SMTP stack. Rounds are interleaved.
 */
export async function run(): Promise<void> {
  const stack = await BenchStack.start({
    timeUnitMs: 1000,
    mailboxes: [
      { address: MAILBOX, messagesPerMinute: 1_000_000, maxConnections: MAX_CONNECTIONS },
    ],
    workerEnv: {
      POSTROOM_LOG_LEVEL: 'warn',
      POSTROOM_CONNECTION_IDLE_MS: String(CONNECTION_IDLE_MS),
    },
    // Compiled, as in production: tsx would add about 46 MB and its start-up CPU to the figures.
    workerRuntime: 'compiled',
  });
  const baseline = NodemailerBaseline.start();
  try {
    await stack.withDiagnostics(() => compareAll(stack, baseline));
  } finally {
    await baseline.stop();
    await stack.stop();
  }
}

async function compareAll(stack: BenchStack, baseline: NodemailerBaseline): Promise<void> {
  // The worker's recipient window is 1440 time units; lift its daily recipient limit out of the way.
  await stack.overrideWorkerLimits({ recipientsPerDay: 100_000_000 });
  const caFile = stack.emulator.caFile;
  const ca = await readFile(caFile, 'utf8');
  const app = await stack.app();
  const accessToken = await fetchAccessToken(stack.emulator.tokenUrl(app.tenantId), ca, app);
  const sink = await SmtpSink.start(join(dirname(caFile), 'key.pem'), caFile);
  try {
    const emulatorDuplicates = { count: 0 };
    const emulator = emulatorServer(stack, emulatorDuplicates);
    const sinkServer: Server = {
      name: 'smtp sink',
      port: sink.port,
      accepted: async () => (await sink.counts()).accepted,
      idle: () => delay(CONNECTION_IDLE_MS + 500),
      reset: async () => {
        await sink.reset();
      },
    };
    printLine(
      `send path: 1 worker, 1 mailbox, ${MAX_CONNECTIONS} connections, ${ROUNDS} interleaved rounds of ${MESSAGES_PER_ROUND} messages after ${WARM_UP_ROUNDS} unrecorded rounds of each path`,
    );
    const context = { stack, baseline, ca, accessToken };
    const results = [
      await compare(context, emulator, DEFAULT_CONCURRENCY, ROUNDS),
      await compare(context, sinkServer, DEFAULT_CONCURRENCY, ROUNDS),
      await compare(context, emulator, HALF_CONCURRENCY, LOW_CONCURRENCY_ROUNDS),
      await compare(context, emulator, MAX_CONNECTIONS, LOW_CONCURRENCY_ROUNDS),
    ];
    const repeated =
      (await sink.counts()).repeatedMessageIds +
      emulatorDuplicates.count +
      stack.emulator.stats().duplicateMessageIds;
    report(results, repeated);
  } finally {
    await sink.stop();
  }
}

/** Wraps the emulator as a Server. `duplicates` adds up its duplicate Message-IDs across resets. */
function emulatorServer(stack: BenchStack, duplicates: { count: number }): Server {
  return {
    name: 'emulator',
    port: stack.emulator.smtpPort,
    accepted: async () => stack.emulator.stats().messagesByMailbox[MAILBOX] ?? 0,
    idle: () =>
      waitFor(
        'the previous round to close its connections',
        () => (stack.emulator.stats().openConnections[MAILBOX] ?? 0) === 0,
        10_000,
        50,
      ),
    reset: async () => {
      duplicates.count += stack.emulator.stats().duplicateMessageIds;
      stack.emulator.reset();
    },
  };
}

interface Context {
  stack: BenchStack;
  baseline: NodemailerBaseline;
  ca: string;
  accessToken: string;
}

async function compare(
  context: Context,
  server: Server,
  concurrency: number,
  rounds: number,
): Promise<Comparison> {
  const worker = await context.stack.addWorker({
    POSTROOM_SMTP_PORT: String(server.port),
    POSTROOM_CONCURRENCY: String(concurrency),
  });
  const comparison: Comparison = {
    server: server.name,
    concurrency,
    postroom: [],
    composed: [],
    preRendered: [],
  };
  const paths: Path[] = ['postroom', 'composed', 'preRendered'];
  const runRound = async (path: Path): Promise<RoundResult> => {
    await server.idle();
    await server.reset();
    if (path === 'postroom') return postroomRound(context.stack, worker, server);
    return baselineRound(context, server, path);
  };
  try {
    for (let index = 0; index < WARM_UP_ROUNDS; index++) {
      for (const path of paths) await runRound(path);
    }
    for (let index = 0; index < rounds; index++) {
      // Each round starts with a different path, so no path always runs first.
      const order = paths.map((_, offset) => paths[(index + offset) % paths.length] as Path);
      for (const path of order) comparison[path].push(await runRound(path));
    }
  } finally {
    await worker.stop('SIGTERM');
  }
  return comparison;
}

/**
 * Enqueues a round while the queue is paused, then resumes it and times the worker from the
 * resume to the server's acceptance of the last message.
 */
async function postroomRound(
  stack: BenchStack,
  worker: WorkerProcess,
  server: Server,
): Promise<RoundResult> {
  const messages = Array.from({ length: MESSAGES_PER_ROUND }, (_, index) =>
    benchMessage(MAILBOX, index),
  );
  await stack.queue.pause();
  for (let start = 0; start < messages.length; start += 500) {
    await stack.client.sendMany(messages.slice(start, start + 500));
  }
  const completedBefore = await stack.admin.zcard(stack.queueKey('completed'));
  const acceptedBefore = await server.accepted();

  const meter = new CommandMeter(stack.admin);
  await meter.start();
  const pid = worker.pid as number;
  const cpuBeforeMs = cpuTimeMs(pid);
  const startedAt = performance.now();
  await stack.queue.resume();
  await waitFor(
    `${MESSAGES_PER_ROUND} messages at the ${server.name}`,
    async () => (await server.accepted()) >= acceptedBefore + MESSAGES_PER_ROUND,
    ROUND_TIMEOUT_MS,
    10,
  );
  const elapsedMs = performance.now() - startedAt;
  await waitFor(
    'the worker to complete every job',
    async () =>
      (await meter.zcard(stack.queueKey('completed'))) >= completedBefore + MESSAGES_PER_ROUND,
    ROUND_TIMEOUT_MS,
    20,
  );
  const cpuMs = cpuTimeMs(pid) - cpuBeforeMs;
  const commands = await meter.stop();
  return {
    messagesPerSecond: MESSAGES_PER_ROUND / (elapsedMs / 1000),
    cpuMsPerMessage: cpuMs / MESSAGES_PER_ROUND,
    redisCommandsPerMessage: commands.total / MESSAGES_PER_ROUND,
    topCommands: topCommands(commands.byCommand, 8, MESSAGES_PER_ROUND),
  };
}

/**
 * Sends the same messages as a Postroom round through nodemailer's pool: composed by nodemailer
 * from their fields, or rendered by the worker's own `renderMessage` before the clock starts.
 */
async function baselineRound(
  context: Context,
  server: Server,
  mode: 'composed' | 'preRendered',
): Promise<RoundResult> {
  const messages = await Promise.all(
    Array.from({ length: MESSAGES_PER_ROUND }, async (_, index): Promise<BaselineMessage> => {
      const payload = createJobPayload(parseMessage(benchMessage(MAILBOX, index)));
      if (mode === 'composed') {
        const { message } = payload;
        return {
          mail: {
            from: MAILBOX,
            to: message.to?.[0]?.address ?? '',
            subject: message.subject,
            text: message.text ?? '',
            messageId: payload.messageId,
            date: new Date(payload.enqueuedAtMs).toISOString(),
            priority: message.priority,
          },
        };
      }
      const rendered = await renderMessage(payload);
      return { envelope: rendered.envelope, raw: new Uint8Array(rendered.raw) };
    }),
  );
  const round: BaselineRound = {
    host: '127.0.0.1',
    port: server.port,
    ca: context.ca,
    user: MAILBOX,
    accessToken: context.accessToken,
    maxConnections: MAX_CONNECTIONS,
    messages,
  };
  const acceptedBefore = await server.accepted();
  const cpuBeforeMs = cpuTimeMs(context.baseline.pid);
  const result = await context.baseline.send(round);
  const cpuMs = cpuTimeMs(context.baseline.pid) - cpuBeforeMs;
  const accepted = (await server.accepted()) - acceptedBefore;
  if (result.failed > 0 || accepted !== MESSAGES_PER_ROUND) {
    throw new Error(
      `baseline sent ${result.sent}, failed ${result.failed}, server accepted ${accepted}: ${result.firstError ?? 'no error'}`,
    );
  }
  return {
    messagesPerSecond: MESSAGES_PER_ROUND / (result.elapsedMs / 1000),
    cpuMsPerMessage: cpuMs / MESSAGES_PER_ROUND,
  };
}

function report(results: Comparison[], repeatedMessageIds: number): void {
  const medianOf = (
    rounds: RoundResult[],
    field: 'messagesPerSecond' | 'cpuMsPerMessage' | 'redisCommandsPerMessage',
  ) => median(rounds.map((entry) => entry[field] ?? Number.NaN));
  const rate = (entry: RoundResult | undefined) => entry?.messagesPerSecond ?? Number.NaN;
  printTable(
    'Messages per second in each round',
    [
      'server',
      'worker concurrency',
      'round',
      'postroom',
      'nodemailer composing',
      'ratio',
      'nodemailer pre-rendered',
      'ratio',
    ],
    results.flatMap((result) =>
      result.postroom.map((entry, index) => {
        const composed = rate(result.composed[index]);
        const preRendered = rate(result.preRendered[index]);
        return [
          result.server,
          result.concurrency,
          index + 1,
          Math.round(entry.messagesPerSecond),
          Math.round(composed),
          round(entry.messagesPerSecond / composed, 3),
          Math.round(preRendered),
          round(entry.messagesPerSecond / preRendered, 3),
        ];
      }),
    ),
  );

  const figures = (result: Comparison) => {
    const postroom = medianOf(result.postroom, 'messagesPerSecond');
    const composed = medianOf(result.composed, 'messagesPerSecond');
    const preRendered = medianOf(result.preRendered, 'messagesPerSecond');
    return {
      workerConcurrency: result.concurrency,
      postroomPerSecond: Math.round(postroom),
      nodemailerPerSecond: Math.round(composed),
      ratio: round(postroom / composed, 3),
      nodemailerPreRenderedPerSecond: Math.round(preRendered),
      ratioPreRendered: round(postroom / preRendered, 3),
      workerCpuMsPerMessage: round(medianOf(result.postroom, 'cpuMsPerMessage'), 2),
      nodemailerCpuMsPerMessage: round(medianOf(result.composed, 'cpuMsPerMessage'), 2),
      nodemailerPreRenderedCpuMsPerMessage: round(
        medianOf(result.preRendered, 'cpuMsPerMessage'),
        2,
      ),
      redisCommandsPerMessage: round(medianOf(result.postroom, 'redisCommandsPerMessage'), 1),
    };
  };
  printTable(
    'Medians',
    [
      'server',
      'worker concurrency',
      'postroom msg/s',
      'composing msg/s',
      'ratio',
      'pre-rendered msg/s',
      'ratio',
      'worker CPU ms/msg',
      'composing CPU ms/msg',
      'pre-rendered CPU ms/msg',
      'redis commands/msg',
    ],
    results.map((result) => {
      const figure = figures(result);
      return [
        result.server,
        result.concurrency,
        figure.postroomPerSecond,
        figure.nodemailerPerSecond,
        figure.ratio,
        figure.nodemailerPreRenderedPerSecond,
        figure.ratioPreRendered,
        figure.workerCpuMsPerMessage,
        figure.nodemailerCpuMsPerMessage,
        figure.nodemailerPreRenderedCpuMsPerMessage,
        figure.redisCommandsPerMessage,
      ];
    }),
  );
  for (const result of results) {
    const last = result.postroom.at(-1);
    printLine(
      `commands per message, ${result.server}, concurrency ${result.concurrency}, last round: ${last?.topCommands ?? ''}`,
    );
  }

  const [emulator, sink, halfConcurrency, lowConcurrency] = results as [
    Comparison,
    Comparison,
    Comparison,
    Comparison,
  ];
  printFigures({
    benchmark: 'send-path',
    messagesPerRound: MESSAGES_PER_ROUND,
    rounds: ROUNDS,
    maxConnections: MAX_CONNECTIONS,
    emulator: figures(emulator),
    sink: figures(sink),
    emulatorHalfConcurrency: figures(halfConcurrency),
    emulatorConcurrencyEqualToConnections: figures(lowConcurrency),
    ratio: figures(emulator).ratio,
    ratioPreRendered: figures(emulator).ratioPreRendered,
    repeatedMessageIds,
  });
}
