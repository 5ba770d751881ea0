import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Emulator, type EmulatorLimits, startEmulator } from '@postroom/m365-emulator';
import { freePort, RedisServer } from './redis-server.js';
import { WorkerProcess } from './worker-process.js';

export interface StackMailbox {
  address: string;
  sendAs?: string[];
  /** Messages per emulated minute, for both the emulator and the worker. */
  messagesPerMinute?: number;
  maxConnections?: number;
  recipientsPerMessage?: number;
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
  tokenLifetimeSeconds?: number;
}

const TENANT_ID = 'contoso-demo-tenant';
const CLIENT_ID = 'postroom-demo-app';

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
  readonly #clientSecret: string;

  private constructor(
    options: LocalStackOptions,
    dir: string,
    secret: string,
    redisUrl: string,
    emulator: Emulator,
    redis?: RedisServer,
  ) {
    this.#options = options;
    this.#clientSecret = secret;
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
    const secret = randomUUID();
    const emulator = await LocalStack.#startEmulator(options, dir, secret);
    const stack = new LocalStack(options, dir, secret, redisUrl, emulator, redis);
    await stack.#writeMailboxFile();
    return stack;
  }

  static #startEmulator(options: LocalStackOptions, dir: string, secret: string): Promise<Emulator> {
    const mailboxLimits: Record<string, Partial<EmulatorLimits>> = {};
    const sendAs: Record<string, string[]> = {};
    for (const mailbox of options.mailboxes) {
      mailboxLimits[mailbox.address] = {
        ...(mailbox.messagesPerMinute ? { messagesPerMinute: mailbox.messagesPerMinute } : {}),
        ...(mailbox.recipientsPerMessage ? { recipientsPerMessage: mailbox.recipientsPerMessage } : {}),
      };
      if (mailbox.sendAs) sendAs[mailbox.address] = mailbox.sendAs;
    }
    return startEmulator({
      timeUnitMs: options.timeUnitMs,
      tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? 3600,
      apps: [{ tenantId: TENANT_ID, clientId: CLIENT_ID, clientSecret: secret, mailboxes: options.mailboxes.map((m) => m.address) }],
      mailboxLimits,
      sendAs,
      stateDir: join(dir, 'emulator'),
    });
  }

  get mailboxFile(): string {
    return join(this.dir, 'mailboxes.json');
  }

  /** Environment of a worker process for this stack. */
  workerEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      POSTROOM_REDIS_URL: this.redisUrl,
      POSTROOM_QUEUE_NAME: this.queueName,
      POSTROOM_CONFIG: this.mailboxFile,
      POSTROOM_DEMO_CLIENT_SECRET: this.#clientSecret,
      POSTROOM_AUTHORITY_HOST: `https://127.0.0.1:${this.emulator.httpsPort}`,
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
    const worker = new WorkerProcess(this.workerEnv(extraEnv), port, join(this.dir, `worker-${this.workers.length + 1}.log`));
    this.workers.push(worker);
    await worker.waitReady();
    return worker;
  }

  /** Stops workers (SIGTERM), the emulator and Redis, and removes the temporary directory. */
  async stop(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.stop('SIGTERM')));
    await this.emulator.close();
    await this.#redis?.close();
    await rm(this.dir, { recursive: true, force: true });
  }

  async #writeMailboxFile(): Promise<void> {
    const content = {
      apps: [{ name: 'contoso', tenantId: TENANT_ID, clientId: CLIENT_ID, clientSecretEnv: 'POSTROOM_DEMO_CLIENT_SECRET' }],
      mailboxes: this.#options.mailboxes.map((mailbox) => ({
        address: mailbox.address,
        app: 'contoso',
        sendAs: mailbox.sendAs ?? [],
        limits: {
          messagesPerWindow: mailbox.messagesPerMinute ?? 30,
          rateWindowMs: this.#options.timeUnitMs,
          recipientWindowMs: this.#options.timeUnitMs * 1440,
          ...(mailbox.maxConnections ? { maxConnections: mailbox.maxConnections } : {}),
          ...(mailbox.recipientsPerMessage ? { maxRecipientsPerMessage: mailbox.recipientsPerMessage } : {}),
        },
      })),
    };
    await writeFile(this.mailboxFile, JSON.stringify(content, null, 2));
  }
}
