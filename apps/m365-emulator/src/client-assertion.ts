import { createHash, X509Certificate } from 'node:crypto';
import { decodeProtectedHeader, importX509, errors as joseErrors, jwtVerify } from 'jose';
import { EntraErrors, EntraRequestError } from './entra-errors.js';
import type { EmulatorApp } from './types.js';

export const JWT_BEARER_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const ASSERTION_ALGORITHMS = new Set(['RS256', 'PS256', 'ES256']);
/** Allowed clock skew: msal-node 7 rounds `nbf` to the nearest second, so it can be ahead of us. */
const ASSERTION_CLOCK_TOLERANCE_SECONDS = 60;

/**
 * Verifies a certificate credential: a JWT signed with the key of the app's certificate, with
 * `iss` and `sub` set to the client id and `aud` set to the token endpoint. A `x5t#S256` or `x5t`
 * header, when present, must be the certificate's SHA-256 or SHA-1 thumbprint.
 */
export async function verifyClientAssertion(
  app: EmulatorApp,
  assertion: string,
  tokenUrl: string,
): Promise<void> {
  if (app.certificatePem === undefined) {
    throw new EntraRequestError(EntraErrors.invalidAssertionSignature());
  }
  const algorithm = readAlgorithm(assertion, app.certificatePem);
  const key = await importX509(app.certificatePem, algorithm).catch(() => {
    // The header names an algorithm that does not fit the certificate's key type.
    throw new EntraRequestError(EntraErrors.invalidAssertionSignature());
  });
  try {
    await jwtVerify(assertion, key, {
      algorithms: [algorithm],
      clockTolerance: ASSERTION_CLOCK_TOLERANCE_SECONDS,
      audience: tokenUrl,
      issuer: app.clientId,
      subject: app.clientId,
    });
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired || isNotYetValid(error)) {
      throw new EntraRequestError(EntraErrors.assertionOutsideTimeRange());
    }
    if (error instanceof joseErrors.JOSEError) {
      throw new EntraRequestError(EntraErrors.invalidAssertionSignature());
    }
    throw error;
  }
}

/** Returns the signing algorithm from the header after checking the thumbprint headers. */
function readAlgorithm(assertion: string, certificatePem: string): string {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(assertion);
  } catch {
    throw new EntraRequestError(EntraErrors.invalidAssertionSignature());
  }
  const der = new X509Certificate(certificatePem).raw;
  const thumbprints: [string, string][] = [
    ['x5t#S256', createHash('sha256').update(der).digest('base64url')],
    ['x5t', createHash('sha1').update(der).digest('base64url')],
  ];
  for (const [name, expected] of thumbprints) {
    const actual = header[name];
    if (actual !== undefined && actual !== expected) {
      throw new EntraRequestError(EntraErrors.invalidAssertionSignature());
    }
  }
  if (header.alg === undefined || !ASSERTION_ALGORITHMS.has(header.alg)) {
    throw new EntraRequestError(EntraErrors.invalidAssertionSignature());
  }
  return header.alg;
}

function isNotYetValid(error: unknown): boolean {
  return error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'nbf';
}
