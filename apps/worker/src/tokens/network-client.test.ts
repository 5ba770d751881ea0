import { expect, test } from 'vitest';
import { createNetworkClient, DisallowedOriginError } from './network-client.js';

test('rejects a request outside the allowed origins before sending it', async () => {
  const client = createNetworkClient({ allowedOrigins: ['https://127.0.0.1:9'] });

  await expect(
    client.sendGetRequestAsync('https://login.microsoftonline.com/common/discovery/instance'),
  ).rejects.toBeInstanceOf(DisallowedOriginError);
  await expect(
    client.sendPostRequestAsync('https://127.0.0.2:9/t/oauth2/v2.0/token', {}),
  ).rejects.toBeInstanceOf(DisallowedOriginError);
});
