import { createHash, timingSafeEqual } from 'node:crypto';
import { JWT_BEARER_ASSERTION_TYPE, verifyClientAssertion } from './client-assertion.js';
import type { Directory } from './directory.js';
import { EntraErrors, EntraRequestError } from './entra-errors.js';
import { type CredentialKind, TokenAuthority } from './token-authority.js';
import type { EmulatorApp } from './types.js';

/** Scopes MSAL may add to any request; the client credentials grant ignores them. */
const OPENID_SCOPES = new Set(['openid', 'profile', 'offline_access']);
const DEFAULT_SCOPE_SUFFIX = '/.default';

/** The successful token response body. */
export interface TokenResponseBody {
  token_type: 'Bearer';
  expires_in: number;
  ext_expires_in: number;
  access_token: string;
}

/**
 * Runs a client credentials grant from the form fields of a token request. Rejects with an
 * EntraRequestError carrying the error Entra ID would return.
 */
export async function grantClientCredentials(
  directory: Directory,
  tokens: TokenAuthority,
  tenantId: string,
  form: URLSearchParams,
  tokenUrl: string,
): Promise<TokenResponseBody> {
  if (!directory.hasTenant(tenantId)) {
    throw new EntraRequestError(EntraErrors.tenantNotFound(tenantId));
  }
  const grantType = requireParameter(form, 'grant_type');
  if (grantType !== 'client_credentials') {
    throw new EntraRequestError(EntraErrors.unsupportedGrantType(grantType));
  }
  const clientId = requireParameter(form, 'client_id');
  const app = directory.findApp(tenantId, clientId);
  if (app === undefined) {
    throw new EntraRequestError(EntraErrors.unknownClient(clientId, tenantId));
  }
  const resource = resourceOf(form.get('scope'));
  const credential = await authenticateClient(app, form, tokenUrl);

  const issued = await tokens.issue(app, resource, credential);
  return {
    token_type: 'Bearer',
    expires_in: issued.expiresInSeconds,
    ext_expires_in: issued.expiresInSeconds,
    access_token: issued.accessToken,
  };
}

function requireParameter(form: URLSearchParams, name: string): string {
  const value = form.get(name);
  if (value === null || value === '') {
    throw new EntraRequestError(EntraErrors.missingParameter(name));
  }
  return value;
}

/** Returns the resource of a `{resource}/.default` scope, the only kind this grant accepts. */
function resourceOf(scopeParameter: string | null): string {
  if (scopeParameter === null || scopeParameter.trim() === '') {
    throw new EntraRequestError(EntraErrors.missingScope());
  }
  const scopes = scopeParameter.split(/\s+/).filter((scope) => !OPENID_SCOPES.has(scope));
  const [scope] = scopes;
  const resource = scope?.endsWith(DEFAULT_SCOPE_SUFFIX)
    ? scope.slice(0, -DEFAULT_SCOPE_SUFFIX.length)
    : undefined;
  if (scopes.length !== 1 || resource === undefined || !TokenAuthority.isKnownResource(resource)) {
    throw new EntraRequestError(EntraErrors.invalidScope(scopeParameter));
  }
  return resource;
}

async function authenticateClient(
  app: EmulatorApp,
  form: URLSearchParams,
  tokenUrl: string,
): Promise<CredentialKind> {
  const secret = form.get('client_secret');
  if (secret !== null) {
    if (app.clientSecret === undefined || !secretsMatch(secret, app.clientSecret)) {
      throw new EntraRequestError(EntraErrors.invalidSecret(app.clientId));
    }
    return 'secret';
  }
  const assertion = form.get('client_assertion');
  if (assertion !== null) {
    if (form.get('client_assertion_type') !== JWT_BEARER_ASSERTION_TYPE) {
      throw new EntraRequestError(EntraErrors.missingParameter('client_assertion_type'));
    }
    await verifyClientAssertion(app, assertion, tokenUrl);
    return 'certificate';
  }
  throw new EntraRequestError(EntraErrors.missingCredential());
}

/** Compares in constant time; hashing first makes the inputs equal in length. */
function secretsMatch(received: string, expected: string): boolean {
  const receivedHash = createHash('sha256').update(received).digest();
  const expectedHash = createHash('sha256').update(expected).digest();
  return timingSafeEqual(receivedHash, expectedHash);
}
