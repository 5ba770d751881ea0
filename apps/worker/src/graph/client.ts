import { Agent, request } from 'node:https';
import { rootCertificates } from 'node:tls';

export interface GraphClientOptions {
  /** Graph base URL such as `https://graph.microsoft.com`. */
  host: string;
  /** Extra CA certificates (PEM) to trust besides the system CAs; verification stays on. */
  ca?: string | Buffer;
  /** Time to wait for the response once the request is sent, in ms. */
  timeoutMs: number;
}

/** A Graph response: HTTP status, the headers that matter and the parsed error, if any. */
export interface GraphResponse {
  status: number;
  /** Retry-After of a 429 or 503, in ms. */
  retryAfterMs?: number;
  /** Graph's error code, such as `ErrorSendAsDenied`, from the JSON error body. */
  errorCode?: string;
  errorMessage?: string;
  requestId?: string;
}

/** A request that ended without a response. `requestSent` is true when Graph may have received it. */
export class GraphNetworkError extends Error {
  readonly code: string;
  readonly requestSent: boolean;

  constructor(code: string, requestSent: boolean, cause: unknown) {
    super(
      `Graph request failed (${code}) ${requestSent ? 'after' : 'before'} the request was sent`,
      { cause },
    );
    this.name = 'GraphNetworkError';
    this.code = code;
    this.requestSent = requestSent;
  }
}

// Idle keep-alive connections close after this long, well before servers commonly drop them,
// so that a request is rarely written to a connection the server is closing.
const IDLE_SOCKET_TIMEOUT_MS = 4000;

/**
 * Sends `sendMail` requests over HTTPS with certificate verification on. It never retries:
 * the caller decides from the status or from GraphNetworkError.requestSent.
 */
export class GraphMailClient {
  readonly #options: GraphClientOptions;
  readonly #agent: Agent;

  constructor(options: GraphClientOptions) {
    this.#options = options;
    const ca = options.ca ? [...rootCertificates, options.ca.toString()] : undefined;
    this.#agent = new Agent({
      keepAlive: true,
      timeout: IDLE_SOCKET_TIMEOUT_MS,
      ...(ca ? { ca } : {}),
    });
  }

  /** Posts a MIME message, base64-encoded as Graph requires, to the mailbox's `sendMail`. */
  sendMail(mailbox: string, mimeBase64: string, accessToken: string): Promise<GraphResponse> {
    const url = `${this.#options.host}/v1.0/users/${encodeURIComponent(mailbox)}/sendMail`;
    const body = Buffer.from(mimeBase64, 'ascii');

    return new Promise((resolve, reject) => {
      let requestSent = false;
      const req = request(url, {
        method: 'POST',
        agent: this.#agent,
        headers: {
          authorization: `Bearer ${accessToken}`,
          'content-type': 'text/plain',
          'content-length': String(body.length),
        },
      });
      req.setTimeout(this.#options.timeoutMs, () => {
        req.destroy(Object.assign(new Error('Graph request timed out'), { code: 'ETIMEDOUT' }));
      });
      req.on('finish', () => {
        requestSent = true;
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        reject(new GraphNetworkError(error.code ?? 'UNKNOWN', requestSent, error));
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error: NodeJS.ErrnoException) =>
          reject(new GraphNetworkError(error.code ?? 'UNKNOWN', true, error)),
        );
        res.on('end', () =>
          resolve(parseResponse(res.statusCode ?? 0, res.headers, Buffer.concat(chunks))),
        );
      });
      req.end(body);
    });
  }

  close(): void {
    this.#agent.destroy();
  }
}

function parseResponse(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: Buffer,
): GraphResponse {
  const response: GraphResponse = { status };
  const retryAfterMs = parseRetryAfter(headers['retry-after']);
  if (retryAfterMs !== undefined) response.retryAfterMs = retryAfterMs;
  const requestId = headers['request-id'];
  if (typeof requestId === 'string') response.requestId = requestId;
  if (status >= 400) {
    try {
      const parsed = JSON.parse(body.toString('utf8')) as {
        error?: { code?: unknown; message?: unknown };
      };
      if (typeof parsed.error?.code === 'string') response.errorCode = parsed.error.code;
      if (typeof parsed.error?.message === 'string')
        response.errorMessage = parsed.error.message.slice(0, 300);
    } catch {
      // A body that is not Graph's JSON error leaves only the status to go by.
    }
  }
  return response;
}

/** Reads Retry-After as seconds or an HTTP date; returns ms from now. */
function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
