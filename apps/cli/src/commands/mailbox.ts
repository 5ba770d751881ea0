import {
  connectRedis,
  type MailboxLimits,
  postroomKeys,
  type RedisConnection,
} from '@postroom/core';
import type { CliEnv } from './index.js';

const USAGE = 'usage: postroom mailbox list | pause <address> | resume <address>\n';

/** Lists mailboxes with state, limits and usage, or pauses and resumes one for every worker. */
export async function runMailbox(env: CliEnv, args: string[]): Promise<number> {
  const [action, requested] = args;
  const redis = connectRedis(env.redisUrl, { maxRetriesPerRequest: 3 });
  const keys = postroomKeys(env.queueName);
  try {
    const registry = await redis.hgetall(keys.mailboxRegistry);
    if (action === 'list') return await list(redis, env, registry);
    if ((action === 'pause' || action === 'resume') && requested) {
      // Addresses match case-insensitively, but the Redis keys use the address as configured.
      const address = Object.keys(registry).find(
        (configured) => configured.toLowerCase() === requested.toLowerCase(),
      );
      if (!address) {
        process.stderr.write(
          `postroom mailbox: ${requested} is not a configured mailbox (known: ${Object.keys(registry).join(', ') || 'none'})\n`,
        );
        return 1;
      }
      const health = keys.mailbox(address).health;
      if (action === 'pause') {
        await redis.hset(health, {
          state: 'paused',
          until: 0,
          reason: 'paused by operator',
          changedAt: Date.now(),
        });
      } else {
        // Every worker restarts the wakes of parked jobs once a second, so the mailbox's
        // parked jobs start again within about a second.
        await redis.del(health);
      }
      process.stdout.write(
        `${address} ${action === 'pause' ? 'paused' : 'resumed'} for every worker\n`,
      );
      return 0;
    }
    process.stderr.write(USAGE);
    return 2;
  } finally {
    redis.disconnect();
  }
}

async function list(
  redis: RedisConnection,
  env: CliEnv,
  registry: Record<string, string>,
): Promise<number> {
  const keys = postroomKeys(env.queueName);
  const rows = [
    ['MAILBOX', 'STATE', 'SENT/WINDOW', 'RECIPIENTS/DAY', 'CONNECTIONS', 'PARKED', 'REASON'],
  ];
  for (const [address, raw] of Object.entries(registry)) {
    const { limits } = JSON.parse(raw) as { limits: MailboxLimits };
    const mailboxKeys = keys.mailbox(address);
    const nowMs = Date.now();
    const [health, sent, connections, parked, buckets] = await Promise.all([
      redis.hgetall(mailboxKeys.health),
      redis.zcount(mailboxKeys.rateLog, nowMs - limits.rateWindowMs, '+inf'),
      redis.zcount(mailboxKeys.leases, nowMs, '+inf'),
      redis.zcard(mailboxKeys.parked),
      redis.hvals(mailboxKeys.recipients),
    ]);
    const recipients = buckets.reduce((sum, count) => sum + Number(count), 0);
    const expired = Number(health.until ?? 0) > 0 && Number(health.until) <= nowMs;
    const state = !health.state || expired ? 'healthy' : health.state;
    rows.push([
      address,
      state,
      `${sent}/${limits.messagesPerWindow}`,
      `${recipients}/${limits.recipientsPerDay}`,
      `${connections}/${limits.maxConnections}`,
      String(parked),
      state === 'healthy' ? '' : (health.reason ?? ''),
    ]);
  }
  if (rows.length === 1) {
    process.stdout.write(
      `no mailboxes registered in queue ${env.queueName}; start a worker first\n`,
    );
    return 0;
  }
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => row[column]?.length ?? 0))) ?? [];
  for (const row of rows)
    process.stdout.write(
      `${row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd()}\n`,
    );
  return 0;
}
