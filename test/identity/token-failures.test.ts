import { expect, test, vi } from 'vitest';
import { runMailbox } from '../../apps/cli/src/commands/mailbox.js';
import { useSharedStack, waitForFinal, waitUntil } from '../harness/index.js';

// contoso's two mailboxes share one app registration; fabrikam's mailboxes use another.
const CONTOSO_A = 'orders@contoso.example';
const CONTOSO_B = 'alerts@contoso.example';
const FABRIKAM = 'noreply@fabrikam.example';
const FABRIKAM_AUTH = 'auth@fabrikam.example';
const INVALID_TOKEN = '535 5.7.3 Authentication unsuccessful [EMULATOR]';

const shared = useSharedStack({
  stack: {
    timeUnitMs: 1000,
    apps: [{ name: 'contoso' }, { name: 'fabrikam' }],
    mailboxes: [
      { address: CONTOSO_A, app: 'contoso' },
      { address: CONTOSO_B, app: 'contoso' },
      { address: FABRIKAM, app: 'fabrikam' },
      { address: FABRIKAM_AUTH, app: 'fabrikam' },
    ],
    workerEnv: { POSTROOM_CIRCUIT_OPEN_MS: '600000', POSTROOM_CONNECTION_IDLE_MS: '0' },
  },
});

const send = (from: string, index: number) =>
  shared.client.send({
    from,
    to: `buyer${index}@example.net`,
    subject: `Notice ${index}`,
    text: `notice ${index}`,
  });

async function metrics(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${shared.workers[0].httpPort}/metrics`)).text();
}

const resume = (address: string) =>
  runMailbox({ redisUrl: shared.stack.redisUrl, queueName: shared.stack.queueName }, [
    'resume',
    address,
  ]);

/** Returns the output of `postroom mailbox list`. */
async function listMailboxes(): Promise<string> {
  const chunks: string[] = [];
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    chunks.push(String(chunk));
    return true;
  });
  try {
    await runMailbox({ redisUrl: shared.stack.redisUrl, queueName: shared.stack.queueName }, [
      'list',
    ]);
  } finally {
    stdout.mockRestore();
  }
  return chunks.join('');
}

// The first test runs before any token was cached, so its message meets the failing request.
test('unreachable token endpoint waits without attempts', async () => {
  shared.stack.emulator.addFault({ stage: 'token', action: 'drop', count: 2 });
  const { id } = await send(FABRIKAM, 1);

  const status = await waitForFinal(shared.client, id);
  expect(status.state).toBe('sent');
  expect(status.attempts ?? 0).toBe(0);
  expect(shared.stack.emulator.stats().tokenRequests).toEqual({ ok: 1, error: 2 });
  expect(await metrics()).toMatch(
    /postroom_token_requests_total\{app="fabrikam",result="transient"\} 2/,
  );
});

test('expired secret stops all app mailboxes', async () => {
  shared.stack.emulator.addFault({ stage: 'token', action: 'reply', aadsts: 7000222 });
  const first = await send(CONTOSO_A, 2);
  await waitUntil(
    'the first job to wait for its mailbox',
    async () => (await shared.client.status(first.id))?.waitReason === 'auth_failed',
  );
  const second = await send(CONTOSO_B, 3);
  const other = await send(FABRIKAM, 4);

  expect((await waitForFinal(shared.client, other.id)).state).toBe('sent');
  await waitUntil(
    'the second job to wait for its mailbox',
    async () => (await shared.client.status(second.id))?.waitReason === 'auth_failed',
  );
  for (const id of [first.id, second.id]) {
    const status = await shared.client.status(id);
    expect(status?.state).toBe('waiting_for_mailbox');
    expect(status?.attempts ?? 0).toBe(0);
  }
  const scraped = await metrics();
  expect(scraped).toContain(`postroom_mailbox_state{mailbox="${CONTOSO_A}",state="auth_failed"} 1`);
  expect(scraped).toContain(`postroom_mailbox_state{mailbox="${CONTOSO_B}",state="auth_failed"} 1`);
  expect(scraped).toContain(`postroom_mailbox_state{mailbox="${FABRIKAM}",state="healthy"} 1`);
  expect(scraped).toMatch(
    /postroom_token_requests_total\{app="contoso",result="configuration"\} 1/,
  );
  // One token request: the circuit stopped the second mailbox before it asked again.
  expect(shared.stack.emulator.stats().tokenRequests.error).toBe(1);

  expect(await resume(CONTOSO_A)).toBe(0);
  expect(await resume(CONTOSO_B)).toBe(0);
  expect((await waitForFinal(shared.client, first.id)).state).toBe('sent');
  expect((await waitForFinal(shared.client, second.id)).state).toBe('sent');
});

test('first 535 gets a fresh token', async () => {
  shared.stack.emulator.addFault({
    stage: 'auth',
    action: 'reply',
    mailbox: FABRIKAM_AUTH,
    reply: INVALID_TOKEN,
  });
  const { id } = await send(FABRIKAM_AUTH, 5);

  const status = await waitForFinal(shared.client, id);
  expect(status.state).toBe('sent');
  expect(shared.stack.emulator.stats().tokenRequests.ok).toBe(1);
  expect(shared.stack.emulator.stats().replies['535 5.7.3']).toBe(1);
});

test('second 535 stops the mailbox', async () => {
  shared.stack.emulator.addFault({
    stage: 'auth',
    action: 'reply',
    mailbox: FABRIKAM_AUTH,
    reply: INVALID_TOKEN,
    count: 2,
  });
  const { id } = await send(FABRIKAM_AUTH, 6);

  await waitUntil(
    'the job to wait for its mailbox',
    async () => (await shared.client.status(id))?.waitReason === 'auth_failed',
  );
  expect((await shared.client.status(id))?.attempts ?? 0).toBe(0);
  expect(shared.stack.emulator.stats().replies['535 5.7.3']).toBe(2);
  expect(shared.stack.emulator.stats().tokenRequests.ok).toBe(1);
  expect(await metrics()).toContain(
    `postroom_mailbox_state{mailbox="${FABRIKAM_AUTH}",state="auth_failed"} 1`,
  );
  const row = (await listMailboxes()).split('\n').find((line) => line.startsWith(FABRIKAM_AUTH));
  expect(row).toMatch(/auth_failed .* smtp_auth_not_authorized$/);

  expect(await resume(FABRIKAM_AUTH)).toBe(0);
  expect((await waitForFinal(shared.client, id)).state).toBe('sent');
});
