import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import {
  ConfigError,
  DEFAULT_QUEUE_NAME,
  DEFAULT_RETRY_POLICY,
  EXCHANGE_ONLINE_LIMITS,
  type MailboxLimits,
  parseAddress,
  QUEUE_NAME_PATTERN,
  QUEUE_NAME_RULE,
  type RetryPolicy,
  redisUrlProblem,
  type ValidationIssue,
} from '@postroom/core';
import { z } from 'zod';
import { CLOUDS, type CloudName } from './clouds.js';
import {
  type ConfigWarning,
  mailboxLimitWarnings,
  unknownVariableWarnings,
} from './config-warnings.js';
import { MAX_CONNECTIONS, type MailboxFile, mailboxFileSchema } from './mailbox-file.js';
import { resolveCredential } from './tokens/credential-sources.js';
import {
  type AppCredential,
  CredentialError,
  loadCertificateCredential,
  sameCredential,
} from './tokens/credentials.js';

/** An Entra ID app registration whose app-only tokens the worker requests. */
export interface AppConfig {
  name: string;
  tenantId: string;
  clientId: string;
  credential: AppCredential;
}

/** Submission path of a mailbox: SMTP AUTH with XOAUTH2, or Microsoft Graph `sendMail`. */
export type MailTransport = 'smtp' | 'graph';

export interface MailboxConfig {
  address: string;
  app: string;
  transport: MailTransport;
  /** Other From addresses this mailbox has Send As permission for. */
  sendAs: string[];
  /** For Graph, `maxConnections` is the number of concurrent `sendMail` requests. */
  limits: MailboxLimits;
}

export interface WorkerConfig {
  redisUrl: string;
  queueName: string;
  /** Jobs one process works on at once, across all mailboxes. */
  concurrency: number;
  instanceId: string;
  cloud: CloudName;
  /** Entra ID authority host; differs from the cloud's only for a local emulator. */
  authorityHost: string;
  smtpScope: string;
  /** A token is renewed this long before it expires, in ms. */
  tokenRenewBeforeExpiryMs: number;
  graph: {
    /** Graph base URL such as `https://graph.microsoft.com`. */
    host: string;
    scope: string;
    /** Time to wait for a `sendMail` response once the request is sent, in ms. */
    timeoutMs: number;
  };
  smtp: {
    host: string;
    port: number;
    /** PEM file of extra CAs to trust for SMTP and the token endpoint; system CAs stay trusted. */
    caFile?: string;
    connectionTimeoutMs: number;
    greetingTimeoutMs: number;
    socketTimeoutMs: number;
  };
  apps: AppConfig[];
  mailboxes: MailboxConfig[];
  retry: RetryPolicy;
  /** Added to each rate window so that network jitter cannot squeeze one message too many in. */
  rateGuardMs: number;
  /** How long a mailbox stays stopped after a blocking or configuration reply, in ms. */
  circuitOpenMs: number;
  /** How long delivery records (status) and dead letters (failed jobs) are kept, in ms. */
  recordRetentionMs: number;
  /** How long the record of an accepted submission guards its Message-ID against a resend, in ms. */
  submissionRecordTtlMs: number;
  /** Time an unused SMTP connection stays open for the next message, in ms. */
  connectionIdleMs: number;
  /** Maximum number of unused SMTP connections this process keeps open over all mailboxes. */
  maxIdleConnections: number;
  http: { host: string; port: number };
  /** BullMQ job lock; must outlast the longest silence of an SMTP transaction. */
  lockDurationMs: number;
  /** How often workers look for jobs whose lock expired (their worker died), in ms. */
  stalledIntervalMs: number;
  shutdownTimeoutMs: number;
  /** Start even when Redis may evict keys (maxmemory-policy other than noeviction). */
  allowEviction: boolean;
  logLevel: string;
  /** Problems that do not stop the worker, such as unknown POSTROOM_* variables; logged at start. */
  warnings?: ConfigWarning[];
}

/**
 * Parses a whole number from a variable. Every failure gets the same rule as its message, so
 * `abc`, an empty value and a value out of range all get the same fix.
 */
function integer(min: number, max?: number) {
  const rule =
    max === undefined
      ? `must be a whole number of at least ${min}`
      : `must be a whole number from ${min} to ${max}`;
  return z
    .string()
    .trim()
    .regex(/^-?\d+$/, rule)
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, rule)
        .max(max ?? Number.MAX_SAFE_INTEGER, rule),
    );
}

