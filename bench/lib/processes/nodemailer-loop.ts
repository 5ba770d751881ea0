/**
 * The baseline of the send-path benchmark, run as its own process by `bench/lib/baseline.ts`:
 * a plain nodemailer pooled SMTP transport with STARTTLS and XOAUTH2, sending messages as fast
 * as the pool allows, either composed by nodemailer or pre-rendered. Nothing else runs in this
 * process.
 *
 * IPC in: a BaselineRound. IPC out: { elapsedMs, sent, failed, firstError? } per round.
 */
import nodemailer from 'nodemailer';
import type { BaselineRound } from '../baseline.js';

if (!process.send) {
  process.stderr.write('nodemailer-loop.ts must be started with an IPC channel\n');
  process.exit(2);
}

process.on('message', (round: BaselineRound) => {
  sendAll(round).then(
    (result) => process.send?.(result),
    (error: unknown) =>
      process.send?.({
        elapsedMs: 0,
        sent: 0,
        failed: round.messages.length,
        firstError: String(error),
      }),
  );
});
process.on('disconnect', () => process.exit(0));

async function sendAll(round: BaselineRound) {
  const transport = nodemailer.createTransport({
    pool: true,
    maxConnections: round.maxConnections,
    // The worker keeps a connection for as many messages as come; so does this pool.
    maxMessages: Number.POSITIVE_INFINITY,
    host: round.host,
    port: round.port,
    secure: false,
    requireTLS: true,
    tls: { ca: round.ca, minVersion: 'TLSv1.2' },
    auth: { type: 'OAuth2', user: round.user, accessToken: round.accessToken },
  });
  let sent = 0;
  let failed = 0;
  let firstError: string | undefined;
  const startedAt = performance.now();
  await Promise.all(
    round.messages.map((message) =>
      transport
        .sendMail(
          'mail' in message
            ? { ...message.mail, date: new Date(message.mail.date) }
            : { envelope: message.envelope, raw: Buffer.from(message.raw) },
        )
        .then(
          () => {
            sent += 1;
          },
          (error: unknown) => {
            failed += 1;
            firstError ??= String(error);
          },
        ),
    ),
  );
  const elapsedMs = performance.now() - startedAt;
  transport.close();
  return { elapsedMs, sent, failed, ...(firstError ? { firstError } : {}) };
}
