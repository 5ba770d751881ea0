import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { generate } from 'selfsigned';

const CERTIFICATE_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** Backdating of notBefore, so that a client clock slightly behind still accepts the certificate. */
const CLOCK_SKEW_ALLOWANCE_MS = 5 * 60 * 1000;

export interface ServerCertificate {
  certificatePem: string;
  privateKeyPem: string;
  /** Path of the certificate PEM, the trust anchor clients pass as `ca`. */
  caFile: string;
  /** Path of the private key PEM. */
  keyFile: string;
}

/**
 * Generates a self-signed EC P-256 certificate for localhost, 127.0.0.1 and `extraHostnames`,
 * valid for one day, and writes it to `ca.pem` and its key to `key.pem` in `stateDir`. The
 * certificate has the CA flag set so that clients can pass it as their only trust anchor.
 */
export async function createServerCertificate(
  stateDir: string,
  extraHostnames: string[] = [],
): Promise<ServerCertificate> {
  const notBeforeDate = new Date(Date.now() - CLOCK_SKEW_ALLOWANCE_MS);
  const notAfterDate = new Date(Date.now() + CERTIFICATE_LIFETIME_MS);
  const pems = await generate([{ name: 'commonName', value: 'm365-emulator' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          ...extraHostnames.map((hostname) => ({ type: 2 as const, value: hostname })),
        ],
      },
    ],
  });

  const caFile = path.join(stateDir, 'ca.pem');
  const keyFile = path.join(stateDir, 'key.pem');
  await writeFile(caFile, pems.cert, { mode: 0o644 });
  await writeFile(keyFile, pems.private, { mode: 0o600 });
  return { certificatePem: pems.cert, privateKeyPem: pems.private, caFile, keyFile };
}

/** An app registration's certificate credential: the certificate and its private key, PEM. */
export interface AppCertificate {
  certificatePem: string;
  privateKeyPem: string;
}

/**
 * Generates a self-signed RSA 2048 certificate for an app registration's certificate credential,
 * valid for one day. Register `certificatePem` with the emulator app; the client signs its
 * assertions with `privateKeyPem`. RSA because MSAL and Entra ID sign assertions with PS256 or RS256.
 */
export async function createAppCertificate(commonName: string): Promise<AppCertificate> {
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate: new Date(Date.now() - CLOCK_SKEW_ALLOWANCE_MS),
    notAfterDate: new Date(Date.now() + CERTIFICATE_LIFETIME_MS),
  });
  return { certificatePem: pems.cert, privateKeyPem: pems.private };
}
