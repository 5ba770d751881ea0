import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';

export interface RecordedRequest {
  method: 'GET' | 'POST';
  path: string;
  /** Form fields of a POST body. */
  form: URLSearchParams;
}

/**
 * Wraps an MSAL network client: records every request and rejects any URL that is not on
 * 127.0.0.1 before it is sent, so that a discovery request to login.microsoftonline.com fails
 * the test instead of leaving the machine.
 */
export class RecordingNetworkClient implements INetworkModule {
  readonly requests: RecordedRequest[] = [];
  readonly #inner: INetworkModule;

  constructor(inner: INetworkModule) {
    this.#inner = inner;
  }

  get posts(): RecordedRequest[] {
    return this.requests.filter((request) => request.method === 'POST');
  }

  sendGetRequestAsync<T>(
    url: string,
    options?: NetworkRequestOptions,
    timeout?: number,
  ): Promise<NetworkResponse<T>> {
    this.#record('GET', url, options);
    return this.#inner.sendGetRequestAsync<T>(url, options, timeout);
  }

  sendPostRequestAsync<T>(
    url: string,
    options?: NetworkRequestOptions,
  ): Promise<NetworkResponse<T>> {
    this.#record('POST', url, options);
    return this.#inner.sendPostRequestAsync<T>(url, options);
  }

  #record(method: 'GET' | 'POST', url: string, options?: NetworkRequestOptions): void {
    const target = new URL(url);
    if (target.hostname !== '127.0.0.1')
      throw new Error(`test network client refused ${method} ${url}: not loopback`);
    this.requests.push({
      method,
      path: target.pathname,
      form: new URLSearchParams(options?.body ?? ''),
    });
  }
}

/** Decodes the payload of a JWT without verifying it. */
export function jwtPayload(jwt: string | null): Record<string, unknown> {
  return JSON.parse(
    Buffer.from((jwt ?? '').split('.')[1] ?? '', 'base64url').toString('utf8'),
  ) as Record<string, unknown>;
}
