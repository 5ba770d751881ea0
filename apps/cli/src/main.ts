#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { PostroomError } from '@postroom/core';
import { runDemo } from './commands/demo.js';

const USAGE = `Usage: postroom <command> [options]

Commands:
  demo [--file messages.jsonl]          run Redis, the emulator and a worker on loopback and send the examples
  send --file messages.jsonl            enqueue one message per line (POSTROOM_REDIS_URL, POSTROOM_QUEUE_NAME)
  status <id>                           show the delivery state of a message
  mailbox list                          show each mailbox's state, limits, usage and backlog
  mailbox pause|resume <address>        stop or restart sending from a mailbox on every worker
  dead-letters list|retry|purge         inspect, retry or remove failed messages
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'demo': {
      const { values } = parseArgs({ args: rest, options: { file: { type: 'string' } } });
      return runDemo(values.file ? { file: values.file } : {});
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

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const message = error instanceof PostroomError || error instanceof Error ? error.message : String(error);
    process.stderr.write(`postroom: ${message}\n`);
    process.exit(1);
  },
);
