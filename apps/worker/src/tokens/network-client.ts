import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';

const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * MSAL network client over node:https that trusts the system CAs plus an optional extra CA,
 * with certificate verification on. Used for a private authority such as the local emulator,
 * without changing NODE_EXTRA_CA_CERTS for the whole process.
 */
export function createNetworkClient(extraCa?: string | Buffer): INetworkModule {
  const ca = extraCa ? [...rootCertificates, extraCa.toString()] : undefined;

  const send = <T>(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions, timeoutMs?: number) =>
    new Promise<NetworkResponse<T>>((resolve, reject) => {
      const body = options?.body;
      const req = request(
        url,
        {
          method,
          headers: { ...options?.headers, ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}) },
          ...(ca ? { ca } : {}),
          timeout: timeoutMs ?? DEFAULT_TIMEOUT_MS,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({ status: res.statusCode ?? 0, headers: flattenHeaders(res.headers), body: parseBody<T>(text) });
          });
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error(`request to ${new URL(url).host} timed out`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end(body);
    });

  return {
    sendGetRequestAsync: (url, options, timeout) => send('GET', url, options, timeout),
    sendPostRequestAsync: (url, options) => send('POST', url, options),
  };
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
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
