import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AppCertificate,
  createAppCertificate,
  type Emulator,
  type EmulatorApp,
  type EmulatorLimits,
  startEmulator,
} from '@postroom/m365-emulator';
import { freePort, RedisServer } from './redis-server.js';
import { WorkerProcess, type WorkerRuntime } from './worker-process.js';

export interface StackMailbox {
  address: string;
  /** Name of the stack app it sends with; default the first. */
  app?: string;
  /** `smtp` (default) or `graph`. */
  transport?: 'smtp' | 'graph';
  sendAs?: string[];
  /** Messages per emulated minute, for both the emulator and the worker. */
  messagesPerMinute?: number;
  maxConnections?: number;
  recipientsPerMessage?: number;
  /** Recipients per emulated day (1440 time units), for both the emulator and the worker. */
  recipientsPerDay?: number;
}

/** An app registration of the stack, in the emulator's directory and in the mailbox file. */
export interface StackApp {
  name: string;
  /** `secret` (default), or `certificate`: a generated key and self-signed certificate. */
  credential?: 'secret' | 'certificate';
  /**
   * Whether Exchange lets the app send as its mailboxes: the service principal and mailbox
   * permission that New-ServicePrincipal and Add-MailboxPermission create. Default true. Without
   * it, AUTH fails with 535 5.7.3.
   */
  mailboxGrant?: boolean;
}

export interface LocalStackOptions {
  /** Use this Redis instead of starting a `redis-server`. */
  redisUrl?: string;
  /** Length of one emulated minute in ms; the worker's rate window matches it. */
  timeUnitMs: number;
  mailboxes: StackMailbox[];
  queueName?: string;
  /** Extra POSTROOM_* variables for every worker. */
  workerEnv?: Record<string, string>;
  /** Runtime of the worker processes: the TypeScript sources (default) or the compiled `dist`. */
  workerRuntime?: WorkerRuntime;
  tokenLifetimeSeconds?: number;
  /** App registrations; default one app `contoso` with a client secret. */
  apps?: StackApp[];
}

const TENANT_ID = 'contoso-demo-tenant';
const CLIENT_ID = 'postroom-demo-app';
const DEFAULT_APPS: StackApp[] = [{ name: 'contoso' }];

/** An app with its generated credential: a secret and its variable, or certificate files. */
interface ResolvedApp extends Required<StackApp> {
  clientId: string;
  secret?: { value: string; variable: string };
  certificate?: AppCertificate & { certificateFile: string; privateKeyFile: string };
}

/**
 * Redis, the Microsoft 365 emulator and worker processes on loopback, wired together the way a
 * deployment is: workers read POSTROOM_* variables and a mailbox file and trust the emulator's CA.
 */
export class LocalStack {
  readonly redisUrl: string;
  readonly emulator: Emulator;
  readonly queueName: string;
  readonly dir: string;
  readonly workers: WorkerProcess[] = [];
  readonly #redis: RedisServer | undefined;
  readonly #options: LocalStackOptions;
  readonly #apps: ResolvedApp[];
  #stopped: Promise<void> | undefined;

  private constructor(
    options: LocalStackOptions,
    dir: string,
    apps: ResolvedApp[],
    redisUrl: string,
    emulator: Emulator,
    redis?: RedisServer,
  ) {
    this.#options = options;
    this.#apps = apps;
    this.dir = dir;
    this.redisUrl = redisUrl;
    this.emulator = emulator;
    this.#redis = redis;
    this.queueName = options.queueName ?? `stack-${randomUUID().slice(0, 8)}`;
  }

  static async start(options: LocalStackOptions): Promise<LocalStack> {
    const dir = await mkdtemp(join(tmpdir(), 'postroom-stack-'));
    const redis = options.redisUrl ? undefined : await RedisServer.start();
    const redisUrl = options.redisUrl ?? (redis as RedisServer).url;
    const apps = await LocalStack.#createApps(options.apps ?? DEFAULT_APPS, dir);
    const emulator = await LocalStack.#startEmulator(options, dir, apps);
    const stack = new LocalStack(options, dir, apps, redisUrl, emulator, redis);
    await stack.#writeMailboxFile();
    return stack;
  }