// Every POSTROOM_* variable the worker reads, with its default. Units are in the names.
const envSchema = z.object({
  POSTROOM_REDIS_URL: z
    .string()
    .superRefine((url, context) => {
      const problem = redisUrlProblem(url);
      if (problem) context.addIssue({ code: 'custom', message: problem });
    })
    .default('redis://127.0.0.1:6379'),
  POSTROOM_QUEUE_NAME: z
    .string()
    .regex(QUEUE_NAME_PATTERN, QUEUE_NAME_RULE)
    .default(DEFAULT_QUEUE_NAME),
  // A job spends three Redis round trips and its rendering outside its SMTP transaction. At 8,
  // the send-path benchmark found a busy mailbox's three connections idle up to half the time.
  POSTROOM_CONCURRENCY: integer(1, 1000).default(16),
  POSTROOM_INSTANCE_ID: z.string().min(1).default(`${hostname()}-${process.pid}`),
  POSTROOM_CLOUD: z.enum(Object.keys(CLOUDS) as [CloudName, ...CloudName[]]).default('global'),
  POSTROOM_AUTHORITY_HOST: z.string().url().startsWith('https://').optional(),
  POSTROOM_SMTP_HOST: z.string().min(1).optional(),
  POSTROOM_SMTP_PORT: integer(1, 65535).default(587),
  POSTROOM_TLS_CA_FILE: z.string().min(1).optional(),
  POSTROOM_SMTP_CONNECTION_TIMEOUT_MS: integer(100).default(30_000),
  POSTROOM_SMTP_GREETING_TIMEOUT_MS: integer(100).default(30_000),
  POSTROOM_SMTP_SOCKET_TIMEOUT_MS: integer(100).default(60_000),
  POSTROOM_GRAPH_HOST: z.string().url().startsWith('https://').optional(),
  POSTROOM_GRAPH_TIMEOUT_MS: integer(100).default(60_000),
  POSTROOM_TOKEN_RENEW_BEFORE_EXPIRY_MS: integer(0).default(5 * 60_000),
  POSTROOM_CONFIG: z.string().min(1).optional(),
  POSTROOM_MAILBOX: z.string().optional(),
  POSTROOM_TENANT_ID: z.string().optional(),
  POSTROOM_CLIENT_ID: z.string().optional(),
  POSTROOM_CLIENT_SECRET: z.string().optional(),
  POSTROOM_CLIENT_CERTIFICATE_FILE: z.string().min(1).optional(),
  POSTROOM_CLIENT_PRIVATE_KEY_FILE: z.string().min(1).optional(),
  POSTROOM_RETRY_BASE_DELAY_MS: integer(1).default(DEFAULT_RETRY_POLICY.baseDelayMs),
  POSTROOM_RETRY_MAX_DELAY_MS: integer(1).default(DEFAULT_RETRY_POLICY.maxDelayMs),
  POSTROOM_RETRY_MAX_ATTEMPTS: integer(1).default(DEFAULT_RETRY_POLICY.maxAttempts),
  POSTROOM_MAX_AGE_MS: integer(1000).default(DEFAULT_RETRY_POLICY.maxAgeMs),
  POSTROOM_RATE_GUARD_MS: integer(0).default(1000),
  POSTROOM_CONNECTION_IDLE_MS: integer(0).default(5000),
  POSTROOM_MAX_IDLE_CONNECTIONS: integer(0).default(300),
  POSTROOM_CIRCUIT_OPEN_MS: integer(1000).default(15 * 60_000),
  POSTROOM_RECORD_RETENTION_MS: integer(60_000).default(30 * 24 * 60 * 60_000),
  POSTROOM_SUBMISSION_RECORD_TTL_MS: integer(60_000).default(24 * 60 * 60_000),
  POSTROOM_HTTP_HOST: z.string().default('0.0.0.0'),
  POSTROOM_HTTP_PORT: integer(0, 65535).default(9464),
  POSTROOM_SHUTDOWN_TIMEOUT_MS: integer(0).default(30_000),
  POSTROOM_LOCK_DURATION_MS: integer(1000).optional(),
  POSTROOM_STALLED_INTERVAL_MS: integer(500).default(30_000),
  POSTROOM_ALLOW_EVICTION: z.enum(['true', 'false']).default('false'),
  POSTROOM_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info'),
});

