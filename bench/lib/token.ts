import { request } from 'node:https';
import type { StackApp } from './stack.js';

/** Scope of SMTP submission tokens in the global cloud. */
export const SMTP_SCOPE = 'https://outlook.office365.com/.default';

/**
 * Requests an app-only access token (client credentials grant) from the emulator's token
 * endpoint, trusting its CA. The baseline client authenticates with it as the worker does.
 */
export function fetchAccessToken(tokenUrl: string, ca: string, app: StackApp): Promise<string> {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: app.clientId,
    client_secret: app.clientSecret,
    scope: SMTP_SCOPE,
  }).toString();
  return new Promise((resolve, reject) => {
    const call = request(
      tokenUrl,
      { method: 'POST', ca, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          text += chunk;
        });
        response.on('end', () => {
          const parsed = JSON.parse(text) as { access_token?: string };
          if (response.statusCode === 200 && parsed.access_token) resolve(parsed.access_token);
          else
            reject(
              new Error(`token request to ${tokenUrl} failed with ${response.statusCode}: ${text}`),
            );
        });
      },
    );
    call.on('error', reject);
    call.end(body);
  });
}
