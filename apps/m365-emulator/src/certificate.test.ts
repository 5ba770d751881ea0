import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpsRequest, startTestEmulator } from './test-support/fixtures.js';
import { RawSmtpClient } from './test-support/raw-smtp-client.js';
import type { Emulator } from './types.js';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('emulator certificate', () => {
  let emulator: Emulator;

  beforeAll(async () => {
    emulator = await startTestEmulator();
  });

  afterAll(async () => {
    await emulator.close();
  });

  it('is a one-day CA certificate for localhost and 127.0.0.1', () => {
    const certificate = new X509Certificate(readFileSync(emulator.caFile));
    const lifetimeMs = Date.parse(certificate.validTo) - Date.parse(certificate.validFrom);

    expect(certificate.ca).toBe(true);
    expect(certificate.subjectAltName).toContain('DNS:localhost');
    expect(certificate.subjectAltName).toContain('IP Address:127.0.0.1');
    expect(lifetimeMs).toBeGreaterThanOrEqual(DAY_MS);
    expect(lifetimeMs).toBeLessThanOrEqual(DAY_MS + 10 * 60 * 1000);
    expect(Date.parse(certificate.validTo)).toBeGreaterThan(Date.now() + DAY_MS - 60_000);
  });

  it('writes the private key beside the CA file, readable by the owner only', () => {
    const keyFile = path.join(path.dirname(emulator.caFile), 'key.pem');

    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
  });

  it('verifies STARTTLS with the CA and rejectUnauthorized on', async () => {
    const client = await RawSmtpClient.connect(emulator.smtpPort);
    await client.readReply();
    await client.command('EHLO client.example');

    await client.startTls({ ca: readFileSync(emulator.caFile), rejectUnauthorized: true });
    const ehlo = await client.command('EHLO client.example');
    client.close();

    expect(ehlo).toMatch(/^250-/);
  });

  it('fails STARTTLS verification without the CA', async () => {
    const client = await RawSmtpClient.connect(emulator.smtpPort);
    await client.readReply();
    await client.command('EHLO client.example');

    const upgrade = client.startTls({ rejectUnauthorized: true });
    await expect(upgrade).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    client.close();
  });

  it('verifies HTTPS with the CA', async () => {
    const result = await httpsRequest(
      emulator,
      `${emulator.authorityUrl('common')}/discovery/instance`,
    );

    expect(result.status).toBe(200);
  });

  it('fails HTTPS verification without the CA', async () => {
    const socket = tls.connect({ host: '127.0.0.1', port: emulator.httpsPort });
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => {
      socket.once('error', resolve);
    });
    socket.destroy();

    expect(error.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
  });

  it('refuses TLS 1.1 on HTTPS', async () => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: emulator.httpsPort,
      ca: readFileSync(emulator.caFile),
      minVersion: 'TLSv1',
      maxVersion: 'TLSv1.1',
      ciphers: 'DEFAULT@SECLEVEL=0',
    });
    const error = await new Promise<Error>((resolve) => socket.once('error', resolve));
    socket.destroy();

    expect(error.message).toMatch(/protocol|version/i);
  });
});
