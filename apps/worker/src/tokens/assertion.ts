import {
  constants,
  createPrivateKey,
  type KeyObject,
  randomUUID,
  sign,
  X509Certificate,
} from 'node:crypto';
import type { CertificateCredential } from './credentials.js';

/** Lifetime of a client assertion, in seconds; Entra ID accepts up to 10 minutes. */
const ASSERTION_LIFETIME_SECONDS = 600;

/**
 * Signs client assertions (RFC 7523 JWTs) for a certificate credential the way MSAL does: PS256,
 * the certificate's SHA-256 thumbprint in `x5t#S256`, and optionally the certificate in `x5c`.
 * Every call signs a new assertion with a new `jti` and the current time.
 */
export class ClientAssertionSigner {
  readonly #key: KeyObject;
  readonly #header: string;

  constructor(credential: CertificateCredential) {
    this.#key = createPrivateKey(credential.privateKeyPem);
    const header: Record<string, unknown> = {
      alg: 'PS256',
      typ: 'JWT',
      'x5t#S256': Buffer.from(credential.thumbprintSha256, 'hex').toString('base64url'),
    };
    if (credential.sendX5c)
      header.x5c = [new X509Certificate(credential.certificatePem).raw.toString('base64')];
    this.#header = encode(header);
  }

  /** Signs an assertion for `clientId` addressed to the token endpoint. */
  sign(clientId: string, tokenEndpoint: string, nowMs = Date.now()): string {
    const issuedAt = Math.floor(nowMs / 1000);
    const payload = encode({
      aud: tokenEndpoint,
      iss: clientId,
      sub: clientId,
      jti: randomUUID(),
      iat: issuedAt,
      nbf: issuedAt,
      exp: issuedAt + ASSERTION_LIFETIME_SECONDS,
    });
    const input = `${this.#header}.${payload}`;
    const signature = sign('sha256', Buffer.from(input), {
      key: this.#key,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    });
    return `${input}.${signature.toString('base64url')}`;
  }
}

function encode(value: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}
