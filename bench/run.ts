/**
 * Runs the benchmarks: `npm run bench` runs all of them in sequence, `npm run bench -- NAME ...`
 * runs the named ones. Each prints tables and, as its last line, one JSON object of figures.
 * Exits 1 when a benchmark fails or passes its time limit, 2 for an unknown name.
 */
import { releaseAll } from './lib/cleanup.js';

type Benchmark = () => Promise<void>;

const BENCHMARKS: Record<string, () => Promise<{ run: Benchmark }>> = {
  limiter: () => import('./limiter.js'),
  soak: () => import('./soak.js'),
  enqueue: () => import('./enqueue.js'),
  'send-path': () => import('./send-path.js'),
  backlog: () => import('./backlog.js'),
  latency: () => import('./latency.js'),
};

/** Time one benchmark may take before it is stopped and counted as failed. */
const TIME_LIMIT_MS = 12 * 60_000;

async function main(): Promise<number> {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((name) => !(name in BENCHMARKS));
  if (unknown.length > 0) {
    process.stderr.write(
      `unknown benchmark ${unknown.join(', ')}; choose from ${Object.keys(BENCHMARKS).join(', ')}\n`,
    );
    return 2;
  }

  const names = requested.length > 0 ? requested : Object.keys(BENCHMARKS);
  for (const name of names) {
    const load = BENCHMARKS[name] as () => Promise<{ run: Benchmark }>;
    process.stdout.write(`\n=== ${name} ===\n`);
    const startedAt = Date.now();
    try {
      const { run } = await load();
      await withTimeLimit(run(), TIME_LIMIT_MS, name);
    } catch (error) {
      process.stderr.write(`benchmark ${name} failed: ${errorText(error)}\n`);
      await releaseAll();
      return 1;
    }
    process.stdout.write(`(${name} took ${((Date.now() - startedAt) / 1000).toFixed(0)} s)\n`);
  }
  return 0;
}

async function withTimeLimit(work: Promise<void>, limitMs: number, name: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name} took longer than ${limitMs} ms`)), limitMs);
  });
  try {
    await Promise.race([work, limit]);
  } finally {
    clearTimeout(timer);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? (error.stack ?? error.message) : String(error);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`${signal} received: stopping the processes this run started\n`);
    void releaseAll().finally(() => process.exit(130));
  });
}

const code = await main();
// Open handles of a failed benchmark (sockets, timers) must not keep the process alive.
process.exit(code);
