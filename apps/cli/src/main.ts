#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { PostroomError } from '@postroom/core';
import { DEMO_SCENARIOS, type DemoOptions, runDemo } from './commands/demo.js';

const USAGE = `Usage: postroom <command> [options]

Commands:
  demo [--file messages.jsonl]          run Redis, the emulator and a worker on loopback, verify, and send the examples
       [--transport smtp|graph]         submit over SMTP AUTH (default) or Microsoft Graph sendMail
       [--credential secret|certificate] authenticate the app with a client secret (default) or a certificate
       [--scenario missing-service-principal] leave out the Exchange permission, so verify fails with the fix
  verify [--mailbox address] [--to address]
                                        check token, STARTTLS, AUTH, MAIL FROM and RCPT TO of each configured
                                        mailbox without sending (reads the worker's POSTROOM_* configuration)
  send --file messages.jsonl            enqueue one message per line (POSTROOM_REDIS_URL, POSTROOM_QUEUE_NAME)
  status <id>                           show the delivery state of a message
  mailbox list                          show each mailbox's state, limits, usage and backlog
  mailbox pause|resume <address>        stop or restart sending from a mailbox on every worker
  dead-letters list|retry|purge         inspect, retry or remove failed messages
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'demo':
      return runDemo(parseDemoOptions(rest));
    case 'verify': {
      const { runVerify } = await import('./commands/verify.js');
      return runVerify(rest);
    }
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default: {
      const { runCommand } = await import('./commands/index.js');
      return runCommand(command, rest);
    }
  }
}

function parseDemoOptions(args: string[]): DemoOptions {
  const { values } = parseArgs({
    args,
    options: {
      file: { type: 'string' },
      transport: { type: 'string' },
      credential: { type: 'string' },
      scenario: { type: 'string' },
    },
  });
  const options: DemoOptions = {};
  if (values.file) options.file = values.file;
  if (values.transport)
    options.transport = oneOf('--transport', values.transport, ['smtp', 'graph'] as const);
  if (values.credential)
    options.credential = oneOf('--credential', values.credential, [
      'secret',
      'certificate',
    ] as const);
  if (values.scenario) options.scenario = oneOf('--scenario', values.scenario, DEMO_SCENARIOS);
  return options;
}

function oneOf<T extends string>(option: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new Error(`${option} ${value} is not valid; use one of ${allowed.join(', ')}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message =
      error instanceof PostroomError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`postroom: ${message}\n`);
    process.exit(1);
  },
);
