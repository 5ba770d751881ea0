import { setTimeout as delay } from 'node:timers/promises';
import type { ConfidentialClientApplication } from '@azure/msal-node';
import type { Logger } from 'pino';
import type { AppConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import { ASSERTION_TIME_RANGE_CODE, aadstsLabel, TokenError, toTokenError } from './errors.js';

export interface AccessToken {
  token: string;
  expiresAtMs: number;
}

export interface TokenProviderOptions {
  app: AppConfig;
  /** The app's MSAL client, shared by every provider of the same app registration. */
  client: ConfidentialClientApplication;
  scope: string;
  logger: Logger;
  metrics: Metrics;
  /** A token is renewed this long before it expires, in ms. MSAL's own margin is 5 minutes. */
  renewBeforeExpiryMs?: number;
}

// An assertion rejected as outside its time range is signed again this many times, with a
// growing pause, before the request counts as failed.
const ASSERTION_RETRIES = 2;
const ASSERTION_RETRY_DELAY_MS = 250;

// MSAL 7 computes expiresOn as its request time rounded to the nearest second plus expires_in,
// while the token's exp is whole seconds of the server's clock, so the token can expire up to a
// second before expiresOn. The cached token is treated as expiring that much earlier.
const EXPIRY_ROUNDING_MS = 1000;

/**
 * App-only access tokens of one app registration for one scope. The token is cached until the
 * renewal margin before its expiry, and concurrent callers share one in-flight request and its
 * result or error (single flight).
 */
export class TokenProvider {
  readonly #options: TokenProviderOptions;
  #cached: AccessToken | undefined;
  #inFlight: Promise<AccessToken> | undefined;

  constructor(options: TokenProviderOptions) {
    this.#options = options;
  }

  get app(): AppConfig {
    return this.#options.app;
  }

  get scope(): string {
    return this.#options.scope;
  }

  /**
   * Returns a token valid for at least the renewal margin. `forceRefresh` skips every cache,
   * for a token the server rejected. Throws TokenError.
   */
  async getToken(forceRefresh = false): Promise<AccessToken> {
    const marginMs = this.#options.renewBeforeExpiryMs ?? 5 * 60_000;
    if (forceRefresh) this.#cached = undefined;
    if (this.#cached && this.#cached.expiresAtMs - marginMs > Date.now()) return this.#cached;

    this.#inFlight ??= this.#request(forceRefresh).finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** Forgets the cached token, so the next call requests a new one from Entra ID. */
  invalidate(): void {
    this.#cached = undefined;
  }

  async #request(skipCache: boolean): Promise<AccessToken> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#acquire(skipCache);
      } catch (error) {
        const tokenError = toTokenError(error);
        this.#record(tokenError);
        const retryable =
          tokenError.aadstsCode === ASSERTION_TIME_RANGE_CODE && attempt <= ASSERTION_RETRIES;
        if (!retryable) throw tokenError;
        await delay(ASSERTION_RETRY_DELAY_MS * attempt);
      }
    }
  }

  async #acquire(skipCache: boolean): Promise<AccessToken> {
    const { app, client, metrics, logger, scope } = this.#options;
    const started = performance.now();
    const result = await client.acquireTokenByClientCredential({ scopes: [scope], skipCache });
    if (!result?.accessToken || !result.expiresOn) {
      throw new TokenError(
        'transient',
        'empty_response',
        'token endpoint returned no access token',
      );
    }
    const token = {
      token: result.accessToken,
      expiresAtMs: result.expiresOn.getTime() - EXPIRY_ROUNDING_MS,
    };
    this.#cached = token;
    metrics.tokenRequests.inc({ app: app.name, result: 'ok' });
    metrics.tokenExpiry.set({ app: app.name }, token.expiresAtMs / 1000);
    logger.info(
      {
        app: app.name,
        scope,
        expiresAt: new Date(token.expiresAtMs).toISOString(),
        durationMs: Math.round(performance.now() - started),
      },
      'access token acquired',
    );
    return token;
  }

  #record(error: TokenError): void {
    const { app, metrics, logger, scope } = this.#options;
    metrics.tokenRequests.inc({ app: app.name, result: error.kind });
    if (error.aadstsCode) {
      metrics.authFailures.inc({
        app: app.name,
        source: 'token',
        code: aadstsLabel(error.aadstsCode),
      });
    }
    logger.warn(
      {
        app: app.name,
        scope,
        kind: error.kind,
        aadsts: error.aadstsCode,
        correlationId: error.correlationId,
        reason: error.message,
      },
      'access token request failed',
    );
  }
}
