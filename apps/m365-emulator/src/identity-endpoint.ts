import type http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import type { Directory } from './directory.js';
import { instanceDiscovery, openIdConfiguration } from './discovery.js';
import {
  type EntraError,
  EntraErrors,
  EntraRequestError,
  entraErrorBody,
  injectedEntraError,
} from './entra-errors.js';
import { runFault, type TimerSet } from './fault-actions.js';
import type { Fault, FaultRegistry } from './faults.js';
import { BodyTooLargeError, closeHttpServer, listen, readBody, sendJson } from './http-util.js';
import type { StatsRecorder } from './stats.js';
import type { TokenAuthority } from './token-authority.js';
import { grantClientCredentials } from './token-request.js';

const MAX_FORM_BYTES = 64 * 1024;

export interface IdentityContext {
  directory: Directory;
  tokens: TokenAuthority;
  stats: StatsRecorder;
  faults: FaultRegistry;
  timers: TimerSet;
  logger: Logger;
}

/**
 * The Entra ID stand-in over HTTPS: the v2.0 token endpoint (client credentials), OpenID
 * metadata, signing keys and instance discovery, all for authorities `https://host:port/{tenant}`.
 */
export class IdentityEndpoint {
  readonly #context: IdentityContext;
  readonly #server: https.Server;
  #baseUrl = '';

  constructor(
    context: IdentityContext,
    tlsOptions: { certificatePem: string; privateKeyPem: string },
  ) {
    this.#context = context;
    this.#server = https.createServer(
      { key: tlsOptions.privateKeyPem, cert: tlsOptions.certificatePem, minVersion: 'TLSv1.2' },
      (request, response) => {
        this.#route(request, response).catch((error: unknown) => {
          if (error instanceof BodyTooLargeError) {
            sendJson(response, 413, { error: 'invalid_request', error_description: error.message });
            return;
          }
          context.logger.error({ err: error, url: request.url }, 'identity request failed');
          if (!response.headersSent) {
            sendJson(response, 500, { error: 'server_error' });
          }
        });
      },
    );
  }

  /** Listens and resolves with the bound port; the base URL uses `host` as given. */
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
    const [tenantId = '', ...rest] = url.pathname.split('/').filter(Boolean);
    const route = `${request.method} /${rest.join('/')}`;
    if (route === 'POST /oauth2/v2.0/token') {
      await this.#token(request, response, tenantId);
    } else if (route === 'GET /v2.0/.well-known/openid-configuration') {
      this.#openIdConfiguration(request, response, tenantId);
    } else if (route === 'GET /discovery/v2.0/keys') {
      sendJson(response, 200, await this.#context.tokens.jwks());
    } else if (tenantId === 'common' && route === 'GET /discovery/instance') {
      const authorizationEndpoint = url.searchParams.get('authorization_endpoint');
      sendJson(response, 200, instanceDiscovery(this.#baseUrl, authorizationEndpoint));
    } else {
      sendJson(response, 404, { error: 'not_found', error_description: `No route ${route}` });
    }
  }

  #openIdConfiguration(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    tenantId: string,
  ): void {
    if (!this.#context.directory.hasTenant(tenantId)) {
      this.#sendError(request, response, EntraErrors.tenantNotFound(tenantId));
      return;
    }
    sendJson(response, 200, openIdConfiguration(this.#baseUrl, tenantId));
  }

  async #token(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    tenantId: string,
  ): Promise<void> {
    const form = new URLSearchParams(await readBody(request, MAX_FORM_BYTES));
    const issue = (): void => {
      this.#issue(request, response, tenantId, form).catch((error: unknown) => {
        this.#context.logger.error({ err: error, tenantId }, 'token request failed');
        sendJson(response, 500, { error: 'server_error' });
      });
    };
    const outcomes = {
      proceed: issue,
      reply: (fault: Fault) => {
        const headers: Record<string, string> =
          fault.retryAfterSeconds === undefined
            ? {}
            : { 'retry-after': String(fault.retryAfterSeconds) };
        const failure = faultError(fault, form, tenantId);
        this.#context.stats.countTokenRequest('error');
        this.#context.logger.info(
          { tenantId, aadsts: failure.aadsts },
          'answered token request with a fault',
        );
        this.#sendError(request, response, failure, headers);
      },
      drop: () => {
        this.#context.stats.countTokenRequest('error');
        request.socket.destroy();
      },
    };
    runFault(this.#context.faults.take('token'), outcomes, this.#context.timers);
  }

  async #issue(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    tenantId: string,
    form: URLSearchParams,
  ): Promise<void> {
    const tokenUrl = `${this.#baseUrl}/${tenantId}/oauth2/v2.0/token`;
    const { directory, tokens } = this.#context;
    try {
      const body = await grantClientCredentials(directory, tokens, tenantId, form, tokenUrl);
      this.#context.stats.countTokenRequest('ok');
      this.#context.logger.debug({ tenantId, clientId: form.get('client_id') }, 'issued token');
      sendJson(response, 200, body);
    } catch (error) {
      if (!(error instanceof EntraRequestError)) {
        throw error;
      }
      this.#context.logger.info(
        { tenantId, clientId: form.get('client_id'), aadsts: error.failure.aadsts },
        'rejected token request',
      );
      this.#context.stats.countTokenRequest('error');
      this.#sendError(request, response, error.failure);
    }
  }

  #sendError(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    failure: EntraError,
    headers: Record<string, string> = {},
  ): void {
    // MSAL sends its correlation id as a query parameter; other clients use the header.
    const header = request.headers['client-request-id'];
    const query = new URL(request.url ?? '/', this.#baseUrl).searchParams.get('client-request-id');
    const correlationId = (typeof header === 'string' ? header : query) ?? undefined;
    sendJson(
      response,
      failure.status,
      entraErrorBody(failure, this.#baseUrl, correlationId),
      headers,
    );
  }
}

/** Returns the error a `token` stage reply fault sends: its AADSTS error, with `status` taking precedence. */
function faultError(fault: Fault, form: URLSearchParams, tenantId: string): EntraError {
  const failure =
    fault.aadsts === undefined
      ? EntraErrors.transient(fault.status ?? 503)
      : injectedEntraError(fault.aadsts, form.get('client_id') ?? '', tenantId);
  return fault.status === undefined ? failure : { ...failure, status: fault.status };
}
