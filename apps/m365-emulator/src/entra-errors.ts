import { randomUUID } from 'node:crypto';

/** A token endpoint error: HTTP status, OAuth error code and AADSTS number with its text. */
export interface EntraError {
  status: number;
  error: string;
  aadsts: number;
  message: string;
}

/** Token endpoint errors with Entra ID's status, OAuth error code, AADSTS number and text. */
export const EntraErrors = {
  tenantNotFound: (tenantId: string): EntraError => ({
    status: 400,
    error: 'invalid_request',
    aadsts: 90002,
    message: `Tenant '${tenantId}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.`,
  }),
  unknownClient: (clientId: string, tenantId: string): EntraError => ({
    status: 400,
    error: 'unauthorized_client',
    aadsts: 700016,
    message: `Application with identifier '${clientId}' was not found in the directory '${tenantId}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.`,
  }),
  invalidSecret: (clientId: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    aadsts: 7000215,
    message: `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
  }),
  expiredSecret: (clientId: string): EntraError => ({
    status: 401,
    error: 'invalid_client',
    aadsts: 7000222,
    message: `The provided client secret keys for app '${clientId}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.`,
  }),
  missingCredential: (): EntraError => ({
    status: 401,
    error: 'invalid_client',
    aadsts: 7000218,
    message:
      "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
  }),
  invalidAssertionSignature: (): EntraError => ({
    status: 401,
    error: 'invalid_client',
    aadsts: 700027,
    message: 'Client assertion contains an invalid signature.',
  }),
  assertionOutsideTimeRange: (): EntraError => ({
    status: 401,
    error: 'invalid_client',
    aadsts: 700024,
    message: 'Client assertion is not within its valid time range.',
  }),
  missingParameter: (name: string): EntraError => ({
    status: 400,
    error: 'invalid_request',
    aadsts: 900144,
    message: `The request body must contain the following parameter: '${name}'.`,
  }),
  unsupportedGrantType: (grantType: string): EntraError => ({
    status: 400,
    error: 'unsupported_grant_type',
    aadsts: 70003,
    message: `The app requested an unsupported grant type '${grantType}'.`,
  }),
  missingScope: (): EntraError => ({
    status: 400,
    error: 'invalid_scope',
    aadsts: 70011,
    message: "The provided request must include a 'scope' input parameter.",
  }),
  invalidScope: (scope: string): EntraError => ({
    status: 400,
    error: 'invalid_scope',
    aadsts: 70011,
    message: `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
  }),
  /** The reply of a `token` stage fault. */
  transient: (status: number): EntraError => ({
    status,
    error: 'temporarily_unavailable',
    aadsts: 90033,
    message: 'A transient error has occurred. Please try again.',
  }),
};

/**
 * Returns the error of a `token` stage fault that names an AADSTS number. Numbers listed here get
 * Entra ID's own status, code and text; others get a 400 `invalid_request` with a generic text.
 */
export function injectedEntraError(aadsts: number, clientId: string, tenantId: string): EntraError {
  const known: Record<number, () => EntraError> = {
    90002: () => EntraErrors.tenantNotFound(tenantId),
    90033: () => EntraErrors.transient(503),
    700016: () => EntraErrors.unknownClient(clientId, tenantId),
    700024: () => EntraErrors.assertionOutsideTimeRange(),
    700027: () => EntraErrors.invalidAssertionSignature(),
    7000215: () => EntraErrors.invalidSecret(clientId),
    7000222: () => EntraErrors.expiredSecret(clientId),
  };
  const build = known[aadsts];
  if (build !== undefined) {
    return build();
  }
  return {
    status: 400,
    error: 'invalid_request',
    aadsts,
    message: 'Error injected by the emulator.',
  };
}

export interface EntraErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri: string;
}

/**
 * Builds the JSON body Entra ID sends with a token error. `correlationId` echoes the client's
 * `client-request-id` header when it sent one.
 */
export function entraErrorBody(
  failure: EntraError,
  baseUrl: string,
  correlationId: string = randomUUID(),
): EntraErrorBody {
  const timestamp = `${new Date().toISOString().slice(0, 19).replace('T', ' ')}Z`;
  const traceId = randomUUID();
  const description =
    `AADSTS${failure.aadsts}: ${failure.message}\r\nTrace ID: ${traceId}\r\n` +
    `Correlation ID: ${correlationId}\r\nTimestamp: ${timestamp}`;
  return {
    error: failure.error,
    error_description: description,
    error_codes: [failure.aadsts],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `${baseUrl}/error?code=${failure.aadsts}`,
  };
}

/** A token request failed with an Entra ID error. */
export class EntraRequestError extends Error {
  readonly failure: EntraError;

  constructor(failure: EntraError) {
    super(`AADSTS${failure.aadsts}: ${failure.message}`);
    this.name = 'EntraRequestError';
    this.failure = failure;
  }
}
