import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import {
  ConfidentialClientApplication,
  type Configuration,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';
import { decodeJwt } from 'jose';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { msalMetadataFor } from './msal-metadata.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  createTransport,
  MAILBOX,
  OUTLOOK_SCOPE,
  startTestEmulator,
  TENANT_ID,
  testApp,
} from './test-support/fixtures.js';
import type { Emulator } from './types.js';

const CERTIFICATE_CLIENT_ID = '0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e';

/**
 * An MSAL network client that trusts only the emulator's CA and refuses every URL outside the
 * emulator, so that a discovery request to login.microsoftonline.com fails the test instead of
 * leaving the machine. Records each request as `METHOD path`.
 */
class EmulatorNetworkClient implements INetworkModule {
  readonly requests: string[] = [];
  readonly #origin: string;
  readonly #ca: Buffer;

  constructor(emulator: Emulator) {
    this.#origin = new URL(emulator.authorityUrl(TENANT_ID)).origin;
    this.#ca = readFileSync(emulator.caFile);
  }

  sendGetRequestAsync<T>(
    url: string,
    options?: NetworkRequestOptions,
  ): Promise<NetworkResponse<T>> {
    return this.#send('GET', url, options);
  }

  sendPostRequestAsync<T>(
    url: string,
    options?: NetworkRequestOptions,
  ): Promise<NetworkResponse<T>> {
    return this.#send('POST', url, options);
  }

  #send<T>(
    method: string,
    url: string,
    options?: NetworkRequestOptions,
  ): Promise<NetworkResponse<T>> {
    const target = new URL(url);
    if (target.origin !== this.#origin) {
      return Promise.reject(new Error(`Refused request outside the emulator: ${method} ${url}`));
    }
    this.requests.push(`${method} ${target.pathname}`);
    return new Promise((resolve, reject) => {
      const request = https.request(
        target,
        { method, ca: this.#ca, headers: options?.headers ?? {} },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(response.headers)) {
              if (value !== undefined) {
                headers[name] = Array.isArray(value) ? value.join(', ') : value;
              }
            }
            const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
            resolve({ status: response.statusCode ?? 0, headers, body });
          });
        },
      );
      request.on('error', reject);
      request.end(options?.body);
    });
  }
}

describe('MSAL against the emulator', () => {
  let emulator: Emulator;
  let network: EmulatorNetworkClient;
  let certificate: { cert: string; private: string };

  beforeAll(async () => {
    certificate = await generate([{ name: 'commonName', value: 'postroom-test-app' }], {
      keySize: 2048,
      algorithm: 'sha256',
    });
    emulator = await startTestEmulator({
      apps: [
        testApp(),
        {
          tenantId: TENANT_ID,
          clientId: CERTIFICATE_CLIENT_ID,
          certificatePem: certificate.cert,
          mailboxes: [MAILBOX],
        },
      ],
    });
  });

  afterAll(async () => {
    await emulator.close();
  });

  beforeEach(() => {
    network = new EmulatorNetworkClient(emulator);
  });

  function secretConfiguration(auth: Partial<Configuration['auth']> = {}): Configuration {
    return {
      auth: {
        clientId: CLIENT_ID,
        clientSecret: CLIENT_SECRET,
        authority: emulator.authorityUrl(TENANT_ID),
        knownAuthorities: [`127.0.0.1:${emulator.httpsPort}`],
        ...auth,
      },
      system: { networkClient: network },
    };
  }

  it('gets a token with knownAuthorities and metadata discovery', async () => {
    const app = new ConfidentialClientApplication(secretConfiguration());
    const result = await app.acquireTokenByClientCredential({ scopes: [OUTLOOK_SCOPE] });

    expect(decodeJwt(result?.accessToken ?? '').aud).toBe('https://outlook.office365.com');
    expect(result?.expiresOn?.getTime()).toBeGreaterThan(Date.now() + 3500 * 1000);
    expect(network.requests).toEqual([
      `GET /${TENANT_ID}/v2.0/.well-known/openid-configuration`,
      `POST /${TENANT_ID}/oauth2/v2.0/token`,
    ]);
  });

  it('skips metadata requests with msalMetadataFor', async () => {
    const app = new ConfidentialClientApplication(
      secretConfiguration(msalMetadataFor(emulator, TENANT_ID)),
    );
    const result = await app.acquireTokenByClientCredential({ scopes: [OUTLOOK_SCOPE] });

    expect(result?.accessToken).toMatch(/^ey/);
    expect(network.requests).toEqual([`POST /${TENANT_ID}/oauth2/v2.0/token`]);
  });

  it('gets a token with a certificate credential', async () => {
    const der = new X509Certificate(certificate.cert).raw;
    const app = new ConfidentialClientApplication({
      auth: {
        clientId: CERTIFICATE_CLIENT_ID,
        authority: emulator.authorityUrl(TENANT_ID),
        knownAuthorities: [`127.0.0.1:${emulator.httpsPort}`],
        clientCertificate: {
          thumbprintSha256: createHash('sha256').update(der).digest('hex'),
          privateKey: certificate.private,
        },
        ...msalMetadataFor(emulator, TENANT_ID),
      },
      system: { networkClient: network },
    });
    const result = await app.acquireTokenByClientCredential({ scopes: [OUTLOOK_SCOPE] });
    const claims = decodeJwt(result?.accessToken ?? '');

    expect(claims.appid).toBe(CERTIFICATE_CLIENT_ID);
    expect(claims.appidacr).toBe('2');
  });

  it('reports AADSTS7000215 for a wrong secret', async () => {
    const app = new ConfidentialClientApplication(
      secretConfiguration({ clientSecret: 'wrong', ...msalMetadataFor(emulator, TENANT_ID) }),
    );
    const acquiring = app.acquireTokenByClientCredential({ scopes: [OUTLOOK_SCOPE] });

    await expect(acquiring).rejects.toMatchObject({
      errorCode: 'invalid_client',
      errorMessage: expect.stringContaining('AADSTS7000215: Invalid client secret provided.'),
    });
  });

  it('sends mail with the MSAL token over XOAUTH2', async () => {
    const app = new ConfidentialClientApplication(
      secretConfiguration(msalMetadataFor(emulator, TENANT_ID)),
    );
    const result = await app.acquireTokenByClientCredential({ scopes: [OUTLOOK_SCOPE] });
    const transport = createTransport(emulator, result?.accessToken ?? '');
    const info = await transport.sendMail({
      from: MAILBOX,
      to: 'a@fabrikam.example',
      subject: 'Via MSAL',
      text: 'x',
    });
    transport.close();

    expect(info.response).toMatch(/^250 2\.0\.0 OK /);
    expect(emulator.messages().map((message) => message.subject)).toContain('Via MSAL');
  });
});
