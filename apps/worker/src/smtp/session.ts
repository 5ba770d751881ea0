import { PassThrough } from 'node:stream';
import { createSecureContext, type SecureContext } from 'node:tls';
import type { SmtpStage, SubmissionFailure } from '@postroom/core';
import SMTPConnection from 'nodemailer/lib/smtp-connection';

export interface SmtpEndpoint {
  host: string;
  port: number;
  /** Extra trusted CA certificates (PEM); certificate verification always stays on. */
  ca?: string | Buffer;
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
}

export interface SubmitResult {
  response: string;
  accepted: string[];
  rejected: string[];
}

/** A failed SMTP step, with what the classifier needs. Never carries the message or the token. */
export class SmtpFailure extends Error {
  readonly failure: SubmissionFailure;

  constructor(failure: SubmissionFailure, cause: unknown) {
    const reply = failure.response ?? failure.networkCode ?? 'no reply';
    super(`SMTP ${failure.stage} failed: ${reply}`, { cause });
    this.name = 'SmtpFailure';
    this.failure = failure;
  }
}

// One TLS context per endpoint, shared by all of its connections. Without it Node builds a
// context for every STARTTLS, parsing the CA each time, and at hundreds of new connections a
// second those contexts, waiting for garbage collection, added about 40 MB to a worker.
const secureContexts = new WeakMap<SmtpEndpoint, SecureContext>();

function secureContextFor(endpoint: SmtpEndpoint): SecureContext {
  let context = secureContexts.get(endpoint);
  if (!context) {
    context = createSecureContext({
      minVersion: 'TLSv1.2',
      ...(endpoint.ca ? { ca: endpoint.ca } : {}),
    });
    secureContexts.set(endpoint, context);
  }
  return context;
}

const COMMAND_STAGES: Record<string, SmtpStage> = {
  CONN: 'connect',
  EHLO: 'tls',
  HELO: 'tls',
  STARTTLS: 'tls',
  'MAIL FROM': 'mail',
  'RCPT TO': 'rcpt',
};

/**
 * One authenticated SMTP submission connection: STARTTLS required, certificate verification on,
 * AUTH XOAUTH2. It watches the server's replies so that a connection lost after `354` (the
 * message data was on its way) is distinguished from one lost before it.
 */
export class SmtpSession {
  readonly #connection: SMTPConnection;
  #dataStarted = false;
  // False while the message data waits for submit's `beforeData`.
  #dataReleased = true;
  #closed = false;

