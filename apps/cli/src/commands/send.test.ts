import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, test, vi } from 'vitest';
import { runCommand } from './index.js';

// Provided by the test harness's global set-up, which starts the Redis server.
declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let directory: string;

beforeAll(async () => {
  directory = await mkdtemp(join(tmpdir(), 'postroom-send-'));
});

afterAll(async () => {
  await rm(directory, { recursive: true, force: true });
});

const valid = {
  from: 'billing@example.com',
  to: 'ada@example.com',
  subject: 'Your invoice',
  text: 'Hello Ada',
};

async function writeLines(lines: string[]): Promise<string> {
  const path = join(directory, `${randomUUID()}.jsonl`);
  await writeFile(path, lines.join('\n'));
  return path;
}

/** Runs `postroom send` against the test Redis and returns its exit code, stdout and stderr. */
async function send(args: string[]): Promise<{ code: number; out: string; err: string }> {
  vi.stubEnv('POSTROOM_REDIS_URL', inject('redisUrl'));
  vi.stubEnv('POSTROOM_QUEUE_NAME', `test-${randomUUID()}`);
  const out: string[] = [];
  const err: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    err.push(String(chunk));
    return true;
  });
  try {
    const code = await runCommand('send', args);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    stdout.mockRestore();
    stderr.mockRestore();
    vi.unstubAllEnvs();
  }
}

test('send rejects invalid JSON without quoting the line', async () => {
  const path = await writeLines([JSON.stringify(valid), '{"text": "secret body text"']);

  const failure = await send(['--file', path]).catch((error: Error) => error);

  expect(failure).toBeInstanceOf(Error);
  expect((failure as Error).message).toBe(
    `${path}:2: not valid JSON; write one JSON object per line`,
  );
  expect((failure as Error).message).not.toContain('secret');
});

test('send names a missing file', async () => {
  const path = join(directory, 'missing.jsonl');

  const failure = await send(['--file', path]).catch((error: Error) => error);

  expect((failure as Error).message).toBe(
    `${path}: file not found; give the path of a JSON Lines file`,
  );
});

test('send names the 1-based line of an invalid message', async () => {
  // Line 1 is valid, line 2 is blank and line 3 has no subject.
  const { subject: _, ...noSubject } = valid;
  const path = await writeLines([JSON.stringify(valid), '', JSON.stringify(noSubject)]);

  const failure = await send(['--file', path]).catch((error: Error) => error);

  const message = (failure as Error).message;
  expect(message).toContain(`${path}:3 subject:`);
  expect(message).not.toContain('[1]');
});

test('send counts one message in the singular', async () => {
  const path = await writeLines([JSON.stringify(valid)]);

  const { code, err } = await send(['--file', path]);

  expect(code).toBe(0);
  expect(err).toMatch(/^enqueued 1 message to test-/);
});

test('send counts two messages in the plural', async () => {
  const path = await writeLines([JSON.stringify(valid), JSON.stringify(valid)]);

  const { code, err } = await send(['--file', path]);

  expect(code).toBe(0);
  expect(err).toMatch(/^enqueued 2 messages to test-/);
});