  // Secrets go to the worker in variables; certificates and keys in files beside the mailbox file.
  static async #createApps(apps: StackApp[], dir: string): Promise<ResolvedApp[]> {
    return Promise.all(
      apps.map(async (app, index) => {
        const resolved: ResolvedApp = {
          name: app.name,
          credential: app.credential ?? 'secret',
          mailboxGrant: app.mailboxGrant ?? true,
          clientId: index === 0 ? CLIENT_ID : `postroom-${app.name}-app`,
        };
        if (resolved.credential === 'secret') {
          const variable =
            index === 0
              ? 'POSTROOM_DEMO_CLIENT_SECRET'
              : `POSTROOM_DEMO_${app.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_SECRET`;
          resolved.secret = { value: randomUUID(), variable };
          return resolved;
        }
        const pems = await createAppCertificate(resolved.clientId);
        const certificateFile = join(dir, `${app.name}-certificate.pem`);
        const privateKeyFile = join(dir, `${app.name}-private-key.pem`);
        await writeFile(certificateFile, pems.certificatePem);
        await writeFile(privateKeyFile, pems.privateKeyPem, { mode: 0o600 });
        resolved.certificate = { ...pems, certificateFile, privateKeyFile };
        return resolved;
      }),
    );
  }

  static #startEmulator(
    options: LocalStackOptions,
    dir: string,
    apps: ResolvedApp[],
  ): Promise<Emulator> {
    const mailboxLimits: Record<string, Partial<EmulatorLimits>> = {};
    const sendAs: Record<string, string[]> = {};
    for (const mailbox of options.mailboxes) {
      mailboxLimits[mailbox.address] = {
        ...(mailbox.messagesPerMinute ? { messagesPerMinute: mailbox.messagesPerMinute } : {}),
        ...(mailbox.recipientsPerMessage
          ? { recipientsPerMessage: mailbox.recipientsPerMessage }
          : {}),
        ...(mailbox.recipientsPerDay ? { recipientsPerDay: mailbox.recipientsPerDay } : {}),
      };
      if (mailbox.sendAs) sendAs[mailbox.address] = mailbox.sendAs;
    }
    return startEmulator({
      timeUnitMs: options.timeUnitMs,
      tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3600,
      apps: apps.map((app) => emulatorApp(app, options.mailboxes, apps[0]?.name)),
      mailboxLimits,
      sendAs,
      stateDir: join(dir, 'emulator'),
    });
  }

  get mailboxFile(): string {
    return join(this.dir, 'mailboxes.json');
  }

  /**
   * Every credential secret of the stack: client secret values and private key PEM texts, for
   * tests that check a log contains none of them.
   */
  get credentialSecrets(): string[] {
    return this.#apps.flatMap((app) =>
      [app.secret?.value, app.certificate?.privateKeyPem].filter((value) => value !== undefined),
    );
  }

  /** Environment of a worker process for this stack. */
  workerEnv(extra: Record<string, string> = {}): Record<string, string> {
    const secrets = Object.fromEntries(
      this.#apps.flatMap((app) => (app.secret ? [[app.secret.variable, app.secret.value]] : [])),
    );
    return {
      POSTROOM_REDIS_URL: this.redisUrl,
      POSTROOM_QUEUE_NAME: this.queueName,
      POSTROOM_CONFIG: this.mailboxFile,
      ...secrets,
      POSTROOM_AUTHORITY_HOST: `https://127.0.0.1:${this.emulator.httpsPort}`,
      POSTROOM_GRAPH_HOST: this.emulator.graphUrl,
      POSTROOM_SMTP_HOST: '127.0.0.1',
      POSTROOM_SMTP_PORT: String(this.emulator.smtpPort),
      POSTROOM_TLS_CA_FILE: this.emulator.caFile,
      POSTROOM_RATE_GUARD_MS: String(Math.round(this.#options.timeUnitMs / 20)),
      POSTROOM_RETRY_BASE_DELAY_MS: '200',
      POSTROOM_RETRY_MAX_DELAY_MS: '2000',
      POSTROOM_SHUTDOWN_TIMEOUT_MS: '5000',
      POSTROOM_LOG_LEVEL: 'info',
      ...this.#options.workerEnv,
      ...extra,
    };
  }

  /** Starts one more worker process and waits until it is ready. */
  async addWorker(extraEnv: Record<string, string> = {}): Promise<WorkerProcess> {
    const port = await freePort();
    const worker = new WorkerProcess(
      this.workerEnv(extraEnv),
      port,
      join(this.dir, `worker-${this.workers.length + 1}.log`),
      this.#options.workerRuntime,
    );
    this.workers.push(worker);
    await worker.waitReady();
    return worker;
  }

  /**
   * Stops workers (SIGTERM), the emulator and Redis, and removes the temporary directory. Later
   * calls wait for the first one.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#stop();
    return this.#stopped;
  }

  async #stop(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.stop('SIGTERM')));
    await this.emulator.close();
    await this.#redis?.close();
    await rm(this.dir, { recursive: true, force: true });
  }

  async #writeMailboxFile(): Promise<void> {
    const content = {
      apps: this.#apps.map((app) => ({
        name: app.name,
        tenantId: TENANT_ID,
        clientId: app.clientId,
        ...(app.secret ? { clientSecretEnv: app.secret.variable } : {}),
        ...(app.certificate
          ? {
              certificateFile: app.certificate.certificateFile,
              privateKeyFile: app.certificate.privateKeyFile,
            }
          : {}),
      })),
      mailboxes: this.#options.mailboxes.map((mailbox) => ({
        address: mailbox.address,
        app: mailbox.app ?? this.#apps[0]?.name,
        ...(mailbox.transport ? { transport: mailbox.transport } : {}),
        sendAs: mailbox.sendAs ?? [],
        limits: {
          messagesPerWindow: mailbox.messagesPerMinute ?? 30,
          rateWindowMs: this.#options.timeUnitMs,
          recipientWindowMs: this.#options.timeUnitMs * 1440,
          ...(mailbox.maxConnections ? { maxConnections: mailbox.maxConnections } : {}),
          ...(mailbox.recipientsPerMessage
            ? { maxRecipientsPerMessage: mailbox.recipientsPerMessage }
            : {}),
          ...(mailbox.recipientsPerDay ? { recipientsPerDay: mailbox.recipientsPerDay } : {}),
        },
      })),
    };
    await writeFile(this.mailboxFile, JSON.stringify(content, null, 2));
  }
}

function emulatorApp(
  app: ResolvedApp,
  mailboxes: StackMailbox[],
  defaultApp: string | undefined,
): EmulatorApp {
  const own = mailboxes
    .filter((mailbox) => (mailbox.app ?? defaultApp) === app.name)
    .map((mailbox) => mailbox.address);
  return {
    tenantId: TENANT_ID,
    clientId: app.clientId,
    ...(app.secret ? { clientSecret: app.secret.value } : {}),
    ...(app.certificate ? { certificatePem: app.certificate.certificatePem } : {}),
    mailboxes: app.mailboxGrant ? own : [],
  };
}
