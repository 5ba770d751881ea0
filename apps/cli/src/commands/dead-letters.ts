import { parseArgs } from 'node:util';
import { connectRedis, type JobPayload, KEY_PREFIX, postroomKeys } from '@postroom/core';
import { Queue } from 'bullmq';
import { plural } from '../plural.js';
import type { CliEnv } from './index.js';

const USAGE =
  'usage: postroom dead-letters list | show <id> | retry <id> | retry --all | purge, each with optional --mailbox ADDRESS and --class CLASS\n';
const PAGE = 1000;

/** Lists, shows, retries or removes failed messages (BullMQ's failed set). */
export async function runDeadLetters(env: CliEnv, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { mailbox: { type: 'string' }, class: { type: 'string' }, all: { type: 'boolean' } },
  });
  const [action, id] = positionals;
  const redis = connectRedis(env.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue<JobPayload>(env.queueName, { connection: redis, prefix: KEY_PREFIX });
  try {
    const keys = postroomKeys(env.queueName);
    const candidates = (await queue.getFailed(0, PAGE - 1)).filter(
      (job) => !values.mailbox || job.data.message.from.address === values.mailbox,
    );
    const classes = await Promise.all(
      candidates.map((job) => redis.hget(keys.status(job.id as string), 'failureClass')),
    );
    const failed = candidates.filter(
      (_, index) => !values.class || classes[index] === values.class,
    );
    const classOf = (job: (typeof failed)[number]) => classes[candidates.indexOf(job)] ?? 'unknown';
    switch (action) {
      case 'list':
        for (const job of failed) {
          const finishedAt = new Date(job.finishedOn ?? 0).toISOString();
          process.stdout.write(
            `${job.id}  ${job.data.message.from.address}  ${classOf(job)}  ${finishedAt}  ${job.failedReason}\n`,
          );
        }
        process.stderr.write(`${plural(failed.length, 'dead letter')}\n`);
        return 0;
      case 'show': {
        const job = failed.find((candidate) => candidate.id === id);
        if (!job) return notFound(id);
        const status = await redis.hgetall(keys.status(job.id as string));
        const { message, messageId, enqueuedAtMs } = job.data;
        const summary = {
          id: job.id,
          messageId,
          from: message.from,
          to: message.to,
          subject: message.subject,
          enqueuedAt: new Date(enqueuedAtMs).toISOString(),
          failedReason: job.failedReason,
          status,
        };
        process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        return 0;
      }
      case 'retry': {
        const targets = values.all ? failed : failed.filter((job) => job.id === id);
        if (targets.length === 0) return notFound(id);
        for (const job of targets) {
          // An operator's retry is a decision to send again, even after an unknown outcome. The
          // Message-ID stays the same, so the recipient's mail system can spot a copy.
          await redis.del(keys.submission(job.data.messageId));
          const statusKey = keys.status(job.id as string);
          await redis.hdel(
            statusKey,
            'attempts',
            'tokenWaits',
            'failureClass',
            'failureReason',
            'reply',
          );
          await redis.hset(statusKey, 'state', 'queued');
          await job.retry('failed');
        }
        process.stdout.write(`requeued ${plural(targets.length, 'message')}\n`);
        return 0;
      }
      case 'purge':
        for (const job of failed) await job.remove();
        process.stdout.write(`removed ${plural(failed.length, 'dead letter')}\n`);
        return 0;
      default:
        process.stderr.write(USAGE);
        return 2;
    }
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

function notFound(id: string | undefined): number {
  process.stderr.write(`postroom dead-letters: no dead letter ${id ?? '(give an id or --all)'}\n`);
  return 1;
}
