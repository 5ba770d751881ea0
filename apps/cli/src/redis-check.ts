import { connectRedis, redisAddress, redisUrlProblem } from '@postroom/core';

const CONNECT_TIMEOUT_MS = 5000;

/**
 * Connects to Redis once, without retries, and throws one line naming the URL's variable, the
 * host:port tried and the cause when that fails. Commands call it first, so an unreachable Redis
 * ends the command at once instead of after ioredis's reconnection attempts, each of which
 * prints a stack trace. The message leaves out the user name and password of the URL.
 */
export async function assertRedisReachable(
  redisUrl: string,
  variable = 'POSTROOM_REDIS_URL',
): Promise<void> {
  const problem = redisUrlProblem(redisUrl);
  if (problem) throw new Error(`${variable} ${problem}`);
  const redis = connectRedis(redisUrl, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => {
    lastError = error;
  });

  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    const cause = lastError ?? (error instanceof Error ? error : new Error(String(error)));
    throw new Error(
      `Redis at ${redisAddress(redisUrl)} (${variable}) is unreachable: ${cause.message}; start Redis or set ${variable}`,
    );
  } finally {
    redis.disconnect();
  }
}
