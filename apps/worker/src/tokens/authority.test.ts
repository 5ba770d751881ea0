import { expect, test } from 'vitest';
import { authorityOptions } from './authority.js';

test('authority options describe the tenant endpoints', () => {
  const options = authorityOptions('https://127.0.0.1:4443', 'contoso');
  const openId = JSON.parse(options.authorityMetadata) as Record<string, string>;
  const discovery = JSON.parse(options.cloudDiscoveryMetadata) as {
    metadata: { aliases: string[] }[];
  };

  expect(options.authority).toBe('https://127.0.0.1:4443/contoso');
  expect(options.knownAuthorities).toEqual(['127.0.0.1:4443']);
  expect(openId.token_endpoint).toBe('https://127.0.0.1:4443/contoso/oauth2/v2.0/token');
  expect(openId.issuer).toBe('https://127.0.0.1:4443/contoso/v2.0');
  expect(openId.jwks_uri).toBeDefined();
  expect(openId.authorization_endpoint).toBeDefined();
  expect(discovery.metadata[0]?.aliases).toEqual(['127.0.0.1:4443']);
});

test('authority host with a trailing path keeps only the origin', () => {
  expect(authorityOptions('https://login.microsoftonline.us/', 'tenant').authority).toBe(
    'https://login.microsoftonline.us/tenant',
  );
});
