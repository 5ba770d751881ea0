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

/** A Graph response: HTTP status, the headers that matter and the parsed body. */
export interface GraphResponse {
  status: number;
  /** Retry-After of a 429 or 503, in ms. */
  retryAfterMs?: number;
  /** Graph's error code, such as `ErrorSendAsDenied`, from the JSON error body. */
  errorCode?: string;
  errorMessage?: string;
  requestId?: string;
  /** JSON body of a successful response, such as a created draft or an upload session. */
  body?: unknown;
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

export const FILE_ATTACHMENT_TYPE = '#microsoft.graph.fileAttachment';

/** A file attachment to add to a draft in one request, as Graph's `fileAttachment`. */
export interface FileAttachment {
  name: string;
  contentType: string;
  /** The file's bytes as base64. */
  contentBytes: string;
  isInline: boolean;
  contentId?: string;
}

/** The `AttachmentItem` of a createUploadSession request. */
export interface AttachmentItem {
  name: string;
  /** Size of the whole file in bytes. */
  size: number;
  contentType: string;
  isInline: boolean;
  contentId?: string;
}

interface GraphRequest {
  method: 'POST' | 'PUT' | 'DELETE';
  url: string;
  body: Buffer;
  contentType?: string;
  /** Bearer token; left out for an upload URL, which carries its own authorization. */
  accessToken?: string;
  headers?: Record<string, string>;
}

// Idle keep-alive connections close after this long, well before servers commonly drop them,
// so that a request is rarely written to a connection the server is closing.
const IDLE_SOCKET_TIMEOUT_MS = 4000;

/**
 * Sends Graph mail requests over HTTPS with certificate verification on: `sendMail`, and the
 * draft requests for messages too large for it. It never retries: the caller decides from the
 * status or from GraphNetworkError.requestSent.
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
    return this.#send({
      method: 'POST',
      url: this.#userUrl(mailbox, 'sendMail'),
      body: Buffer.from(mimeBase64, 'ascii'),
      contentType: 'text/plain',
      accessToken,
    });
  }

  /** Creates a draft in the mailbox from a base64 MIME message; Graph responds 201. */
  createDraft(mailbox: string, mimeBase64: string, accessToken: string): Promise<GraphResponse> {
    return this.#send({
      method: 'POST',
      url: this.#userUrl(mailbox, 'messages'),
      body: Buffer.from(mimeBase64, 'ascii'),
      contentType: 'text/plain',
      accessToken,
    });
  }

  /** Adds a file of under 3 MB to a draft in one request; Graph responds 201. */
  addAttachment(
    mailbox: string,
    draftId: string,
    attachment: FileAttachment,
    accessToken: string,
  ): Promise<GraphResponse> {
    const body = { '@odata.type': FILE_ATTACHMENT_TYPE, ...attachment };
    return this.#send({
      method: 'POST',
      url: this.#draftUrl(mailbox, draftId, '/attachments'),
      body: Buffer.from(JSON.stringify(body)),
      contentType: 'application/json',
      accessToken,
    });
  }

  /** Opens an upload session for one file of a draft; Graph responds 201 with its `uploadUrl`. */
  createUploadSession(
    mailbox: string,
    draftId: string,
    item: AttachmentItem,
    accessToken: string,
  ): Promise<GraphResponse> {
    const body = { AttachmentItem: { attachmentType: 'file', ...item } };
    return this.#send({
      method: 'POST',
      url: this.#draftUrl(mailbox, draftId, '/attachments/createUploadSession'),
      body: Buffer.from(JSON.stringify(body)),
      contentType: 'application/json',
      accessToken,
    });
  }

  /**
   * Uploads bytes `start` to `start + bytes.length - 1` of a file of `totalBytes` to an upload
   * URL. The URL is pre-authenticated, so the request carries no bearer token.
   */
  uploadRange(
    uploadUrl: string,
    bytes: Buffer,
    start: number,
    totalBytes: number,
  ): Promise<GraphResponse> {
    const end = start + bytes.length - 1;
    return this.#send({
      method: 'PUT',
      url: uploadUrl,
      body: bytes,
      contentType: 'application/octet-stream',
      headers: { 'content-range': `bytes ${start}-${end}/${totalBytes}` },
    });
  }

  /** Sends a draft; Graph responds 202 once it accepted the message. */
  sendDraft(mailbox: string, draftId: string, accessToken: string): Promise<GraphResponse> {
    return this.#send({
      method: 'POST',
      url: this.#draftUrl(mailbox, draftId, '/send'),
      body: Buffer.alloc(0),
      accessToken,
    });
  }

  /** Deletes a draft; Graph responds 204. */
  deleteDraft(mailbox: string, draftId: string, accessToken: string): Promise<GraphResponse> {
    return this.#send({
      method: 'DELETE',
      url: this.#draftUrl(mailbox, draftId, ''),
      body: Buffer.alloc(0),
      accessToken,
    });
  }

  close(): void {
    this.#agent.destroy();
  }

  #userUrl(mailbox: string, path: string): string {
    return `${this.#options.host}/v1.0/users/${encodeURIComponent(mailbox)}/${path}`;
  }

  #draftUrl(mailbox: string, draftId: string, suffix: string): string {
    return this.#userUrl(mailbox, `messages/${encodeURIComponent(draftId)}${suffix}`);
  }

  #send(graphRequest: GraphRequest): Promise<GraphResponse> {
    const { method, url, body, contentType, accessToken } = graphRequest;
    const headers: Record<string, string> = {
      ...graphRequest.headers,
      'content-length': String(body.length),
      ...(contentType ? { 'content-type': contentType } : {}),
      ...(accessToken ? { authorization: `Bearer ${accessToken}` } : {}),
    };

    return new Promise((resolve, reject) => {
      let requestSent = false;
      const req = request(url, { method, agent: this.#agent, headers });
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

  const parsed = parseJson(body);
  if (status < 400) {
    if (parsed !== undefined) response.body = parsed;
    return response;
  }
  // A body that is not Graph's JSON error leaves only the status to go by.
  const error = (parsed as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  if (typeof error?.code === 'string') response.errorCode = error.code;
  if (typeof error?.message === 'string') response.errorMessage = error.message.slice(0, 300);
  return response;
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** Reads Retry-After as seconds or an HTTP date; returns ms from now. */
function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined || text.trim() === '') return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
