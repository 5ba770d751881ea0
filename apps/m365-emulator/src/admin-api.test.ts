import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  closeSession,
  fetchAccessToken,
  MAILBOX,
  openSession,
  sendOnSession,
  simpleMessage,
  startTestEmulator,
  testApp,
} from './test-support/fixtures.js';
import type { AcceptedMessage, Emulator, EmulatorStats } from './types.js';

const SECOND_MAILBOX = 'second@contoso.example';

describe('admin API', () => {
  let emulator: Emulator;
  let token: string;

  async function send(mailbox: string, subject: string): Promise<void> {
    const session = await openSession(emulator, token, mailbox);
    await sendOnSession(
      session,
      { from: mailbox, to: ['a@fabrikam.example'] },
      simpleMessage(mailbox, 'a@fabrikam.example', subject),
    );
    await closeSession(session);
  }

  function api(path: string, init?: RequestInit): Promise<Response> {
    return fetch(`${emulator.apiUrl}${path}`, init);
  }

  beforeAll(async () => {
    emulator = await startTestEmulator({
      apps: [testApp({ mailboxes: [MAILBOX, SECOND_MAILBOX] })],
    });
    token = await fetchAccessToken(emulator);
  });

  afterAll(async () => {
    await emulator.close();
  });

  beforeEach(async () => {
    await api('/api/messages', { method: 'DELETE' });
  });

  it('lists messages and filters by mailbox', async () => {
    await send(MAILBOX, 'first');
    await send(SECOND_MAILBOX, 'second');

    const all = (await (await api('/api/messages')).json()) as AcceptedMessage[];
    const filtered = (await (
      await api(`/api/messages?mailbox=${encodeURIComponent(SECOND_MAILBOX.toUpperCase())}`)
    ).json()) as AcceptedMessage[];

    expect(all.map((message) => message.subject)).toEqual(['first', 'second']);
    expect(filtered.map((message) => message.subject)).toEqual(['second']);
  });

  it('returns one message and its raw source', async () => {
    await send(MAILBOX, 'single');
    const [message] = emulator.messages();
    const id = message?.id ?? '';

    const one = await api(`/api/messages/${id}`);
    const raw = await api(`/api/messages/${id}/raw`);

    expect(one.status).toBe(200);
    expect(((await one.json()) as AcceptedMessage).subject).toBe('single');
    expect(raw.headers.get('content-type')).toBe('message/rfc822');
    expect(await raw.text()).toContain('Subject: single\r\n');
  });

  it('answers 404 for an unknown message or route', async () => {
    expect((await api('/api/messages/nope')).status).toBe(404);
    expect((await api('/api/messages/nope/raw')).status).toBe(404);
    expect((await api('/api/unknown')).status).toBe(404);
  });

  it('resets messages and counters with DELETE /api/messages', async () => {
    await send(MAILBOX, 'to be cleared');

    const response = await api('/api/messages', { method: 'DELETE' });
    const stats = (await (await api('/api/stats')).json()) as EmulatorStats;

    expect(response.status).toBe(204);
    expect(emulator.messages()).toEqual([]);
    expect(stats.replies).toEqual({});
    expect(stats.messagesByMailbox[MAILBOX]).toBe(0);
  });

  it('returns every stats field', async () => {
    const stats = (await (await api('/api/stats')).json()) as EmulatorStats;

    expect(Object.keys(stats).sort()).toEqual([
      'duplicateMessageIds',
      'graphResponses',
      'maxConcurrentConnections',
      'maxConcurrentGraphRequests',
      'messagesByMailbox',
      'openConnections',
      'replies',
      'repliesByCode',
      'tokenRequests',
      'violations',
    ]);
    expect(Object.keys(stats.violations).sort()).toEqual([
      'auth',
      'connections',
      'graphConcurrency',
      'graphUploadVolume',
      'rate',
      'recipientsPerDay',
      'recipientsPerMessage',
      'sendAs',
      'size',
    ]);
  });

  it('revokes tokens with POST /api/tokens/revoke', async () => {
    const revokedToken = await fetchAccessToken(emulator);

    const response = await api('/api/tokens/revoke', { method: 'POST' });

    expect(response.status).toBe(204);
    await expect(openSession(emulator, revokedToken)).rejects.toMatchObject({ responseCode: 535 });
    token = await fetchAccessToken(emulator);
  });

  it('answers health checks', async () => {
    expect(await (await api('/healthz')).json()).toEqual({ status: 'ok' });
  });
});
