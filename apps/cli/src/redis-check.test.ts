import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import { freePort } from './redis-server.js';

const run = promisify(execFile);
const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

/** Runs the CLI from source as a user would, and returns its exit code and output. */
async function postroom(args: string[], redisUrl: string) {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', MAIN, ...args],
      { env: { ...process.env, POSTROOM_REDIS_URL: redisUrl }, timeout: 20_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number | null; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

test.each([
  [['mailbox', 'list']],
  [['status', 'some-id']],
  [['send', '--file', fileURLToPath(new URL('../../../examples/messages.jsonl', import.meta.url))]],
  [['dead-letters', 'list']],
])(
  '%j reports unreachable Redis in one line',
  async (args) => {
    // Nothing listens on the port, so the connection is refused.
    const port = await freePort();

    const { code, stderr } = await postroom(args, `redis://ops:hunter2@127.0.0.1:${port}`);

    expect(code).toBe(1);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(stderr).toContain(`127.0.0.1:${port}`);
    expect(stderr).toContain('POSTROOM_REDIS_URL');
    expect(stderr).toContain('ECONNREFUSED');
    expect(stderr).not.toContain('hunter2');
  },
  30_000,
);

test('invalid URL from REDIS_URL names REDIS_URL', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: 'http://127.0.0.1:1' };
  delete env.POSTROOM_REDIS_URL;
  const failure = await run(
    process.execPath,
    ['--conditions=source', '--import', 'tsx', MAIN, 'mailbox', 'list'],
    { env, timeout: 20_000 },
  ).then(
    () => undefined,
    (error: { code: number; stderr: string }) => error,
  );

  expect(failure?.code).toBe(1);
  expect(failure?.stderr).toContain('REDIS_URL must start with redis://');
  expect(failure?.stderr).not.toContain('POSTROOM_REDIS_URL');
}, 30_000);
