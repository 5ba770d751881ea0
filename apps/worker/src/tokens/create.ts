import type { Logger } from 'pino';
import type { WorkerConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import { createNetworkClient } from './network-client.js';
import { TokenProviders } from './registry.js';

/**
 * Creates the process's token providers for the configured authority. MSAL may reach only the
 * authority's origin: with the authority metadata written out, its one request is the token POST.
 */
export function createTokenProviders(
  config: Pick<WorkerConfig, 'authorityHost' | 'tokenRenewBeforeExpiryMs'>,
  extraCa: Buffer | undefined,
  logger: Logger,
  metrics: Metrics,
): TokenProviders {
  const networkClient = createNetworkClient({
    ...(extraCa ? { extraCa } : {}),
    allowedOrigins: [config.authorityHost],
  });
  return new TokenProviders({
    authorityHost: config.authorityHost,
    networkClient,
    logger,
    metrics,
    renewBeforeExpiryMs: config.tokenRenewBeforeExpiryMs,
  });
}
