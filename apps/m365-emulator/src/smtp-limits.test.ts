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
  testApp,
  waitFor,
} from './test-support/fixtures.js';
import { RawSmtpClient } from './test-support/raw-smtp-client.js';
import type { Emulator } from './types.js';

const RATE_MAILBOX = 'rate@contoso.example';
const RECIPIENTS_MAILBOX = 'recipients@contoso.example';
const DAILY_MAILBOX = 'daily@contoso.example';
const SIZE_MAILBOX = 'size@contoso.example';
const SINGLE_SESSION_MAILBOX = 'single@contoso.example';
const TIME_UNIT_MS = 1000;

/** Opens a raw session authenticated with XOAUTH2 and returns it with the AUTH reply. */
async function rawSession(
  emulator: Emulator,
  mailbox: string,
  token: string,
): Promise<{ client: RawSmtpClient; authReply: string }> {
  const client = await RawSmtpClient.connect(emulator.smtpPort);
  await client.readReply();
  await client.command('EHLO client.example');
  await client.startTls({ ca: readFileSync(emulator.caFile) });
  await client.command('EHLO client.example');
  const initial = Buffer.from(`user=${mailbox}\x01auth=Bearer ${token}\x01\x01`).toString('base64');
  const authReply = await client.command(`AUTH XOAUTH2 ${initial}`);
  return { client, authReply };
}

function recipients(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `rcpt${index}@fabrikam.example`);
}

