import { ConfidentialClientApplication, type INetworkModule, LogLevel } from '@azure/msal-node';
import type { Logger } from 'pino';
import type { AppConfig, MailboxConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import { ClientAssertionSigner } from './assertion.js';
import { authorityOptions } from './authority.js';
import { TokenProvider } from './provider.js';

export interface TokenProvidersOptions {
  authorityHost: string;
  networkClient: INetworkModule;
  logger: Logger;
  metrics: Metrics;
  /** A token is renewed this long before it expires, in ms. */
  renewBeforeExpiryMs: number;
}

/** Identifies an app registration: tenant and client id, compared case-insensitively. */
export function appIdentity(app: Pick<AppConfig, 'tenantId' | 'clientId'>): string {
  return `${app.tenantId.toLowerCase()}/${app.clientId.toLowerCase()}`;
}

/**
 * The process's MSAL clients and token providers: one ConfidentialClientApplication per
 * (authority, tenant, client id) and one provider per client and scope, created on first use and
 * kept for the life of the process. Two configured apps with the same tenant and client id share
 * both, so they share one token cache and one in-flight request.
 */
export class TokenProviders {
  readonly #options: TokenProvidersOptions;
  readonly #clients = new Map<string, ConfidentialClientApplication>();
  readonly #providers = new Map<string, TokenProvider>();

  constructor(options: TokenProvidersOptions) {
    this.#options = options;
  }

  /** Number of MSAL clients created so far. */
  get clientCount(): number {
    return this.#clients.size;
  }

  /** Returns the provider of `app`'s tokens for `scope`. */
  for(app: AppConfig, scope: string): TokenProvider {
    const clientKey = `${new URL(this.#options.authorityHost).origin}|${appIdentity(app)}`;
    const providerKey = `${clientKey}|${scope}`;
    let provider = this.#providers.get(providerKey);
    if (!provider) {
      provider = new TokenProvider({
        app,
        client: this.#client(clientKey, app),
        scope,
        logger: this.#options.logger,
        metrics: this.#options.metrics,
        renewBeforeExpiryMs: this.#options.renewBeforeExpiryMs,
      });
      this.#providers.set(providerKey, provider);
    }
    return provider;
  }

  #client(key: string, app: AppConfig): ConfidentialClientApplication {
    let client = this.#clients.get(key);
    if (!client) {
      client = createClient(app, this.#options);
      this.#clients.set(key, client);
    }
    return client;
  }
}

function createClient(
  app: AppConfig,
  options: TokenProvidersOptions,
): ConfidentialClientApplication {
  const authority = authorityOptions(options.authorityHost, app.tenantId);
  const { logger } = options;
  return new ConfidentialClientApplication({
    auth: { clientId: app.clientId, ...authority, ...credentialOptions(app, authority.authority) },
    system: {
      networkClient: options.networkClient,
      loggerOptions: {
        piiLoggingEnabled: false,
        logLevel: logger.isLevelEnabled('debug') ? LogLevel.Info : LogLevel.Warning,
        loggerCallback: (_level, message, containsPii) => {
          if (!containsPii) logger.debug({ app: app.name, msal: message }, 'msal message');
        },
      },
    },
  });
}

// A certificate credential goes to MSAL as an assertion callback, not as `clientCertificate`.
// MSAL 7 reuses one assertion made from `clientCertificate` for up to 10 minutes, so its retry
// after AADSTS700024 (assertion outside its time range) would send the rejected assertion again.
// The callback signs a new assertion for every token request.
function credentialOptions(app: AppConfig, authority: string) {
  const { credential } = app;
  if (credential.kind === 'secret') return { clientSecret: credential.clientSecret };

  const signer = new ClientAssertionSigner(credential);
  return {
    clientAssertion: async (config: { clientId: string; tokenEndpoint?: string }) =>
      signer.sign(config.clientId, config.tokenEndpoint ?? `${authority}/oauth2/v2.0/token`),
  };
}

/**
 * Returns the mailboxes that authenticate as the same app registration as `appName`: every
 * configured app with its tenant and client id. A credential Entra ID rejects stops them all.
 */
export function mailboxesSharingApp(
  config: { apps: readonly AppConfig[]; mailboxes: readonly MailboxConfig[] },
  appName: string,
): MailboxConfig[] {
  const app = config.apps.find((candidate) => candidate.name === appName);
  if (!app) return [];
  const identity = appIdentity(app);
  const names = new Set(
    config.apps
      .filter((candidate) => appIdentity(candidate) === identity)
      .map((candidate) => candidate.name),
  );
  return config.mailboxes.filter((mailbox) => names.has(mailbox.app));
}
