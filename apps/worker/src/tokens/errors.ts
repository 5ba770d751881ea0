import { PostroomError } from '@postroom/core';
import { CertificateVerificationError } from './network-client.js';

/** `configuration`: fix the app registration or credential; `transient`: retry with backoff. */
export type TokenErrorKind = 'transient' | 'configuration';

interface AadstsEntry {
  kind: TokenErrorKind;
  summary: string;
  fix: string;
}

/**
 * Entra ID token errors by AADSTS number: what a retry can do about them and how to fix them.
 * Numbers not listed are treated as transient, so their jobs wait with backoff until the deadline.
 */
const AADSTS: Record<string, AadstsEntry> = {
  '7000215': {
    kind: 'configuration',
    summary: 'invalid client secret',
    fix: "use the secret's Value, not its Secret ID, of a current client secret of the app registration",
  },
  '7000222': {
    kind: 'configuration',
    summary: 'client secret expired',
    fix: 'create a new client secret for the app registration (or use a certificate) and update the secret variable',
  },
  '7000218': {
    kind: 'configuration',
    summary: 'no client credential in the request',
    fix: 'give the app a client secret or a certificate in the mailbox file',
  },
  '700016': {
    kind: 'configuration',
    summary: 'application not found in the tenant',
    fix: 'check clientId (Application (client) ID) and tenantId, and that the app exists in that tenant and cloud (POSTROOM_CLOUD)',
  },
  '90002': {
    kind: 'configuration',
    summary: 'tenant not found',
    fix: 'check tenantId (Directory (tenant) ID) and POSTROOM_CLOUD',
  },
  '900023': {
    kind: 'configuration',
    summary: 'invalid tenant identifier',
    fix: 'set tenantId to the Directory (tenant) ID or a verified domain of the tenant',
  },
  '700027': {
    kind: 'configuration',
    summary: 'client assertion rejected: signature invalid or certificate not registered',
    fix: "upload the certificate in certificateFile to the app registration's certificates and check that privateKeyFile is its key",
  },
  '700024': {
    kind: 'transient',
    summary: 'client assertion is not within its valid time range',
    fix: "check this host's clock (NTP): the assertion is stamped with the local time",
  },
  '7000112': {
    kind: 'configuration',
    summary: 'application is disabled',
    fix: "enable the app's service principal (Enterprise applications, Properties, Enabled for users to sign in)",
  },
  '70011': {
    kind: 'configuration',
    summary: 'invalid scope',
    fix: "check POSTROOM_CLOUD: the scope is the cloud's Exchange Online or Graph resource with /.default",
  },
  '500011': {
    kind: 'configuration',
    summary: 'resource principal not found in the tenant',
    fix: 'the tenant has no Exchange Online or Graph service principal; check tenantId and POSTROOM_CLOUD',
  },
};

/**
 * Failures of a TLS connection to the token endpoint by Node.js error code, each with its fix.
 * A code not listed means that the certificate's issuer is not trusted.
 */
const CERTIFICATE_PROBLEMS: Record<string, { summary: string; fix: (host: string) => string }> = {
  ERR_TLS_CERT_ALTNAME_INVALID: {
    summary: 'does not name that host',
    fix: () =>
      'connect by a DNS name that the certificate lists: check POSTROOM_AUTHORITY_HOST, or unset it and set POSTROOM_CLOUD',
  },
  CERT_HAS_EXPIRED: {
    summary: 'has expired',
    fix: (host) =>
      `check this host's clock (NTP); if it is right, the certificate of ${host} must be renewed`,
  },
  CERT_NOT_YET_VALID: {
    summary: 'is not valid yet',
    fix: () => "check this host's clock (NTP)",
  },
  ERR_SSL_WRONG_VERSION_NUMBER: {
    summary: 'was not received because the port does not speak TLS',
    fix: () => 'check the https:// URL and port in POSTROOM_AUTHORITY_HOST',
  },
};

const UNTRUSTED_ISSUER = {
  summary: 'is not trusted',
  fix: (host: string) =>
    `set POSTROOM_TLS_CA_FILE to the PEM file of the CA that issued the certificate of ${host}, or correct POSTROOM_CLOUD or POSTROOM_AUTHORITY_HOST if that is the wrong authority`,
};

