import { instanceDiscovery, openIdConfiguration } from './discovery.js';
import type { Emulator } from './types.js';

/** MSAL `auth` options that let a client skip every metadata request. */
export interface MsalMetadata {
  authorityMetadata: string;
  cloudDiscoveryMetadata: string;
}

/**
 * Returns the OpenID metadata and instance discovery documents of a tenant on the emulator as
 * the JSON strings MSAL accepts in `auth.authorityMetadata` and `auth.cloudDiscoveryMetadata`.
 * With both set, MSAL's only request is the token request.
 */
export function msalMetadataFor(emulator: Emulator, tenantId: string): MsalMetadata {
  const authority = emulator.authorityUrl(tenantId);
  const baseUrl = new URL(authority).origin;
  return {
    authorityMetadata: JSON.stringify(openIdConfiguration(baseUrl, tenantId)),
    cloudDiscoveryMetadata: JSON.stringify(
      instanceDiscovery(baseUrl, `${authority}/oauth2/v2.0/authorize`),
    ),
  };
}
