import type { PostroomKeys, RedisConnection } from '@postroom/core';
import type { BulkJob } from './enqueue.js';

// BullMQ serves the lowest priority number first and accepts at most 2^21 (2,097,152).
const HIGH_PRIORITY = 1;
const NORMAL_BASE = 2;
const LOW_BASE = 1_000_002;
const MAX_ORDINAL = 1_000_000;
/** How long a mailbox's enqueue count lasts after its last message, in ms. */
const ORDINAL_TTL_MS = 10 * 60_000;

/**
 * Sets each job's BullMQ priority so that one mailbox's backlog cannot hold up another
 * mailbox's messages in the shared queue. Within a priority class, a message is ranked by how
 * many messages its mailbox enqueued recently (its ordinal), so workers take the first message
 * of a quiet mailbox before the 10,000th of a busy one. High-priority messages come first.
 * Costs one INCRBY per mailbox per batch.
 */
export async function assignFairPriorities(
  redis: RedisConnection,
  keys: PostroomKeys,
  jobs: BulkJob[],
): Promise<void> {
  const byMailbox = new Map<string, BulkJob[]>();
  for (const job of jobs) {
    const message = job.data.message;
    if (message.priority === 'high') {
      job.opts.priority = HIGH_PRIORITY;
      continue;
    }
    const mailbox = message.from.address.toLowerCase();
    const mailboxJobs = byMailbox.get(mailbox);
    if (mailboxJobs) mailboxJobs.push(job);
    else byMailbox.set(mailbox, [job]);
  }
  if (byMailbox.size === 0) return;

  const pipeline = redis.pipeline();
  for (const [mailbox, mailboxJobs] of byMailbox) {
    const key = keys.mailbox(mailbox).enqueued;
    pipeline.incrby(key, mailboxJobs.length).pexpire(key, ORDINAL_TTL_MS);
  }
  const replies = (await pipeline.exec()) ?? [];

  [...byMailbox.values()].forEach((mailboxJobs, position) => {
    const [error, last] = replies[position * 2] ?? [];
    if (error) throw error;
    const first = Number(last) - mailboxJobs.length + 1;
    mailboxJobs.forEach((job, index) => {
      const ordinal = Math.min(first + index, MAX_ORDINAL);
      const base = job.data.message.priority === 'low' ? LOW_BASE : NORMAL_BASE;
      job.opts.priority = base + ordinal;
    });
  });
}
