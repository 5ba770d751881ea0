import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Logger, pino } from 'pino';
import { AdminApi } from './admin-api.js';
import { createServerCertificate } from './certificate.js';
import { Directory } from './directory.js';
import { TimerSet } from './fault-actions.js';
import { type Fault, FaultRegistry, type FaultSpec } from './faults.js';
import { DraftStore } from './graph-drafts.js';
import { GraphEndpoint } from './graph-endpoint.js';
import { IdentityEndpoint } from './identity-endpoint.js';
import { LimitTable } from './limits.js';
import { MailboxUsage } from './mailbox-usage.js';
import { MessageStore } from './message-store.js';
import { type EmulatorSettings, resolveSettings, urlHost } from './settings.js';
import type { SmtpContext } from './smtp-context.js';
import { SmtpSubmission } from './smtp-submission.js';
import { StatsRecorder } from './stats.js';
import { TokenAuthority } from './token-authority.js';
import type {
  AcceptedMessage,
  DraftSummary,
  Emulator,
  EmulatorOptions,
  EmulatorStats,
} from './types.js';

interface Servers {
  smtp: SmtpSubmission;
  identity: IdentityEndpoint;
  graph: GraphEndpoint;
  admin: AdminApi;
}

interface Ports {
  smtpPort: number;
  httpsPort: number;
  apiPort: number;
  graphPort: number;
}

/**
 * Starts the SMTP submission server, the HTTPS identity and Graph endpoints and the admin API,
 * after writing a fresh certificate to the state directory. Throws a TypeError for invalid options.
 */
export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  const settings = resolveSettings(options);
  const rootLogger = options.logger ?? pino({ level: 'silent' });
  const context = await createContext(options, settings, rootLogger.child({ component: 'smtp' }));
  const drafts = new DraftStore();

  const createdStateDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? (await mkdtemp(path.join(os.tmpdir(), 'm365-emulator-')));
  const removeStateDir = async (): Promise<void> => {
    if (createdStateDir) {
      await rm(stateDir, { recursive: true, force: true });
    }
  };

  try {
    await mkdir(stateDir, { recursive: true });
    const certificate = await createServerCertificate(stateDir, settings.certificateHostnames);
    const emulatorLogger = rootLogger.child({ component: 'emulator' });
    const emulator = new RunningEmulator(settings, context, certificate.caFile, {
      drafts,
      removeStateDir,
      logger: emulatorLogger,
    });
    await emulator.listen({
      smtp: new SmtpSubmission(context, certificate),
      identity: new IdentityEndpoint(
        { ...context, logger: rootLogger.child({ component: 'identity' }) },
        certificate,
      ),
      graph: new GraphEndpoint(
        {
          ...context,
          timeUnitMs: settings.timeUnitMs,
          drafts,
          logger: rootLogger.child({ component: 'graph' }),
        },
        certificate,
      ),
      admin: new AdminApi(emulator, rootLogger.child({ component: 'admin-api' })),
    });
    return emulator;
  } catch (error) {
    await removeStateDir();
    throw error;
  }
}

async function createContext(
  options: EmulatorOptions,
  settings: EmulatorSettings,
  logger: Logger,
): Promise<SmtpContext> {
  return {
    directory: new Directory(options.apps, options.sendAs),
    limits: new LimitTable(options.limits, options.mailboxLimits),
    tokens: await TokenAuthority.create(settings.tokenLifetimeSeconds),
    usage: new MailboxUsage(settings.timeUnitMs),
    stats: new StatsRecorder(),
    store: new MessageStore(),
    faults: new FaultRegistry(),
    timers: new TimerSet(),
    logger,
  };
}

class RunningEmulator implements Emulator {
  readonly host: string;
  readonly caFile: string;
  smtpPort = 0;
  httpsPort = 0;
  apiPort = 0;
  graphPort = 0;
  readonly #settings: EmulatorSettings;
  readonly #context: SmtpContext;
  readonly #drafts: DraftStore;
  readonly #removeStateDir: () => Promise<void>;
  readonly #logger: Logger;
  #servers: Servers | undefined;
  #closing: Promise<void> | undefined;

