import { readFileSync } from 'node:fs';
import { decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Replies } from './smtp-replies.js';
import {
  createTransport,
  FOREIGN_MAILBOX,
  fetchAccessToken,
  GRAPH_SCOPE,
  MAILBOX,
  startTestEmulator,
} from './test-support/fixtures.js';
import { RawSmtpClient } from './test-support/raw-smtp-client.js';
import type { Emulator } from './types.js';

const TOKEN_REJECTED = '535 5.7.3 Authentication unsuccessful [EMULATOR]';

function xoauth2(mailbox: string, token: string): string {
  return Buffer.from(`user=${mailbox}\x01auth=Bearer ${token}\x01\x01`).toString('base64');
}

/** Connects, reads the greeting and sends EHLO; with `secure`, also upgrades with STARTTLS. */
async function openClient(emulator: Emulator, secure: boolean): Promise<RawSmtpClient> {
  const client = await RawSmtpClient.connect(emulator.smtpPort);
  await client.readReply();
  await client.command('EHLO client.example');
  if (secure) {
    await client.startTls({ ca: readFileSync(emulator.caFile) });
    await client.command('EHLO client.example');
  }
  return client;
}

async function authReply(emulator: Emulator, mailbox: string, token: string): Promise<string> {
  const client = await openClient(emulator, true);
  const reply = await client.command(`AUTH XOAUTH2 ${xoauth2(mailbox, token)}`);
  client.close();
  return reply;
}

async function forgeToken(genuine: string): Promise<string> {
  const { privateKey } = await generateKeyPair('RS256');
  return new SignJWT(decodeJwt(genuine))
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
    .sign(privateKey);
}

describe('SMTP session before STARTTLS', () => {
  let emulator: Emulator;

  beforeAll(async () => {
    emulator = await startTestEmulator();
  });

  afterAll(async () => {
    await emulator.close();
  });

  it('greets like Exchange Online', async () => {
    const client = await RawSmtpClient.connect(emulator.smtpPort);
    const greeting = await client.readReply();
    client.close();

    expect(greeting).toMatch(
      /^220 EMULATOR Microsoft ESMTP MAIL Service ready at \w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000$/,
    );
  });

  it('advertises STARTTLS and no AUTH', async () => {
    const client = await RawSmtpClient.connect(emulator.smtpPort);
    await client.readReply();
    const ehlo = await client.command('EHLO client.example');
    client.close();

    expect(ehlo.split('\r\n')).toEqual([
      '250-EMULATOR Hello [127.0.0.1]',
      '250-SIZE 36700160',
      '250-PIPELINING',
      '250-ENHANCEDSTATUSCODES',
      '250-STARTTLS',
      '250-8BITMIME',
      '250 SMTPUTF8',
    ]);
  });

  it('rejects AUTH before STARTTLS', async () => {
    const client = await openClient(emulator, false);
    const reply = await client.command('AUTH LOGIN');
    client.close();

    expect(reply).toBe('504 5.7.4 Unrecognized authentication type');
  });

  it('rejects MAIL FROM before STARTTLS', async () => {
    const client = await openClient(emulator, false);
    const reply = await client.command(`MAIL FROM:<${MAILBOX}>`);
    client.close();

    expect(reply).toBe('530 5.7.57 Client not authenticated to send mail.');
  });

  it('answers TLS 1.1 with 421 4.7.66 and closes', async () => {
    const client = await openClient(emulator, false);
    await client.startTls({
      ca: readFileSync(emulator.caFile),
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT@SECLEVEL=0',
    });
    const reply = await client.readReply();
    await client.closed;

    expect(reply).toBe(
      '421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2. Visit https://aka.ms/smtp_auth_tls.',
    );
  });
});

