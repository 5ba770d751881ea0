import { createHash, randomBytes } from 'node:crypto';
import {
  type CryptoKey,
  exportJWK,
  generateKeyPair,
  type JSONWebKeySet,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
  SignJWT,
} from 'jose';
import type { EmulatorApp } from './types.js';

export const OUTLOOK_RESOURCE = 'https://outlook.office365.com';
export const GRAPH_RESOURCE = 'https://graph.microsoft.com';

/** Application roles a token carries for each resource, as granted by admin consent. */
const ROLES_BY_RESOURCE: Record<string, string[]> = {
  [OUTLOOK_RESOURCE]: ['SMTP.SendAsApp'],
  [GRAPH_RESOURCE]: ['Mail.Send', 'Mail.ReadWrite'],
};

export type CredentialKind = 'secret' | 'certificate';

export interface IssuedToken {
  accessToken: string;
  expiresInSeconds: number;
}

/** Claims the emulator reads back from a verified access token. */
export interface VerifiedToken {
  tenantId: string;
  clientId: string;
  roles: string[];
}

/** A token failed verification; `reason` is for logs only, never for the SMTP reply. */
export class TokenRejectedError extends Error {
  readonly reason: string;

  constructor(reason: string) {
    super(`Access token rejected: ${reason}`);
    this.name = 'TokenRejectedError';
    this.reason = reason;
  }
}

export function issuerFor(tenantId: string): string {
  return `https://sts.windows.net/${tenantId}/`;
}

/** Issues and verifies RS256 access tokens shaped like Entra ID v1 app-only tokens. */
export class TokenAuthority {
  readonly #privateKey: CryptoKey;
  readonly #publicKey: CryptoKey;
  readonly #keyId: string;
  readonly #tokenLifetimeSeconds: number;
  /** Serial number of each issued token by its `uti` claim, for revocation. */
  readonly #serialByTokenId = new Map<string, number>();
  #lastSerial = 0;
  #revokedThroughSerial = 0;

  private constructor(keys: { privateKey: CryptoKey; publicKey: CryptoKey }, lifetime: number) {
    this.#privateKey = keys.privateKey;
    this.#publicKey = keys.publicKey;
    this.#keyId = randomBytes(12).toString('base64url');
    this.#tokenLifetimeSeconds = lifetime;
  }

  /** Generates a fresh RSA 2048 signing key. */
  static async create(tokenLifetimeSeconds: number): Promise<TokenAuthority> {
    const keys = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
    return new TokenAuthority(keys, tokenLifetimeSeconds);
  }

  static isKnownResource(resource: string): boolean {
    return resource in ROLES_BY_RESOURCE;
  }

  async issue(
    app: EmulatorApp,
    resource: string,
    credential: CredentialKind,
  ): Promise<IssuedToken> {
    this.#lastSerial += 1;
    const tokenId = randomBytes(16).toString('base64url');
    this.#serialByTokenId.set(tokenId, this.#lastSerial);

    const nowSeconds = Math.floor(Date.now() / 1000);
    const issuer = issuerFor(app.tenantId);
    const objectId = objectIdFor(app);
    const accessToken = await new SignJWT({
      tid: app.tenantId,
      appid: app.clientId,
      azp: app.clientId,
      appidacr: credential === 'secret' ? '1' : '2',
      idp: issuer,
      oid: objectId,
      sub: objectId,
      roles: ROLES_BY_RESOURCE[resource] ?? [],
      uti: tokenId,
      ver: '1.0',
    })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.#keyId })
      .setIssuer(issuer)
      .setAudience(resource)
      .setIssuedAt(nowSeconds)
      .setNotBefore(nowSeconds)
      .setExpirationTime(nowSeconds + this.#tokenLifetimeSeconds)
      .sign(this.#privateKey);
    return { accessToken, expiresInSeconds: this.#tokenLifetimeSeconds };
  }

  /** Checks signature, expiry, not-before, audience, issuer and revocation. */
  async verify(accessToken: string, audience: string): Promise<VerifiedToken> {
    const payload = await this.#verifySignature(accessToken, audience);
    const tenantId = stringClaim(payload, 'tid');
    const clientId = stringClaim(payload, 'appid');
    if (payload.iss !== issuerFor(tenantId)) {
      throw new TokenRejectedError(`issuer ${String(payload.iss)} does not match tenant`);
    }
    const serial = this.#serialByTokenId.get(stringClaim(payload, 'uti'));
    if (serial === undefined) {
      throw new TokenRejectedError('token was not issued by this emulator instance');
    }
    if (serial <= this.#revokedThroughSerial) {
      throw new TokenRejectedError('token was revoked');
    }
    const roles = Array.isArray(payload.roles) ? payload.roles.map(String) : [];
    return { tenantId, clientId, roles };
  }

  /** Revokes every token issued so far. */
  revokeAll(): void {
    this.#revokedThroughSerial = this.#lastSerial;
  }

  async jwks(): Promise<JSONWebKeySet> {
    const jwk = await exportJWK(this.#publicKey);
    return { keys: [{ ...jwk, kid: this.#keyId, use: 'sig', alg: 'RS256' }] };
  }

  async #verifySignature(accessToken: string, audience: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(accessToken, this.#publicKey, {
        algorithms: ['RS256'],
        audience,
      });
      return payload;
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) {
        throw new TokenRejectedError(`${error.code}: ${error.message}`);
      }
      throw error;
    }
  }
}

function stringClaim(payload: JWTPayload, name: string): string {
  const value = payload[name];
  if (typeof value !== 'string' || value === '') {
    throw new TokenRejectedError(`claim ${name} is missing`);
  }
  return value;
}

/** Stable service principal object id of an app, formatted as a UUID. */
function objectIdFor(app: EmulatorApp): string {
  const hex = createHash('sha256').update(`${app.tenantId}/${app.clientId}`).digest('hex');
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    hex.slice(12, 16),
    hex.slice(16, 20),
    hex.slice(20, 32),
  ].join('-');
}