/** AADSTS700024: the client assertion is outside its time range. A fresh assertion may pass. */
export const ASSERTION_TIME_RANGE_CODE = '700024';

/** Reduces an AADSTS number to a bounded metric label: a catalogued number or `other`. */
export function aadstsLabel(code: string | undefined): string {
  if (!code) return 'none';
  return code in AADSTS || code === ASSERTION_TIME_RANGE_CODE ? code : 'other';
}

/** A failed token request. Carries the AADSTS code and correlation id, never a secret or assertion. */
export class TokenError extends PostroomError {
  readonly kind: TokenErrorKind;
  readonly aadstsCode: string | undefined;
  readonly correlationId: string | undefined;
  /** The change that fixes the error, for errors a retry cannot fix. */
  readonly fix: string | undefined;

  constructor(
    kind: TokenErrorKind,
    code: string,
    message: string,
    details: { aadstsCode?: string; correlationId?: string; fix?: string } = {},
  ) {
    super(`POSTROOM_TOKEN_${code.toUpperCase()}`, message);
    this.kind = kind;
    this.aadstsCode = details.aadstsCode;
    this.correlationId = details.correlationId;
    this.fix = details.fix;
  }
}

interface MsalErrorFields {
  errorCode?: string;
  errorMessage?: string;
  errorNo?: string | number;
  correlationId?: string;
  message?: string;
}

/** Converts an MSAL error into a TokenError, sorted by what a retry can do about it. */
export function toTokenError(error: unknown): TokenError {
  if (error instanceof TokenError) return error;
  // A retry meets the same certificate, so this is configuration, not a network error.
  if (error instanceof CertificateVerificationError) return certificateError(error);
  const fields = (typeof error === 'object' && error !== null ? error : {}) as MsalErrorFields;
  const aadstsCode = aadstsCodeOf(fields);
  const entry = aadstsCode ? AADSTS[aadstsCode] : undefined;
  const details = {
    ...(aadstsCode ? { aadstsCode } : {}),
    ...(fields.correlationId ? { correlationId: fields.correlationId } : {}),
    ...(entry ? { fix: entry.fix } : {}),
  };

  if (entry?.kind === 'configuration') {
    return new TokenError(
      'configuration',
      'rejected',
      `Entra ID rejected the app credentials (AADSTS${aadstsCode}: ${entry.summary}); ${entry.fix}`,
      details,
    );
  }
  const reason = aadstsCode
    ? `AADSTS${aadstsCode}${entry ? `: ${entry.summary}` : ''}`
    : (fields.errorCode ?? 'network error');
  return new TokenError(
    'transient',
    'unavailable',
    `token request failed (${reason}); it will be retried`,
    details,
  );
}

function certificateError({ host, tlsCode }: CertificateVerificationError): TokenError {
  const problem = CERTIFICATE_PROBLEMS[tlsCode] ?? UNTRUSTED_ISSUER;
  const fix = problem.fix(host);
  return new TokenError(
    'configuration',
    'certificate_untrusted',
    `TLS certificate of the token endpoint ${host} ${problem.summary} (${tlsCode}); ${fix}`,
    { fix },
  );
}

/**
 * Reads the AADSTS number: MSAL's `errorNo` (the first of `error_codes`), else the `AADSTS<n>`
 * code at the start of Entra ID's error description, else the codes MSAL puts in `errorCode`
 * when it refuses a request during a Retry-After period.
 */
function aadstsCodeOf(fields: MsalErrorFields): string | undefined {
  if (fields.errorNo !== undefined && /^\d+$/.test(String(fields.errorNo)))
    return String(fields.errorNo);
  const described = /AADSTS(\d+)/.exec(`${fields.errorMessage ?? ''} ${fields.message ?? ''}`)?.[1];
  if (described) return described;
  return /^(\d+)(?: \d+)*$/.exec(fields.errorCode ?? '')?.[1];
}

/** Describes an AADSTS number for people: its meaning and fix, when known. */
export function describeAadsts(code: string): { summary: string; fix: string } | undefined {
  return AADSTS[code];
}
