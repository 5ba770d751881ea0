import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import {
  AuthError,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';
import { isTlsVerificationCode } from '@postroom/core';

const DEFAULT_TIMEOUT_MS = 15_000;

export interface NetworkClientOptions {
  /** Extra CA certificates (PEM) to trust besides the system CAs. */
  extraCa?: string | Buffer;
  /**
   * Origins (`https://host:port`) requests may go to. A request anywhere else is rejected
   * before it leaves the process. Default: any origin.
   */
  allowedOrigins?: string[];
}

/** A request to an origin the network client does not allow. */
export class DisallowedOriginError extends Error {
  readonly code = 'ERR_POSTROOM_DISALLOWED_ORIGIN';

  constructor(url: string) {
    super(
      `request to ${new URL(url).origin} refused: only the configured authority may be contacted`,
    );
    this.name = 'DisallowedOriginError';
  }
}

/**
 * The authority's TLS certificate failed verification, or its port does not speak TLS. It is an
 * MSAL AuthError because MSAL rethrows those unchanged, while it replaces any other error from a
 * network client with a `network_error` that has no cause.
 */
export class CertificateVerificationError extends AuthError {
  /** Host of the authority, with the port unless it is 443, such as `login.microsoftonline.com`. */
  readonly host: string;
  /** Node.js TLS error code, such as `SELF_SIGNED_CERT_IN_CHAIN`. */
  readonly tlsCode: string;

  constructor(host: string, tlsCode: string) {
    // MSAL fills in the correlation id of the token request when it rethrows the error.
    super('certificate_verification_failed', '', `TLS with ${host} failed: ${tlsCode}`);
    // AuthError sets its own prototype, which would hide this subclass from instanceof.
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = 'CertificateVerificationError';
    this.host = host;
    this.tlsCode = tlsCode;
  }
}

/**
 * MSAL network client over node:https that trusts the system CAs plus an optional extra CA,
 * with certificate verification on, and reaches only the allowed origins. Used for a private
 * authority such as the local emulator, without changing NODE_EXTRA_CA_CERTS for the process.
 */
export function createNetworkClient(options: NetworkClientOptions = {}): INetworkModule {
  const ca = options.extraCa ? [...rootCertificates, options.extraCa.toString()] : undefined;
  const allowed = options.allowedOrigins
    ? new Set(options.allowedOrigins.map((origin) => new URL(origin).origin))
    : undefined;

  const send = <T>(
    method: 'GET' | 'POST',
    url: string,
    requestOptions?: NetworkRequestOptions,
    timeoutMs?: number,
  ) =>
    new Promise<NetworkResponse<T>>((resolve, reject) => {
      if (allowed && !allowed.has(new URL(url).origin)) {
        reject(new DisallowedOriginError(url));
        return;
      }
      const body = requestOptions?.body;
      const req = request(
        url,
        {
          method,
          headers: {
            ...requestOptions?.headers,
            ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}),
          },
          ...(ca ? { ca } : {}),
          timeout: timeoutMs ?? DEFAULT_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({
              status: res.statusCode ?? 0,
              headers: flattenHeaders(res.headers),
              body: parseBody<T>(text),
            });
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(
          Object.assign(new Error(`request to ${new URL(url).host} timed out`), {
            code: 'ETIMEDOUT',
          }),
        ),
      );
      req.on('error', (error: NodeJS.ErrnoException) => {
        const host = new URL(url).host;
        reject(
          isTlsVerificationCode(error.code)
            ? new CertificateVerificationError(host, error.code as string)
            : error,
        );
      });
      req.end(body);
    });

  return {
    sendGetRequestAsync: (url, requestOptions, timeout) =>
      send('GET', url, requestOptions, timeout),
    sendPostRequestAsync: (url, requestOptions) => send('POST', url, requestOptions),
  };
}

function flattenHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}

function parseBody<T>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return { error: 'invalid_response', error_description: text.slice(0, 200) } as T;
  }
}
