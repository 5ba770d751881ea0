import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@postroom/core';
import { afterAll, expect, test } from 'vitest';
import { loadConfig } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'postroom-config-warnings-'));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const mailboxEnv = {
  POSTROOM_MAILBOX: 'noreply@example.com',
  POSTROOM_TENANT_ID: 'tenant',
  POSTROOM_CLIENT_ID: 'client',
  POSTROOM_CLIENT_SECRET: 's3cret',
};

function mailboxFile(content: unknown): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

function errorMessage(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig({ ...mailboxEnv, ...env });
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected loadConfig to throw');
}

test.each([
  ['abc', "POSTROOM_CONCURRENCY: must be a whole number from 1 to 1000, got 'abc'"],
  ['', "POSTROOM_CONCURRENCY: must be a whole number from 1 to 1000, got ''"],
  ['0', "POSTROOM_CONCURRENCY: must be a whole number from 1 to 1000, got '0'"],
  ['1.5', "POSTROOM_CONCURRENCY: must be a whole number from 1 to 1000, got '1.5'"],
])('concurrency %j names value and rule', (value, expected) => {
  expect(errorMessage({ POSTROOM_CONCURRENCY: value })).toContain(expected);
});

test('retry delay without maximum names the rule', () => {
  expect(errorMessage({ POSTROOM_RETRY_BASE_DELAY_MS: 'soon' })).toContain(
    "POSTROOM_RETRY_BASE_DELAY_MS: must be a whole number of at least 1, got 'soon'",
  );
});

test('queue name error names the value', () => {
  const message = errorMessage({ POSTROOM_QUEUE_NAME: 'a:b' });

  expect(message).toContain(
    "POSTROOM_QUEUE_NAME: must be 1 to 64 ASCII letters, digits, _ or -, got 'a:b'",
  );
  expect(message).not.toContain('^[');
});

test('Redis URL error leaves out the value', () => {
  const message = errorMessage({ POSTROOM_REDIS_URL: 'http://user:hunter2@redis' });

  expect(message).toContain('POSTROOM_REDIS_URL');
  expect(message).not.toContain('hunter2');
});

test('base delay above max delay names both', () => {
  const message = errorMessage({
    POSTROOM_RETRY_BASE_DELAY_MS: '5000',
    POSTROOM_RETRY_MAX_DELAY_MS: '1000',
  });

  expect(message).toContain('POSTROOM_RETRY_BASE_DELAY_MS');
  expect(message).toContain('POSTROOM_RETRY_MAX_DELAY_MS (1000 ms)');
});

test('unknown variable warns with closest name', () => {
  const config = loadConfig({ ...mailboxEnv, POSTROOM_CONCURENCY: '4' });

  expect(config.warnings).toEqual([
    {
      message: 'unknown POSTROOM_* variable is ignored; check its spelling',
      fields: { variable: 'POSTROOM_CONCURENCY', closest: 'POSTROOM_CONCURRENCY' },
    },
  ]);
});

test('secret variable of mailbox file is known', () => {
  const path = mailboxFile({
    apps: [{ name: 'main', tenantId: 't', clientId: 'c', clientSecretEnv: 'POSTROOM_APP_SECRET' }],
    mailboxes: [{ address: 'noreply@example.com' }],
  });

  const config = loadConfig({ POSTROOM_CONFIG: path, POSTROOM_APP_SECRET: 's3cret' });

  expect(config.warnings).toEqual([]);
});

test('limits above Exchange warn once per mailbox', () => {
  const path = mailboxFile({
    apps: [{ name: 'main', tenantId: 't', clientId: 'c', clientSecretEnv: 'APP_SECRET' }],
    mailboxes: [
      {
        address: 'fast@example.com',
        limits: { messagesPerWindow: 30, rateWindowMs: 1000, maxRecipientsPerMessage: 1000 },
      },
      // 1 message per 2 s is Exchange's 30 per 60 s, so it is within the limit.
      { address: 'slow@example.com', limits: { messagesPerWindow: 1, rateWindowMs: 2000 } },
    ],
  });

  const config = loadConfig({ POSTROOM_CONFIG: path, APP_SECRET: 's3cret' });

  expect(config.warnings).toHaveLength(1);
  expect(config.warnings?.[0]?.fields).toEqual({
    mailbox: 'fast@example.com',
    limits: [
      { limit: 'messagesPerWindow', value: '30 per 1000 ms', exchangeValue: '30 per 60000 ms' },
      { limit: 'maxRecipientsPerMessage', value: '1000', exchangeValue: '500' },
    ],
  });
});
