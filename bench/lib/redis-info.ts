import type { Redis } from 'ioredis';

/** Calls per command name, from `INFO commandstats` (`cmdstat_<name>:calls=N,...`). */
export type CommandCalls = Map<string, number>;

/**
 * Reads the call count of every command. Redis counts a command that a Lua script runs with
 * `redis.call` as a call of that command too, besides the EVALSHA that ran the script.
 */
export async function readCommandCalls(redis: Redis): Promise<CommandCalls> {
  const info = await redis.info('commandstats');
  const calls: CommandCalls = new Map();
  for (const line of info.split('\r\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (match) calls.set(match[1] as string, Number(match[2]));
  }
  return calls;
}

/** Returns the used_memory figure of `INFO memory`, in bytes. */
export async function usedMemoryBytes(redis: Redis): Promise<number> {
  const info = await redis.info('memory');
  const match = /^used_memory:(\d+)$/m.exec(info);
  if (!match) throw new Error('INFO memory has no used_memory line');
  return Number(match[1]);
}

/**
 * Counts the commands Redis executes between `start()` and `stop()`, from `INFO commandstats`.
 * Commands this meter sends itself (the INFO of `start()` and every `zcard` or `llen` call) are
 * subtracted, so a benchmark may poll Redis through it while counting.
 */
export class CommandMeter {
  readonly #redis: Redis;
  #before: CommandCalls | undefined;
  #ownCalls = new Map<string, number>();

  constructor(redis: Redis) {
    this.#redis = redis;
  }

  async start(): Promise<void> {
    this.#ownCalls = new Map([['info', 1]]);
    this.#before = await readCommandCalls(this.#redis);
  }

  /** Sends one ZCARD and remembers it as the meter's own command. */
  async zcard(key: string): Promise<number> {
    this.#countOwn('zcard');
    return this.#redis.zcard(key);
  }

  /** Sends one LLEN and remembers it as the meter's own command. */
  async llen(key: string): Promise<number> {
    this.#countOwn('llen');
    return this.#redis.llen(key);
  }

  /** Returns the commands executed since `start()` without the meter's own, total and by name. */
  async stop(): Promise<{ total: number; byCommand: CommandCalls }> {
    // Redis updates the counts after a command runs, so this INFO is not in its own reply.
    const after = await readCommandCalls(this.#redis);
    const byCommand: CommandCalls = new Map();
    let total = 0;
    for (const [name, calls] of after) {
      const delta = calls - (this.#before?.get(name) ?? 0) - (this.#ownCalls.get(name) ?? 0);
      if (delta <= 0) continue;
      byCommand.set(name, delta);
      total += delta;
    }
    return { total, byCommand };
  }

  #countOwn(name: string): void {
    this.#ownCalls.set(name, (this.#ownCalls.get(name) ?? 0) + 1);
  }
}

/** Formats the largest entries of a command count, such as `evalsha 812, hset 400`. */
export function topCommands(byCommand: CommandCalls, count: number, divisor = 1): string {
  return [...byCommand]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([name, calls]) => `${name} ${(calls / divisor).toFixed(1)}`)
    .join(', ');
}
