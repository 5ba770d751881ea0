import { ConfidentialClientApplication, type INetworkModule, LogLevel } from '@azure/msal-node';
import type { Logger } from 'pino';
import type { AppConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import { TokenError, toTokenError } from './errors.js';

export interface AccessToken {
  token: string;
  expiresAtMs: number;
}

export interface TokenProviderOptions {
  app: AppConfig;
  authorityHost: string;
  scope: string;
  networkClient: INetworkModule;
  logger: Logger;
  metrics: Metrics;
  /** A token is renewed this long before it expires, in ms. MSAL's own margin is 5 minutes. */
  renewBeforeExpiryMs?: number;
}

/**
 * App-only access tokens for one app registration. One MSAL ConfidentialClientApplication per
 * (authority, tenant, client id) lives as long as the provider, and concurrent callers share one
 * in-flight request and its result or error.
 */
export class TokenProvider {
  readonly #options: TokenProviderOptions;
  readonly #msal: ConfidentialClientApplication;
  #cached: AccessToken | undefined;
  #inFlight: Promise<AccessToken> | undefined;

  constructor(options: TokenProviderOptions) {
    this.#options = options;
    const authorityUrl = new URL(`${options.authorityHost}/${options.app.tenantId}`);
    this.#msal = new ConfidentialClientApplication({
      auth: {
        clientId: options.app.clientId,
        clientSecret: options.app.clientSecret,
        authority: authorityUrl.href,
        knownAuthorities: [authorityUrl.host],
      },
      system: {
        networkClient: options.networkClient,
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          loggerCallback: (_level, message, containsPii) => {
            if (!containsPii) options.logger.debug({ msal: message }, 'msal message');
          },
        },
      },
    });
  }

  /**
   * Returns a token valid for at least the renewal margin. `forceRefresh` skips every cache,
   * for a token the server rejected.
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

  /** Forgets the cached token, so the next call asks Entra ID again. */
  invalidate(): void {
    this.#cached = undefined;
  }

  async #request(skipCache: boolean): Promise<AccessToken> {
    const { app, metrics, logger, scope } = this.#options;
    const started = performance.now();
    try {
      const result = await this.#msal.acquireTokenByClientCredential({ scopes: [scope], skipCache });
      if (!result?.accessToken || !result.expiresOn) {
        throw new TokenError('transient', 'empty_response', 'token endpoint returned no access token');
      }
      const token = { token: result.accessToken, expiresAtMs: result.expiresOn.getTime() };
      this.#cached = token;
      metrics.tokenRequests.inc({ app: app.name, result: 'ok' });
      metrics.tokenExpiry.set({ app: app.name }, token.expiresAtMs / 1000);
      logger.info(
        { app: app.name, expiresAt: new Date(token.expiresAtMs).toISOString(), durationMs: Math.round(performance.now() - started) },
        'access token acquired',
      );
      return token;
    } catch (error) {
      const tokenError = error instanceof TokenError ? error : toTokenError(error);
      metrics.tokenRequests.inc({ app: app.name, result: tokenError.kind });
      logger.warn(
        { app: app.name, kind: tokenError.kind, aadsts: tokenError.aadstsCode, correlationId: tokenError.correlationId },
        'access token request failed',
      );
      throw tokenError;
    }
  }
}
