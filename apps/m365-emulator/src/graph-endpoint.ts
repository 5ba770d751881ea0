import type http from 'node:http';
import https from 'node:https';
import { runFault } from './fault-actions.js';
import type { Fault } from './faults.js';
import {
  type GraphError,
  GraphErrors,
  GraphRequestError,
  graphErrorBody,
  newRequestId,
} from './graph-errors.js';
import { decodeMimeBody, submitGraphMessage } from './graph-submission.js';
import { BodyTooLargeError, closeHttpServer, listen, readBody, sendJson } from './http-util.js';
import type { SmtpContext } from './smtp-context.js';
import { GRAPH_RESOURCE, TokenRejectedError } from './token-authority.js';

const MAIL_SEND_ROLE = 'Mail.Send';
const SEND_MAIL_PATH = /^\/v1\.0\/users\/([^/]+)\/sendMail$/i;

/** State the Graph endpoint shares with the SMTP server, and the length of an emulated minute. */
export interface GraphContext extends SmtpContext {
  timeUnitMs: number;
}

/** One `sendMail` request: its request, response, mailbox and request id. */
interface SendMailRequest {
  request: http.IncomingMessage;
  response: http.ServerResponse;
  mailbox: string;
  requestId: string;
}

/**
 * Microsoft Graph `POST /v1.0/users/{mailbox}/sendMail` over HTTPS, MIME form only. It checks
 * the token (audience Graph, role Mail.Send, app allowed on the mailbox), the mailbox's
 * concurrent request limit, the request size and Exchange's sending limits, then stores the
 * message and responds 202. Faults at stage `graph` apply after the body was read.
 */
export class GraphEndpoint {
  readonly #context: GraphContext;
  readonly #server: https.Server;
  #baseUrl = '';