  constructor(endpoint: SmtpEndpoint) {
    this.#connection = new SMTPConnection({
      host: endpoint.host,
      port: endpoint.port,
      secure: false,
      requireTLS: true,
      connectionTimeout: endpoint.connectionTimeoutMs,
      greetingTimeout: endpoint.greetingTimeoutMs,
      socketTimeout: endpoint.socketTimeoutMs,
      // Certificate verification stays on: rejectUnauthorized keeps its default, true.
      tls: { secureContext: secureContextFor(endpoint) },
      transactionLog: true,
      logger: this.#replyWatcher(),
    });
    // Errors also reach the callbacks; this keeps a late socket error from crashing the process.
    this.#connection.on('error', () => {});
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Connects, upgrades with STARTTLS and authenticates with an OAuth access token. */
  async open(user: string, accessToken: string): Promise<void> {
    // nodemailer calls connect()'s callback only on success. A refused connection, a greeting
    // timeout, a 421 before EHLO or a certificate that fails verification arrives as an 'error'
    // event (or an 'end' without one), so those events settle the promise too.
    await this.#untilSettled('connect', (done) => this.#connection.connect(done));
    await this.#untilSettled('auth', (done) => {
      const oauth2 = xoauth2(user, accessToken);
      this.#connection.login({ user, method: 'XOAUTH2', oauth2 } as never, done);
    });
  }

  #untilSettled(
    stage: SmtpStage,
    start: (done: (error?: Error | null) => void) => void,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const finish = (error?: Error | null) => {
        if (settled) return;
        settled = true;
        this.#connection.off('error', onError);
        this.#connection.off('end', onEnd);
        if (error) reject(this.#failure(error, stage));
        else resolve();
      };
      const onError = (error: Error) => finish(error);
      const onEnd = () =>
        finish(
          Object.assign(new Error('connection closed by the server'), { code: 'ECONNECTION' }),
        );
      this.#connection.on('error', onError);
      this.#connection.once('end', onEnd);
      start(finish);
    });
  }

  /**
   * Submits one message. Throws SmtpFailure with the stage the transaction reached. With
   * `beforeData`, no byte of the message is sent before it resolves: it runs alongside the
   * envelope's round trip. If it rejects, the connection is dropped without the message data,
   * so the server has nothing to accept, and submit throws that rejection.
   */
  async submit(
    envelope: { from: string; to: string[] },
    raw: Buffer,
    beforeData?: Promise<void>,
  ): Promise<SubmitResult> {
    this.#dataStarted = false;
    this.#dataReleased = beforeData === undefined;
    let stopped: unknown;
    let message: Buffer | PassThrough = raw;
    if (beforeData) {
      const body = new PassThrough();
      beforeData.then(
        () => {
          this.#dataReleased = true;
          body.end(raw);
        },
        (error: unknown) => {
          stopped = error;
          body.destroy(error instanceof Error ? error : new Error(String(error)));
        },
      );
      message = body;
    }
    return new Promise((resolve, reject) => {
      this.#connection.send(envelope, message, (error, info) => {
        if (error && stopped !== undefined) {
          // The DATA command may be open: only dropping the connection ends it without a message.
          this.destroy();
          return reject(stopped);
        }
        if (error) return reject(this.#failure(error, 'mail'));
        resolve({
          response: String(info.response ?? ''),
          accepted: (info.accepted ?? []).map(String),
          rejected: (info.rejected ?? []).map(String),
        });
      });
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#connection.quit();
  }

  /** Drops the socket at once, failing a transaction in progress; for a shutdown past its time. */
  destroy(): void {
    this.#closed = true;
    this.#connection.close();
  }

  #failure(error: unknown, fallback: SmtpStage): SmtpFailure {
    const details = error as {
      code?: string;
      originalCode?: string;
      responseCode?: number;
      response?: string;
      command?: string;
    };
    const stage = this.#stageOf(details, fallback);
    const failure: SubmissionFailure = {
      stage,
      ...(details.responseCode ? { responseCode: details.responseCode } : {}),
      ...(details.response ? { response: details.response } : {}),
      ...(details.responseCode
        ? {}
        : { networkCode: details.originalCode ?? details.code ?? 'UNKNOWN' }),
    };
    if (!details.responseCode) this.close();
    return new SmtpFailure(failure, error);
  }

  #stageOf(details: { command?: string; code?: string }, fallback: SmtpStage): SmtpStage {
    // Past the 354, the message data counts as sent once it was handed to the connection.
    if (this.#dataStarted) return this.#dataReleased ? 'data-end' : 'data';
    if (fallback === 'auth')
      return details.command?.startsWith('AUTH') || !details.command ? 'auth' : 'tls';
    if (details.code === 'ETIMEDOUT' && details.command === 'CONN') return 'greeting';
    const command = details.command ?? '';
    if (command === 'DATA') return 'data';
    return COMMAND_STAGES[command] ?? fallback;
  }

  // nodemailer passes each server reply to the logger when transactionLog is on. Only `354`
  // (go ahead with the message data) is read here, and nothing is logged.
  #replyWatcher() {
    const ignore = () => {};
    const watch = (meta: { tnx?: string }, ...message: unknown[]) => {
      if (meta?.tnx === 'server' && message.some((part) => String(part).startsWith('354'))) {
        this.#dataStarted = true;
      }
    };
    return {
      trace: ignore,
      debug: watch,
      info: ignore,
      warn: ignore,
      error: ignore,
      fatal: ignore,
    };
  }
}

function xoauth2(user: string, accessToken: string) {
  return {
    getToken(_isRetry: boolean, callback: (error: Error | null, token?: string) => void) {
      callback(null, accessToken);
    },
    buildXOAuth2Token(token: string) {
      return Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString('base64');
    },
  };
}
