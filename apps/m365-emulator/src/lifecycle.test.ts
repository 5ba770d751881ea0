import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator } from './emulator.js';
import {
  fetchAccessToken,
  MAILBOX,
  openSession,
  sendOnSession,
  simpleMessage,
  startTestEmulator,
  testApp,
  waitFor,
} from './test-support/fixtures.js';
import { RawSmtpClient } from './test-support/raw-smtp-client.js';
import type { EmulatorApp } from './types.js';

const HANDLE_TYPES = ['TCPServerWrap', 'TCPSocketWrap', 'Timeout'];

function countHandles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) {
    if (HANDLE_TYPES.includes(type)) {
      counts[type] = (counts[type] ?? 0) + 1;
    }
  }
  return counts;
}

function appWithoutCredential(): EmulatorApp {
  const { clientSecret: _secret, ...app } = testApp();
  return app;
}

describe('emulator lifecycle', () => {
  const ownedDirs: string[] = [];

  afterAll(() => {
    for (const dir of ownedDirs) {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('closes idempotently and leaves no open handles', async () => {
    const emulator = await startTestEmulator();
    const token = await fetchAccessToken(emulator);
    const delayed = await openSession(emulator, token);
    emulator.addFault({ stage: 'data-end', action: 'delay', delayMs: 60_000 });
    const sending = sendOnSession(
      delayed,
      { from: MAILBOX, to: ['a@fabrikam.example'] },
      simpleMessage(MAILBOX, 'a@fabrikam.example'),
    ).catch((error: unknown) => error);
    emulator.addFault({ stage: 'auth', action: 'hang' });
    const hanging = await RawSmtpClient.connect(emulator.smtpPort);
    await hanging.readReply();
    await hanging.command('EHLO client.example');
    await hanging.startTls({ ca: readFileSync(emulator.caFile) });
    await hanging.command('EHLO client.example');
    const initial = Buffer.from(`user=${MAILBOX}\x01auth=Bearer ${token}\x01\x01`).toString(
      'base64',
    );
    void hanging.command(`AUTH XOAUTH2 ${initial}`);
    await waitFor(
      () => emulator.faults().length,
      (remaining) => remaining === 0,
    );

    const beforeClose = countHandles();
    await Promise.all([emulator.close(), emulator.close()]);
    await emulator.close();
    await hanging.closed;
    expect(await sending).toBeInstanceOf(Error);
    const after = await waitFor(countHandles, (counts) => counts.TCPSocketWrap === undefined);

    expect(after.TCPServerWrap).toBeUndefined();
    expect(after.TCPSocketWrap).toBeUndefined();
    // The 60-second delay timer of the data-end fault is gone.
    expect(after.Timeout ?? 0).toBeLessThan(beforeClose.Timeout ?? 0);
  });

  it('removes the state directory it created', async () => {
    const emulator = await startTestEmulator();
    const stateDir = path.dirname(emulator.caFile);
    expect(existsSync(emulator.caFile)).toBe(true);

    await emulator.close();

    expect(existsSync(stateDir)).toBe(false);
  });

  it('keeps a state directory it was given', async () => {
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'm365-emulator-test-'));
    ownedDirs.push(stateDir);
    const emulator = await startTestEmulator({ stateDir: path.join(stateDir, 'nested') });

    expect(emulator.caFile).toBe(path.join(stateDir, 'nested', 'ca.pem'));
    await emulator.close();
    expect(existsSync(emulator.caFile)).toBe(true);
  });

  it('fails to start on a port in use and releases its other ports', async () => {
    const first = await startTestEmulator();
    const before = countHandles();

    const second = startTestEmulator({ apiPort: first.apiPort });

    await expect(second).rejects.toMatchObject({ code: 'EADDRINUSE' });
    expect(countHandles().TCPServerWrap).toBe(before.TCPServerWrap);
    await first.close();
  });

  it.each([
    [{ timeUnitMs: 0 }, 'Invalid option timeUnitMs: 0'],
    [{ smtpPort: 70_000 }, 'Invalid option smtpPort: 70000'],
    [{ limits: { messagesPerMinute: 0 } }, 'Invalid option limits.messagesPerMinute: 0'],
    [{ limits: { messagesPerHour: 5 } }, 'Invalid option limits.messagesPerHour: unknown limit'],
    [{ mailboxLimits: { [MAILBOX]: { maxMessageBytes: -1 } } }, `mailboxLimits["${MAILBOX}"]`],
    [{ apps: [appWithoutCredential()] }, 'set clientSecret or certificatePem'],
    [{ apps: [testApp({ tenantId: '' })] }, 'Invalid option apps[0].tenantId'],
  ])('rejects invalid options %j', async (options, message) => {
    const starting = startEmulator({ apps: [testApp()], ...options } as never);

    await expect(starting).rejects.toThrow(message);
  });
});
