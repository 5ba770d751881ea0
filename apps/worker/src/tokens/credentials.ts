import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';

/** A client secret of an app registration. */
export interface SecretCredential {
  kind: 'secret';
  clientSecret: string;
}

/**
 * A certificate credential: the client signs a JWT assertion with the private key, and Entra ID
 * finds the certificate by its SHA-256 thumbprint (`x5t#S256`).
 */
export interface CertificateCredential {
  kind: 'certificate';
  certificatePem: string;
  /** PKCS#8 PEM of the RSA private key. */
  privateKeyPem: string;
  /** Hex SHA-256 of the DER certificate. */
  thumbprintSha256: string;
  /** Send the certificate in the `x5c` header, for subject name and issuer authentication. */
  sendX5c: boolean;
  /** End of the certificate's validity, ISO 8601. */
  notAfter: string;
}

export type AppCredential = SecretCredential | CertificateCredential;

/** A certificate or key that cannot be used; `field` names the setting and `message` the fix. */
export class CredentialError extends Error {
  readonly field: string;

  constructor(field: string, message: string) {
    super(message);
    this.name = 'CredentialError';
    this.field = field;
  }
}

export interface CertificateSource {
  certificatePem: string;
  privateKeyPem: string;
  /** Names of the settings the PEM texts came from, for error messages. */
  certificateField: string;
  privateKeyField: string;
  sendX5c: boolean;
}

/**
 * Checks a certificate credential and computes its thumbprint: the certificate parses and has not
 * expired, the key is an unencrypted RSA key (assertions are signed with PS256), and the key
 * belongs to the certificate. Throws CredentialError naming the setting and the fix.
 */
export function loadCertificateCredential(
  source: CertificateSource,
  now = new Date(),
): CertificateCredential {
  const certificate = parseCertificate(source);
  const key = parsePrivateKey(source);

  if (key.asymmetricKeyType !== 'rsa') {
    throw new CredentialError(
      source.privateKeyField,
      `the key is ${key.asymmetricKeyType ?? 'not asymmetric'}, but client assertions are signed with PS256, which needs an RSA key; create an RSA 2048 certificate`,
    );
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new CredentialError(
      source.privateKeyField,
      `the private key does not belong to the certificate in ${source.certificateField}; use the key the certificate was created with`,
    );
  }
  const notAfter = new Date(certificate.validTo);
  if (notAfter.getTime() <= now.getTime()) {
    throw new CredentialError(
      source.certificateField,
      `the certificate expired on ${notAfter.toISOString()}; create a new one and upload it to the app registration's certificates`,
    );
  }

  return {
    kind: 'certificate',
    certificatePem: certificate.toString(),
    privateKeyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
    thumbprintSha256: createHash('sha256').update(certificate.raw).digest('hex'),
    sendX5c: source.sendX5c,
    notAfter: notAfter.toISOString(),
  };
}

function parseCertificate(source: CertificateSource): X509Certificate {
  try {
    return new X509Certificate(source.certificatePem);
  } catch {
    throw new CredentialError(
      source.certificateField,
      'not a PEM certificate; give the public certificate (-----BEGIN CERTIFICATE-----) that was uploaded to the app registration',
    );
  }
}

function parsePrivateKey(source: CertificateSource): KeyObject {
  try {
    return createPrivateKey(source.privateKeyPem);
  } catch {
    throw new CredentialError(
      source.privateKeyField,
      'not an unencrypted PEM private key; export it without a passphrase, for example with openssl pkey -in key.pem -out plain.pem',
    );
  }
}

/** Tells whether two credentials are the same secret or the same certificate. */
export function sameCredential(a: AppCredential, b: AppCredential): boolean {
  if (a.kind === 'secret' && b.kind === 'secret') return a.clientSecret === b.clientSecret;
  if (a.kind === 'certificate' && b.kind === 'certificate')
    return a.thumbprintSha256 === b.thumbprintSha256;
  return false;
}
