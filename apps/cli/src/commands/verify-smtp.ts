import SMTPConnection from 'nodemailer/lib/smtp-connection';

export interface SmtpProbeEndpoint {
  host: string;
  port: number;
  /** Extra CA certificates (PEM); verification stays on. */
  ca?: Buffer;
  connectionTimeoutMs: number;
  greetingTimeoutMs: number;
  socketTimeoutMs: number;
}

/** The outcome of one SMTP step of `postroom verify`. */
export interface SmtpStep {
  name: 'connect' | 'auth' | 'mail from' | 'rcpt to' | 'rset';
  ok: boolean;
  /** The server's reply line, or a description for steps without one. */
  detail: string;
  /** The reply line when the server sent one, for choosing the fix. */
  reply?: string;
  /** Node.js or TLS error code of a step that failed without a reply. */
  networkCode?: string;
  /** Address the step was about, for MAIL FROM and RCPT TO. */
  address?: string;
}

// nodemailer 10.6's SMTPConnection always follows RCPT TO with DATA, so the dry run sends MAIL
// FROM, RCPT TO and RSET through its internal command queue: `_sendCommand` writes a line and
// `_responseActions` receives the next reply.
interface SmtpConnectionInternals {
  _sendCommand(line: string): void;
  _responseActions: ((reply: string) => void)[];
}

/**
 * Connects with STARTTLS, authenticates with XOAUTH2, then for each sender sends MAIL FROM
 * (and RCPT TO for the first one) followed by RSET, so that no message is sent. Stops at the
 * first failed step. The access token goes only into the AUTH command.
 */
export async function probeSmtp(
  endpoint: SmtpProbeEndpoint,
  mailbox: string,
  accessToken: string,
  senders: string[],
  recipient: string,
): Promise<SmtpStep[]> {
  const steps: SmtpStep[] = [];
  const replies: string[] = [];
  const connection = new SMTPConnection({
    host: endpoint.host,
    port: endpoint.port,
    secure: false,
    requireTLS: true,
    connectionTimeout: endpoint.connectionTimeoutMs,
    greetingTimeout: endpoint.greetingTimeoutMs,
    socketTimeout: endpoint.socketTimeoutMs,
    tls: { minVersion: 'TLSv1.2', ...(endpoint.ca ? { ca: endpoint.ca } : {}) },
    transactionLog: true,
    logger: replyRecorder(replies),
  });
  connection.on('error', () => {});

  try {
    const connected = await attempt(
      'connect',
      () => connect(connection),
      () => `${endpoint.host}:${endpoint.port}, STARTTLS`,
    );
    steps.push(connected);
    if (!connected.ok) return steps;

    const authenticated = await attempt(
      'auth',
      () => login(connection, mailbox, accessToken),
      () => replies.at(-1) ?? 'authenticated',
    );
    steps.push(authenticated);
    if (!authenticated.ok) return steps;

    for (const [index, sender] of senders.entries()) {
      const commands: [SmtpStep['name'], string, string][] = [
        ['mail from', `MAIL FROM:<${sender}>`, sender],
      ];
      if (index === 0) commands.push(['rcpt to', `RCPT TO:<${recipient}>`, recipient]);
      commands.push(['rset', 'RSET', '']);
      for (const [name, line, address] of commands) {
        const step = await command(connection, name, line, address);
        steps.push(step);
        if (!step.ok) return steps;
      }
    }
    return steps;
  } finally {
    connection.quit();
  }
}

async function attempt(
  name: SmtpStep['name'],
  run: () => Promise<void>,
  describe: () => string,
): Promise<SmtpStep> {
  try {
    await run();
    return { name, ok: true, detail: describe() };
  } catch (error) {
    return failedStep(name, error);
  }
}

function failedStep(name: SmtpStep['name'], error: unknown): SmtpStep {
  const details = error as { response?: string; code?: string; message?: string };
  if (details.response)
    return { name, ok: false, detail: details.response, reply: details.response };
  const networkCode = details.code ?? 'UNKNOWN';
  return { name, ok: false, detail: `${networkCode}: ${details.message ?? 'failed'}`, networkCode };
}

function connect(connection: SMTPConnection): Promise<void> {
  return new Promise((resolve, reject) => {
    // nodemailer reports a refused connection, a greeting timeout or a bad certificate as an
    // 'error' event, not through connect()'s callback.
    const onError = (error: Error) => reject(error);
    connection.once('error', onError);
    connection.connect((error) => {
      connection.off('error', onError);
      if (error) reject(error);
      else resolve();
    });
  });
}

function login(connection: SMTPConnection, user: string, accessToken: string): Promise<void> {
  const oauth2 = {
    getToken(_isRetry: boolean, callback: (error: Error | null, token?: string) => void) {
      callback(null, accessToken);
    },
    buildXOAuth2Token(token: string) {
      return Buffer.from(`user=${user}\x01auth=Bearer ${token}\x01\x01`).toString('base64');
    },
  };
  return new Promise((resolve, reject) => {
    connection.login({ user, method: 'XOAUTH2', oauth2 } as never, (error) =>
      error ? reject(error) : resolve(),
    );
  });
}

async function command(
  connection: SMTPConnection,
  name: SmtpStep['name'],
  line: string,
  address: string,
): Promise<SmtpStep> {
  try {
    const reply = await sendRaw(connection, line);
    const step: SmtpStep = { name, ok: reply.startsWith('2'), detail: reply, reply };
    return address ? { ...step, address } : step;
  } catch (error) {
    return failedStep(name, error);
  }
}

function sendRaw(connection: SMTPConnection, line: string): Promise<string> {
  const internals = connection as unknown as SmtpConnectionInternals;
  return new Promise((resolve, reject) => {
    const onEnd = () => {
      cleanup();
      reject(Object.assign(new Error('connection closed by the server'), { code: 'ECONNECTION' }));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      connection.off('end', onEnd);
      connection.off('error', onError);
    };
    connection.once('end', onEnd);
    connection.once('error', onError);
    internals._responseActions.push((reply) => {
      cleanup();
      resolve(reply.trim());
    });
    internals._sendCommand(line);
  });
}

// Keeps the server's reply lines, which nodemailer passes to the logger when transactionLog is
// on. Client lines (which include the AUTH command and so the token) are never kept.
function replyRecorder(replies: string[]) {
  const ignore = () => {};
  const record = (meta: { tnx?: string }, ...message: unknown[]) => {
    if (meta?.tnx === 'server') replies.push(message.map(String).join(' ').trim());
  };
  return { trace: ignore, debug: record, info: ignore, warn: ignore, error: ignore, fatal: ignore };
}