describe('SMTP limits', () => {
  let emulator: Emulator;
  let token: string;

  beforeAll(async () => {
    emulator = await startTestEmulator({
      timeUnitMs: TIME_UNIT_MS,
      apps: [
        testApp({
          mailboxes: [
            MAILBOX,
            RATE_MAILBOX,
            RECIPIENTS_MAILBOX,
            DAILY_MAILBOX,
            SIZE_MAILBOX,
            SINGLE_SESSION_MAILBOX,
          ],
        }),
      ],
      mailboxLimits: {
        [RATE_MAILBOX]: { messagesPerMinute: 5 },
        [RECIPIENTS_MAILBOX]: { recipientsPerMessage: 3 },
        [DAILY_MAILBOX]: { recipientsPerDay: 5 },
        [SIZE_MAILBOX]: { maxMessageBytes: 2000 },
        [SINGLE_SESSION_MAILBOX]: { connectionsPerMailbox: 1 },
      },
    });
    token = await fetchAccessToken(emulator);
  });

  afterAll(async () => {
    await emulator.close();
  });

  beforeEach(() => {
    emulator.reset();
  });

  it('rejects the fourth concurrent session with the exact 432 reply', async () => {
    const sessions = [];
    for (let index = 0; index < 3; index += 1) {
      sessions.push(await rawSession(emulator, MAILBOX, token));
    }
    const fourth = await rawSession(emulator, MAILBOX, token);

    expect(sessions.map((session) => session.authReply)).toEqual([
      Replies.authSucceeded,
      Replies.authSucceeded,
      Replies.authSucceeded,
    ]);
    expect(fourth.authReply).toBe(
      '432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.',
    );
    const stats = emulator.stats();
    expect(stats.violations.connections).toBe(1);
    expect(stats.replies['432 4.3.2']).toBe(1);
    expect(stats.maxConcurrentConnections[MAILBOX]).toBe(3);

    sessions[0]?.client.close();
    await waitFor(
      () => emulator.stats().openConnections[MAILBOX],
      (open) => open === 2,
    );
    const retried = await fourth.client.command(
      `AUTH XOAUTH2 ${Buffer.from(`user=${MAILBOX}\x01auth=Bearer ${token}\x01\x01`).toString('base64')}`,
    );
    expect(retried).toBe(Replies.authSucceeded);
    for (const session of [...sessions, fourth]) {
      session.client.close();
    }
  });

  it('applies a per-mailbox connection limit', async () => {
    const first = await rawSession(emulator, SINGLE_SESSION_MAILBOX, token);
    const second = await rawSession(emulator, SINGLE_SESSION_MAILBOX, token);
    const otherMailbox = await rawSession(emulator, MAILBOX, token);

    expect(first.authReply).toBe(Replies.authSucceeded);
    expect(second.authReply).toBe(Replies.concurrentConnections);
    expect(otherMailbox.authReply).toBe(Replies.authSucceeded);
    for (const session of [first, second, otherMailbox]) {
      session.client.close();
    }
  });

  it('rejects the message over the rate and frees the window', async () => {
    const session = await openSession(emulator, token, RATE_MAILBOX);
    const firstAcceptedAtMs = Date.now();
    for (let index = 0; index < 5; index += 1) {
      const info = await sendOnSession(
        session,
        { from: RATE_MAILBOX, to: ['a@fabrikam.example'] },
        simpleMessage(RATE_MAILBOX, 'a@fabrikam.example'),
      );
      expect(info.response).toMatch(/^250 2\.0\.0 OK <.+> \[Hostname=EMULATOR\]$/);
    }
    const sixth = sendOnSession(
      session,
      { from: RATE_MAILBOX, to: ['a@fabrikam.example'] },
      simpleMessage(RATE_MAILBOX, 'a@fabrikam.example'),
    );

    await expect(sixth).rejects.toMatchObject({ responseCode: 421, response: Replies.messageRate });
    expect(emulator.stats().violations.rate).toBe(1);

    const acceptedAtMs = await waitFor(
      async () => {
        const probe = await openSession(emulator, token, RATE_MAILBOX);
        const outcome = await sendOnSession(
          probe,
          { from: RATE_MAILBOX, to: ['a@fabrikam.example'] },
          simpleMessage(RATE_MAILBOX, 'a@fabrikam.example'),
        ).then(
          () => Date.now(),
          () => undefined,
        );
        probe.close();
        return outcome;
      },
      (accepted) => accepted !== undefined,
      5 * TIME_UNIT_MS,
      50,
    );
    expect(acceptedAtMs ?? 0).toBeGreaterThanOrEqual(firstAcceptedAtMs + TIME_UNIT_MS - 50);
    expect(emulator.stats().messagesByMailbox[RATE_MAILBOX]).toBe(6);
  });

  it('rejects recipients beyond the per-message limit', async () => {
    const { client } = await rawSession(emulator, RECIPIENTS_MAILBOX, token);
    await client.command(`MAIL FROM:<${RECIPIENTS_MAILBOX}>`);
    const replies = [];
    for (const address of [...recipients(3), recipients(1)[0], 'extra@fabrikam.example']) {
      replies.push(await client.command(`RCPT TO:<${address}>`));
    }
    client.close();

    expect(replies).toEqual([
      '250 2.1.5 Recipient OK',
      '250 2.1.5 Recipient OK',
      '250 2.1.5 Recipient OK',
      '250 2.1.5 Recipient OK',
      '452 4.5.3 Too many recipients',
    ]);
    expect(emulator.stats().violations.recipientsPerMessage).toBe(1);
  });

  it('delivers to the recipients within the limit', async () => {
    const transport = createTransport(emulator, token, RECIPIENTS_MAILBOX);
    const info = await transport.sendMail({
      from: RECIPIENTS_MAILBOX,
      to: recipients(4),
      subject: 'Partial',
      text: 'x',
    });
    transport.close();

    expect(info.accepted).toEqual(recipients(3));
    expect(info.rejected).toEqual([recipients(4)[3]]);
    expect(emulator.messages(RECIPIENTS_MAILBOX)[0]?.envelope.to).toEqual(recipients(3));
  });

  it('rejects a message over the rolling-day recipient quota', async () => {
    const session = await openSession(emulator, token, DAILY_MAILBOX);
    const send = (to: string[]) =>
      sendOnSession(
        session,
        { from: DAILY_MAILBOX, to },
        simpleMessage(DAILY_MAILBOX, to.join(', ')),
      );

    await send(recipients(3));
    await expect(send(recipients(3))).rejects.toMatchObject({
      responseCode: 554,
      response: Replies.dailyRecipientQuota,
    });
    await send(recipients(2));
    await closeSession(session);

    expect(Replies.dailyRecipientQuota).toMatch(
      /^554 5\.2\.0 STOREDRV\.Submission\.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message /,
    );
    expect(emulator.stats().violations.recipientsPerDay).toBe(1);
    expect(emulator.messages(DAILY_MAILBOX)).toHaveLength(2);
  });

  it('rejects a declared SIZE over the limit at MAIL FROM', async () => {
    const { client } = await rawSession(emulator, SIZE_MAILBOX, token);
    const reply = await client.command(`MAIL FROM:<${SIZE_MAILBOX}> SIZE=2001`);
    client.close();

    expect(reply).toBe('552 5.3.4 Message size exceeds fixed maximum message size');
  });

  it('rejects an oversized message at the end of DATA', async () => {
    const session = await openSession(emulator, token, SIZE_MAILBOX);
    const large = simpleMessage(SIZE_MAILBOX, 'a@fabrikam.example') + 'x'.repeat(2100);
    const small = simpleMessage(SIZE_MAILBOX, 'a@fabrikam.example');
    const envelope = { from: SIZE_MAILBOX, to: ['a@fabrikam.example'] };

    await expect(sendOnSession(session, envelope, large)).rejects.toMatchObject({
      responseCode: 552,
      response: Replies.messageTooLarge,
    });
    await sendOnSession(session, envelope, small);
    await closeSession(session);

    expect(emulator.stats().violations.size).toBe(1);
    expect(emulator.messages(SIZE_MAILBOX)).toHaveLength(1);
  });
});
