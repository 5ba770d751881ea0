/** The MSAL `auth` options that fix the authority of one tenant. */
export interface AuthorityOptions {
  authority: string;
  knownAuthorities: string[];
  authorityMetadata: string;
  cloudDiscoveryMetadata: string;
}

/**
 * Builds MSAL's authority options for `{authorityHost}/{tenantId}` with the OpenID metadata and
 * instance discovery documents written out from the URL, shaped like Entra ID's v2.0 ones. With
 * both given and the host in `knownAuthorities`, MSAL (7.x) makes no discovery request: its only
 * request is the token POST to `{authority}/oauth2/v2.0/token`. That holds for the public and
 * national clouds, whose endpoints follow this pattern, and for a private test authority.
 */
export function authorityOptions(authorityHost: string, tenantId: string): AuthorityOptions {
  const origin = new URL(authorityHost).origin;
  const host = new URL(origin).host;
  const authority = `${origin}/${encodeURIComponent(tenantId)}`;

  const openIdConfiguration = {
    token_endpoint: `${authority}/oauth2/v2.0/token`,
    authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
    end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
    jwks_uri: `${authority}/discovery/v2.0/keys`,
    issuer: `${authority}/v2.0`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt'],
  };
  const instanceDiscovery = {
    tenant_discovery_endpoint: `${authority}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
  };
  return {
    authority,
    knownAuthorities: [host],
    authorityMetadata: JSON.stringify(openIdConfiguration),
    cloudDiscoveryMetadata: JSON.stringify(instanceDiscovery),
  };
}
