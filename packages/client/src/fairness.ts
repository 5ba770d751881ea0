import type { PostroomKeys, RedisConnection } from '@postroom/core';
import type { BulkJob } from './enqueue.js';

// BullMQ serves the lowest priority number first and accepts at most 2^21 (2,097,152).
const HIGH_PRIORITY = 1;
const NORMAL_BASE = 2;
const LOW_BASE = 1_000_002;
const MAX_ORDINAL = 1_000_000;
/** How long a mailbox's enqueue count lasts after its last message, in ms. */
const ORDINAL_TTL_MS = 10 * 60_000;

// Adds each mailbox's count of new jobs to its counter and returns the new values. It is a
// script because an ioredis pipeline copies every script that BullMQ defined on the connection.
// For 10 mailboxes, the script took about 150 µs of client CPU and a pipeline of INCRBY and
// PEXPIRE about 350 µs, in a micro-benchmark on the machine of docs/benchmarks.md.
// KEYS: the counters. ARGV: the count for each counter, then the TTL in ms.
const RESERVE_SCRIPT = `
local ttl = ARGV[#KEYS + 1]
local last = {}
for i, key in ipairs(KEYS) do
  last[i] = redis.call('INCRBY', key, ARGV[i])
  redis.call('PEXPIRE', key, ttl)
end
return last`;

/**
 * Sets each job's BullMQ priority so that one mailbox's backlog cannot hold up another
 * mailbox's messages in the shared queue. Within a priority class, a message is ranked by how
 * many messages its mailbox enqueued recently (its ordinal), so workers take the first message
 * of a quiet mailbox before the 10,000th of a busy one. High-priority messages come first.
 * Costs one script call per batch, with one INCRBY per mailbox.
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

  const counterKeys = [...byMailbox.keys()].map((mailbox) => keys.mailbox(mailbox).enqueued);
  const counts = [...byMailbox.values()].map((mailboxJobs) => mailboxJobs.length);
  const lastOrdinals = (await redis.eval(
    RESERVE_SCRIPT,
    counterKeys.length,
    ...counterKeys,
    ...counts,
    ORDINAL_TTL_MS,
  )) as number[];

  [...byMailbox.values()].forEach((mailboxJobs, position) => {
    const first = Number(lastOrdinals[position]) - mailboxJobs.length + 1;
    mailboxJobs.forEach((job, index) => {
      const ordinal = Math.min(first + index, MAX_ORDINAL);
      const base = job.data.message.priority === 'low' ? LOW_BASE : NORMAL_BASE;
      job.opts.priority = base + ordinal;
    });
  });
}
