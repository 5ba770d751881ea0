import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  FOREIGN_MAILBOX,
  fetchAccessToken,
  GRAPH_SCOPE,
  type HttpResult,
  httpsRequest,
  MAILBOX,
  postTokenForm,
  startTestEmulator,
  testApp,
} from './test-support/fixtures.js';
import type { Emulator } from './types.js';

const SMALL_MAILBOX = 'small@contoso.example';

function mime(from: string, subject: string, extraHeaders: string[] = []): string {
  return [
    `From: ${from}`,
    'To: ada@fabrikam.example',
    ...extraHeaders,
    `Subject: ${subject}`,
    `Message-ID: <${Math.random().toString(36).slice(2)}@contoso.example>`,
    '',
    'Body text.',
    '',
  ].join('\r\n');
}

interface GraphErrorBody {
  error: { code: string; message: string };
}

describe('Graph sendMail', () => {
  let emulator: Emulator;
  let graphToken: string;

  const sendMail = (
    body: string,
    options: { mailbox?: string; token?: string; contentType?: string } = {},
  ): Promise<HttpResult> => {
    const mailbox = options.mailbox ?? MAILBOX;
    return httpsRequest(
      emulator,
      `${emulator.graphUrl}/v1.0/users/${encodeURIComponent(mailbox)}/sendMail`,
      {
        method: 'POST',
        body,
        headers: {
          authorization: `Bearer ${options.token ?? graphToken}`,
          'content-type': options.contentType ?? 'text/plain',
        },
      },
    );
  };
  const sendMime = (text: string, mailbox = MAILBOX) =>
    sendMail(Buffer.from(text).toString('base64'), { mailbox });

  beforeAll(async () => {
    emulator = await startTestEmulator({
      apps: [testApp({ mailboxes: [MAILBOX, SMALL_MAILBOX] })],
      mailboxLimits: { [SMALL_MAILBOX]: { graphMaxRequestBytes: 2000 } },
      sendAs: { [MAILBOX]: ['billing@contoso.example'] },
    });
    graphToken = await fetchAccessToken(emulator, GRAPH_SCOPE);
  });

  afterAll(async () => {
    await emulator.close();
  });

  beforeEach(() => {
    emulator.clearFaults();
    emulator.reset();
  });

  it('stores MIME message with 202', async () => {
    const response = await sendMime(
      mime('Billing <billing@contoso.example>', 'Graph hello', ['Bcc: audit@contoso.example']),
    );
    const [stored] = emulator.messages(MAILBOX);

    expect(response.status).toBe(202);
    expect(response.body).toBe('');
    expect(stored?.transport).toBe('graph');
    expect(stored?.subject).toBe('Graph hello');
    expect(stored?.from).toBe('billing@contoso.example');
    expect(stored?.bcc).toEqual(['audit@contoso.example']);
    expect(stored?.headers.bcc).toBeUndefined();
    expect(emulator.rawMessage(stored?.id ?? '')?.toString()).not.toMatch(/^bcc:/im);
    expect(emulator.stats().graphResponses).toEqual({ '202': 1 });
    expect(emulator.stats().messagesByMailbox[MAILBOX]).toBe(1);
  });

  it('rejects other audience with 401', async () => {
    const outlookToken = await fetchAccessToken(emulator);
    const response = await sendMail(Buffer.from(mime(MAILBOX, 'x')).toString('base64'), {
      token: outlookToken,
    });

    expect(response.status).toBe(401);
    expect((JSON.parse(response.body) as GraphErrorBody).error.code).toBe(
      'InvalidAuthenticationToken',
    );
  });

  it('rejects ungranted mailbox with 403', async () => {
    const response = await sendMime(mime(FOREIGN_MAILBOX, 'x'), FOREIGN_MAILBOX);

    expect(response.status).toBe(403);
    expect((JSON.parse(response.body) as GraphErrorBody).error.code).toBe('ErrorAccessDenied');
  });

  it('rejects From without Send As', async () => {
    const response = await sendMime(mime('ceo@contoso.example', 'x'));

    expect(response.status).toBe(403);
    expect((JSON.parse(response.body) as GraphErrorBody).error.code).toBe('ErrorSendAsDenied');
    expect(emulator.stats().violations.sendAs).toBe(1);
  });

  it('rejects body over limit with 413', async () => {
    const large = mime(SMALL_MAILBOX, 'large', [`X-Padding: ${'a'.repeat(3000)}`]);
    const response = await sendMime(large, SMALL_MAILBOX);

    expect(response.status).toBe(413);
    expect(emulator.messages(SMALL_MAILBOX)).toEqual([]);
  });

  it('rejects JSON and invalid base64', async () => {
    const json = await sendMail('{"message":{}}', { contentType: 'application/json' });
    const invalid = await sendMail('not base64!');

    expect(json.status).toBe(400);
    expect(invalid.status).toBe(400);
    expect((JSON.parse(invalid.body) as GraphErrorBody).error.code).toBe(
      'ErrorMimeContentInvalidBase64String',
    );
  });

  it('throttles fifth concurrent request with 429', async () => {
    emulator.addFault({ stage: 'graph', action: 'delay', delayMs: 300, count: 5 });
    const responses = await Promise.all(
      [0, 1, 2, 3, 4].map((index) => sendMime(mime(MAILBOX, `parallel ${index}`))),
    );
    const throttled = responses.filter((response) => response.status === 429);

    expect(throttled).toHaveLength(1);
    expect(throttled[0]?.headers['retry-after']).toBe('1');
    expect(emulator.stats().maxConcurrentGraphRequests[MAILBOX]).toBe(4);
    expect(emulator.stats().violations.graphConcurrency).toBe(1);
    expect(emulator.stats().graphResponses).toEqual({ '202': 4, '429': 1 });
  });

  it('replies to graph fault with status', async () => {
    emulator.addFault({ stage: 'graph', action: 'reply', status: 503, retryAfterSeconds: 3 });
    const faulted = await sendMime(mime(MAILBOX, 'faulted'));
    const normal = await sendMime(mime(MAILBOX, 'normal'));

    expect(faulted.status).toBe(503);
    expect(faulted.headers['retry-after']).toBe('3');
    expect(normal.status).toBe(202);
    expect(emulator.messages(MAILBOX).map((message) => message.subject)).toEqual(['normal']);
  });

  it('stores message before accept fault', async () => {
    emulator.addFault({ stage: 'graph', action: 'drop', accept: true });

    await expect(sendMime(mime(MAILBOX, 'kept'))).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(emulator.messages(MAILBOX).map((message) => message.subject)).toEqual(['kept']);
  });
});

describe('token stage faults with an AADSTS error', () => {
  let emulator: Emulator;

  beforeAll(async () => {
    emulator = await startTestEmulator();
  });

  afterAll(async () => {
    await emulator.close();
  });

  it('returns expired secret AADSTS error', async () => {
    emulator.addFault({ stage: 'token', action: 'reply', aadsts: 7000222 });
    const response = await postTokenForm(emulator, {
      grant_type: 'client_credentials',
      client_id: testApp().clientId,
      client_secret: 'whatever',
      scope: GRAPH_SCOPE,
    });
    const body = JSON.parse(response.body) as {
      error: string;
      error_codes: number[];
      error_description: string;
    };

    expect(response.status).toBe(401);
    expect(body.error).toBe('invalid_client');
    expect(body.error_codes).toEqual([7000222]);
    expect(body.error_description).toContain('client secret keys for app');
  });

  it('rejects aadsts outside token reply', () => {
    expect(() =>
      emulator.addFault({ stage: 'graph', action: 'reply', status: 429, aadsts: 1 }),
    ).toThrow('aadsts is only allowed with action reply at stage token');
  });
});
