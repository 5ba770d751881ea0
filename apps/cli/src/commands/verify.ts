import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, parseEnhancedCode } from '@postroom/core';
import {
  type AppConfig,
  createLogger,
  createMetrics,
  createTokenProviders,
  loadConfig,
  type MailboxConfig,
  TokenError,
  type TokenProviders,
  type WorkerConfig,
} from '@postroom/worker';
import { probeSmtp, type SmtpProbeEndpoint, type SmtpStep } from './verify-smtp.js';

export interface VerifyOptions {
  /** Check only this mailbox. */
  mailbox?: string;
  /** RCPT TO address of the dry run; default the mailbox itself. */
  recipient?: string;
}

type Print = (line: string) => void;

interface StepResult {
  name: string;
  ok: boolean;
  /** A step that was not run, and so neither passed nor failed. */
  skipped?: boolean;
  detail: string;
  fix?: string;
}

const SMTP_ROLE = 'SMTP.SendAsApp';
const GRAPH_ROLE = 'Mail.Send';

/** `postroom verify [--mailbox address] [--to address]`: checks every configured mailbox. */
export async function runVerify(
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  print: Print = stdout,
): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { mailbox: { type: 'string' }, to: { type: 'string' } },
  });
  let config: WorkerConfig;
  try {
    config = loadConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    print(`postroom verify: ${error.message}`);
    return 2;
  }
  return verifyConfig(
    config,
    {
      ...(values.mailbox ? { mailbox: values.mailbox } : {}),
      ...(values.to ? { recipient: values.to } : {}),
    },
    print,
  );
}

/**
 * Checks each mailbox the way the worker will use it, without sending. It gets a token and reads
 * its tenant, app and roles from the JWT payload without verifying it. For SMTP mailboxes it then
 * connects with STARTTLS, authenticates with XOAUTH2, and sends MAIL FROM for the mailbox and each
 * Send As address, RCPT TO and RSET. It prints OK, or the reply with the likely fix, for each
 * step, and never a token or secret. Returns 0 when every step passed, else 1.
 */
export async function verifyConfig(
  config: WorkerConfig,
  options: VerifyOptions = {},
  print: Print = stdout,
): Promise<number> {
  const wanted = options.mailbox?.toLowerCase();
  const mailboxes = config.mailboxes.filter(
    (mailbox) => !wanted || mailbox.address.toLowerCase() === wanted,
  );
  if (mailboxes.length === 0) {
    print(`postroom verify: no configured mailbox ${options.mailbox ?? ''}; check --mailbox`);
    return 2;
  }
  const ca = config.smtp.caFile ? readFileSync(config.smtp.caFile) : undefined;
  const providers = createTokenProviders(config, ca, createLogger('silent'), createMetrics());
  print(
    `Verifying ${mailboxes.length} mailbox(es): cloud ${config.cloud}, authority ${config.authorityHost}, SMTP ${config.smtp.host}:${config.smtp.port}`,
  );

  let failed = 0;
  for (const mailbox of mailboxes) {
    const app = config.apps.find((candidate) => candidate.name === mailbox.app) as AppConfig;
    print('');
    print(
      `${mailbox.address}  (app ${app.name}: tenant ${app.tenantId}, client ${app.clientId}, ${app.credential.kind}; transport ${mailbox.transport})`,
    );
    const results = await verifyMailbox(config, providers, app, mailbox, options, ca);
    for (const result of results) printStep(result, print);
    if (results.some((result) => !result.ok)) failed += 1;
  }

  print('');
  print(
    failed === 0
      ? `verify: all ${mailboxes.length} mailbox(es) OK`
      : `verify: ${failed} of ${mailboxes.length} mailbox(es) failed`,
  );
  return failed === 0 ? 0 : 1;
}

async function verifyMailbox(
  config: WorkerConfig,
  providers: TokenProviders,
  app: AppConfig,
  mailbox: MailboxConfig,
  options: VerifyOptions,
  ca: Buffer | undefined,
): Promise<StepResult[]> {
  const graph = mailbox.transport === 'graph';
  const provider = providers.for(app, graph ? config.graph.scope : config.smtpScope);
  const token = await checkToken(
    () => provider.getToken(),
    graph ? GRAPH_ROLE : SMTP_ROLE,
    graph ? 'Microsoft Graph' : 'Office 365 Exchange Online',
  );
  if (!token.result.ok || token.accessToken === undefined) return [token.result];
  if (graph) {
    const detail = `not tried, because Graph has no dry run: POST ${config.graph.host}/v1.0/users/${mailbox.address}/sendMail`;
    return [token.result, { name: 'sendMail', ok: true, skipped: true, detail }];
  }

  const endpoint: SmtpProbeEndpoint = {
    host: config.smtp.host,
    port: config.smtp.port,
    ...(ca ? { ca } : {}),
    connectionTimeoutMs: config.smtp.connectionTimeoutMs,
    greetingTimeoutMs: config.smtp.greetingTimeoutMs,
    socketTimeoutMs: config.smtp.socketTimeoutMs,
  };
  const senders = [mailbox.address, ...mailbox.sendAs];
  const steps = await probeSmtp(
    endpoint,
    mailbox.address,
    token.accessToken,
    senders,
    options.recipient ?? mailbox.address,
  );
  return [token.result, ...steps.map((step) => smtpResult(step, mailbox, app))];
}

