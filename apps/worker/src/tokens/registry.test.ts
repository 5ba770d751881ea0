import { pino } from 'pino';
import { expect, test } from 'vitest';
import type { AppConfig } from '../config.js';
import { createMetrics } from '../metrics.js';
import { createNetworkClient } from './network-client.js';
import { mailboxesSharingApp, TokenProviders } from './registry.js';

const secret = { kind: 'secret' as const, clientSecret: 'not-used' };
const app = (name: string, tenantId: string, clientId: string): AppConfig => ({
  name,
  tenantId,
  clientId,
  credential: secret,
});

function providers(authorityHost = 'https://127.0.0.1:9') {
  return new TokenProviders({
    authorityHost,
    networkClient: createNetworkClient({ allowedOrigins: [authorityHost] }),
    logger: pino({ level: 'silent' }),
    metrics: createMetrics(),
    renewBeforeExpiryMs: 0,
  });
}

test('same tenant and client share one client', () => {
  const registry = providers();
  const first = registry.for(app('a', 'Tenant', 'Client'), 'scope/.default');
  const second = registry.for(app('b', 'tenant', 'client'), 'scope/.default');

  expect(second).toBe(first);
  expect(registry.clientCount).toBe(1);
});

test('a second scope gets its own provider on the same client', () => {
  const registry = providers();
  const smtp = registry.for(app('a', 't', 'c'), 'https://outlook.office365.com/.default');
  const graph = registry.for(app('a', 't', 'c'), 'https://graph.microsoft.com/.default');

  expect(graph).not.toBe(smtp);
  expect(registry.clientCount).toBe(1);
});

test('another client id gets another client', () => {
  const registry = providers();
  registry.for(app('a', 't', 'c1'), 's');
  registry.for(app('b', 't', 'c2'), 's');

  expect(registry.clientCount).toBe(2);
});

test('mailboxes sharing an app include other names of the same registration', () => {
  const apps = [app('a', 't', 'c'), app('alias', 'T', 'C'), app('other', 't', 'x')];
  const mailboxes = [
    { address: '1@x', app: 'a' },
    { address: '2@x', app: 'alias' },
    { address: '3@x', app: 'other' },
  ].map((mailbox) => ({ ...mailbox, transport: 'smtp' as const, sendAs: [], limits: {} as never }));

  expect(mailboxesSharingApp({ apps, mailboxes }, 'a').map((mailbox) => mailbox.address)).toEqual([
    '1@x',
    '2@x',
  ]);
});
