import http from 'node:http';
import type { Logger } from 'pino';
import { FaultSpecError, parseFaultSpec } from './faults.js';
import { BodyTooLargeError, closeHttpServer, listen, readBody, sendJson } from './http-util.js';
import type { Emulator } from './types.js';

const MAX_JSON_BYTES = 64 * 1024;

/** The emulator operations the admin API exposes. */
export type AdminTarget = Pick<
  Emulator,
  | 'messages'
  | 'message'
  | 'rawMessage'
  | 'drafts'
  | 'stats'
  | 'reset'
  | 'revokeTokens'
  | 'addFault'
  | 'faults'
  | 'clearFaults'
>;

/**
 * Plain-HTTP admin API:
 * `GET /api/messages[?mailbox=]`, `GET /api/messages/:id`, `GET /api/messages/:id/raw`,
 * `DELETE /api/messages` (reset), `GET /api/drafts[?mailbox=]`, `GET /api/stats`,
 * `POST /api/tokens/revoke`, `GET|POST|DELETE /api/faults` and `GET /healthz`.
 */
export class AdminApi {
  readonly #target: AdminTarget;
  readonly #logger: Logger;
  readonly #server: http.Server;

  constructor(target: AdminTarget, logger: Logger) {
    this.#target = target;
    this.#logger = logger;
    this.#server = http.createServer((request, response) => {
      this.#route(request, response).catch((error: unknown) => this.#fail(response, error));
    });
  }

  listen(host: string, port: number): Promise<number> {
    return listen(this.#server, host, port);
  }

  close(): Promise<void> {
    return closeHttpServer(this.#server);
  }

  async #route(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://admin.invalid');
    const [, api, resource, id, detail] = url.pathname.split('/');
    const method = request.method ?? 'GET';
    if (url.pathname === '/healthz' && method === 'GET') {
      sendJson(response, 200, { status: 'ok' });
    } else if (api === 'api' && resource === 'messages') {
      this.#messages(method, url, id, detail, response);
    } else if (url.pathname === '/api/drafts' && method === 'GET') {
      sendJson(response, 200, this.#target.drafts(url.searchParams.get('mailbox') ?? undefined));
    } else if (url.pathname === '/api/stats' && method === 'GET') {
      sendJson(response, 200, this.#target.stats());
    } else if (url.pathname === '/api/tokens/revoke' && method === 'POST') {
      this.#target.revokeTokens();
      response.writeHead(204).end();
    } else if (url.pathname === '/api/faults') {
      await this.#faults(method, request, response);
    } else {
      sendJson(response, 404, { error: `No route ${method} ${url.pathname}` });
    }
  }

  #messages(
    method: string,
    url: URL,
    id: string | undefined,
    detail: string | undefined,
    response: http.ServerResponse,
  ): void {
    if (id === undefined && method === 'GET') {
      const mailbox = url.searchParams.get('mailbox') ?? undefined;
      sendJson(response, 200, this.#target.messages(mailbox));
    } else if (id === undefined && method === 'DELETE') {
      this.#target.reset();
      response.writeHead(204).end();
    } else if (id !== undefined && detail === undefined && method === 'GET') {
      const message = this.#target.message(id);
      if (message === undefined) {
        sendJson(response, 404, { error: `Message ${id} not found` });
        return;
      }
      sendJson(response, 200, message);
    } else if (id !== undefined && detail === 'raw' && method === 'GET') {
      const raw = this.#target.rawMessage(id);
      if (raw === undefined) {
        sendJson(response, 404, { error: `Message ${id} not found` });
        return;
      }
      response.writeHead(200, { 'content-type': 'message/rfc822', 'content-length': raw.length });
      response.end(raw);
    } else {
      sendJson(response, 404, { error: `No route ${method} ${url.pathname}` });
    }
  }

  async #faults(
    method: string,
    request: http.IncomingMessage,
    response: http.ServerResponse,
  ): Promise<void> {
    if (method === 'GET') {
      sendJson(response, 200, this.#target.faults());
    } else if (method === 'DELETE') {
      this.#target.clearFaults();
      response.writeHead(204).end();
    } else if (method === 'POST') {
      const spec = parseFaultSpec(parseJson(await readBody(request, MAX_JSON_BYTES)));
      const fault = this.#target.addFault(spec);
      this.#logger.info({ fault }, 'added fault');
      sendJson(response, 201, fault);
    } else {
      sendJson(response, 405, { error: `Method ${method} not allowed on /api/faults` });
    }
  }

  #fail(response: http.ServerResponse, error: unknown): void {
    if (error instanceof FaultSpecError || error instanceof SyntaxError) {
      sendJson(response, 400, { error: error.message });
    } else if (error instanceof BodyTooLargeError) {
      sendJson(response, 413, { error: error.message });
    } else {
      this.#logger.error({ err: error }, 'admin API request failed');
      sendJson(response, 500, { error: 'Internal error; see the emulator log' });
    }
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new SyntaxError(
      'Invalid JSON body; send a fault object such as {"stage":"auth","action":"drop"}',
    );
  }
}
