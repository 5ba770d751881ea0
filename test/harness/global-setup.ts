import type { TestProject } from 'vitest/node';
import { RedisServer } from '../../apps/cli/src/redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let server: RedisServer | undefined;

/**
 * Gives every test file one Redis: REDIS_URL when it is set, otherwise a `redis-server` of our
 * own on a free loopback port. Tests isolate themselves with unique queue names.
 */
export async function setup(project: TestProject): Promise<void> {
  const fromEnv = process.env.REDIS_URL;
  if (fromEnv) {
    project.provide('redisUrl', fromEnv);
    return;
  }
  server = await RedisServer.start();
  project.provide('redisUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.close();
}