  constructor(
    context: GraphContext,
    tlsOptions: { certificatePem: string; privateKeyPem: string },
  ) {
    this.#context = context;
    this.#server = https.createServer(
      { key: tlsOptions.privateKeyPem, cert: tlsOptions.certificatePem, minVersion: 'TLSv1.2' },
      (request, response) => {
        this.#route(request, response).catch((error: unknown) => {
          context.logger.error({ err: error, url: request.url }, 'Graph request failed');
          if (!response.headersSent) {
            sendJson(response, 500, graphErrorBody(serverError(), newRequestId()));
          }
        });
      },
    );
  }

  /** Listens and resolves with the bound port. */
  async listen(host: string, port: number): Promise<number> {
    const boundPort = await listen(this.#server, host, port);
    this.#baseUrl = `https://${host}:${boundPort}`;
    return boundPort;
  }

  close(): Promise<void> {
    return closeHttpServer(this.#server);
  }

  async #route(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.#baseUrl);
    const match = SEND_MAIL_PATH.exec(url.pathname);
    const requestId = newRequestId();
    if (request.method !== 'POST' || match?.[1] === undefined) {
      request.resume();
      this.#reply(
        { request, response, mailbox: '', requestId },
        GraphErrors.notFound(request.method ?? 'GET', url.pathname),
      );
      return;
    }
    const mailbox = decodeURIComponent(match[1]).toLowerCase();
    await this.#sendMail({ request, response, mailbox, requestId });
  }

  async #sendMail(call: SendMailRequest): Promise<void> {
    const { request, response, mailbox } = call;
    const { usage, limits, stats } = this.#context;
    const failure = await this.#authorize(request, mailbox);
    if (failure !== undefined) {
      request.resume();
      this.#reply(call, failure);
      return;
    }
    const mailboxLimits = limits.for(mailbox);
    if (!usage.tryStartGraphRequest(mailbox, mailboxLimits.graphConcurrentRequests)) {
      stats.countViolation('graphConcurrency');
      request.resume();
      this.#reply(call, GraphErrors.concurrency());
      return;
    }
    // 'close' also fires when the client gives up on a request that never got a response.
    response.once('close', () => usage.endGraphRequest(mailbox));

    let raw: Buffer;
    try {
      raw = await this.#readMime(request, mailboxLimits.graphMaxRequestBytes);
    } catch (error) {
      if (!(error instanceof GraphRequestError)) {
        throw error;
      }
      this.#reply(call, error.failure, error.failure.status === 413);
      return;
    }
    this.#submitWithFault(call, raw, this.#context.faults.take('graph', mailbox));
  }

  /** Returns why the request may not send as `mailbox`, or undefined when it may. */
  async #authorize(
    request: http.IncomingMessage,
    mailbox: string,
  ): Promise<GraphError | undefined> {
    const match = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '');
    if (match?.[1] === undefined) {
      return GraphErrors.missingToken();
    }
    const { tokens, directory, logger } = this.#context;
    try {
      const token = await tokens.verify(match[1], GRAPH_RESOURCE);
      if (!token.roles.includes(MAIL_SEND_ROLE)) {
        logger.info({ mailbox, roles: token.roles }, 'rejected Graph token without Mail.Send');
        return GraphErrors.accessDenied();
      }
      const app = directory.findApp(token.tenantId, token.clientId);
      if (app === undefined || !directory.appHasMailbox(app, mailbox)) {
        logger.info(
          { mailbox, clientId: token.clientId },
          'rejected Graph request for a mailbox the app may not use',
        );
        return GraphErrors.mailboxNotAllowed();
      }
      return undefined;
    } catch (error) {
      if (error instanceof TokenRejectedError) {
        logger.info({ mailbox, reason: error.reason }, 'rejected Graph access token');
        return GraphErrors.invalidToken();
      }
      throw error;
    }
  }

  async #readMime(request: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
    const contentType = request.headers['content-type'] ?? '';
    let body: string;
    try {
      body = await readBody(request, maxBytes);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        throw new GraphRequestError(GraphErrors.tooLarge(maxBytes));
      }
      throw error;
    }
    if (!contentType.toLowerCase().startsWith('text/plain')) {
      throw new GraphRequestError(GraphErrors.unsupportedBody());
    }
    return decodeMimeBody(body);
  }

  /**
   * Submits and responds, subject to a `graph` fault. A fault with `accept` runs after the message
   * was stored, so only the response is lost, delayed or replaced.
   */
  #submitWithFault(call: SendMailRequest, raw: Buffer, fault: Fault | undefined): void {
    const submit = (): Promise<GraphError | undefined> =>
      submitGraphMessage(this.#context, call.mailbox, raw, this.#context.timeUnitMs).then(
        () => undefined,
        (error: unknown) => {
          if (error instanceof GraphRequestError) {
            return error.failure;
          }
          this.#context.logger.error(
            { err: error, mailbox: call.mailbox },
            'Graph submission failed',
          );
          return serverError();
        },
      );
    const outcomes = (answer: () => void) => ({
      proceed: answer,
      reply: (taken: Fault) =>
        this.#reply(call, GraphErrors.injected(taken.status ?? 503, taken.retryAfterSeconds)),
      drop: () => call.request.socket.destroy(),
    });

    if (fault?.accept === true) {
      void submit().then((failure) => {
        runFault(
          fault,
          outcomes(() => this.#reply(call, failure)),
          this.#context.timers,
        );
      });
      return;
    }
    const proceed = () => void submit().then((failure) => this.#reply(call, failure));
    runFault(fault, outcomes(proceed), this.#context.timers);
  }

  /** Sends 202 Accepted, or the Graph error, and counts the status. */
  #reply(call: SendMailRequest, failure: GraphError | undefined, closeConnection = false): void {
    const { request, response, requestId } = call;
    if (response.headersSent || response.destroyed) {
      return;
    }
    const clientRequestId = headerValue(request.headers['client-request-id']);
    const headers: Record<string, string> = {
      'request-id': requestId,
      'client-request-id': clientRequestId ?? requestId,
      ...(closeConnection ? { connection: 'close' } : {}),
    };
    if (failure === undefined) {
      this.#context.stats.countGraphResponse(202);
      response.writeHead(202, { ...headers, 'content-length': 0 }).end();
      return;
    }
    if (failure.retryAfterSeconds !== undefined) {
      headers['retry-after'] = String(failure.retryAfterSeconds);
    }
    this.#context.stats.countGraphResponse(failure.status);
    sendJson(
      response,
      failure.status,
      graphErrorBody(failure, requestId, clientRequestId),
      headers,
    );
  }
}

function serverError(): GraphError {
  return { status: 500, code: 'generalException', message: 'An unexpected error occurred.' };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
