import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MailClient } from '@postroom/client';
import { createAppCertificate } from '@postroom/m365-emulator';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import type { WorkerProcess } from '../../apps/cli/src/worker-process.js';
import { LocalStack, waitUntil } from '../harness/index.js';

// The worker trusts a CA that did not issue the emulator's certificate, as when
// POSTROOM_TLS_CA_FILE names the wrong file. Both mailboxes use the same app registration.
const FIRST = 'orders@contoso.example';
const SECOND = 'alerts@contoso.example';

let stack: LocalStack;
let client: MailClient;
let worker: WorkerProcess;

beforeAll(async () => {
  stack = await LocalStack.start({
    redisUrl: inject('redisUrl'),
    timeUnitMs: 1000,
    mailboxes: [{ address: FIRST }, { address: SECOND }],
    workerEnv: { POSTROOM_CIRCUIT_OPEN_MS: '600000' },
  });
  const wrongCa = join(stack.dir, 'wrong-ca.pem');
  await writeFile(wrongCa, (await createAppCertificate('wrong-ca')).certificatePem);
  worker = await stack.addWorker({ POSTROOM_TLS_CA_FILE: wrongCa });
  client = new MailClient({ connection: stack.redisUrl, queueName: stack.queueName });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await stack?.stop();
});

test('untrusted token endpoint pauses the app mailboxes', async () => {
  const { id } = await client.send({
    from: FIRST,
    to: 'ada@fabrikam.example',
    subject: 'Order',
    text: 'order confirmed',
  });

  await waitUntil(
    'the job to wait for its mailbox',
    async () => (await client.status(id))?.waitReason === 'auth_failed',
  );
  const status = await client.status(id);
  const metrics = await (await fetch(`http://127.0.0.1:${worker.httpPort}/metrics`)).text();
  const log = await readFile(worker.logFile, 'utf8');

  expect(status?.state).toBe('waiting_for_mailbox');
  expect(status?.attempts ?? 0).toBe(0);
  expect(metrics).toContain(`postroom_mailbox_state{mailbox="${FIRST}",state="auth_failed"} 1`);
  expect(metrics).toContain(`postroom_mailbox_state{mailbox="${SECOND}",state="auth_failed"} 1`);
  expect(metrics).toMatch(
    /postroom_token_requests_total\{app="contoso",result="configuration"\} 1/,
  );
  expect(log).toContain(`127.0.0.1:${stack.emulator.httpsPort}`);
  expect(log).toContain('POSTROOM_TLS_CA_FILE');
  expect(stack.emulator.stats().tokenRequests).toEqual({ ok: 0, error: 0 });
});
