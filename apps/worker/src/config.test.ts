import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@postroom/core';
import { afterAll, describe, expect, test } from 'vitest';
import { loadConfig } from './config.js';

const dir = mkdtempSync(join(tmpdir(), 'postroom-config-'));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function mailboxFile(content: unknown): string {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify(content));
  return path;
}

const app = { name: 'main', tenantId: 'tenant', clientId: 'client', clientSecretEnv: 'APP_SECRET' };

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected loadConfig to throw');
}

test('loads a mailbox file with Exchange Online defaults', () => {
  const path = mailboxFile({
    apps: [app],
    mailboxes: [
      {
        address: 'noreply@example.com',
        sendAs: ['billing@example.com'],
        limits: { messagesPerWindow: 10 },
      },
    ],
  });
  const config = loadConfig({ POSTROOM_CONFIG: path, APP_SECRET: 's3cret' });
  expect(config.mailboxes[0]).toMatchObject({
    address: 'noreply@example.com',
    app: 'main',
    sendAs: ['billing@example.com'],
  });
  expect(config.mailboxes[0]?.limits).toMatchObject({
    messagesPerWindow: 10,
    maxConnections: 3,
    recipientsPerDay: 10_000,
  });
  expect(config.apps[0]?.credential).toEqual({ kind: 'secret', clientSecret: 's3cret' });
  expect(config.mailboxes[0]?.transport).toBe('smtp');
  expect(config.smtp).toMatchObject({ host: 'smtp.office365.com', port: 587 });
});

test('rejects secure true on port 587 with the fix', () => {
  const path = mailboxFile({
    apps: [app],
    mailboxes: [{ address: 'a@example.com', smtp: { secure: true } }],
  });
  const error = configError({ POSTROOM_CONFIG: path, APP_SECRET: 'x' });
  expect(error.message).toContain('mailboxes.0.smtp.secure');
  expect(error.message).toContain('use secure: false');
});

test('rejects turning off certificate verification', () => {
  const path = mailboxFile({
    apps: [app],
    mailboxes: [{ address: 'a@example.com', smtp: { tls: { rejectUnauthorized: false } } }],
  });
  const error = configError({ POSTROOM_CONFIG: path, APP_SECRET: 'x' });
  expect(error.message).toContain('tls.rejectUnauthorized');
  expect(error.message).toContain('POSTROOM_TLS_CA_FILE');
});

test('names the variable that is invalid', () => {
  const error = configError({
    POSTROOM_MAILBOX: 'a@example.com',
    POSTROOM_TENANT_ID: 't',
    POSTROOM_CLIENT_ID: 'c',
    POSTROOM_CLIENT_SECRET: 's',
    POSTROOM_CONCURRENCY: 'many',
  });
  expect(error.issues[0]?.path).toBe('POSTROOM_CONCURRENCY');
  expect(error.message).toContain('fix or unset POSTROOM_CONCURRENCY');
});

test('names POSTROOM_REDIS_URL without its value', () => {
  const error = configError({
    POSTROOM_MAILBOX: 'a@example.com',
    POSTROOM_TENANT_ID: 't',
    POSTROOM_CLIENT_ID: 'c',
    POSTROOM_CLIENT_SECRET: 's',
    POSTROOM_REDIS_URL: 'redis://:hunter2@127.0.0.1:notaport',
  });
  expect(error.issues[0]?.path).toBe('POSTROOM_REDIS_URL');
  expect(error.message).toContain('is not a valid URL');
  expect(error.message).toContain('fix or unset POSTROOM_REDIS_URL');
  expect(error.message).not.toContain('hunter2');
});

test('requires credentials with POSTROOM_MAILBOX', () => {
  const error = configError({ POSTROOM_MAILBOX: 'a@example.com' });
  expect(error.issues.map((issue) => issue.path)).toEqual([
    'POSTROOM_TENANT_ID',
    'POSTROOM_CLIENT_ID',
    'POSTROOM_CLIENT_SECRET',
  ]);
});

test('reports a missing secret variable without a value', () => {
  const path = mailboxFile({ apps: [app], mailboxes: [{ address: 'a@example.com' }] });
  const error = configError({ POSTROOM_CONFIG: path });
  expect(error.message).toContain('environment variable APP_SECRET is not set');
});

test('rejects a configuration without mailboxes', () => {
  const error = configError({});
  expect(error.message).toContain('no sending mailbox is configured');
});

test('rejects more than 3 connections per mailbox', () => {
  const path = mailboxFile({
    apps: [app],
    mailboxes: [{ address: 'a@example.com', limits: { maxConnections: 5 } }],
  });
  expect(configError({ POSTROOM_CONFIG: path, APP_SECRET: 'x' }).message).toContain(
    'limit of 3 concurrent connections',
  );
});

test('rejects mailboxes that differ only in case', () => {
  const path = mailboxFile({
    apps: [app],
    mailboxes: [{ address: 'Alerts@example.com' }, { address: 'alerts@example.com' }],
  });
  const error = configError({ POSTROOM_CONFIG: path, APP_SECRET: 'x' });

  expect(error.message).toContain('Alerts@example.com');
  expect(error.message).toContain('alerts@example.com');
  expect(error.message).toContain('differ only in case');
});

describe('POSTROOM_TLS_CA_FILE', () => {
  const single = {
    POSTROOM_MAILBOX: 'a@example.com',
    POSTROOM_TENANT_ID: 't',
    POSTROOM_CLIENT_ID: 'c',
    POSTROOM_CLIENT_SECRET: 's',
  };

  test('missing file names the variable and path', () => {
    const path = join(dir, 'missing-ca.pem');
    const error = configError({ ...single, POSTROOM_TLS_CA_FILE: path });

    expect(error.issues[0]?.path).toBe('POSTROOM_TLS_CA_FILE');
    expect(error.message).toContain(`cannot read ${path} (ENOENT)`);
    expect(error.message).toContain('PEM file');
    expect(error.message).not.toContain('no such file or directory, open');
  });

  test('file without a certificate is rejected', () => {
    const path = mailboxFile({ not: 'a certificate' });
    const error = configError({ ...single, POSTROOM_TLS_CA_FILE: path });

    expect(error.issues[0]?.path).toBe('POSTROOM_TLS_CA_FILE');
    expect(error.message).toContain(`${path} contains no PEM certificate`);
  });

  test('readable certificate file is accepted', () => {
    const path = join(dir, 'ca.pem');
    writeFileSync(path, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');

    expect(loadConfig({ ...single, POSTROOM_TLS_CA_FILE: path }).smtp.caFile).toBe(path);
  });
});
