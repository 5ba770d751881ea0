import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { FaultSpec } from './faults.js';
import { Replies } from './smtp-replies.js';
import {
  closeSession,
  fetchAccessToken,
  MAILBOX,
  openSession,
  postTokenForm,
  sendOnSession,
  simpleMessage,
  startTestEmulator,
  testApp,
  waitFor,
} from './test-support/fixtures.js';
import { RawSmtpClient } from './test-support/raw-smtp-client.js';
import type { Emulator } from './types.js';

const OTHER_MAILBOX = 'other@contoso.example';
const ENVELOPE = { from: MAILBOX, to: ['a@fabrikam.example'] };

async function addFault(emulator: Emulator, spec: FaultSpec): Promise<Response> {
  return fetch(`${emulator.apiUrl}/api/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(spec),
  });
}

async function secureClient(emulator: Emulator): Promise<RawSmtpClient> {
  const client = await RawSmtpClient.connect(emulator.smtpPort);
  await client.readReply();
  await client.command('EHLO client.example');
  await client.startTls({ ca: readFileSync(emulator.caFile) });
  await client.command('EHLO client.example');
  return client;
}

function xoauth2Command(mailbox: string, token: string): string {
  const initial = Buffer.from(`user=${mailbox}\x01auth=Bearer ${token}\x01\x01`).toString('base64');
  return `AUTH XOAUTH2 ${initial}`;
}

/** Resolves with the reply if it has arrived by now, otherwise with `undefined`. */
function replyIfArrived(reply: Promise<string>): Promise<string | undefined> {
  return Promise.race([reply, Promise.resolve(undefined)]);
}

describe('fault injection', () => {
  let emulator: Emulator;
  let token: string;

  beforeAll(async () => {
    emulator = await startTestEmulator({
      apps: [testApp({ mailboxes: [MAILBOX, OTHER_MAILBOX] })],
    });
    token = await fetchAccessToken(emulator);
  });

  afterAll(async () => {
    await emulator.close();
  });

  beforeEach(() => {
    emulator.reset();
  });

  afterEach(async () => {
    await fetch(`${emulator.apiUrl}/api/faults`, { method: 'DELETE' });
  });

  it('replies with the chosen line at AUTH, once', async () => {
    const response = await addFault(emulator, {
      stage: 'auth',
      action: 'reply',
      reply: '454 4.7.0 Temporary authentication failure',
    });
    const client = await secureClient(emulator);
    const faulted = await client.command(xoauth2Command(MAILBOX, token));
    const normal = await client.command(xoauth2Command(MAILBOX, token));
    client.close();

    expect(response.status).toBe(201);
    expect(faulted).toBe('454 4.7.0 Temporary authentication failure');
    expect(normal).toBe(Replies.authSucceeded);
    expect(emulator.stats().replies['454 4.7.0']).toBe(1);
  });

  it('writes a reply without an enhanced code unchanged', async () => {
    await addFault(emulator, { stage: 'mail', action: 'reply', reply: '451 Busy' });
    const client = await secureClient(emulator);
    await client.command(xoauth2Command(MAILBOX, token));
    const reply = await client.command(`MAIL FROM:<${MAILBOX}>`);
    client.close();

    expect(reply).toBe('451 Busy');
  });

  it('drops the connection at AUTH without a reply', async () => {
    await addFault(emulator, { stage: 'auth', action: 'drop' });
    const client = await secureClient(emulator);
    const reply = client.command(xoauth2Command(MAILBOX, token));
    await client.closed;

    expect(await replyIfArrived(reply)).toBeUndefined();
  });

  it('hangs at AUTH until the client gives up', async () => {
    await addFault(emulator, { stage: 'auth', action: 'hang' });
    const client = await secureClient(emulator);
    const reply = client.command(xoauth2Command(MAILBOX, token));
    await waitFor(
      () => emulator.faults().length,
      (remaining) => remaining === 0,
    );
    client.close();
    await client.closed;

    expect(await replyIfArrived(reply)).toBeUndefined();
    expect(emulator.stats().repliesByCode['235']).toBeUndefined();
  });

  it('replies with the chosen line at the end of DATA', async () => {
    await addFault(emulator, {
      stage: 'data-end',
      action: 'reply',
      reply: '451 4.7.500 Server busy. Please try again later.',
    });
    const session = await openSession(emulator, token);
    const faulted = sendOnSession(session, ENVELOPE, simpleMessage(MAILBOX, 'a@fabrikam.example'));

    await expect(faulted).rejects.toMatchObject({
      responseCode: 451,
      response: '451 4.7.500 Server busy. Please try again later.',
    });
    await sendOnSession(session, ENVELOPE, simpleMessage(MAILBOX, 'a@fabrikam.example'));
    await closeSession(session);
    expect(emulator.messages()).toHaveLength(1);
  });

  it('drops the connection at the end of DATA without accepting', async () => {
    await addFault(emulator, { stage: 'data-end', action: 'drop' });
    const session = await openSession(emulator, token);
    const sending = sendOnSession(session, ENVELOPE, simpleMessage(MAILBOX, 'a@fabrikam.example'));

    await expect(sending).rejects.toThrow();
    expect(emulator.messages()).toHaveLength(0);
  });

  it('accepts the message before dropping when accept is set', async () => {
    await addFault(emulator, { stage: 'data-end', action: 'drop', accept: true });
    const session = await openSession(emulator, token);
    const sending = sendOnSession(session, ENVELOPE, simpleMessage(MAILBOX, 'a@fabrikam.example'));

    await expect(sending).rejects.toThrow();
    expect(emulator.messages()).toHaveLength(1);
    expect(emulator.stats().replies['250 2.0.0']).toBeUndefined();
  });

  it('hangs at the end of DATA without accepting', async () => {
    await addFault(emulator, { stage: 'data-end', action: 'hang' });
    const client = await secureClient(emulator);
    await client.command(xoauth2Command(MAILBOX, token));
    await client.command(`MAIL FROM:<${MAILBOX}>`);
    await client.command('RCPT TO:<a@fabrikam.example>');
    await client.command('DATA');
    const reply = client.command(`${simpleMessage(MAILBOX, 'a@fabrikam.example')}.`);
    await waitFor(
      () => emulator.faults().length,
      (remaining) => remaining === 0,
    );
    client.close();
    await client.closed;

    expect(await replyIfArrived(reply)).toBeUndefined();
    expect(emulator.messages()).toHaveLength(0);
    await waitFor(
      () => emulator.stats().openConnections[MAILBOX],
      (open) => open === 0,
    );
  });

  it('delays the reply at the end of DATA', async () => {
    await addFault(emulator, { stage: 'data-end', action: 'delay', delayMs: 300 });
    const session = await openSession(emulator, token);
    const startedAtMs = Date.now();
    await sendOnSession(session, ENVELOPE, simpleMessage(MAILBOX, 'a@fabrikam.example'));
    const elapsedMs = Date.now() - startedAtMs;
    await closeSession(session);

    expect(elapsedMs).toBeGreaterThanOrEqual(290);
    expect(emulator.messages()).toHaveLength(1);
  });

  it('drops the connection instead of the 354 reply', async () => {
    await addFault(emulator, { stage: 'data', action: 'drop' });
    const session = await openSession(emulator, token);
    const sending = sendOnSession(session, ENVELOPE, simpleMessage(MAILBOX, 'a@fabrikam.example'));

    await expect(sending).rejects.toThrow();
    expect(emulator.stats().repliesByCode['354']).toBeUndefined();
  });

  it('replaces the greeting and closes at connect', async () => {
    await addFault(emulator, {
      stage: 'connect',
      action: 'reply',
      reply: '421 4.3.2 Service not available',
    });
    const client = await RawSmtpClient.connect(emulator.smtpPort);
    const greeting = await client.readReply();
    await client.closed;

    expect(greeting).toBe('421 4.3.2 Service not available');
  });

  it('replaces the EHLO reply', async () => {
    await addFault(emulator, { stage: 'ehlo', action: 'reply', reply: '554 5.7.1 Go away' });
    const client = await RawSmtpClient.connect(emulator.smtpPort);
    await client.readReply();
    const reply = await client.command('EHLO client.example');
    client.close();

    expect(reply).toBe('554 5.7.1 Go away');
  });

  it('applies only to the given mailbox and count', async () => {
    await addFault(emulator, {
      stage: 'auth',
      action: 'reply',
      reply: '454 4.7.0 Temporary authentication failure',
      mailbox: OTHER_MAILBOX,
      count: 2,
    });
    const client = await secureClient(emulator);
    const replies = [
      await client.command(xoauth2Command(MAILBOX, token)),
      await client.command(xoauth2Command(OTHER_MAILBOX, token)),
      await client.command(xoauth2Command(OTHER_MAILBOX, token)),
    ];
    client.close();
    const other = await secureClient(emulator);
    const afterCount = await other.command(xoauth2Command(OTHER_MAILBOX, token));
    other.close();

    expect(replies).toEqual([
      Replies.authSucceeded,
      Replies.alreadyAuthenticated,
      Replies.alreadyAuthenticated,
    ]);
    expect(afterCount).toBe('454 4.7.0 Temporary authentication failure');
  });

  it('answers a token request with the chosen status', async () => {
    await addFault(emulator, {
      stage: 'token',
      action: 'reply',
      status: 503,
      retryAfterSeconds: 7,
    });
    const faulted = await postTokenForm(emulator, {
      grant_type: 'client_credentials',
      client_id: 'any',
      client_secret: 'any',
      scope: 'https://outlook.office365.com/.default',
    });
    const body = JSON.parse(faulted.body) as { error: string; error_codes: number[] };

    expect(faulted.status).toBe(503);
    expect(faulted.headers['retry-after']).toBe('7');
    expect(body.error).toBe('temporarily_unavailable');
    expect(body.error_codes).toEqual([90033]);
    expect(emulator.stats().tokenRequests.error).toBe(1);
    expect(await fetchAccessToken(emulator)).toMatch(/^ey/);
  });

  it('drops a token request', async () => {
    await addFault(emulator, { stage: 'token', action: 'drop' });

    await expect(fetchAccessToken(emulator)).rejects.toMatchObject({ code: 'ECONNRESET' });
  });

  it('lists and clears faults over the API', async () => {
    await addFault(emulator, { stage: 'rcpt', action: 'drop', count: 3 });
    const listed = await (await fetch(`${emulator.apiUrl}/api/faults`)).json();
    const cleared = await fetch(`${emulator.apiUrl}/api/faults`, { method: 'DELETE' });

    expect(listed).toMatchObject([{ stage: 'rcpt', action: 'drop', count: 3, remaining: 3 }]);
    expect(cleared.status).toBe(204);
    expect(emulator.faults()).toEqual([]);
  });

  it.each([
    [{ stage: 'auth', action: 'explode' }, 'action must be one of'],
    [{ stage: 'auth', action: 'reply' }, 'reply must be an SMTP reply line'],
    [{ stage: 'auth', action: 'reply', reply: '421 a\r\nb' }, 'no line breaks'],
    [{ stage: 'connect', action: 'drop', mailbox: MAILBOX }, 'mailbox cannot be matched'],
    [{ stage: 'data', action: 'reply', reply: '451 4.3.0 x' }, 'use data-end'],
    [{ stage: 'auth', action: 'delay' }, 'delayMs is required'],
    [{ stage: 'token', action: 'reply' }, 'status must be an HTTP error status'],
    [
      { stage: 'auth', action: 'drop', accept: true },
      'accept is only allowed at stage data-end and Graph stages',
    ],
    [{ stage: 'auth', action: 'drop', extra: 1 }, 'unknown field extra'],
  ])('rejects an invalid fault %j', async (spec, problem) => {
    const response = await addFault(emulator, spec as unknown as FaultSpec);
    const body = (await response.json()) as { error: string };

    expect(response.status).toBe(400);
    expect(body.error).toContain(problem);
  });

  it('rejects a body that is not JSON', async () => {
    const response = await fetch(`${emulator.apiUrl}/api/faults`, { method: 'POST', body: '{' });

    expect(response.status).toBe(400);
  });
});