  constructor(
    settings: EmulatorSettings,
    context: SmtpContext,
    caFile: string,
    lifecycle: { drafts: DraftStore; removeStateDir: () => Promise<void>; logger: Logger },
  ) {
    this.#settings = settings;
    this.#context = context;
    this.#drafts = lifecycle.drafts;
    this.host = settings.host;
    this.caFile = caFile;
    this.#removeStateDir = lifecycle.removeStateDir;
    this.#logger = lifecycle.logger;
  }

  /** Starts the servers; when one fails to listen, closes the others and rethrows. */
  async listen(servers: Servers): Promise<void> {
    this.#servers = servers;
    const { host } = this.#settings;
    try {
      const ports: Ports = {
        smtpPort: await servers.smtp.listen(host, this.#settings.smtpPort),
        httpsPort: await servers.identity.listen(host, this.#settings.httpsPort),
        apiPort: await servers.admin.listen(host, this.#settings.apiPort),
        graphPort: await servers.graph.listen(host, this.#settings.graphPort),
      };
      Object.assign(this, ports);
    } catch (error) {
      await this.#closeServers();
      throw error;
    }
    this.#logger.info(
      { ...this.#settings, ...this.#ports(), caFile: this.caFile },
      'emulator started',
    );
  }

  #ports(): Ports {
    return {
      smtpPort: this.smtpPort,
      httpsPort: this.httpsPort,
      apiPort: this.apiPort,
      graphPort: this.graphPort,
    };
  }

  get apiUrl(): string {
    return `http://${urlHost(this.host)}:${this.apiPort}`;
  }

  get graphUrl(): string {
    return `https://${urlHost(this.host)}:${this.graphPort}`;
  }

  authorityUrl(tenantId: string): string {
    return `https://${urlHost(this.host)}:${this.httpsPort}/${tenantId}`;
  }

  tokenUrl(tenantId: string): string {
    return `${this.authorityUrl(tenantId)}/oauth2/v2.0/token`;
  }

  messages(mailbox?: string): AcceptedMessage[] {
    return this.#context.store.list(mailbox);
  }

  message(id: string): AcceptedMessage | undefined {
    return this.#context.store.get(id);
  }

  rawMessage(id: string): Buffer | undefined {
    return this.#context.store.raw(id);
  }

  drafts(mailbox?: string): DraftSummary[] {
    return this.#drafts.list(mailbox);
  }

  stats(): EmulatorStats {
    return this.#context.stats.snapshot(this.#context.usage.snapshot());
  }

  reset(): void {
    this.#context.store.clear();
    this.#drafts.clear();
    this.#context.stats.reset();
    this.#context.usage.reset();
    this.#logger.info('reset messages, drafts, counters and rate windows');
  }

  revokeTokens(): void {
    this.#context.tokens.revokeAll();
    this.#logger.info('revoked every token issued so far');
  }

  addFault(spec: FaultSpec): Fault {
    return this.#context.faults.add(spec);
  }

  faults(): Fault[] {
    return this.#context.faults.list();
  }

  clearFaults(): void {
    this.#context.faults.clear();
  }

  close(): Promise<void> {
    this.#closing ??= this.#closeServers().then(async () => {
      await this.#removeStateDir();
      this.#logger.info('emulator stopped');
    });
    return this.#closing;
  }

  /** Cancels fault timers, then closes the listeners and every open connection. */
  async #closeServers(): Promise<void> {
    this.#context.timers.clearAll();
    const servers = this.#servers;
    if (servers !== undefined) {
      await Promise.all([
        servers.smtp.close(),
        servers.identity.close(),
        servers.graph.close(),
        servers.admin.close(),
      ]);
    }
  }
}
