import type { Logger } from 'pino';
import type { TokenProvider } from '../tokens/provider.js';
import { classifyGraphNetworkError, classifyGraphResponse, type GraphStep } from './classify.js';
import { GraphNetworkError, type GraphResponse } from './client.js';

/**
 * The Graph requests of one submission, which share one access token. A 401 gets one retry with
 * a fresh token per submission, like `535 5.7.3` over SMTP, because a cached token may have been
 * revoked. Every other unexpected status or a lost response throws the step's GraphFailure.
 */
export class GraphRequests {
  readonly #provider: TokenProvider;
  readonly #logger: Logger;
  #accessToken: string;
  #refreshed = false;

  private constructor(provider: TokenProvider, logger: Logger, accessToken: string) {
    this.#provider = provider;
    this.#logger = logger;
    this.#accessToken = accessToken;
  }

  /** Fetches the access token; throws TokenError when Entra ID has none to give. */
  static async start(provider: TokenProvider, logger: Logger): Promise<GraphRequests> {
    const accessToken = await provider.getToken();
    return new GraphRequests(provider, logger, accessToken.token);
  }

  /** Sends a request with the bearer token and returns its response if the status is expected. */
  async authorized(
    step: GraphStep,
    expectedStatuses: number[],
    send: (accessToken: string) => Promise<GraphResponse>,
  ): Promise<GraphResponse> {
    for (;;) {
      const response = await sendClassified(step, () => send(this.#accessToken));
      if (expectedStatuses.includes(response.status)) return response;

      const failure = classifyGraphResponse(response, step);
      if (failure.classification.reason !== 'token_rejected' || this.#refreshed) throw failure;
      this.#logger.warn(
        { step, requestId: response.requestId },
        'Graph rejected the token with 401; retrying once with a fresh token',
      );
      this.#accessToken = (await this.#provider.getToken(true)).token;
      this.#refreshed = true;
    }
  }

  /** Sends a request to a pre-authenticated URL; returns its response if the status is expected. */
  async preauthorized(
    step: GraphStep,
    expectedStatuses: number[],
    send: () => Promise<GraphResponse>,
  ): Promise<GraphResponse> {
    const response = await sendClassified(step, send);
    if (expectedStatuses.includes(response.status)) return response;
    throw classifyGraphResponse(response, step);
  }
}

/** Runs `send`, turning a request without a response into the step's GraphFailure. */
async function sendClassified(
  step: GraphStep,
  send: () => Promise<GraphResponse>,
): Promise<GraphResponse> {
  try {
    return await send();
  } catch (error) {
    if (error instanceof GraphNetworkError) throw classifyGraphNetworkError(error, step);
    throw error;
  }
}
