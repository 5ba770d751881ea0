import { createPrivateKey } from 'node:crypto';
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  generateKeyPair,
  jwtVerify,
  SignJWT,
} from 'jose';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  GRAPH_SCOPE,
  httpsRequest,
  OUTLOOK_SCOPE,
  postTokenForm,
  startTestEmulator,
  TENANT_ID,
  testApp,
} from './test-support/fixtures.js';
import type { Emulator } from './types.js';

const TOKEN_LIFETIME_SECONDS = 1800;
const CERTIFICATE_CLIENT_ID = 'c3a1b2d4-0000-4000-8000-00000000c3a1';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

type SigningKey = Parameters<SignJWT['sign']>[0];

function clientCredentials(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    grant_type: 'client_credentials',
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    scope: OUTLOOK_SCOPE,
    ...overrides,
  };
}

interface ErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
}

describe('token endpoint', () => {
  let emulator: Emulator;
  let certificate: { cert: string; private: string };

  beforeAll(async () => {
    certificate = await generate([{ name: 'commonName', value: 'assertion-test' }], {
      algorithm: 'sha256',
    });
    emulator = await startTestEmulator({
      tokenLifetimeSeconds: TOKEN_LIFETIME_SECONDS,
      apps: [
        testApp(),
        {
          tenantId: TENANT_ID,
          clientId: CERTIFICATE_CLIENT_ID,
          certificatePem: certificate.cert,
          mailboxes: [],
        },
      ],
    });
  });

  /** Signs a client assertion for the certificate app; `expiresInSeconds` may be negative. */
  async function clientAssertion(
    expiresInSeconds: number,
    key: SigningKey = createPrivateKey(certificate.private),
  ): Promise<string> {
    const nowSeconds = Math.floor(Date.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'RS256' })
      .setIssuer(CERTIFICATE_CLIENT_ID)
      .setSubject(CERTIFICATE_CLIENT_ID)
      .setAudience(emulator.tokenUrl(TENANT_ID))
      .setNotBefore(nowSeconds + Math.min(0, expiresInSeconds) - 60)
      .setExpirationTime(nowSeconds + expiresInSeconds)
      .sign(key);
  }

  function assertionForm(assertion: string): Record<string, string> {
    return {
      grant_type: 'client_credentials',
      client_id: CERTIFICATE_CLIENT_ID,
      client_assertion_type: JWT_BEARER,
      client_assertion: assertion,
      scope: OUTLOOK_SCOPE,
    };
  }

  afterAll(async () => {
    await emulator.close();
  });

  it('issues a token for the Outlook scope', async () => {
    const result = await postTokenForm(emulator, clientCredentials());
    const body = JSON.parse(result.body) as Record<string, unknown>;

    expect(result.status).toBe(200);
    expect(body.token_type).toBe('Bearer');
    expect(body.expires_in).toBe(TOKEN_LIFETIME_SECONDS);
    expect(body.ext_expires_in).toBe(TOKEN_LIFETIME_SECONDS);
    expect(typeof body.access_token).toBe('string');
  });

  it('signs claims shaped like an Entra app-only token', async () => {
    const result = await postTokenForm(emulator, clientCredentials());
    const token = (JSON.parse(result.body) as { access_token: string }).access_token;
    const claims = decodeJwt(token);
    const nowSeconds = Math.floor(Date.now() / 1000);

    expect(decodeProtectedHeader(token).alg).toBe('RS256');
    expect(claims.aud).toBe('https://outlook.office365.com');
    expect(claims.iss).toBe(`https://sts.windows.net/${TENANT_ID}/`);
    expect(claims.tid).toBe(TENANT_ID);
    expect(claims.appid).toBe(CLIENT_ID);
    expect(claims.azp).toBe(CLIENT_ID);
    expect(claims.roles).toEqual(['SMTP.SendAsApp']);
    expect(claims.oid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(Math.abs((claims.iat ?? 0) - nowSeconds)).toBeLessThanOrEqual(2);
    expect(claims.nbf).toBe(claims.iat);
    expect(claims.exp).toBe((claims.iat ?? 0) + TOKEN_LIFETIME_SECONDS);
  });

  it('publishes the signing key at jwks_uri', async () => {
    const config = await httpsRequest(
      emulator,
      `${emulator.authorityUrl(TENANT_ID)}/v2.0/.well-known/openid-configuration`,
    );
    const { jwks_uri: jwksUri } = JSON.parse(config.body) as { jwks_uri: string };
    const keys = JSON.parse((await httpsRequest(emulator, jwksUri)).body);
    const token = (
      JSON.parse((await postTokenForm(emulator, clientCredentials())).body) as {
        access_token: string;
      }
    ).access_token;

    const verified = await jwtVerify(token, createLocalJWKSet(keys));
    expect(verified.payload.appid).toBe(CLIENT_ID);
  });

  it('issues a Graph token with the mail roles', async () => {
    const result = await postTokenForm(emulator, clientCredentials({ scope: GRAPH_SCOPE }));
    const claims = decodeJwt((JSON.parse(result.body) as { access_token: string }).access_token);

    expect(claims.aud).toBe('https://graph.microsoft.com');
    expect(claims.roles).toEqual(['Mail.Send', 'Mail.ReadWrite']);
  });

  it('rejects a wrong secret with AADSTS7000215', async () => {
    const result = await postTokenForm(emulator, clientCredentials({ client_secret: 'wrong' }));
    const body = JSON.parse(result.body) as ErrorBody;

    expect(result.status).toBe(401);
    expect(body.error).toBe('invalid_client');
    expect(body.error_codes).toEqual([7000215]);
    expect(body.error_description).toMatch(
      /^AADSTS7000215: Invalid client secret provided\. Ensure the secret being sent/,
    );
    expect(body.error_description).toContain(`\r\nTrace ID: ${body.trace_id}\r\n`);
    expect(body.error_description).toContain(`Correlation ID: ${body.correlation_id}`);
    expect(body.timestamp).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$/);
    expect(body.error_description.endsWith(`Timestamp: ${body.timestamp}`)).toBe(true);
  });

  it('echoes client-request-id as correlation_id', async () => {
    const url = `${emulator.tokenUrl(TENANT_ID)}?client-request-id=6a1f0000-0000-4000-8000-000000000001`;
    const result = await httpsRequest(emulator, url, {
      method: 'POST',
      body: new URLSearchParams(clientCredentials({ client_secret: 'wrong' })).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });

    expect((JSON.parse(result.body) as ErrorBody).correlation_id).toBe(
      '6a1f0000-0000-4000-8000-000000000001',
    );
  });

  it.each([
    [
      'unknown client',
      clientCredentials({ client_id: 'nobody' }),
      TENANT_ID,
      400,
      'unauthorized_client',
      700016,
    ],
    ['unknown tenant', clientCredentials(), 'no-such-tenant', 400, 'invalid_request', 90002],
    [
      'other scope',
      clientCredentials({ scope: 'https://example.com/.default' }),
      TENANT_ID,
      400,
      'invalid_scope',
      70011,
    ],
    [
      'delegated scope',
      clientCredentials({ scope: 'Mail.Send' }),
      TENANT_ID,
      400,
      'invalid_scope',
      70011,
    ],
    ['missing scope', clientCredentials({ scope: '' }), TENANT_ID, 400, 'invalid_scope', 70011],
    [
      'missing secret',
      clientCredentials({ client_secret: '' }),
      TENANT_ID,
      401,
      'invalid_client',
      7000215,
    ],
    [
      'other grant',
      clientCredentials({ grant_type: 'password' }),
      TENANT_ID,
      400,
      'unsupported_grant_type',
      70003,
    ],
  ])('rejects %s', async (_case, form, tenantId, status, error, aadsts) => {
    const result = await postTokenForm(emulator, form, tenantId);
    const body = JSON.parse(result.body) as ErrorBody;

    expect(result.status).toBe(status);
    expect(body.error).toBe(error);
    expect(body.error_codes).toEqual([aadsts]);
    expect(body.error_description.startsWith(`AADSTS${aadsts}: `)).toBe(true);
  });

  it('rejects a request without any client credential', async () => {
    const { client_secret: _secret, ...form } = clientCredentials();
    const result = await postTokenForm(emulator, form);

    expect(result.status).toBe(401);
    expect((JSON.parse(result.body) as ErrorBody).error_codes).toEqual([7000218]);
  });

  it('accepts a client assertion signed with the certificate key', async () => {
    const result = await postTokenForm(emulator, assertionForm(await clientAssertion(600)));

    expect(result.status).toBe(200);
    expect(
      decodeJwt((JSON.parse(result.body) as { access_token: string }).access_token).appidacr,
    ).toBe('2');
  });

  it('rejects an expired client assertion with AADSTS700024', async () => {
    const result = await postTokenForm(emulator, assertionForm(await clientAssertion(-120)));

    expect(result.status).toBe(401);
    expect((JSON.parse(result.body) as ErrorBody).error_codes).toEqual([700024]);
  });

  it('rejects a client assertion signed with another key', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const result = await postTokenForm(
      emulator,
      assertionForm(await clientAssertion(600, privateKey)),
    );

    expect(result.status).toBe(401);
    expect((JSON.parse(result.body) as ErrorBody).error_codes).toEqual([700027]);
  });

  it('rejects a client assertion with a foreign thumbprint', async () => {
    const nowSeconds = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', 'x5t#S256': 'AAAA' })
      .setIssuer(CERTIFICATE_CLIENT_ID)
      .setSubject(CERTIFICATE_CLIENT_ID)
      .setAudience(emulator.tokenUrl(TENANT_ID))
      .setExpirationTime(nowSeconds + 600)
      .sign(createPrivateKey(certificate.private));
    const result = await postTokenForm(emulator, assertionForm(assertion));

    expect((JSON.parse(result.body) as ErrorBody).error_codes).toEqual([700027]);
  });

  it('serves OpenID metadata pointing at itself', async () => {
    const authority = emulator.authorityUrl(TENANT_ID);
    const result = await httpsRequest(
      emulator,
      `${authority}/v2.0/.well-known/openid-configuration`,
    );
    const config = JSON.parse(result.body) as Record<string, string>;

    expect(result.status).toBe(200);
    expect(config.token_endpoint).toBe(emulator.tokenUrl(TENANT_ID));
    expect(config.authorization_endpoint).toBe(`${authority}/oauth2/v2.0/authorize`);
    expect(config.issuer).toBe(`${authority}/v2.0`);
    expect(config.jwks_uri).toBe(`${authority}/discovery/v2.0/keys`);
  });

  it('answers OpenID metadata of an unknown tenant with AADSTS90002', async () => {
    const url = `${emulator.authorityUrl('nobody')}/v2.0/.well-known/openid-configuration`;
    const result = await httpsRequest(emulator, url);

    expect(result.status).toBe(400);
    expect((JSON.parse(result.body) as ErrorBody).error_codes).toEqual([90002]);
  });

  it('serves instance discovery in the MSAL shape', async () => {
    const authorize = `${emulator.authorityUrl(TENANT_ID)}/oauth2/v2.0/authorize`;
    const url = `${emulator.authorityUrl('common')}/discovery/instance?api-version=1.1&authorization_endpoint=${authorize}`;
    const body = JSON.parse((await httpsRequest(emulator, url)).body) as {
      tenant_discovery_endpoint: string;
      metadata: { preferred_network: string; aliases: string[] }[];
    };
    const host = `127.0.0.1:${emulator.httpsPort}`;

    expect(body.tenant_discovery_endpoint).toBe(
      `${emulator.authorityUrl(TENANT_ID)}/v2.0/.well-known/openid-configuration`,
    );
    expect(body.metadata).toEqual([
      { preferred_network: host, preferred_cache: host, aliases: [host] },
    ]);
  });

  it('counts token requests by outcome', async () => {
    emulator.reset();
    await postTokenForm(emulator, clientCredentials());
    await postTokenForm(emulator, clientCredentials({ client_secret: 'wrong' }));
    await postTokenForm(emulator, clientCredentials({ client_id: 'nobody' }));

    expect(emulator.stats().tokenRequests).toEqual({ ok: 1, error: 2 });
  });
});
