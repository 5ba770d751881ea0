import { PostroomError } from '@postroom/core';

/** `configuration`: fix the app registration or secret; `transient`: retry with backoff. */
export type TokenErrorKind = 'transient' | 'configuration';

// AADSTS codes that no retry fixes: bad or expired secret, unknown app or tenant, bad scope.
const CONFIGURATION_CODES = new Set(['7000215', '7000222', '700016', '90002', '70011', '700027', '7000112']);

/** A failed token request. Carries the AADSTS code and correlation id, never the secret. */
export class TokenError extends PostroomError {
  readonly kind: TokenErrorKind;
  readonly aadstsCode: string | undefined;
  readonly correlationId: string | undefined;

  constructor(kind: TokenErrorKind, code: string, message: string, details: { aadstsCode?: string; correlationId?: string } = {}) {
    super(`POSTROOM_TOKEN_${code.toUpperCase()}`, message);
    this.kind = kind;
    this.aadstsCode = details.aadstsCode;
    this.correlationId = details.correlationId;
  }
}

/** Converts an MSAL error into a TokenError, sorted by what a retry can do about it. */
export function toTokenError(error: unknown): TokenError {
  const details = error as { errorCode?: string; errorMessage?: string; correlationId?: string; message?: string };
  const text = `${details.errorMessage ?? ''} ${details.message ?? ''}`;
  const aadstsCode = /AADSTS(\d+)/.exec(text)?.[1];
  const extra = {
    ...(aadstsCode ? { aadstsCode } : {}),
    ...(details.correlationId ? { correlationId: details.correlationId } : {}),
  };

  if (aadstsCode && CONFIGURATION_CODES.has(aadstsCode)) {
    return new TokenError(
      'configuration',
      'rejected',
      `Entra ID rejected the app credentials (AADSTS${aadstsCode}); check the tenant id, client id and secret`,
      extra,
    );
  }
  const reason = aadstsCode ? `AADSTS${aadstsCode}` : (details.errorCode ?? 'network error');
  return new TokenError('transient', 'unavailable', `token request failed (${reason}); it will be retried`, extra);
}
