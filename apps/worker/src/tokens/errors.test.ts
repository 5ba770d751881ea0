import { expect, test } from 'vitest';
import { describeAadsts, TokenError, toTokenError } from './errors.js';
import { CertificateVerificationError } from './network-client.js';

// The fields MSAL 7's ServerError carries for an Entra ID error response.
function serverError(code: number, correlationId = 'corr-1') {
  return {
    errorCode: 'invalid_client',
    errorNo: String(code),
    correlationId,
    errorMessage: `Error(s): ${code} - Description: AADSTS${code}: text - Correlation ID: ${correlationId}`,
  };
}

test.each([
  [7000215, 'configuration'],
  [7000222, 'configuration'],
  [700016, 'configuration'],
  [90002, 'configuration'],
  [700027, 'configuration'],
  [700024, 'transient'],
  [90033, 'transient'],
  [123456, 'transient'],
] as const)('AADSTS%d is %s', (code, kind) => {
  const error = toTokenError(serverError(code));

  expect(error).toBeInstanceOf(TokenError);
  expect(error.kind).toBe(kind);
  expect(error.aadstsCode).toBe(String(code));
  expect(error.correlationId).toBe('corr-1');
});

test('configuration error names the fix', () => {
  const error = toTokenError(serverError(7000222));

  expect(error.message).toContain('client secret expired');
  expect(error.fix).toContain('create a new client secret');
});

test('network error is transient without a code', () => {
  const error = toTokenError({
    errorCode: 'network_error',
    errorMessage: 'Network request failed',
  });

  expect(error.kind).toBe('transient');
  expect(error.aadstsCode).toBeUndefined();
  expect(error.message).toContain('network_error');
});

test('throttled request keeps the code MSAL stored', () => {
  // During a Retry-After period MSAL throws a ServerError whose errorCode contains error_codes.
  const error = toTokenError({ errorCode: '7000222', errorMessage: 'throttled' });

  expect(error.kind).toBe('configuration');
  expect(error.aadstsCode).toBe('7000222');
});

test('describes known codes only', () => {
  expect(describeAadsts('700016')?.fix).toContain('clientId');
  expect(describeAadsts('1')).toBeUndefined();
});

test.each([
  ['SELF_SIGNED_CERT_IN_CHAIN', 'is not trusted', 'POSTROOM_TLS_CA_FILE'],
  ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'is not trusted', 'POSTROOM_CLOUD'],
  ['ERR_TLS_CERT_ALTNAME_INVALID', 'does not name that host', 'POSTROOM_AUTHORITY_HOST'],
  ['CERT_HAS_EXPIRED', 'has expired', 'clock'],
  [
    'ERR_SSL_WRONG_VERSION_NUMBER',
    'was not received because the port does not speak TLS',
    'POSTROOM_AUTHORITY_HOST',
  ],
])('certificate error %s is configuration', (tlsCode, summary, fix) => {
  const error = toTokenError(new CertificateVerificationError('login.example.net', tlsCode));

  expect(error.kind).toBe('configuration');
  expect(error.code).toBe('POSTROOM_TOKEN_CERTIFICATE_UNTRUSTED');
  expect(error.message).toContain(`token endpoint login.example.net ${summary} (${tlsCode})`);
  expect(error.fix).toContain(fix);
});
