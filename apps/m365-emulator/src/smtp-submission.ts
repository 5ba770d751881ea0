import type net from 'node:net';
import type { Readable } from 'node:stream';
import type tls from 'node:tls';
import type {
  SMTPServerAddress,
  SMTPServerAuthentication,
  SMTPServerAuthenticationResponse,
  SMTPServerOptions,
  SMTPServerSession,
} from 'smtp-server';
import { runFault } from './fault-actions.js';
import type { Fault, FaultStage } from './faults.js';
import { greetWithoutDelay, HookedSmtpServer } from './hooked-smtp-server.js';
import { authenticate } from './smtp-auth.js';
import type { SessionState, SmtpContext } from './smtp-context.js';
import { type ReceivedData, readMessage, submitMessage } from './smtp-data.js';
import { checkMailFrom, checkRcptTo } from './smtp-envelope.js';
import { instrumentConnection } from './smtp-instrument.js';
import { parseReplyLine, Replies, SERVER_NAME, SmtpReplyError } from './smtp-replies.js';

type Callback = (error?: Error | null) => void;
type SubmissionOutcome = { text: string; error?: undefined } | { error: SmtpReplyError };

export interface SmtpTlsOptions {
  certificatePem: string;
  privateKeyPem: string;
}

/**
 * The SMTP submission endpoint: STARTTLS, AUTH XOAUTH2, Exchange Online's limits and replies,
 * and fault injection at every stage.
 */
export class SmtpSubmission {
  readonly #context: SmtpContext;
  readonly #server: HookedSmtpServer;
  readonly #sessions = new Map<string, SessionState>();