describe('SMTP authentication after STARTTLS', () => {
  let emulator: Emulator;
  let token: string;

  beforeAll(async () => {
    emulator = await startTestEmulator();
    token = await fetchAccessToken(emulator);
  });

  afterAll(async () => {
    await emulator.close();
  });

  it('advertises AUTH LOGIN XOAUTH2 only', async () => {
    const client = await RawSmtpClient.connect(emulator.smtpPort);
    await client.readReply();
    await client.command('EHLO client.example');
    await client.startTls({ ca: readFileSync(emulator.caFile) });
    const ehlo = await client.command('EHLO client.example');
    client.close();

    expect(ehlo).toContain('250-AUTH LOGIN XOAUTH2\r\n');
    expect(ehlo).not.toContain('STARTTLS');
    expect(ehlo).not.toContain('PLAIN');
  });

  it('rejects AUTH PLAIN', async () => {
    const client = await openClient(emulator, true);
    const reply = await client.command(
      `AUTH PLAIN ${Buffer.from(`\0${MAILBOX}\0x`).toString('base64')}`,
    );
    client.close();

    expect(reply).toBe('504 5.7.4 Unrecognized authentication type');
  });

  it('rejects MAIL FROM without AUTH', async () => {
    const client = await openClient(emulator, true);
    const reply = await client.command(`MAIL FROM:<${MAILBOX}>`);
    client.close();

    expect(reply).toBe(Replies.notAuthenticated);
  });

  it('accepts a valid XOAUTH2 token', async () => {
    expect(await authReply(emulator, MAILBOX, token)).toBe('235 2.7.0 Authentication successful');
  });

  it('matches the mailbox case-insensitively', async () => {
    expect(await authReply(emulator, MAILBOX.toUpperCase(), token)).toBe(Replies.authSucceeded);
  });

  it('rejects a token for another audience', async () => {
    const graphToken = await fetchAccessToken(emulator, GRAPH_SCOPE);

    expect(await authReply(emulator, MAILBOX, graphToken)).toBe(TOKEN_REJECTED);
  });

  it('rejects a mailbox the app has no permission on', async () => {
    expect(await authReply(emulator, FOREIGN_MAILBOX, token)).toBe(TOKEN_REJECTED);
  });

  it('rejects a token signed with another key', async () => {
    expect(await authReply(emulator, MAILBOX, await forgeToken(token))).toBe(TOKEN_REJECTED);
  });

  it('rejects a malformed token', async () => {
    expect(await authReply(emulator, MAILBOX, 'not-a-jwt')).toBe(TOKEN_REJECTED);
  });

  it('rejects AUTH LOGIN as basic authentication', async () => {
    const client = await openClient(emulator, true);
    const usernamePrompt = await client.command('AUTH LOGIN');
    const passwordPrompt = await client.command(Buffer.from(MAILBOX).toString('base64'));
    const reply = await client.command(Buffer.from('password').toString('base64'));
    client.close();

    expect(usernamePrompt).toBe('334 VXNlcm5hbWU6');
    expect(passwordPrompt).toBe('334 UGFzc3dvcmQ6');
    expect(reply).toBe(
      '535 5.7.139 Authentication unsuccessful, basic authentication is disabled.',
    );
  });

  it('rejects tokens issued before revokeTokens', async () => {
    const oldToken = await fetchAccessToken(emulator);
    emulator.revokeTokens();
    const newToken = await fetchAccessToken(emulator);

    expect(await authReply(emulator, MAILBOX, oldToken)).toBe(TOKEN_REJECTED);
    expect(await authReply(emulator, MAILBOX, newToken)).toBe(Replies.authSucceeded);
  });

  it('reports the exact 535 reply to nodemailer', async () => {
    const transport = createTransport(emulator, 'not-a-jwt');
    const sending = transport.sendMail({ from: MAILBOX, to: 'a@example.net', text: 'x' });

    await expect(sending).rejects.toMatchObject({ responseCode: 535, response: TOKEN_REJECTED });
    transport.close();
  });

  it('counts rejected authentication as violations', async () => {
    const freshToken = await fetchAccessToken(emulator);
    emulator.reset();
    await authReply(emulator, FOREIGN_MAILBOX, freshToken);
    await authReply(emulator, MAILBOX, freshToken);

    const stats = emulator.stats();
    expect(stats.violations.auth).toBe(1);
    expect(stats.replies['535 5.7.3']).toBe(1);
    expect(stats.replies['235 2.7.0']).toBe(1);
  });
});

describe('SMTP authentication with expired tokens', () => {
  let emulator: Emulator;

  beforeAll(async () => {
    emulator = await startTestEmulator({ tokenLifetimeSeconds: 0 });
  });

  afterAll(async () => {
    await emulator.close();
  });

  it('rejects a token past its exp claim', async () => {
    const token = await fetchAccessToken(emulator);

    expect(await authReply(emulator, MAILBOX, token)).toBe(TOKEN_REJECTED);
  });
});
