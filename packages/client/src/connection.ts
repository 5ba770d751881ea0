import { ConfigError } from '@postroom/core';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * Reconnection attempts after which ioredis rejects a queued command. With ioredis 6's default
 * retry strategy (50 ms doubling up to 5 s, plus up to 200 ms jitter) a command sent while Redis
 * refuses connections fails within about 1 s at first and within about 21 s (4 attempts of
 * 5.2 s) during a long outage. When Redis does not answer at all, each attempt also waits up to `connectTimeout`
 * (10 s by default).
 */
export const DEFAULT_MAX_RETRIES_PER_REQUEST = 3;

/** A Redis client and whether the MailClient created it, and so must close it. */
export interface RedisHandle {
  redis: Redis;
  owned: boolean;
}

/**
 * Returns the caller's ioredis client as is, or creates one from a URL or options. Every command
 * the SDK sends is safe to resend after a reconnect, because jobs carry fixed ids, so ioredis may
 * replay a command whose reply was lost.
 */
export function openConnection(
  connection: string | RedisOptions | Redis,
  onError: (error: Error) => void,
): RedisHandle {
  if (isRedisClient(connection)) {
    if (connection.options.keyPrefix) {
      throw new ConfigError('invalid MailClient options', [
        {
          path: 'connection',
          message: `the ioredis client has keyPrefix "${connection.options.keyPrefix}", which would move every key; pass a client without keyPrefix`,
        },
      ]);
    }
    return { redis: connection, owned: false };
  }

  const defaults: RedisOptions = { maxRetriesPerRequest: DEFAULT_MAX_RETRIES_PER_REQUEST };
  const redis =
    typeof connection === 'string'
      ? new Redis(connection, defaults)
      : new Redis({ ...defaults, ...connection });
  // Without a listener ioredis prints every reconnection failure to the console.
  redis.on('error', onError);
  return { redis, owned: true };
}

/** Closes a client the SDK created: QUIT when connected, else drop the socket at once. */
export async function closeConnection(redis: Redis): Promise<void> {
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  try {
    await redis.quit();
  } catch {
    // QUIT fails only when the connection is already broken; dropping it is all that is left.
    redis.disconnect();
  }
}

// Structural check, as BullMQ does, so that a client from another copy of ioredis is accepted.
function isRedisClient(value: unknown): value is Redis {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Record<'connect' | 'disconnect' | 'duplicate', unknown>>;
  return (
    typeof candidate.connect === 'function' &&
    typeof candidate.disconnect === 'function' &&
    typeof candidate.duplicate === 'function'
  );
}
