import { readFileSync } from 'node:fs';
import {
  type AppCertificate,
  createAppCertificate,
  type Emulator,
  startEmulator,
} from '@postroom/m365-emulator';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import type { AppConfig } from '../../apps/worker/src/config.js';
import { createMetrics } from '../../apps/worker/src/metrics.js';
import { loadCertificateCredential } from '../../apps/worker/src/tokens/credentials.js';
import { TokenError } from '../../apps/worker/src/tokens/errors.js';
import { createNetworkClient } from '../../apps/worker/src/tokens/network-client.js';
import { TokenProviders } from '../../apps/worker/src/tokens/registry.js';
import { waitUntil } from '../harness/index.js';
import { jwtPayload, RecordingNetworkClient } from './network.js';

// Real MSAL against the emulator's HTTPS token endpoint, in this process.
const TENANT = 'provider-tenant';
const SECRET = 'provider-test-secret';
const SCOPE = 'https://outlook.office365.com/.default';
const TOKEN_LIFETIME_SECONDS = 2;

let emulator: Emulator;
let certificate: AppCertificate;
let network: RecordingNetworkClient;

beforeAll(async () => {
  certificate = await createAppCertificate('provider-cert-app');
  emulator = await startEmulator({
    tokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS,
    apps: [
      { tenantId: TENANT, clientId: 'secret-app', clientSecret: SECRET, mailboxes: [] },
      {
        tenantId: TENANT,
        clientId: 'cert-app',
        certificatePem: certificate.certificatePem,
        mailboxes: [],
      },
    ],
  });
});

afterAll(async () => {
  await emulator?.close();
});

beforeEach(() => {
  emulator.clearFaults();
  emulator.reset();
});

function secretApp(secret = SECRET, clientId = 'secret-app'): AppConfig {
  return {
    name: 'secret-app',
    tenantId: TENANT,
    clientId,
    credential: { kind: 'secret', clientSecret: secret },
  };
}

function certificateApp(): AppConfig {
  const credential = loadCertificateCredential({
    certificatePem: certificate.certificatePem,
    privateKeyPem: certificate.privateKeyPem,
    certificateField: 'certificateFile',
    privateKeyField: 'privateKeyFile',
    sendX5c: false,
  });
  return { name: 'cert-app', tenantId: TENANT, clientId: 'cert-app', credential };
}

/** `extraCa` is the CA the client trusts besides the system CAs: by default the emulator's. */
function provider(
  app: AppConfig,
  renewBeforeExpiryMs = 0,
  extraCa: string | Buffer | null = readFileSync(emulator.caFile),
) {
  const authorityHost = `https://127.0.0.1:${emulator.httpsPort}`;
  network = new RecordingNetworkClient(
    createNetworkClient({
      ...(extraCa ? { extraCa } : {}),
      allowedOrigins: [authorityHost],
    }),
  );
  const providers = new TokenProviders({
    authorityHost,
    networkClient: network,
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(),
    renewBeforeExpiryMs,
  });
  return providers.for(app, SCOPE);
}

async function tokenError(promise: Promise<unknown>): Promise<TokenError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(TokenError);
  return error as TokenError;
}

test('twenty concurrent calls at expiry make one request', async () => {
  const tokens = provider(secretApp());
  const first = await tokens.getToken();
  await waitUntil('the first token to expire', () => Date.now() >= first.expiresAtMs, 5000);

  const renewed = await Promise.all(Array.from({ length: 20 }, () => tokens.getToken()));

  expect(new Set(renewed.map((token) => token.token)).size).toBe(1);
  expect(renewed[0]?.token).not.toBe(first.token);
  expect(emulator.stats().tokenRequests).toEqual({ ok: 2, error: 0 });
  expect(network.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
    `POST /${TENANT}/oauth2/v2.0/token`,
    `POST /${TENANT}/oauth2/v2.0/token`,
  ]);
});

test('cached token is served until the renewal margin', async () => {
  const tokens = provider(secretApp(), 500);
  const first = await tokens.getToken();
  const again = await tokens.getToken();

  expect(again).toBe(first);
  expect(emulator.stats().tokenRequests.ok).toBe(1);
});

test('certificate credential sends an assertion', async () => {
  const token = await provider(certificateApp()).getToken();
  const [request] = network.posts;

  expect(jwtPayload(token.token).appidacr).toBe('2');
  expect(request?.form.get('client_assertion_type')).toBe(
    'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
  );
  expect(request?.form.get('client_secret')).toBeNull();
  expect(jwtPayload(request?.form.get('client_assertion') ?? null).aud).toBe(
    emulator.tokenUrl(TENANT),
  );
});

test('AADSTS700024 is retried with a fresh assertion', async () => {
  emulator.addFault({ stage: 'token', action: 'reply', aadsts: 700024 });
  const token = await provider(certificateApp()).getToken();
  const assertions = network.posts.map((request) => request.form.get('client_assertion'));

  expect(token.token).toMatch(/^eyJ/);
  expect(emulator.stats().tokenRequests).toEqual({ ok: 1, error: 1 });
  expect(assertions).toHaveLength(2);
  expect(assertions[1]).not.toBe(assertions[0]);
  expect(jwtPayload(assertions[1] ?? null).jti).not.toBe(jwtPayload(assertions[0] ?? null).jti);
});

test('AADSTS700024 retries are bounded', async () => {
  emulator.addFault({ stage: 'token', action: 'reply', aadsts: 700024, count: 10 });
  const error = await tokenError(provider(certificateApp()).getToken());

  expect(error.kind).toBe('transient');
  expect(error.aadstsCode).toBe('700024');
  expect(network.posts).toHaveLength(3);
});

test.each([
  [7000222, 'client secret expired'],
  [700016, 'application not found'],
  [90002, 'tenant not found'],
])('AADSTS%d is a configuration error', async (aadsts, summary) => {
  emulator.addFault({ stage: 'token', action: 'reply', aadsts });
  const error = await tokenError(provider(secretApp()).getToken());

  expect(error.kind).toBe('configuration');
  expect(error.aadstsCode).toBe(String(aadsts));
  expect(error.correlationId).toMatch(/^[0-9a-f-]{36}$/);
  expect(error.message).toContain(summary);
  expect(network.posts).toHaveLength(1);
});

test('wrong secret gives AADSTS7000215', async () => {
  const error = await tokenError(provider(secretApp('wrong-secret-value')).getToken());

  expect(error.kind).toBe('configuration');
  expect(error.aadstsCode).toBe('7000215');
  expect(`${error.message} ${error.fix}`).not.toContain('wrong-secret-value');
});

test('dropped connection is a transient error', async () => {
  emulator.addFault({ stage: 'token', action: 'drop' });
  const error = await tokenError(provider(secretApp()).getToken());

  expect(error.kind).toBe('transient');
  expect(error.aadstsCode).toBeUndefined();
});

test.each([
  ['a CA that did not issue it', () => certificate.certificatePem],
  ['only the system CAs', () => null],
])('untrusted certificate with %s stops retries', async (_trust, extraCa) => {
  const error = await tokenError(provider(secretApp(), 0, extraCa()).getToken());

  expect(error.kind).toBe('configuration');
  expect(error.code).toBe('POSTROOM_TOKEN_CERTIFICATE_UNTRUSTED');
  expect(error.message).toContain(`127.0.0.1:${emulator.httpsPort}`);
  expect(error.fix).toContain('POSTROOM_TLS_CA_FILE');
  expect(error.fix).toContain('POSTROOM_CLOUD');
  expect(emulator.stats().tokenRequests).toEqual({ ok: 0, error: 0 });
});
