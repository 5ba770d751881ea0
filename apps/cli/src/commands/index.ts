import { parseArgs } from 'node:util';
import { MailClient, type SendResult } from '@postroom/client';
import { DEFAULT_QUEUE_NAME, type MessageInput, ValidationError } from '@postroom/core';
import { issuesByLine, type JsonLines, readJsonLines } from '../jsonl.js';
import { plural } from '../plural.js';
import { assertRedisReachable } from '../redis-check.js';
import { runDeadLetters } from './dead-letters.js';
import { runMailbox } from './mailbox.js';

export interface CliEnv {
  redisUrl: string;
  /** The variable `redisUrl` came from, for error messages. */
  redisVariable?: 'POSTROOM_REDIS_URL' | 'REDIS_URL';
  queueName: string;
}

/** Reads the two variables every Redis command needs. */
export function cliEnv(env: NodeJS.ProcessEnv = process.env): CliEnv {
  return {
    redisUrl: env.POSTROOM_REDIS_URL ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    redisVariable:
      env.POSTROOM_REDIS_URL === undefined && env.REDIS_URL !== undefined
        ? 'REDIS_URL'
        : 'POSTROOM_REDIS_URL',
    queueName: env.POSTROOM_QUEUE_NAME ?? DEFAULT_QUEUE_NAME,
  };
}

/** Dispatches the commands that work against a configured Redis. Returns the exit code. */
export async function runCommand(command: string, args: string[]): Promise<number> {
  const env = cliEnv();
  switch (command) {
    case 'send':
      return runSend(env, args);
    case 'status':
      return runStatus(env, args);
    case 'mailbox':
      await assertRedisReachable(env.redisUrl, env.redisVariable);
      return runMailbox(env, args);
    case 'dead-letters':
      await assertRedisReachable(env.redisUrl, env.redisVariable);
      return runDeadLetters(env, args);
    default:
      process.stderr.write(`postroom: unknown command "${command}"; run postroom help\n`);
      return 2;
  }
}

async function runSend(env: CliEnv, args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { file: { type: 'string', short: 'f' } } });
  if (!values.file) {
    process.stderr.write(
      'postroom send: --file is required, a JSON Lines file with one message per line\n',
    );
    return 2;
  }
  const lines = await readJsonLines(values.file);
  await assertRedisReachable(env.redisUrl, env.redisVariable);
  const client = new MailClient({ connection: env.redisUrl, queueName: env.queueName });
  try {
    const results = await sendLines(client, lines);
    for (const result of results) {
      process.stdout.write(`${result.id}${result.duplicate ? ' duplicate' : ''}\n`);
    }
    process.stderr.write(`enqueued ${plural(results.length, 'message')} to ${env.queueName}\n`);
    return 0;
  } finally {
    await client.close();
  }
}

async function sendLines(client: MailClient, lines: JsonLines): Promise<SendResult[]> {
  try {
    return await client.sendMany(lines.records as MessageInput[]);
  } catch (error) {
    if (error instanceof ValidationError) throw issuesByLine(lines, error);
    throw error;
  }
}

async function runStatus(env: CliEnv, args: string[]): Promise<number> {
  const [id] = args;
  if (!id) {
    process.stderr.write('postroom status: give the message id that send returned\n');
    return 2;
  }
  await assertRedisReachable(env.redisUrl, env.redisVariable);
  const client = new MailClient({ connection: env.redisUrl, queueName: env.queueName });
  try {
    const status = await client.status(id);
    if (!status) {
      process.stderr.write(`postroom status: no message ${id} in queue ${env.queueName}\n`);
      return 1;
    }
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return 0;
  } finally {
    await client.close();
  }
}