  constructor(context: SmtpContext, tlsOptions: SmtpTlsOptions) {
    this.#context = context;
    this.#server = new HookedSmtpServer(this.#serverOptions(tlsOptions));
    const advertisedSizeBytes = context.limits.maxMessageBytesOfAnyMailbox();
    this.#server.onConnection = (connection, socket) => {
      const state: SessionState = {
        id: connection.id,
        socket,
        closed: false,
        exactReplies: new Set(),
      };
      this.#sessions.set(state.id, state);
      socket.once('close', () => this.#forget(state));
      instrumentConnection(connection, state, context, advertisedSizeBytes);
      greetWithoutDelay(connection);
    };
    this.#server.on('error', (error: Error) => {
      context.logger.warn({ err: error }, 'SMTP connection error');
    });
  }

  #serverOptions(tlsOptions: SmtpTlsOptions): SMTPServerOptions {
    return {
      name: SERVER_NAME,
      heloResponse: '%s Hello %s',
      key: tlsOptions.privateKeyPem,
      cert: tlsOptions.certificatePem,
      // TLS 1.0 and 1.1 handshakes must succeed so that onSecure can send Exchange's 421 4.7.66.
      minVersion: 'TLSv1',
      ciphers: 'DEFAULT@SECLEVEL=0',
      authMethods: ['LOGIN', 'XOAUTH2'],
      authRequiredMessage: parseReplyLine(Replies.notAuthenticated).text,
      disableReverseLookup: true,
      // The EHLO rewrite advertises SIZE, and onMailFrom checks SIZE= against the mailbox limit.
      hideSize: true,
      logger: false,
      onConnect: (session, callback) => this.#onConnect(session, callback),
      onSecure: (socket, session, callback) => this.#onSecure(socket, session, callback),
      onAuth: (auth, session, callback) => this.#onAuth(auth, session, callback),
      onMailFrom: (address, session, callback) => this.#onMailFrom(address, session, callback),
      onRcptTo: (address, session, callback) => this.#onRcptTo(address, session, callback),
      onData: (stream, session, callback) => this.#onData(stream, session, callback),
      onClose: (session) => this.#onClose(session),
    };
  }

  /** Listens on `host:port` and resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const netServer = this.#server.server;
      netServer.once('error', reject);
      this.#server.listen({ host, port }, () => {
        netServer.off('error', reject);
        resolve((netServer.address() as net.AddressInfo).port);
      });
    });
  }

  /** Stops listening and destroys every open connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      for (const state of this.#sessions.values()) {
        state.socket.destroy();
      }
    });
  }

  #onConnect(session: SMTPServerSession, callback: Callback): void {
    const state = this.#requireState(session);
    this.#withFault('connect', state, callback, () => callback());
  }

  #onSecure(socket: net.Socket | tls.TLSSocket, session: SMTPServerSession, done: Callback): void {
    const protocol = 'getProtocol' in socket ? socket.getProtocol() : null;
    if (protocol === 'TLSv1' || protocol === 'TLSv1.1') {
      this.#context.logger.info({ sessionId: session.id, protocol }, 'rejected old TLS version');
      done(new SmtpReplyError(Replies.oldTlsVersion));
      return;
    }
    done();
  }

  #onAuth(
    auth: SMTPServerAuthentication,
    session: SMTPServerSession,
    callback: (error?: Error | null, response?: SMTPServerAuthenticationResponse) => void,
  ): void {
    const state = this.#requireState(session);
    const proceed = (): void => {
      authenticate(this.#context, state, auth).then(
        (mailbox) => {
          state.mailbox = mailbox;
          callback(null, { user: mailbox });
        },
        (error: unknown) => callback(this.#asReplyError(error, state)),
      );
    };
    this.#withFault('auth', state, callback, proceed, auth.username?.toLowerCase());
  }

  #onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback: Callback): void {
    const state = this.#requireState(session);
    this.#withFault('mail', state, callback, () => {
      this.#settle(callback, state, () => checkMailFrom(this.#context, state, address));
    });
  }

  #onRcptTo(address: SMTPServerAddress, session: SMTPServerSession, callback: Callback): void {
    const state = this.#requireState(session);
    this.#withFault('rcpt', state, callback, () => {
      this.#settle(callback, state, () => checkRcptTo(this.#context, state, address, session));
    });
  }

  #onData(
    stream: Readable,
    session: SMTPServerSession,
    callback: (error?: Error | null, message?: string) => void,
  ): void {
    const state = this.#requireState(session);
    const maxBytes = this.#context.limits.for(state.mailbox ?? '').maxMessageBytes;
    readMessage(stream, maxBytes).then(
      (data) => this.#finishData(state, session, data, callback),
      (error: unknown) => {
        // The client closed the connection in the middle of the message, so no reply can be sent.
        this.#context.logger.debug({ sessionId: state.id, err: error }, 'DATA stream failed');
      },
    );
  }

  /**
   * Submits the message and replies, subject to the data-end fault. A fault with `accept` runs
   * after the message was stored, so only the reply is lost, delayed or replaced.
   */
  #finishData(
    state: SessionState,
    session: SMTPServerSession,
    data: ReceivedData,
    callback: (error?: Error | null, message?: string) => void,
  ): void {
    const submit = (): Promise<SubmissionOutcome> =>
      submitMessage(this.#context, state, session, data).then(
        (line) => ({ text: parseReplyLine(line).text }),
        (error: unknown) => ({ error: this.#asReplyError(error, state) }),
      );
    const reply = (outcome: SubmissionOutcome): void => {
      if (outcome.error !== undefined) {
        callback(outcome.error);
      } else {
        callback(null, outcome.text);
      }
    };

    const fault = this.#context.faults.take('data-end', state.mailbox);
    if (fault?.accept === true) {
      void submit().then((outcome) => {
        this.#applyFault(fault, state, callback, () => reply(outcome));
      });
      return;
    }
    this.#applyFault(fault, state, callback, () => void submit().then(reply));
  }

  /** Takes the next fault for `stage` and applies it; `proceed` is the normal handling. */
  #withFault(
    stage: FaultStage,
    state: SessionState,
    callback: Callback,
    proceed: () => void,
    mailbox = state.mailbox,
  ): void {
    this.#applyFault(this.#context.faults.take(stage, mailbox), state, callback, proceed);
  }

  #applyFault(
    fault: Fault | undefined,
    state: SessionState,
    callback: Callback,
    proceed: () => void,
  ): void {
    const outcomes = {
      proceed,
      reply: (taken: Fault) => {
        const error = new SmtpReplyError(taken.reply ?? '');
        state.exactReplies.add(`${error.responseCode} ${error.message}`);
        callback(error);
      },
      drop: () => state.socket.destroy(),
    };
    runFault(fault, outcomes, this.#context.timers);
  }

  /** Runs a synchronous check and passes its SmtpReplyError, if any, to smtp-server. */
  #settle(callback: Callback, state: SessionState, check: () => void): void {
    try {
      check();
    } catch (error) {
      callback(this.#asReplyError(error, state));
      return;
    }
    callback();
  }

  #asReplyError(error: unknown, state: SessionState): SmtpReplyError {
    if (error instanceof SmtpReplyError) {
      return error;
    }
    this.#context.logger.error({ sessionId: state.id, err: error }, 'SMTP handler failed');
    return new SmtpReplyError(Replies.temporaryServerError);
  }

  #requireState(session: SMTPServerSession): SessionState {
    const state = this.#sessions.get(session.id);
    if (state === undefined) {
      throw new Error(`No state for SMTP session ${session.id}; the connection hook did not run`);
    }
    return state;
  }

  #onClose(session: SMTPServerSession): void {
    const state = this.#sessions.get(session.id);
    if (state !== undefined) {
      this.#forget(state);
    }
  }

  /** Releases the session slot of the mailbox once, whichever of close and onClose comes first. */
  #forget(state: SessionState): void {
    if (state.closed) {
      return;
    }
    state.closed = true;
    this.#sessions.delete(state.id);
    if (state.mailbox !== undefined) {
      this.#context.usage.closeSession(state.mailbox);
    }
  }
}