async function checkToken(
  getToken: () => Promise<{ token: string; expiresAtMs: number }>,
  role: string,
  api: string,
): Promise<{ result: StepResult; accessToken?: string }> {
  let token: { token: string; expiresAtMs: number };
  try {
    token = await getToken();
  } catch (error) {
    if (!(error instanceof TokenError)) throw error;
    const correlation = error.correlationId ? ` (correlation id ${error.correlationId})` : '';
    // The fix gets its own line, so it is left out of the detail when the message ends with it.
    const suffix = error.fix ? `; ${error.fix}` : undefined;
    const summary =
      suffix && error.message.endsWith(suffix)
        ? error.message.slice(0, -suffix.length)
        : error.message;
    return {
      result: {
        name: 'token',
        ok: false,
        detail: `${summary}${correlation}`,
        fix:
          error.fix ??
          'check that the authority (POSTROOM_CLOUD or POSTROOM_AUTHORITY_HOST) is reachable over HTTPS and, for a private CA, POSTROOM_TLS_CA_FILE',
      },
    };
  }
  const claims = decodeJwtPayload(token.token);
  const roles = Array.isArray(claims.roles) ? claims.roles.map(String) : [];
  const minutes = Math.round((token.expiresAtMs - Date.now()) / 60_000);
  const detail = `tenant ${String(claims.tid ?? '?')}, app ${String(claims.appid ?? claims.azp ?? '?')}, roles ${roles.join(', ') || 'none'}, expires in ${minutes} min`;
  if (!roles.includes(role)) {
    return {
      result: {
        name: 'token',
        ok: false,
        detail,
        fix: `the token lacks ${role}: add the application permission ${role} of ${api} to the app registration and grant admin consent`,
      },
    };
  }
  return { result: { name: 'token', ok: true, detail }, accessToken: token.token };
}

/** Reads a JWT's payload without verifying its signature; an empty object when it is not a JWT. */
function decodeJwtPayload(jwt: string): Record<string, unknown> {
  try {
    return JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch {
    return {};
  }
}

function smtpResult(step: SmtpStep, mailbox: MailboxConfig, app: AppConfig): StepResult {
  if (step.ok) return { name: step.name, ok: true, detail: step.detail };
  const fix = step.reply ? replyFix(step.reply, step, mailbox, app) : networkFix(step.networkCode);
  return { name: step.name, ok: false, detail: step.detail, ...(fix ? { fix } : {}) };
}

// The fixes follow the usual causes of each Exchange Online reply.
function replyFix(
  reply: string,
  step: SmtpStep,
  mailbox: MailboxConfig,
  app: AppConfig,
): string | undefined {
  switch (parseEnhancedCode(reply)) {
    case '5.7.3':
      return [
        'Exchange does not accept this app for the mailbox. In Exchange Online PowerShell, register the',
        "app's service principal (use the Enterprise Application's object id) and give it the mailbox:",
        `  New-ServicePrincipal -AppId ${app.clientId} -ObjectId <enterprise application object id>`,
        `  Add-MailboxPermission -Identity ${mailbox.address} -User <service principal id> -AccessRights FullAccess`,
      ].join('\n');
    case '5.7.139':
      return [
        'SMTP AUTH is disabled for the mailbox or the tenant:',
        `  Set-CASMailbox -Identity ${mailbox.address} -SmtpClientAuthenticationDisabled $false`,
        '  (for the tenant: Set-TransportConfig -SmtpClientAuthenticationDisabled $false)',
      ].join('\n');
    case '5.7.60':
    case '5.2.252':
      return `${mailbox.address} has no Send As right for ${step.address ?? 'this sender'}:\n  Add-RecipientPermission -Identity ${step.address ?? '<sender>'} -Trustee ${mailbox.address} -AccessRights SendAs`;
    case '5.7.57':
    case '5.7.30':
      return 'the server does not treat the session as authenticated; AUTH XOAUTH2 must succeed first (see the auth step)';
    case '4.3.2':
      return "all of the mailbox's concurrent connections are in use (3 on Exchange Online); run verify again when workers are idle";
    case '4.7.66':
      return 'the server requires TLS 1.2 or later; update Node.js or OpenSSL';
    default:
      return undefined;
  }
}

function networkFix(code: string | undefined): string {
  if (code && /CERT|SELF_SIGNED|ALTNAME|SSL/.test(code)) {
    return 'the server certificate did not verify: connect by DNS name, and for a private CA set POSTROOM_TLS_CA_FILE';
  }
  return 'check POSTROOM_SMTP_HOST and POSTROOM_SMTP_PORT (587 with STARTTLS) and that outbound port 587 is open';
}

function printStep(result: StepResult, print: Print): void {
  let status = result.ok ? 'OK  ' : 'FAIL';
  if (result.skipped) status = 'SKIP';
  print(`  ${status}  ${result.name.padEnd(10)} ${result.detail}`);
  if (!result.fix) return;
  const [first, ...rest] = result.fix.split('\n');
  print(`        fix: ${first}`);
  for (const line of rest) print(`        ${line}`);
}

function stdout(line: string): void {
  process.stdout.write(`${line}\n`);
}
