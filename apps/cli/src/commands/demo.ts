import { fileURLToPath } from 'node:url';
import { MailClient } from '@postroom/client';
import type { DeliveryStatus, MessageInput } from '@postroom/core';
import { loadConfig } from '@postroom/worker';
import { readJsonLines } from '../jsonl.js';
import { LocalStack } from '../local-stack.js';
import { plural } from '../plural.js';
import { verifyConfig } from './verify.js';

export const DEMO_SCENARIOS = ['missing-service-principal'] as const;

export interface DemoOptions {
  file?: string;
  /** Time allowed for every message to reach a final state, in ms. */
  timeoutMs?: number;
  /** Transport of the mailboxes: SMTP AUTH (default) or Graph sendMail. */
  transport?: 'smtp' | 'graph';
  /** The app's credential: a client secret (default) or a generated certificate. */
  credential?: 'secret' | 'certificate';
  /**
   * A broken setup to show. `missing-service-principal` leaves out the Exchange permission that
   * New-ServicePrincipal and Add-MailboxPermission grant, so AUTH fails with 535 5.7.3.
   */
  scenario?: (typeof DEMO_SCENARIOS)[number];
  /** Receiver of the output lines; default stdout. */
  print?: (line: string) => void;
}

const TIME_UNIT_MS = 4000;
const MAILBOXES = [
  // Fewer messages per emulated minute than the example file has for this mailbox, so the demo
  // shows mail waiting for its slot.
  { address: 'noreply@contoso.example', messagesPerMinute: 10 },
  { address: 'billing@contoso.example', messagesPerMinute: 30 },
];
const FINAL_STATES = new Set(['sent', 'failed', 'outcome_unknown', 'cancelled']);
const defaultFile = fileURLToPath(new URL('../../../../examples/messages.jsonl', import.meta.url));

/**
 * Runs the whole path on loopback: redis-server (unless REDIS_URL is set), the Microsoft 365
 * emulator and one worker process. Runs `postroom verify` against the stack first and stops if
 * it fails. Then enqueues the example messages through the SDK and reports each outcome.
 * Returns the process exit code: 0 only when verify passed and every message was delivered.
 */
export async function runDemo(
  options: DemoOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const file = options.file ?? defaultFile;
  const messages = (await readJsonLines(file)).records as MessageInput[];
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const transport = options.transport ?? 'smtp';
  const credential = options.credential ?? 'secret';

  print(
    `Starting redis-server, the Microsoft 365 emulator and one worker on loopback (${transport}, ${credential}${options.scenario ? `, scenario ${options.scenario}` : ''})...`,
  );
  // Ctrl-C or a SIGTERM would end the process before the finally block below, and leave the
  // worker, redis-server and the temporary directory with the emulator's key behind. Stopping
  // the stack makes the steps below end at once, and the finally block waits for the rest. A
  // signal during start-up takes effect once the stack has started.
  let signalled: NodeJS.Signals | undefined;
  let running: LocalStack | undefined;
  const stopOnSignal = (signal: NodeJS.Signals) => {
    signalled = signal;
    print(`${signal} received: stopping the demo's processes`);
    void running?.stop();
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  const removeSignalHandlers = () => {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
  };
  let stack: LocalStack;
  try {
    stack = await LocalStack.start({
      ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}),
      timeUnitMs: TIME_UNIT_MS,
      mailboxes: MAILBOXES.map((mailbox) => ({ ...mailbox, transport })),
      apps: [
        {
          name: 'contoso',
          credential,
          mailboxGrant: options.scenario !== 'missing-service-principal',
        },
      ],
      workerEnv: { POSTROOM_LOG_LEVEL: 'warn' },
    });
  } catch (error) {
    removeSignalHandlers();
    throw error;
  }
  running = stack;
  if (signalled) {
    removeSignalHandlers();
    await stack.stop();
    return signalExitCode(signalled);
  }
  const client = new MailClient({ connection: stack.redisUrl, queueName: stack.queueName });
  try {
    const code = await demoSteps();
    return signalled ? signalExitCode(signalled) : code;
  } catch (error) {
    if (signalled) return signalExitCode(signalled);
    throw error;
  } finally {
    removeSignalHandlers();
    await client.close();
    await stack.stop();
  }

  async function demoSteps(): Promise<number> {
    print(`  redis     ${stack.redisUrl}${env.REDIS_URL ? ' (from REDIS_URL)' : ''}`);
    print(
      `  emulator  SMTP 127.0.0.1:${stack.emulator.smtpPort} (STARTTLS, XOAUTH2), Entra ID https://127.0.0.1:${stack.emulator.httpsPort}, Graph ${stack.emulator.graphUrl}`,
    );
    print(
      `  limits    noreply@ 10 and billing@ 30 messages per emulated minute of ${TIME_UNIT_MS / 1000} s`,
    );

    print('');
    print('$ postroom verify');
    const verified = await verifyConfig(loadConfig(stack.workerEnv()), {}, (line) =>
      print(line ? `  ${line}` : ''),
    );
    if (verified !== 0) {
      print('');
      print('verify failed, so no message was sent; apply the fix above and run the demo again');
      return verified;
    }

    const worker = await stack.addWorker();
    print('');
    print(`  worker    pid ${worker.pid}, metrics http://127.0.0.1:${worker.httpPort}/metrics`);

    const results = await client.sendMany(messages);
    print(`Enqueued ${plural(results.length, 'message')} from ${file}`);
    const finals = await follow(
      client,
      results.map((result) => result.id),
      options.timeoutMs ?? 90_000,
      print,
    );
    return report(stack, finals, messages.length, print);
  }
}

