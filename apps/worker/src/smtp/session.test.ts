import { readFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { classifyFailure } from '@postroom/core';
import { fetchAccessToken, MAILBOX, startTestEmulator } from '@postroom/m365-emulator/test-support';
import { afterEach, expect, test } from 'vitest';
import { SmtpFailure, SmtpSession } from './session.js';

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  servers.length = 0;
});

async function listen(onConnection: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    sockets.push(socket);
    onConnection(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

const endpoint = (port: number) => ({
  host: '127.0.0.1',
  port,
  connectionTimeoutMs: 500,
  greetingTimeoutMs: 300,
  socketTimeoutMs: 1000,
});

async function openFailure(port: number): Promise<SmtpFailure> {
  const error = await new SmtpSession(endpoint(port)).open('a@example.com', 'token').then(
    () => undefined,
    (failure: unknown) => failure,
  );
  expect(error).toBeInstanceOf(SmtpFailure);
  return error as SmtpFailure;
}

test('silent server fails with a greeting timeout', async () => {
  const port = await listen(() => {});
  const failure = await openFailure(port);
  expect(failure.failure.stage).toBe('greeting');
  expect(failure.failure.responseCode).toBeUndefined();
});

test('refused connection fails at connect', async () => {
  const port = await listen(() => {});
  await new Promise((resolve) => servers.pop()?.close(resolve));
  const failure = await openFailure(port);
  expect(failure.failure.networkCode).toBe('ECONNREFUSED');
});

test('421 greeting fails with the reply', async () => {
  const port = await listen((socket) => socket.end('421 4.3.2 Service not available\r\n'));
  const failure = await openFailure(port);
  expect(failure.failure.responseCode === 421 || failure.failure.networkCode !== undefined).toBe(
    true,
  );
});

test('STARTTLS verifies the server certificate', async () => {
  const emulator = await startTestEmulator();
  try {
    const token = await fetchAccessToken(emulator);
    const untrusted = {
      ...endpoint(emulator.smtpPort),
      connectionTimeoutMs: 5000,
      greetingTimeoutMs: 5000,
    };
    const trusted = { ...untrusted, ca: readFileSync(emulator.caFile) };
    // Two connections of one endpoint share its TLS context, and both verify.
    for (const session of [new SmtpSession(trusted), new SmtpSession(trusted)]) {
      await session.open(MAILBOX, token);
      session.close();
    }

    // Without the emulator's CA, only the default roots are trusted and the upgrade fails.
    const failure = await new SmtpSession(untrusted).open(MAILBOX, token).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(SmtpFailure);
    const { failure: details } = failure as SmtpFailure;
    expect(details.responseCode).toBeUndefined();
    expect(classifyFailure(details).reason).toBe('tls_verification_failed');
  } finally {
    await emulator.close();
  }
});
