import { readFileSync } from 'node:fs';
import https from 'node:https';
import nodemailer from 'nodemailer';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import XOAuth2 from 'nodemailer/lib/xoauth2';
import { startEmulator } from '../emulator.js';
import type { Emulator, EmulatorApp, EmulatorOptions } from '../types.js';

export const TENANT_ID = '3f2a9c1e-7b4d-4e2a-9c1e-0a1b2c3d4e5f';
export const CLIENT_ID = '9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a';
export const CLIENT_SECRET = 'test-secret-value';
export const MAILBOX = 'sender@contoso.example';
/** A mailbox the test app has no permission on. */
export const FOREIGN_MAILBOX = 'ceo@contoso.example';
export const OUTLOOK_SCOPE = 'https://outlook.office365.com/.default';
export const GRAPH_SCOPE = 'https://graph.microsoft.com/.default';

export function testApp(overrides: Partial<EmulatorApp> = {}): EmulatorApp {
  return {
    tenantId: TENANT_ID,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    mailboxes: [MAILBOX],
    ...overrides,
  };
}

export function startTestEmulator(options: Partial<EmulatorOptions> = {}): Promise<Emulator> {
  return startEmulator({ apps: [testApp()], ...options });
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends an HTTPS request that trusts only the emulator's CA. */
export function httpsRequest(
  emulator: Emulator,
  url: string,
  options: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<HttpResult> {
  const ca = readFileSync(emulator.caFile);
  return new Promise((resolve, reject) => {
    const request = https.request(
      url,
      { method: options.method ?? 'GET', ca, headers: options.headers ?? {} },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    request.on('error', reject);
    request.end(options.body);
  });
}

/** Posts a form to the token endpoint of `tenantId`. */
export function postTokenForm(
  emulator: Emulator,
  form: Record<string, string>,
  tenantId = TENANT_ID,
): Promise<HttpResult> {
  return httpsRequest(emulator, emulator.tokenUrl(tenantId), {
    method: 'POST',
    body: new URLSearchParams(form).toString(),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
}

/** Requests a client-credentials token with the test app's secret and returns it. */
export async function fetchAccessToken(emulator: Emulator, scope = OUTLOOK_SCOPE): Promise<string> {
  const result = await postTokenForm(emulator, {
    grant_type: 'client_credentials',
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    scope,
  });
  if (result.status !== 200) {
    throw new Error(`Token request failed with ${result.status}: ${result.body}`);
  }
  return (JSON.parse(result.body) as { access_token: string }).access_token;
}

export function smtpOptions(emulator: Emulator): SMTPConnection.Options {
  return {
    host: '127.0.0.1',
    port: emulator.smtpPort,
    secure: false,
    requireTLS: true,
    tls: { ca: readFileSync(emulator.caFile) },
  };
}

/** Opens an SMTP session with nodemailer's connection class and authenticates with XOAUTH2. */
export async function openSession(
  emulator: Emulator,
  accessToken: string,
  mailbox = MAILBOX,
): Promise<SMTPConnection> {
  const connection = new SMTPConnection(smtpOptions(emulator));
  connection.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    connection.connect((error) => (error ? reject(error) : resolve()));
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const oauth2 = new XOAuth2({ user: mailbox, accessToken });
      connection.login({ oauth2 } as SMTPConnection.AuthenticationOAuth2, (error) =>
        error ? reject(error) : resolve(),
      );
    });
  } catch (error) {
    connection.close();
    throw error;
  }
  return connection;
}

/** Sends a raw message on an open session. */
export function sendOnSession(
  connection: SMTPConnection,
  envelope: { from: string; to: string[] },
  raw: string,
): Promise<SMTPConnection.SentMessageInfo> {
  return new Promise((resolve, reject) => {
    connection.send(envelope, raw, (error, info) => (error ? reject(error) : resolve(info)));
  });
}

/** Closes a session and resolves once the socket has ended. */
export function closeSession(connection: SMTPConnection): Promise<void> {
  return new Promise((resolve) => {
    connection.once('end', () => resolve());
    connection.quit();
  });
}

/** Creates a nodemailer transport that authenticates as `mailbox` with XOAUTH2. */
export function createTransport(emulator: Emulator, accessToken: string, mailbox = MAILBOX) {
  return nodemailer.createTransport({
    ...smtpOptions(emulator),
    auth: { type: 'OAuth2', user: mailbox, accessToken },
  });
}

export function simpleMessage(from: string, to: string, subject = 'Hello'): string {
  return [
    `From: ${from}`,
    `To: ${to}`,
    `Subject: ${subject}`,
    `Message-ID: <${Math.random().toString(36).slice(2)}@test.example>`,
    '',
    'Body text.',
    '',
  ].join('\r\n');
}

/** Polls `read` until `isDone` accepts its value or `timeoutMs` passes. */
export async function waitFor<T>(
  read: () => T | Promise<T>,
  isDone: (value: T) => boolean,
  timeoutMs = 5000,
  intervalMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (isDone(value)) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Condition not met within ${timeoutMs} ms; last value ${JSON.stringify(value)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