/** Returns the exit code a shell reports for a process ended by the signal: 128 + its number. */
function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : 143;
}

async function follow(
  client: MailClient,
  ids: string[],
  timeoutMs: number,
  print: (line: string) => void,
): Promise<Map<string, DeliveryStatus>> {
  const finals = new Map<string, DeliveryStatus>();
  const announcedWaits = new Set<string>();
  const deadline = Date.now() + timeoutMs;

  while (finals.size < ids.length && Date.now() < deadline) {
    for (const id of ids) {
      if (finals.has(id)) continue;
      const status = await client.status(id);
      if (!status) continue;
      if (FINAL_STATES.has(status.state)) {
        finals.set(id, status);
        print(
          `  ${status.state.padEnd(8)} ${status.mailbox.padEnd(24)} ${id}  ${status.reply ?? status.failureReason ?? ''}`,
        );
      } else if (status.state === 'waiting_for_mailbox' && !announcedWaits.has(id)) {
        announcedWaits.add(id);
        const when = status.nextAttemptAt
          ? `next slot in ${formatSeconds(Date.parse(status.nextAttemptAt) - Date.now())}`
          : 'sends when its turn comes';
        print(`  waiting  ${status.mailbox.padEnd(24)} ${id}  ${status.waitReason}, ${when}`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return finals;
}

function report(
  stack: LocalStack,
  finals: Map<string, DeliveryStatus>,
  total: number,
  print: (line: string) => void,
): number {
  const delivered = [...finals.values()].filter((status) => status.state === 'sent').length;
  const stats = stack.emulator.stats();
  const throttling =
    (stats.repliesByCode['432'] ?? 0) + (stats.graphResponses['429'] ?? 0) + stats.violations.rate;
  const authFailures =
    stats.violations.auth + (stats.graphResponses['401'] ?? 0) + (stats.graphResponses['403'] ?? 0);

  print(
    `Emulator: ${plural(stack.emulator.messages().length, 'message')} accepted, ${plural(throttling, 'throttling reply', 'throttling replies')}, ${plural(authFailures, 'authentication failure')}, ${plural(stats.duplicateMessageIds, 'duplicate Message-ID')}`,
  );
  print(`delivered ${delivered} of ${total}`);
  const clean = throttling === 0 && authFailures === 0 && stats.duplicateMessageIds === 0;
  return delivered === total && clean ? 0 : 1;
}

/**
 * Formats a wait in ms as seconds with one decimal. A wait that already ended, whose slot passed
 * while the status was read, shows as `0.0 s` instead of `-0.0 s` or a negative time.
 */
export function formatSeconds(ms: number): string {
  const seconds = Number.isFinite(ms) && ms > 0 ? ms / 1000 : 0;
  return `${seconds.toFixed(1)} s`;
}
