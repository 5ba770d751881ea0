import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  fetchAccessToken,
  GRAPH_SCOPE,
  type HttpResult,
  httpsRequest,
  MAILBOX,
  startTestEmulator,
  testApp,
} from './test-support/fixtures.js';
import type { Emulator } from './types.js';

const OTHER_MAILBOX = 'other@contoso.example';
/** A mailbox whose upload volume and request size limits are small enough to reach in a test. */
const TIGHT_MAILBOX = 'tight@contoso.example';
/** A mailbox that accepts one message per time unit. */
const SLOW_MAILBOX = 'slow@contoso.example';
const FRAGMENT_BYTES = 320 * 1024;
const MIB = 1024 * 1024;

interface GraphErrorBody {
  error: { code: string; message: string; innerError: { code?: string } };
}

interface UploadSessionBody {
  uploadUrl: string;
  nextExpectedRanges: string[];
}

function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

function draftMime(from: string, messageId: string, extraHeaders: string[] = []): string {
  return [
    `From: ${from}`,
    'To: ada@fabrikam.example',
    ...extraHeaders,
    'Subject: Draft with files',
    `Message-ID: ${messageId}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'Body text.',
    '',
  ].join('\r\n');
}

function errorOf(result: HttpResult): GraphErrorBody['error'] {
  return (JSON.parse(result.body) as GraphErrorBody).error;
}

describe('Graph drafts and upload sessions', () => {
  let emulator: Emulator;
  let token: string;

  const graph = (
    method: string,
    path: string,
    body?: string | Buffer,
    headers: Record<string, string> = {},
  ): Promise<HttpResult> =>
    httpsRequest(emulator, `${emulator.graphUrl}/v1.0/users/${path}`, {
      method,
      ...(body === undefined ? {} : { body }),
      headers: { authorization: `Bearer ${token}`, ...headers },
    });

  const createDraft = async (mailbox = MAILBOX, messageId = newMessageId()): Promise<string> => {
    const mime = Buffer.from(draftMime(mailbox, messageId)).toString('base64');
    const result = await graph('POST', `${encodeURIComponent(mailbox)}/messages`, mime, {
      'content-type': 'text/plain',
    });
    expect(result.status).toBe(201);
    return (JSON.parse(result.body) as { id: string }).id;
  };

  const openSession = async (
    draftId: string,
    size: number,
    mailbox = MAILBOX,
    name = 'report.bin',
  ): Promise<HttpResult> =>
    graph(
      'POST',
      `${encodeURIComponent(mailbox)}/messages/${draftId}/attachments/createUploadSession`,
      JSON.stringify({
        AttachmentItem: { attachmentType: 'file', name, size, contentType: 'application/pdf' },
      }),
      { 'content-type': 'application/json' },
    );

  const uploadUrlOf = (result: HttpResult): string =>
    (JSON.parse(result.body) as UploadSessionBody).uploadUrl;

  const put = (url: string, chunk: Buffer, start: number, total: number, range?: string) =>
    httpsRequest(emulator, url, {
      method: 'PUT',
      body: chunk,
      headers: {
        'content-type': 'application/octet-stream',
        'content-range': range ?? `bytes ${start}-${start + chunk.length - 1}/${total}`,
      },
    });

  const send = (draftId: string, mailbox = MAILBOX) =>
    graph('POST', `${encodeURIComponent(mailbox)}/messages/${draftId}/send`, '');

  beforeAll(async () => {
    emulator = await startTestEmulator({
      timeUnitMs: 1000,
      apps: [testApp({ mailboxes: [MAILBOX, OTHER_MAILBOX, TIGHT_MAILBOX, SLOW_MAILBOX] })],
      mailboxLimits: {
        [TIGHT_MAILBOX]: { graphUploadBytesPerFiveMinutes: 3 * MIB, graphMaxRequestBytes: MIB },
        [SLOW_MAILBOX]: { messagesPerMinute: 1 },
      },
    });
    token = await fetchAccessToken(emulator, GRAPH_SCOPE);
  });

  afterAll(async () => {
    await emulator.close();
  });

  beforeEach(() => {
    emulator.clearFaults();
    emulator.reset();
  });

  it('sends draft with uploaded and posted files', async () => {
    const messageId = newMessageId();
    const draftId = await createDraft(MAILBOX, messageId);
    const large = randomBytes(3 * MIB + 1000);
    const small = randomBytes(5000);
    const session = await openSession(draftId, large.length);
    const uploadUrl = uploadUrlOf(session);
    const firstEnd = 8 * FRAGMENT_BYTES;

    const first = await put(uploadUrl, large.subarray(0, firstEnd), 0, large.length);
    const last = await put(uploadUrl, large.subarray(firstEnd), firstEnd, large.length);
    const posted = await graph(
      'POST',
      `${MAILBOX}/messages/${draftId}/attachments`,
      JSON.stringify({
        '@odata.type': '#microsoft.graph.fileAttachment',
        name: 'logo.png',
        contentType: 'image/png',
        contentBytes: small.toString('base64'),
        isInline: true,
        contentId: 'logo@contoso.example',
      }),
      { 'content-type': 'application/json' },
    );
    const sent = await send(draftId);
    const [message] = emulator.messages(MAILBOX);

    expect(session.status).toBe(201);
    expect(JSON.parse(session.body)).toMatchObject({ nextExpectedRanges: ['0-'] });
    expect(uploadUrl).not.toContain('/v1.0/');
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body)).toMatchObject({ nextExpectedRanges: [String(firstEnd)] });
    expect(last.status).toBe(201);
    expect(last.headers.location).toContain(`Messages('${draftId}')/Attachments(`);
    expect(posted.status).toBe(201);
    expect(sent.status).toBe(202);
    expect(message?.messageId).toBe(messageId);
    expect(message?.transport).toBe('graph');
    expect(message?.subject).toBe('Draft with files');
    expect(message?.text?.trim()).toBe('Body text.');
    expect(message?.attachments.map((attachment) => attachment.filename)).toEqual([
      'report.bin',
      'logo.png',
    ]);
    expect(message?.attachments[0]?.sha256).toBe(sha256(large));
    expect(message?.attachments[0]?.contentType).toBe('application/pdf');
    expect(message?.attachments[1]?.sha256).toBe(sha256(small));
    expect(message?.attachments[1]?.contentId).toBe('logo@contoso.example');
    expect(message?.attachments[1]?.contentDisposition).toBe('inline');
    expect(emulator.drafts()).toEqual([]);
    expect(emulator.stats().messagesByMailbox[MAILBOX]).toBe(1);
  });

  it('lists draft until deleted', async () => {
    const draftId = await createDraft();
    const listed = emulator.drafts(MAILBOX);
    const deleted = await graph('DELETE', `${MAILBOX}/messages/${draftId}`);
    const again = await graph('DELETE', `${MAILBOX}/messages/${draftId}`);

    expect(listed).toMatchObject([{ id: draftId, mailbox: MAILBOX, openUploadSessions: 0 }]);
    expect(deleted.status).toBe(204);
    expect(again.status).toBe(404);
    expect(errorOf(again).code).toBe('ErrorItemNotFound');
    expect(emulator.drafts()).toEqual([]);
  });

  it('lists drafts over admin API', async () => {
    const draftId = await createDraft(OTHER_MAILBOX);

    const listed = await (
      await fetch(`${emulator.apiUrl}/api/drafts?mailbox=${OTHER_MAILBOX}`)
    ).json();
    const none = await (await fetch(`${emulator.apiUrl}/api/drafts?mailbox=${MAILBOX}`)).json();

    expect(listed).toMatchObject([{ id: draftId, mailbox: OTHER_MAILBOX, attachments: [] }]);
    expect(none).toEqual([]);
  });

  it("hides another mailbox's draft", async () => {
    const draftId = await createDraft(OTHER_MAILBOX);

    const result = await send(draftId, MAILBOX);

    expect(result.status).toBe(404);
    expect(emulator.drafts(OTHER_MAILBOX)).toHaveLength(1);
  });

  it.each([
    ['malformed range', 0, FRAGMENT_BYTES, 'bytes 0-/x', 400, 'invalidRequest', undefined],
    [
      'wrong total',
      0,
      FRAGMENT_BYTES,
      `bytes 0-${FRAGMENT_BYTES - 1}/9`,
      400,
      'invalidRequest',
      undefined,
    ],
    [
      'length mismatch',
      0,
      FRAGMENT_BYTES,
      `bytes 0-${FRAGMENT_BYTES}/${3 * MIB}`,
      400,
      'invalidRequest',
      undefined,
    ],
    ['out of order', FRAGMENT_BYTES, FRAGMENT_BYTES, undefined, 416, 'invalidRange', undefined],
    ['not a fragment multiple', 0, 1000, undefined, 400, 'invalidRequest', undefined],
  ])('rejects %s', async (_name, start, length, range, status, code, innerCode) => {
    const draftId = await createDraft();
    const uploadUrl = uploadUrlOf(await openSession(draftId, 3 * MIB));

    const result = await put(uploadUrl, randomBytes(length), start, 3 * MIB, range);

    expect(result.status).toBe(status);
    expect(errorOf(result).code).toBe(code);
    expect(errorOf(result).innerError.code).toBe(innerCode);
    expect(emulator.drafts()[0]?.openUploadSessions).toBe(1);
  });

  it('rejects overlapping range with fragmentOverlap', async () => {
    const draftId = await createDraft();
    const uploadUrl = uploadUrlOf(await openSession(draftId, 3 * MIB));
    const chunk = randomBytes(FRAGMENT_BYTES);

    const first = await put(uploadUrl, chunk, 0, 3 * MIB);
    const repeated = await put(uploadUrl, chunk, 0, 3 * MIB);

    expect(first.status).toBe(200);
    expect(repeated.status).toBe(416);
    expect(errorOf(repeated).innerError.code).toBe('fragmentOverlap');
  });

  it('rejects wrong upload authtoken with 401', async () => {
    const draftId = await createDraft();
    const uploadUrl = uploadUrlOf(await openSession(draftId, 3 * MIB));
    const forged = uploadUrl.replace(/authtoken=[^&]+/, 'authtoken=forged');

    const result = await put(forged, randomBytes(FRAGMENT_BYTES), 0, 3 * MIB);

    expect(result.status).toBe(401);
  });

  it('rejects upload session under 2 MiB', async () => {
    const draftId = await createDraft();

    const result = await openSession(draftId, 100_000);

    expect(result.status).toBe(400);
    expect(errorOf(result).code).toBe('ErrorAttachmentSizeShouldNotBeLessThanMinimumSize');
  });

  it('rejects files over message size limit', async () => {
    const draftId = await createDraft();

    const result = await openSession(draftId, 36 * MIB);

    expect(result.status).toBe(413);
    expect(errorOf(result).code).toBe('ErrorMessageSizeExceeded');
  });

  it('throttles uploads over volume limit', async () => {
    const draftId = await createDraft(TIGHT_MAILBOX);
    const uploadUrl = uploadUrlOf(await openSession(draftId, 4 * MIB, TIGHT_MAILBOX));
    const chunk = randomBytes(3 * FRAGMENT_BYTES);
    const accepted: number[] = [];

    for (let index = 0; index < 3; index++) {
      accepted.push((await put(uploadUrl, chunk, index * chunk.length, 4 * MIB)).status);
    }
    const throttled = await put(uploadUrl, chunk, 3 * chunk.length, 4 * MIB);

    expect(accepted).toEqual([200, 200, 200]);
    expect(throttled.status).toBe(429);
    expect(throttled.headers['retry-after']).toBe('5');
    expect(emulator.stats().violations.graphUploadVolume).toBe(1);
  });

  it('rejects byte range over request limit with 413', async () => {
    const draftId = await createDraft(TIGHT_MAILBOX);
    const uploadUrl = uploadUrlOf(await openSession(draftId, 3 * MIB, TIGHT_MAILBOX));

    const result = await put(uploadUrl, randomBytes(4 * FRAGMENT_BYTES), 0, 3 * MIB);

    expect(result.status).toBe(413);
    expect(emulator.stats().graphResponses['413']).toBe(1);
  });

  it('replies to graph-upload fault with 429', async () => {
    emulator.addFault({
      stage: 'graph-upload',
      action: 'reply',
      status: 429,
      retryAfterSeconds: 2,
    });
    const draftId = await createDraft();
    const uploadUrl = uploadUrlOf(await openSession(draftId, 3 * MIB));
    const chunk = randomBytes(FRAGMENT_BYTES);

    const faulted = await put(uploadUrl, chunk, 0, 3 * MIB);
    const retried = await put(uploadUrl, chunk, 0, 3 * MIB);

    expect(faulted.status).toBe(429);
    expect(faulted.headers['retry-after']).toBe('2');
    expect(retried.status).toBe(200);
  });

  it('sends draft before graph-send drop', async () => {
    emulator.addFault({ stage: 'graph-send', action: 'drop', accept: true, mailbox: MAILBOX });
    const draftId = await createDraft();

    await expect(send(draftId)).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(emulator.messages(MAILBOX)).toHaveLength(1);
    expect(emulator.drafts()).toEqual([]);
  });

  it('counts duplicate Message-ID across sendMail and drafts', async () => {
    const messageId = newMessageId();
    const mime = Buffer.from(draftMime(MAILBOX, messageId)).toString('base64');
    const direct = await graph('POST', `${MAILBOX}/sendMail`, mime, {
      'content-type': 'text/plain',
    });
    const draftId = await createDraft(MAILBOX, messageId);

    const sent = await send(draftId);

    expect(direct.status).toBe(202);
    expect(sent.status).toBe(202);
    expect(emulator.stats().duplicateMessageIds).toBe(1);
  });

  it('keeps draft when send is throttled', async () => {
    const first = await createDraft(SLOW_MAILBOX);
    const second = await createDraft(SLOW_MAILBOX);

    const accepted = await send(first, SLOW_MAILBOX);
    const throttled = await send(second, SLOW_MAILBOX);

    expect(accepted.status).toBe(202);
    expect(throttled.status).toBe(429);
    expect(emulator.drafts(SLOW_MAILBOX).map((draft) => draft.id)).toEqual([second]);
    expect(emulator.stats().violations.rate).toBe(1);
  });

  it('rejects From without Send As at send', async () => {
    const mime = Buffer.from(draftMime('ceo@contoso.example', newMessageId())).toString('base64');
    const created = await graph('POST', `${MAILBOX}/messages`, mime, {
      'content-type': 'text/plain',
    });
    const draftId = (JSON.parse(created.body) as { id: string }).id;

    const result = await send(draftId);

    expect(created.status).toBe(201);
    expect(result.status).toBe(403);
    expect(errorOf(result).code).toBe('ErrorSendAsDenied');
    expect(emulator.messages()).toEqual([]);
  });
});

function newMessageId(): string {
  return `<${randomBytes(8).toString('hex')}@contoso.example>`;
}
