/**
 * A fast SMTP server that accepts everything, run as its own process by `bench/lib/smtp-sink.ts`.
 * It offers STARTTLS with the certificate it is given, requires AUTH after TLS (as Exchange
 * does) but accepts any XOAUTH2 token, and answers 250 to every message. It counts messages and
 * repeated Message-IDs and reports them over the IPC channel.
 *
 * argv: key file, certificate file. IPC in: 'stats', 'reset'. IPC out: { port } once listening,
 * then { accepted, repeatedMessageIds } for each 'stats'.
 */
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

const [keyFile, certFile] = process.argv.slice(2);
if (!keyFile || !certFile || !process.send) {
  process.stderr.write('usage: fork smtp-sink.ts KEY_FILE CERT_FILE with an IPC channel\n');
  process.exit(2);
}

const MESSAGE_ID_HEADER = /^message-id:\s*(<[^>\r\n]+>)/im;
let accepted = 0;
let repeatedMessageIds = 0;
let seen = new Set<string>();

const server = new SMTPServer({
  key: readFileSync(keyFile),
  cert: readFileSync(certFile),
  authMethods: ['XOAUTH2', 'PLAIN', 'LOGIN'],
  disableReverseLookup: true,
  logger: false,
  onAuth(auth, _session, callback) {
    callback(null, { user: auth.username });
  },
  onData(stream, _session, callback) {
    // The headers come first, so the start of the message is enough to find the Message-ID.
    let head = '';
    stream.on('data', (chunk: Buffer) => {
      if (head.length < 4096) head += chunk.toString('latin1');
    });
    stream.on('end', () => {
      accepted += 1;
      const messageId = MESSAGE_ID_HEADER.exec(head)?.[1];
      if (messageId) {
        if (seen.has(messageId)) repeatedMessageIds += 1;
        seen.add(messageId);
      }
      callback(null, 'OK queued');
    });
  },
});
server.on('error', (error) => process.stderr.write(`smtp sink: ${error.message}\n`));

server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.server.address() as AddressInfo).port });
});

process.on('message', (request) => {
  if (request === 'reset') {
    accepted = 0;
    repeatedMessageIds = 0;
    seen = new Set();
  }
  process.send?.({ accepted, repeatedMessageIds });
});
process.on('disconnect', () => server.close(() => process.exit(0)));
