import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@postroom/core';
import { type AppCertificate, createAppCertificate } from '@postroom/m365-emulator';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadConfig } from './config.js';
import { loadCertificateCredential } from './tokens/credentials.js';

const dir = mkdtempSync(join(tmpdir(), 'postroom-credentials-'));
let certificate: AppCertificate;
let other: AppCertificate;

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

beforeAll(async () => {
  [certificate, other] = await Promise.all([
    createAppCertificate('postroom-test'),
    createAppCertificate('other'),
  ]);
  writeFileSync(join(dir, 'cert.pem'), certificate.certificatePem);
  writeFileSync(join(dir, 'key.pem'), certificate.privateKeyPem);
  writeFileSync(join(dir, 'other-key.pem'), other.privateKeyPem);
});

function load(
  apps: unknown[],
  env: NodeJS.ProcessEnv = {},
  mailboxes: unknown[] = [{ address: 'a@example.com' }],
) {
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(path, JSON.stringify({ apps, mailboxes }));
  return loadConfig({ POSTROOM_CONFIG: path, ...env });
}

function loadError(
  apps: unknown[],
  env: NodeJS.ProcessEnv = {},
  mailboxes?: unknown[],
): ConfigError {
  try {
    load(apps, env, mailboxes);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected loadConfig to throw');
}

const ids = { name: 'main', tenantId: 'tenant', clientId: 'client' };

describe('certificate credential', () => {
  test('loads files relative to the mailbox file', () => {
    const config = load([{ ...ids, certificateFile: 'cert.pem', privateKeyFile: 'key.pem' }]);
    const credential = config.apps[0]?.credential;
    const der = new X509Certificate(certificate.certificatePem).raw;

    expect(credential?.kind).toBe('certificate');
    if (credential?.kind !== 'certificate') return;
    expect(credential.thumbprintSha256).toBe(createHash('sha256').update(der).digest('hex'));
    expect(credential.privateKeyPem).toContain('BEGIN PRIVATE KEY');
    expect(credential.sendX5c).toBe(false);
  });

  test('loads PEM text from environment variables', () => {
    const config = load(
      [{ ...ids, certificateEnv: 'APP_CERT', privateKeyEnv: 'APP_KEY', sendX5c: true }],
      {
        APP_CERT: certificate.certificatePem,
        APP_KEY: certificate.privateKeyPem,
      },
    );

    expect(config.apps[0]?.credential).toMatchObject({ kind: 'certificate', sendX5c: true });
  });

  test('rejects a key of another certificate', () => {
    const error = loadError([
      { ...ids, certificateFile: 'cert.pem', privateKeyFile: 'other-key.pem' },
    ]);

    expect(error.message).toContain('privateKeyFile');
    expect(error.message).toContain('does not belong to the certificate');
  });

  test('rejects a missing file naming the field', () => {
    const error = loadError([
      { ...ids, certificateFile: 'missing.pem', privateKeyFile: 'key.pem' },
    ]);

    expect(error.message).toContain('certificateFile');
    expect(error.message).toContain('ENOENT');
  });

  test('rejects a file that is not a certificate', () => {
    const error = loadError([{ ...ids, certificateFile: 'key.pem', privateKeyFile: 'key.pem' }]);

    expect(error.message).toContain('not a PEM certificate');
  });

  test('rejects a certificate without its key', () => {
    const error = loadError([{ ...ids, certificateFile: 'cert.pem' }]);

    expect(error.message).toContain('apps.0.privateKeyFile');
    expect(error.message).toContain('needs its private key');
  });

  test('rejects a secret and a certificate together', () => {
    const error = loadError([
      { ...ids, clientSecretEnv: 'S', certificateFile: 'cert.pem', privateKeyFile: 'key.pem' },
    ]);

    expect(error.message).toContain('not both');
  });

  test('rejects an app without a credential', () => {
    const error = loadError([ids]);

    expect(error.message).toContain('an app needs a credential');
  });

  test('rejects an expired certificate with the fix', () => {
    const source = {
      certificatePem: certificate.certificatePem,
      privateKeyPem: certificate.privateKeyPem,
      certificateField: 'certificateFile',
      privateKeyField: 'privateKeyFile',
      sendX5c: false,
    };
    const later = new Date(Date.now() + 365 * 24 * 60 * 60_000);

    expect(() => loadCertificateCredential(source, later)).toThrow(
      /expired on .*upload it to the app registration/,
    );
  });

  test('rejects a key that is not RSA', () => {
    const ecKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    const source = {
      certificatePem: certificate.certificatePem,
      privateKeyPem: ecKey.toString(),
      certificateField: 'certificateFile',
      privateKeyField: 'privateKeyFile',
      sendX5c: false,
    };

    expect(() => loadCertificateCredential(source)).toThrow(/needs an RSA key/);
  });
});

describe('apps and transports', () => {
  test('rejects one app registration with two credentials', () => {
    const error = loadError(
      [
        { ...ids, clientSecretEnv: 'S1' },
        { ...ids, name: 'again', clientSecretEnv: 'S2' },
      ],
      { S1: 'one', S2: 'two' },
    );

    expect(error.message).toContain(
      'uses the tenant and client id of app main with a different credential',
    );
  });

  test('accepts one app registration under two names with one credential', () => {
    const config = load(
      [
        { ...ids, clientSecretEnv: 'S1' },
        { ...ids, name: 'again', clientSecretEnv: 'S1' },
      ],
      { S1: 'one' },
    );

    expect(config.apps.map((app) => app.name)).toEqual(['main', 'again']);
  });

  test('gives a graph mailbox 4 concurrent requests', () => {
    const config = load([{ ...ids, clientSecretEnv: 'S' }], { S: 'x' }, [
      { address: 'g@example.com', transport: 'graph' },
    ]);

    expect(config.mailboxes[0]?.transport).toBe('graph');
    expect(config.mailboxes[0]?.limits.maxConnections).toBe(4);
  });

  test('rejects more than 4 concurrent Graph requests', () => {
    const error = loadError([{ ...ids, clientSecretEnv: 'S' }], { S: 'x' }, [
      { address: 'g@example.com', transport: 'graph', limits: { maxConnections: 5 } },
    ]);

    expect(error.message).toContain('limit of 4 concurrent Graph requests');
  });

  test('lock outlasts the Graph timeout only with Graph', () => {
    const env = {
      S: 'x',
      POSTROOM_SMTP_SOCKET_TIMEOUT_MS: '2000',
      POSTROOM_LOCK_DURATION_MS: '4000',
    };
    const apps = [{ ...ids, clientSecretEnv: 'S' }];
    const error = loadError(apps, env, [{ address: 'g@example.com', transport: 'graph' }]);

    expect(load(apps, env).lockDurationMs).toBe(4000);
    expect(error.message).toContain('shorter than twice POSTROOM_GRAPH_TIMEOUT_MS');
  });

  test('takes the cloud from POSTROOM_CLOUD and the Graph host override', () => {
    const config = load([{ ...ids, clientSecretEnv: 'S' }], {
      S: 'x',
      POSTROOM_CLOUD: 'usgov-gcchigh',
      POSTROOM_GRAPH_HOST: 'https://127.0.0.1:4443/',
    });

    expect(config.authorityHost).toBe('https://login.microsoftonline.us');
    expect(config.smtp.host).toBe('smtp.office365.us');
    expect(config.smtpScope).toBe('https://outlook.office365.us/.default');
    expect(config.graph).toMatchObject({
      host: 'https://127.0.0.1:4443',
      scope: 'https://graph.microsoft.us/.default',
    });
  });
});
