import { constants, createHash, createPublicKey, verify, X509Certificate } from 'node:crypto';
import { createAppCertificate } from '@postroom/m365-emulator';
import { expect, test } from 'vitest';
import { ClientAssertionSigner } from './assertion.js';
import { loadCertificateCredential } from './credentials.js';

function decode(part: string | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

test('signs a fresh PS256 assertion each time', async () => {
  const pems = await createAppCertificate('assertion-test');
  const credential = loadCertificateCredential({
    certificatePem: pems.certificatePem,
    privateKeyPem: pems.privateKeyPem,
    certificateField: 'certificateFile',
    privateKeyField: 'privateKeyFile',
    sendX5c: true,
  });
  const signer = new ClientAssertionSigner(credential);
  const endpoint = 'https://127.0.0.1:1/tenant/oauth2/v2.0/token';

  const first = signer.sign('client-id', endpoint, 1_700_000_000_000);
  const second = signer.sign('client-id', endpoint, 1_700_000_000_000);
  const [header, payload, signature] = first.split('.');
  const certificate = new X509Certificate(pems.certificatePem);
  const valid = verify(
    'sha256',
    Buffer.from(`${header}.${payload}`),
    {
      key: createPublicKey(pems.certificatePem),
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: 32,
    },
    Buffer.from(signature ?? '', 'base64url'),
  );

  expect(valid).toBe(true);
  expect(decode(header)).toMatchObject({
    alg: 'PS256',
    'x5t#S256': createHash('sha256').update(certificate.raw).digest('base64url'),
    x5c: [certificate.raw.toString('base64')],
  });
  expect(decode(payload)).toMatchObject({
    aud: endpoint,
    iss: 'client-id',
    sub: 'client-id',
    nbf: 1_700_000_000,
    exp: 1_700_000_600,
  });
  expect(decode(first.split('.')[1]).jti).not.toBe(decode(second.split('.')[1]).jti);
});
