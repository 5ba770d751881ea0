import { ConfigError, connectRedis, type RedisConnection, redisUrlProblem } from '@postroom/core';
import { Redis, type RedisOptions } from 'ioredis';

/**
 * Reconnection attempts after which ioredis rejects a queued command. ioredis 6 retries after
 * 50 ms, doubling up to 5 s, plus up to 200 ms of jitter. So while Redis refuses connections, a
 * command fails within about 1 s at first, and within about 21 s (4 attempts of 5.2 s) once the
 * outage is long. When Redis does not answer at all, each attempt also waits up to
 * `connectTimeout` (10 s by default).
 */
export const DEFAULT_MAX_RETRIES_PER_REQUEST = 3;

/** A Redis client and whether the MailClient created it, and so must close it. */
export interface RedisHandle {
  redis: RedisConnection;
  owned: boolean;
}

/**
 * Returns the caller's ioredis client as is, or creates one from a URL or options. Every command
 * the SDK sends is safe to resend after a reconnect, because jobs carry fixed ids, so ioredis may
 * replay a command whose reply was lost.
 */
export function openConnection(
  connection: string | RedisOptions | RedisConnection,
  onError: (error: Error) => void,
): RedisHandle {
  if (isRedisClient(connection)) {
    if (connection.options.keyPrefix) {
      throw new ConfigError('invalid MailClient options', [
        {
          path: 'connection',
          message: `the ioredis client has keyPrefix "${connection.options.keyPrefix}", which would change every key name. Pass a client without keyPrefix`,
        },
      ]);
    }
    return { redis: connection, owned: false };
  }

  const problem = typeof connection === 'string' ? redisUrlProblem(connection) : undefined;
  if (problem) {
    throw new ConfigError('invalid MailClient options', [{ path: 'connection', message: problem }]);
  }
  // The SDK reads replies in ioredis's default ("legacy") shapes, whatever the options set.
  const redis =
    typeof connection === 'string'
      ? connectRedis(connection, { maxRetriesPerRequest: DEFAULT_MAX_RETRIES_PER_REQUEST })
      : new Redis({
          maxRetriesPerRequest: DEFAULT_MAX_RETRIES_PER_REQUEST,
          ...connection,
          replyMapping: 'legacy',
        });
  // Without a listener ioredis prints every reconnection failure to the console.
  redis.on('error', onError);
  return { redis, owned: true };
}

/**
 * Closes a client the SDK created: QUIT when connected, else drop the socket at once. A failed
 * QUIT is passed to `onError`, and the socket is dropped.
 */
export async function closeConnection(
  redis: RedisConnection,
  onError: (error: Error) => void,
): Promise<void> {
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  try {
    await redis.quit();
  } catch (error) {
    onError(error instanceof Error ? error : new Error(String(error)));
    redis.disconnect();
  }
}

// Structural check, as BullMQ does, so that a client from another copy of ioredis is accepted.
function isRedisClient(value: unknown): value is RedisConnection {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<Record<'connect' | 'disconnect' | 'duplicate', unknown>>;
  return (
    typeof candidate.connect === 'function' &&
    typeof candidate.disconnect === 'function' &&
    typeof candidate.duplicate === 'function'
  );
}
