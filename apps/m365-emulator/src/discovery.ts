/**
 * Builds the OpenID Connect metadata of a tenant, shaped like Entra ID's v2.0 document, with every
 * endpoint on the emulator. `baseUrl` is `https://host:port`.
 */
export function openIdConfiguration(baseUrl: string, tenantId: string): Record<string, unknown> {
  const authority = `${baseUrl}/${tenantId}`;
  return {
    token_endpoint: `${authority}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: [
      'client_secret_post',
      'private_key_jwt',
      'client_secret_basic',
    ],
    jwks_uri: `${authority}/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `${authority}/v2.0`,
    request_uri_parameter_supported: false,
    authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
    device_authorization_endpoint: `${authority}/oauth2/v2.0/devicecode`,
    end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
    http_logout_supported: true,
    frontchannel_logout_supported: true,
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nbf', 'tid', 'oid', 'roles'],
    tenant_region_scope: 'EU',
    cloud_instance_name: new URL(baseUrl).host,
  };
}

/**
 * Builds the response of Entra ID's instance discovery endpoint (`/common/discovery/instance`)
 * for an authority on the emulator. `authorizationEndpoint` is the query parameter MSAL sends, and
 * its first path segment names the tenant.
 */
export function instanceDiscovery(
  baseUrl: string,
  authorizationEndpoint: string | null,
): Record<string, unknown> {
  const host = new URL(baseUrl).host;
  const tenantId = tenantOf(authorizationEndpoint) ?? 'common';
  return {
    tenant_discovery_endpoint: `${baseUrl}/${tenantId}/v2.0/.well-known/openid-configuration`,
    'api-version': '1.1',
    metadata: [{ preferred_network: host, preferred_cache: host, aliases: [host] }],
  };
}

function tenantOf(authorizationEndpoint: string | null): string | undefined {
  if (authorizationEndpoint === null || !URL.canParse(authorizationEndpoint)) {
    return undefined;
  }
  const [firstSegment] = new URL(authorizationEndpoint).pathname.split('/').filter(Boolean);
  return firstSegment;
}
