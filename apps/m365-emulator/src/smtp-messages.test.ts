import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Replies } from './smtp-replies.js';
import {
  closeSession,
  createTransport,
  fetchAccessToken,
  MAILBOX,
  openSession,
  sendOnSession,
  simpleMessage,
  startTestEmulator,
} from './test-support/fixtures.js';
import { RawSmtpClient } from './test-support/raw-smtp-client.js';
import type { Emulator, EmulatorStats } from './types.js';

const SHARED_ADDRESS = 'support@contoso.example';
const UNRELATED_ADDRESS = 'someone@fabrikam.example';

function sha256(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

describe('SMTP message capture', () => {
  let emulator: Emulator;
  let token: string;

  beforeAll(async () => {
    emulator = await startTestEmulator({ sendAs: { [MAILBOX]: [SHARED_ADDRESS] } });
    token = await fetchAccessToken(emulator);
  });

  afterAll(async () => {
    await emulator.close();
  });

  beforeEach(() => {
    emulator.reset();
  });

  it('captures headers, recipients, bodies and attachments', async () => {
    const pdf = randomBytes(50_000);
    const logo = randomBytes(300);
    const transport = createTransport(emulator, token);
    const info = await transport.sendMail({
      from: { name: 'Sender', address: MAILBOX },
      to: ['one@fabrikam.example', 'Two <two@fabrikam.example>'],
      cc: 'three@fabrikam.example',
      bcc: 'hidden@fabrikam.example',
      replyTo: 'replies@contoso.example',
      subject: 'Quarterly report',
      text: 'Plain body',
      html: '<p>HTML body <img src="cid:logo@contoso"></p>',
      headers: { 'X-Campaign': 'q3' },
      attachments: [
        { filename: 'report.pdf', content: pdf, contentType: 'application/pdf' },
        { filename: 'logo.png', content: logo, contentType: 'image/png', cid: 'logo@contoso' },
      ],
    });
    transport.close();
    const [message] = emulator.messages();

    expect(info.response).toBe(`250 2.0.0 OK ${info.messageId} [Hostname=EMULATOR]`);
    expect(message?.mailbox).toBe(MAILBOX);
    expect(message?.messageId).toBe(info.messageId);
    expect(message?.subject).toBe('Quarterly report');
    expect(message?.from).toBe(MAILBOX);
    expect(message?.to).toEqual(['one@fabrikam.example', 'two@fabrikam.example']);
    expect(message?.cc).toEqual(['three@fabrikam.example']);
    expect(message?.bcc).toEqual(['hidden@fabrikam.example']);
    expect(message?.replyTo).toEqual(['replies@contoso.example']);
    expect(message?.envelope.from).toBe(MAILBOX);
    expect(message?.envelope.to).toHaveLength(4);
    expect(message?.text?.trim()).toBe('Plain body');
    expect(message?.html).toContain('HTML body');
    expect(message?.headers['x-campaign']).toBe('q3');
    expect(message?.headers.from).toBe(`Sender <${MAILBOX}>`);
    expect(message?.date).toMatch(/^\d{4}-\d\d-\d\dT/);
    const attachments = [...(message?.attachments ?? [])].sort((a, b) =>
      String(a.filename).localeCompare(String(b.filename)),
    );
    expect(attachments).toEqual([
      {
        filename: 'logo.png',
        contentType: 'image/png',
        contentId: 'logo@contoso',
        contentDisposition: 'inline',
        size: logo.length,
        sha256: sha256(logo),
      },
      {
        filename: 'report.pdf',
        contentType: 'application/pdf',
        contentId: null,
        contentDisposition: 'attachment',
        size: pdf.length,
        sha256: sha256(pdf),
      },
    ]);
    expect(message?.sizeBytes).toBe(emulator.rawMessage(message?.id ?? '')?.length);
  });

  it('keeps the raw source byte for byte', async () => {
    const raw = simpleMessage(MAILBOX, 'a@fabrikam.example', 'Raw check');
    const session = await openSession(emulator, token);
    await sendOnSession(session, { from: MAILBOX, to: ['a@fabrikam.example'] }, raw);
    await closeSession(session);
    const [message] = emulator.messages();

    expect(emulator.rawMessage(message?.id ?? '')?.toString('utf8')).toBe(raw);
  });

  it('lists repeated headers as arrays', async () => {
    const raw = ['Received: from a', 'Received: from b', `From: ${MAILBOX}`, '', 'x', ''].join(
      '\r\n',
    );
    const session = await openSession(emulator, token);
    await sendOnSession(session, { from: MAILBOX, to: ['a@fabrikam.example'] }, raw);
    await closeSession(session);

    expect(emulator.messages()[0]?.headers.received).toEqual(['from a', 'from b']);
  });

  it('rejects MAIL FROM without Send As permission', async () => {
    const session = await openSession(emulator, token);
    const sending = sendOnSession(
      session,
      { from: UNRELATED_ADDRESS, to: ['a@fabrikam.example'] },
      simpleMessage(UNRELATED_ADDRESS, 'a@fabrikam.example'),
    );

    await expect(sending).rejects.toMatchObject({
      responseCode: 550,
      response: '550 5.7.60 SMTP; Client does not have permissions to send as this sender',
    });
    await closeSession(session);
    expect(emulator.stats().violations.sendAs).toBe(1);
  });

  it('rejects a From header without Send As permission', async () => {
    const session = await openSession(emulator, token);
    const sending = sendOnSession(
      session,
      { from: MAILBOX, to: ['a@fabrikam.example'] },
      simpleMessage(UNRELATED_ADDRESS, 'a@fabrikam.example'),
    );

    await expect(sending).rejects.toMatchObject({
      responseCode: 550,
      response: Replies.sendAsDenied,
    });
    await closeSession(session);
    expect(emulator.messages()).toHaveLength(0);
  });

  it('accepts an address the mailbox may send as', async () => {
    const session = await openSession(emulator, token);
    await sendOnSession(
      session,
      { from: SHARED_ADDRESS, to: ['a@fabrikam.example'] },
      simpleMessage(SHARED_ADDRESS, 'a@fabrikam.example'),
    );
    await closeSession(session);

    expect(emulator.messages()[0]?.from).toBe(SHARED_ADDRESS);
  });

  it('counts every reply and duplicate Message-IDs', async () => {
    const raw = simpleMessage(MAILBOX, 'a@fabrikam.example');
    const session = await openSession(emulator, token);
    await sendOnSession(session, { from: MAILBOX, to: ['a@fabrikam.example'] }, raw);
    await sendOnSession(session, { from: MAILBOX, to: ['a@fabrikam.example'] }, raw);
    await closeSession(session);
    const stats = (await (await fetch(`${emulator.apiUrl}/api/stats`)).json()) as EmulatorStats;

    expect(stats.replies).toMatchObject({
      '220': 1,
      '250': 2,
      '220 2.0.0': 1,
      '235 2.7.0': 1,
      '250 2.1.0': 2,
      '250 2.1.5': 2,
      '354': 2,
      '250 2.0.0': 2,
      '221 2.0.0': 1,
    });
    expect(stats.repliesByCode['432']).toBeUndefined();
    expect(stats.violations.rate).toBe(0);
    expect(stats.messagesByMailbox[MAILBOX]).toBe(2);
    expect(stats.duplicateMessageIds).toBe(1);
    expect(stats.maxConcurrentConnections[MAILBOX]).toBe(1);
  });

  it('accepts pipelined commands in one write', async () => {
    const client = await RawSmtpClient.connect(emulator.smtpPort);
    await client.readReply();
    await client.command('EHLO client.example');
    await client.startTls({ ca: readFileSync(emulator.caFile) });
    await client.command('EHLO client.example');
    const initial = Buffer.from(`user=${MAILBOX}\x01auth=Bearer ${token}\x01\x01`).toString(
      'base64',
    );
    await client.command(`AUTH XOAUTH2 ${initial}`);
    client.write(`MAIL FROM:<${MAILBOX}>\r\nRCPT TO:<a@fabrikam.example>\r\nDATA\r\n`);
    const replies = [await client.readReply(), await client.readReply(), await client.readReply()];
    const accepted = await client.command(`${simpleMessage(MAILBOX, 'a@fabrikam.example')}.`);
    client.close();

    expect(replies).toEqual([
      Replies.senderOk,
      Replies.recipientOk,
      '354 Start mail input; end with <CRLF>.<CRLF>',
    ]);
    expect(accepted).toMatch(/^250 2\.0\.0 OK <[^>]+> \[Hostname=EMULATOR\]$/);
  });
});