/**
 * Reads the worker configuration from POSTROOM_* variables and the mailbox file named by
 * POSTROOM_CONFIG. Throws ConfigError naming each bad variable or field and its fix.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => envIssue(issue, env));
    throw new ConfigError('invalid worker environment', issues);
  }
  const vars = parsed.data;
  checkRetryDelays(vars);
  if (vars.POSTROOM_TLS_CA_FILE) checkCaFile(vars.POSTROOM_TLS_CA_FILE);
  const file = vars.POSTROOM_CONFIG ? readMailboxFile(vars.POSTROOM_CONFIG, env) : undefined;
  const { apps, mailboxes } = resolveMailboxes(vars, file);
  const cloud = CLOUDS[vars.POSTROOM_CLOUD];

  return {
    redisUrl: vars.POSTROOM_REDIS_URL,
    queueName: vars.POSTROOM_QUEUE_NAME,
    concurrency: vars.POSTROOM_CONCURRENCY,
    instanceId: vars.POSTROOM_INSTANCE_ID,
    cloud: vars.POSTROOM_CLOUD,
    authorityHost: vars.POSTROOM_AUTHORITY_HOST ?? cloud.authorityHost,
    smtpScope: cloud.smtpScope,
    tokenRenewBeforeExpiryMs: vars.POSTROOM_TOKEN_RENEW_BEFORE_EXPIRY_MS,
    graph: {
      host: (vars.POSTROOM_GRAPH_HOST ?? cloud.graphHost).replace(/\/+$/, ''),
      scope: cloud.graphScope,
      timeoutMs: vars.POSTROOM_GRAPH_TIMEOUT_MS,
    },
    smtp: {
      host: vars.POSTROOM_SMTP_HOST ?? cloud.smtpHost,
      port: vars.POSTROOM_SMTP_PORT,
      ...(vars.POSTROOM_TLS_CA_FILE ? { caFile: vars.POSTROOM_TLS_CA_FILE } : {}),
      connectionTimeoutMs: vars.POSTROOM_SMTP_CONNECTION_TIMEOUT_MS,
      greetingTimeoutMs: vars.POSTROOM_SMTP_GREETING_TIMEOUT_MS,
      socketTimeoutMs: vars.POSTROOM_SMTP_SOCKET_TIMEOUT_MS,
    },
    apps,
    mailboxes,
    retry: {
      baseDelayMs: vars.POSTROOM_RETRY_BASE_DELAY_MS,
      maxDelayMs: vars.POSTROOM_RETRY_MAX_DELAY_MS,
      maxAttempts: vars.POSTROOM_RETRY_MAX_ATTEMPTS,
      maxAgeMs: vars.POSTROOM_MAX_AGE_MS,
    },
    rateGuardMs: vars.POSTROOM_RATE_GUARD_MS,
    connectionIdleMs: vars.POSTROOM_CONNECTION_IDLE_MS,
    maxIdleConnections: vars.POSTROOM_MAX_IDLE_CONNECTIONS,
    circuitOpenMs: vars.POSTROOM_CIRCUIT_OPEN_MS,
    recordRetentionMs: vars.POSTROOM_RECORD_RETENTION_MS,
    submissionRecordTtlMs: vars.POSTROOM_SUBMISSION_RECORD_TTL_MS,
    http: { host: vars.POSTROOM_HTTP_HOST, port: vars.POSTROOM_HTTP_PORT },
    lockDurationMs: lockDuration(
      vars,
      mailboxes.some((mailbox) => mailbox.transport === 'graph'),
    ),
    stalledIntervalMs: vars.POSTROOM_STALLED_INTERVAL_MS,
    shutdownTimeoutMs: vars.POSTROOM_SHUTDOWN_TIMEOUT_MS,
    allowEviction: vars.POSTROOM_ALLOW_EVICTION === 'true',
    logLevel: vars.POSTROOM_LOG_LEVEL,
    warnings: [
      ...unknownVariableWarnings(env, [
        ...Object.keys(envSchema.shape),
        ...secretVariableNames(file?.file),
      ]),
      ...mailboxLimitWarnings(mailboxes),
    ],
  };
}

// Variables the mailbox file names for credentials may start with POSTROOM_ too.
function secretVariableNames(file: MailboxFile | undefined): string[] {
  const names = (file?.apps ?? []).flatMap((app) => [
    app.clientSecretEnv,
    app.certificateEnv,
    app.privateKeyEnv,
  ]);
  return names.filter((name): name is string => name !== undefined);
}

type EnvVars = z.infer<typeof envSchema>;

// The lock is renewed every half lock while the process runs. It must outlast the SMTP socket
// timeout, and the Graph timeout when a mailbox uses Graph, so that another worker never takes
// over a slow but live send.
function lockDuration(vars: EnvVars, usesGraph: boolean): number {
  const [timeoutName, timeoutMs] =
    usesGraph && vars.POSTROOM_GRAPH_TIMEOUT_MS > vars.POSTROOM_SMTP_SOCKET_TIMEOUT_MS
      ? ['POSTROOM_GRAPH_TIMEOUT_MS', vars.POSTROOM_GRAPH_TIMEOUT_MS]
      : ['POSTROOM_SMTP_SOCKET_TIMEOUT_MS', vars.POSTROOM_SMTP_SOCKET_TIMEOUT_MS];
  const minimumMs = timeoutMs * 2;
  const lockMs = vars.POSTROOM_LOCK_DURATION_MS ?? Math.max(30_000, minimumMs);
  if (lockMs < minimumMs) {
    throw new ConfigError('invalid worker environment', [
      {
        path: 'POSTROOM_LOCK_DURATION_MS',
        message: `${lockMs} ms is shorter than twice ${timeoutName} (${minimumMs} ms); raise it or lower the timeout`,
      },
    ]);
  }
  return lockMs;
}

// Values of these variables can contain a password or secret, so errors leave them out.
const SECRET_VARIABLES = new Set(['POSTROOM_REDIS_URL', 'POSTROOM_CLIENT_SECRET']);

function envIssue(issue: z.core.$ZodIssue, env: NodeJS.ProcessEnv): ValidationIssue {
  const variable = String(issue.path[0] ?? '');
  const given = SECRET_VARIABLES.has(variable) ? '' : `, got '${env[variable] ?? ''}'`;
  return { path: variable, message: `${issue.message}${given}; fix or unset ${variable}` };
}

function checkRetryDelays(vars: EnvVars): void {
  if (vars.POSTROOM_RETRY_BASE_DELAY_MS <= vars.POSTROOM_RETRY_MAX_DELAY_MS) return;
  throw new ConfigError('invalid worker environment', [
    {
      path: 'POSTROOM_RETRY_BASE_DELAY_MS',
      message: `${vars.POSTROOM_RETRY_BASE_DELAY_MS} ms is above POSTROOM_RETRY_MAX_DELAY_MS (${vars.POSTROOM_RETRY_MAX_DELAY_MS} ms); lower it or raise POSTROOM_RETRY_MAX_DELAY_MS`,
    },
  ]);
}

// The worker and verify read the file when they start. Checking it here already turns a missing or
// wrong file into a ConfigError that names the variable, instead of a bare ENOENT later.
function checkCaFile(path: string): void {
  let message: string | undefined;
  try {
    if (!readFileSync(path, 'utf8').includes('-----BEGIN CERTIFICATE-----')) {
      message = `${path} contains no PEM certificate (-----BEGIN CERTIFICATE-----); point POSTROOM_TLS_CA_FILE at the PEM file of the CA to trust`;
    }
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    message = `cannot read ${path} (${reason}); point POSTROOM_TLS_CA_FILE at a readable PEM file of the CA to trust, or unset it to trust the system CAs only`;
  }
  if (message) {
    throw new ConfigError('invalid worker environment', [
      { path: 'POSTROOM_TLS_CA_FILE', message },
    ]);
  }
}

function readMailboxFile(path: string, env: NodeJS.ProcessEnv): LoadedMailboxFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigError('invalid POSTROOM_CONFIG', [
      {
        path: 'POSTROOM_CONFIG',
        message: `cannot read ${path} as JSON (${reason}); point it at a JSON mailbox file`,
      },
    ]);
  }
  const parsed = mailboxFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((issue) => ({
      path: `${path}: ${issue.path.join('.')}`,
      message: issue.message,
    }));
    throw new ConfigError('invalid mailbox file', issues);
  }
  return { file: parsed.data, apps: resolveApps(parsed.data, { env, baseDir: dirname(path) }) };
}

interface LoadedMailboxFile {
  file: MailboxFile;
  apps: AppConfig[];
}

// Secrets and certificates are read once here, so that a missing variable, an unreadable file or
// a key that does not match its certificate stops the worker at start rather than at the first send.
function resolveApps(
  file: MailboxFile,
  context: Parameters<typeof resolveCredential>[2],
): AppConfig[] {
  const issues: ValidationIssue[] = [];
  const apps: AppConfig[] = [];
  file.apps.forEach((app, index) => {
    const credential = resolveCredential(app, `apps[${index}]`, context, issues);
    if (credential)
      apps.push({ name: app.name, tenantId: app.tenantId, clientId: app.clientId, credential });
  });
  if (issues.length > 0) throw new ConfigError('invalid mailbox file', issues);
  return apps;
}

function resolveMailboxes(vars: EnvVars, loaded: LoadedMailboxFile | undefined) {
  const apps: AppConfig[] = loaded?.apps ?? [];
  const mailboxes: MailboxConfig[] = (loaded?.file.mailboxes ?? []).map((mailbox) => {
    const transport = mailbox.transport ?? 'smtp';
    return {
      address: mailbox.address,
      app: mailbox.app ?? apps[0]?.name ?? 'default',
      transport,
      sendAs: mailbox.sendAs ?? [],
      limits: withDefaultLimits(mailbox.limits ?? {}, transport),
    };
  });

  if (vars.POSTROOM_MAILBOX) {
    const { app, mailbox } = mailboxFromEnv(vars);
    apps.push(app);
    mailboxes.push(mailbox);
  }
  checkMailboxes(apps, mailboxes);
  return { apps, mailboxes };
}

function withDefaultLimits(
  overrides: Record<string, number | undefined>,
  transport: MailTransport,
): MailboxLimits {
  const defined = Object.entries(overrides).filter(([, value]) => value !== undefined);
  return {
    ...EXCHANGE_ONLINE_LIMITS,
    maxConnections: MAX_CONNECTIONS[transport],
    ...Object.fromEntries(defined),
  };
}

function mailboxFromEnv(vars: EnvVars): { app: AppConfig; mailbox: MailboxConfig } {
  const missing: string[] = (['POSTROOM_TENANT_ID', 'POSTROOM_CLIENT_ID'] as const).filter(
    (name) => !vars[name],
  );
  const anyCredential =
    vars.POSTROOM_CLIENT_SECRET ||
    vars.POSTROOM_CLIENT_CERTIFICATE_FILE ||
    vars.POSTROOM_CLIENT_PRIVATE_KEY_FILE;
  if (!anyCredential) missing.push('POSTROOM_CLIENT_SECRET');
  if (missing.length > 0) {
    throw new ConfigError(
      'incomplete mailbox settings',
      missing.map((name) => ({
        path: name,
        message:
          name === 'POSTROOM_CLIENT_SECRET'
            ? 'POSTROOM_MAILBOX needs POSTROOM_CLIENT_SECRET, or POSTROOM_CLIENT_CERTIFICATE_FILE and POSTROOM_CLIENT_PRIVATE_KEY_FILE'
            : `${name} is required when POSTROOM_MAILBOX is set`,
      })),
    );
  }
  const address = parseAddress(vars.POSTROOM_MAILBOX ?? '');
  if (typeof address === 'string') {
    throw new ConfigError('invalid mailbox settings', [
      { path: 'POSTROOM_MAILBOX', message: address },
    ]);
  }
  return {
    app: {
      name: 'env',
      tenantId: vars.POSTROOM_TENANT_ID ?? '',
      clientId: vars.POSTROOM_CLIENT_ID ?? '',
      credential: credentialFromEnv(vars),
    },
    mailbox: {
      address: address.address,
      app: 'env',
      transport: 'smtp',
      sendAs: [],
      limits: { ...EXCHANGE_ONLINE_LIMITS },
    },
  };
}

// The credential of the POSTROOM_MAILBOX app is POSTROOM_CLIENT_SECRET, or a certificate from
// POSTROOM_CLIENT_CERTIFICATE_FILE with its key from POSTROOM_CLIENT_PRIVATE_KEY_FILE.
function credentialFromEnv(vars: EnvVars): AppCredential {
  const certificateFile = vars.POSTROOM_CLIENT_CERTIFICATE_FILE;
  const keyFile = vars.POSTROOM_CLIENT_PRIVATE_KEY_FILE;
  const secret = vars.POSTROOM_CLIENT_SECRET;
  const fail = (path: string, message: string): never => {
    throw new ConfigError('incomplete mailbox settings', [{ path, message }]);
  };
  if (secret && (certificateFile || keyFile)) {
    return fail(
      'POSTROOM_CLIENT_SECRET',
      'set POSTROOM_CLIENT_SECRET or the certificate files, not both',
    );
  }
  if (secret) return { kind: 'secret', clientSecret: secret };
  if (!certificateFile || !keyFile) {
    return fail(
      certificateFile ? 'POSTROOM_CLIENT_PRIVATE_KEY_FILE' : 'POSTROOM_CLIENT_CERTIFICATE_FILE',
      'a certificate credential needs both POSTROOM_CLIENT_CERTIFICATE_FILE and POSTROOM_CLIENT_PRIVATE_KEY_FILE',
    );
  }
  try {
    return loadCertificateCredential({
      certificatePem: readPemFile(certificateFile, 'POSTROOM_CLIENT_CERTIFICATE_FILE'),
      privateKeyPem: readPemFile(keyFile, 'POSTROOM_CLIENT_PRIVATE_KEY_FILE'),
      certificateField: 'POSTROOM_CLIENT_CERTIFICATE_FILE',
      privateKeyField: 'POSTROOM_CLIENT_PRIVATE_KEY_FILE',
      sendX5c: false,
    });
  } catch (error) {
    if (!(error instanceof CredentialError)) throw error;
    return fail(error.field, error.message);
  }
}

function readPemFile(path: string, variable: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error);
    throw new ConfigError('invalid mailbox settings', [
      {
        path: variable,
        message: `cannot read ${path} (${reason}); point it at a readable PEM file`,
      },
    ]);
  }
}

function checkMailboxes(apps: AppConfig[], mailboxes: MailboxConfig[]): void {
  const issues: ValidationIssue[] = checkApps(apps);
  if (mailboxes.length === 0) {
    issues.push({
      path: 'POSTROOM_CONFIG',
      message:
        'no sending mailbox is configured; set POSTROOM_CONFIG to a mailbox file or set POSTROOM_MAILBOX',
    });
  }
  const appNames = new Set(apps.map((app) => app.name));
  // Keyed by the lowercased address, because Exchange treats addresses that differ only in case
  // as one mailbox, and two entries for it would each keep their own limits.
  const seen = new Map<string, string>();
  for (const mailbox of mailboxes) {
    if (!appNames.has(mailbox.app)) {
      issues.push({
        path: `mailbox ${mailbox.address}`,
        message: `app "${mailbox.app}" is not defined in apps`,
      });
    }
    const first = seen.get(mailbox.address.toLowerCase());
    if (first === mailbox.address) {
      issues.push({
        path: `mailbox ${mailbox.address}`,
        message: 'mailbox is configured twice; keep one entry',
      });
    } else if (first !== undefined) {
      issues.push({
        path: `mailbox ${mailbox.address}`,
        message: `${first} and ${mailbox.address} differ only in case, so they are one mailbox; keep one entry`,
      });
    } else {
      seen.set(mailbox.address.toLowerCase(), mailbox.address);
    }
  }
  if (issues.length > 0) throw new ConfigError('invalid mailbox settings', issues);
}

// Apps share one MSAL client per (tenant, client id), so two entries for one registration must
// agree on the credential.
function checkApps(apps: AppConfig[]): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const names = new Set<string>();
  const byIdentity = new Map<string, AppConfig>();
  for (const app of apps) {
    if (names.has(app.name)) {
      issues.push({
        path: `app ${app.name}`,
        message: 'app name is used twice; give each app a unique name',
      });
    }
    names.add(app.name);
    const identity = `${app.tenantId.toLowerCase()}/${app.clientId.toLowerCase()}`;
    const first = byIdentity.get(identity);
    if (first && !sameCredential(first.credential, app.credential)) {
      issues.push({
        path: `app ${app.name}`,
        message: `uses the tenant and client id of app ${first.name} with a different credential; use one credential per app registration`,
      });
    }
    if (!first) byIdentity.set(identity, app);
  }
  return issues;
}
