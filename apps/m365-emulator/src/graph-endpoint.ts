import type http from 'node:http';
import https from 'node:https';
import {
  GRAPH_OPERATIONS,
  type GraphCall,
  type GraphContext,
  type GraphReply,
  matchRoute,
} from './graph-call.js';
import type { UploadSession } from './graph-drafts.js';
import {
  type GraphError,
  GraphErrors,
  GraphRequestError,
  graphErrorBody,
  newRequestId,
} from './graph-errors.js';
import { runWithFault } from './graph-faults.js';
import { addAttachment, createDraft, deleteDraft, sendDraft, sendMail } from './graph-handlers.js';
import { createUploadSession, resolveUploadSession, uploadChunk } from './graph-upload.js';
import {
  BodyTooLargeError,
  closeHttpServer,
  listen,
  readBodyBytes,
  sendJson,
} from './http-util.js';
import { urlHost } from './settings.js';
import { GRAPH_RESOURCE, TokenRejectedError } from './token-authority.js';

export type { GraphContext } from './graph-call.js';

/**
 * Microsoft Graph over HTTPS: `sendMail` in MIME form, and drafts created from MIME with
 * attachments added by POST or by upload session, then sent or deleted. Every request first has
 * its token checked (audience Graph, the operation's role, app allowed on the mailbox), or the
 * `authtoken` of an upload URL. Then come the mailbox's concurrent request limit and the request
 * size limit. The fault of the operation's stage applies after the body was read.
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
          context.logger.error({ err: error, method: request.method }, 'Graph request failed');
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
    this.#baseUrl = `https://${urlHost(host)}:${boundPort}`;
    return boundPort;
  }

  close(): Promise<void> {
    return closeHttpServer(this.#server);
  }

  async #route(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.#baseUrl);
    const method = request.method ?? 'GET';
    const route = matchRoute(method, url);
    const requestId = newRequestId();
    if (route === undefined) {
      request.resume();
      const call = { request, response, requestId };
      this.#reply(call, GraphErrors.notFound(method, url.pathname));
      return;
    }
    const call: GraphCall = {
      request,
      response,
      route,
      mailbox: route.mailbox,
      requestId,
      baseUrl: this.#baseUrl,
    };

    let session: UploadSession | undefined;
    if (route.operation === 'uploadChunk') {
      const resolved = resolveUploadSession(this.#context, call);
      if (!('draftId' in resolved)) {
        request.resume();
        this.#reply(call, resolved);
        return;
      }
      session = resolved;
    } else {
      const failure = await this.#authorize(call);
      if (failure !== undefined) {
        request.resume();
        this.#reply(call, failure);
        return;
      }
    }
    await this.#handle(call, session);
  }

  /** Counts the request against the mailbox's concurrency limit, reads it and runs it. */
  async #handle(call: GraphCall, session: UploadSession | undefined): Promise<void> {
    const { usage, limits, stats, faults } = this.#context;
    const mailboxLimits = limits.for(call.mailbox);
    if (!usage.tryStartGraphRequest(call.mailbox, mailboxLimits.graphConcurrentRequests)) {
      stats.countViolation('graphConcurrency');
      call.request.resume();
      this.#reply(call, GraphErrors.concurrency());
      return;
    }
    // 'close' also fires when the client gives up on a request that never got a response.
    call.response.once('close', () => usage.endGraphRequest(call.mailbox));

    let body: Buffer;
    try {
      body = await readBodyBytes(call.request, mailboxLimits.graphMaxRequestBytes);
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) {
        throw error;
      }
      this.#reply(call, GraphErrors.tooLarge(mailboxLimits.graphMaxRequestBytes), true);
      return;
    }

    const { stage } = GRAPH_OPERATIONS[call.route.operation];
    runWithFault(
      faults.take(stage, call.mailbox),
      () => this.#run(call, body, session),
      {
        reply: (result) => this.#reply(call, result),
        drop: () => call.request.socket.destroy(),
      },
      this.#context.timers,
    );
  }

  /** Runs the operation and returns its reply or its Graph error. */
  async #run(
    call: GraphCall,
    body: Buffer,
    session: UploadSession | undefined,
  ): Promise<GraphReply | GraphError> {
    const context = this.#context;
    try {
      switch (call.route.operation) {
        case 'sendMail':
          return await sendMail(context, call, body);
        case 'createDraft':
          return await createDraft(context, call, body);
        case 'addAttachment':
          return addAttachment(context, call, body);
        case 'createUploadSession':
          return createUploadSession(context, call, body);
        case 'uploadChunk':
          return uploadChunk(context, call, session as UploadSession, body);
        case 'sendDraft':
          return await sendDraft(context, call);
        case 'deleteDraft':
          return deleteDraft(context, call);
      }
    } catch (error) {
      if (error instanceof GraphRequestError) {
        const { status, code } = error.failure;
        context.logger.debug(
          { mailbox: call.mailbox, operation: call.route.operation, status, code },
          'rejected Graph request',
        );
        return error.failure;
      }
      context.logger.error(
        { err: error, mailbox: call.mailbox, operation: call.route.operation },
        'Graph operation failed',
      );
      return serverError();
    }
  }

  /** Returns why the request may not run for its mailbox, or undefined when it may. */
  async #authorize(call: GraphCall): Promise<GraphError | undefined> {
    const { request, mailbox } = call;
    const match = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '');
    if (match?.[1] === undefined) {
      return GraphErrors.missingToken();
    }
    const { tokens, directory, logger } = this.#context;
    const role = GRAPH_OPERATIONS[call.route.operation].role;
    try {
      const token = await tokens.verify(match[1], GRAPH_RESOURCE);
      if (role !== undefined && !token.roles.includes(role)) {
        logger.info({ mailbox, roles: token.roles, role }, 'rejected Graph token without the role');
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

  /** Sends the reply or the Graph error, and counts the status. */
  #reply(
    call: Pick<GraphCall, 'request' | 'response' | 'requestId'>,
    result: GraphReply | GraphError,
    closeConnection = false,
  ): void {
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
    this.#context.stats.countGraphResponse(result.status);
    if (!('code' in result)) {
      const replyHeaders = { ...headers, ...result.headers };
      if (result.body === undefined) {
        response.writeHead(result.status, { ...replyHeaders, 'content-length': 0 }).end();
      } else {
        sendJson(response, result.status, result.body, replyHeaders);
      }
      return;
    }
    if (result.retryAfterSeconds !== undefined) {
      headers['retry-after'] = String(result.retryAfterSeconds);
    }
    sendJson(response, result.status, graphErrorBody(result, requestId, clientRequestId), headers);
  }
}

function serverError(): GraphError {
  return { status: 500, code: 'generalException', message: 'An unexpected error occurred.' };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
