import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';

// Runs test files in a child vitest whose temporary directory (TMPDIR) is empty at the start, and
// checks that they left nothing behind there: no directories, keys or certificates.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VITEST = join(ROOT, 'node_modules/vitest/vitest.mjs');
const run = promisify(execFile);

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'postroom-tmpdir-'));
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('config tests remove their temporary files', async () => {
  const files = ['apps/worker/src/config.test.ts', 'apps/worker/src/config-credentials.test.ts'];
  // REDIS_URL keeps the global setup from starting a redis-server of its own in TMPDIR.
  await run(process.execPath, [VITEST, 'run', '--project', 'default', ...files], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      TMPDIR: dir,
      REDIS_URL: inject('redisUrl'),
    },
  });

  expect(await readdir(dir)).toEqual([]);
}, 120_000);
