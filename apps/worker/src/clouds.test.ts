import { expect, test } from 'vitest';
import { CLOUDS } from './clouds.js';

// Exchange Online: smtp.office365.com with scope https://outlook.office365.com/.default; US
// government: smtp.office365.us with https://outlook.office365.us/.default; China (21Vianet):
// smtp.partner.outlook.cn. Graph: graph.microsoft.com, graph.microsoft.us,
// dod-graph.microsoft.us and microsoftgraph.chinacloudapi.cn.
test.each([
  [
    'global',
    'https://login.microsoftonline.com',
    'smtp.office365.com',
    'https://outlook.office365.com/.default',
    'https://graph.microsoft.com',
  ],
  [
    'usgov-gcchigh',
    'https://login.microsoftonline.us',
    'smtp.office365.us',
    'https://outlook.office365.us/.default',
    'https://graph.microsoft.us',
  ],
  [
    'usgov-dod',
    'https://login.microsoftonline.us',
    'smtp.office365.us',
    'https://outlook.office365.us/.default',
    'https://dod-graph.microsoft.us',
  ],
  [
    'china',
    'https://login.chinacloudapi.cn',
    'smtp.partner.outlook.cn',
    'https://partner.outlook.cn/.default',
    'https://microsoftgraph.chinacloudapi.cn',
  ],
] as const)('cloud %s endpoints', (name, authorityHost, smtpHost, smtpScope, graphHost) => {
  const cloud = CLOUDS[name];

  expect(cloud.authorityHost).toBe(authorityHost);
  expect(cloud.smtpHost).toBe(smtpHost);
  expect(cloud.smtpScope).toBe(smtpScope);
  expect(cloud.graphHost).toBe(graphHost);
  expect(cloud.graphScope).toBe(`${graphHost}/.default`);
});

test('every cloud uses https and .default scopes', () => {
  for (const cloud of Object.values(CLOUDS)) {
    expect(cloud.authorityHost).toMatch(/^https:\/\/[^/]+$/);
    expect(cloud.graphHost).toMatch(/^https:\/\/[^/]+$/);
    expect(cloud.smtpScope).toMatch(/^https:\/\/[^/]+\/\.default$/);
    expect(cloud.smtpHost).not.toContain('/');
  }
});
