import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  connectRedis,
  type JobPayload,
  KEY_PREFIX,
  PostroomError,
  postroomKeys,
  type RedisConnection,
  redisAddress,
  SEND_JOB_NAME,
} from '@postroom/core';
import { Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AppConfig, MailboxConfig, WorkerConfig } from './config.js';
import { MailboxGate } from './gate.js';
import { createGraphSender } from './graph/create.js';
import type { GraphSender } from './graph/sender.js';
import { SubmissionGuard } from './guard.js';
import { startHttpServer } from './http-server.js';
import { createLogger } from './logger.js';
import { MailboxDirectory } from './mailboxes.js';
import { createMetrics, initMailboxSeries, type Metrics } from './metrics.js';
import { SendProcessor } from './processor.js';
import { JobPromoter } from './promoter.js';
import { QueueSnapshotReader } from './queue-snapshot.js';
import { SessionPool } from './smtp/pool.js';
import { StatusStore } from './status-store.js';
import { createTokenProviders } from './tokens/create.js';

export interface StartWorkerOptions {
  logger?: Logger;
  registry?: Registry;
}

export interface PostroomWorker {
  /** Port of the /metrics, /healthz and /readyz server. */
  readonly httpPort: number;
  readonly metrics: Metrics;
  ready(): boolean;
  /** Stops fetching, drains in-flight sends within the shutdown timeout, then frees everything. */
  close(): Promise<void>;
}

const CONNECTION_LEASE_TTL_MS = 30_000;
const CONNECTION_WAIT_MS = 250;
const DEAD_LETTER_CLEAN_INTERVAL_MS = 10 * 60_000;
const PROMOTION_REPAIR_INTERVAL_MS = 1000;
const REDIS_PING_INTERVAL_MS = 1000;
const REDIS_ANSWER_WITHIN_MS = 5000;
const FORCED_CLOSE_WAIT_MS = 1000;
const DEAD_LETTER_CLEAN_BATCH = 1000;

/** Starts a worker: consumes the queue, keeps the mailbox limits and serves its HTTP endpoints. */
export async function startWorker(
  config: WorkerConfig,
  options: StartWorkerOptions = {},
): Promise<PostroomWorker> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const metrics = createMetrics(options.registry);
  const keys = postroomKeys(config.queueName);
  logEffectiveConfig(logger, config);

  // Commands wait through a Redis outage instead of failing, so no outcome is lost on the way.
  const redis = connectRedis(config.redisUrl, {
    maxRetriesPerRequest: null,
    lazyConnect: true,
    enableAutoPipelining: true,
  });
  redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
  await connectAtStart(redis, config.redisUrl);
  await checkEvictionPolicy(redis, logger, metrics, config.allowEviction);
  await publishMailboxes(redis, keys.mailboxRegistry, config);
  // A Redis that restarted empty, or failed over, has lost the registry: publish it again.
  redis.on('ready', () => {
    publishMailboxes(redis, keys.mailboxRegistry, config).catch((error: unknown) =>
      logger.warn({ err: error }, 'publishing the mailboxes again after a reconnect failed'),
    );
  });

  const ca = config.smtp.caFile ? readFileSync(config.smtp.caFile) : undefined;
  const gate = new MailboxGate(redis, keys, {
    rateGuardMs: config.rateGuardMs,
    leaseTtlMs: CONNECTION_LEASE_TTL_MS,
    connectionWaitMs: CONNECTION_WAIT_MS,
  });
  const pool = new SessionPool(
    gate,
    { idleMs: config.connectionIdleMs, maxIdle: config.maxIdleConnections },
    logger.child({ component: 'smtp-pool' }),
    metrics,
  );
  const providers = createTokenProviders(
    config,
    ca,
    logger.child({ component: 'tokens' }),
    metrics,
  );
  const tokens = new Map(
    config.apps.map((app) => [app.name, providers.for(app, config.smtpScope)]),
  );
  const graph = createGraphSender(
    config,
    providers,
    gate,
    ca,
    logger.child({ component: 'graph' }),
  );
  // BullMQ's connection, shared by the Worker and the Queue. BullMQ defines its scripts on the
  // connection it uses, and ioredis copies every defined script into each automatic pipeline it
  // builds, so the gate's connection (with automatic pipelining) must not carry them.
  const connection = connectRedis(config.redisUrl, { maxRetriesPerRequest: null });
  connection.on('error', () => {});
  const queue = new Queue<JobPayload>(config.queueName, { connection, prefix: KEY_PREFIX });
  const promoter = new JobPromoter(queue, logger.child({ component: 'promoter' }));
  const processor = new SendProcessor({
    config,
    directory: new MailboxDirectory(config.mailboxes),
    gate,
    pool,
    guard: new SubmissionGuard(redis, keys),
    status: new StatusStore(redis, keys, config.recordRetentionMs),
    tokens,
    endpoint: {
      host: config.smtp.host,
      port: config.smtp.port,
      ...(ca ? { ca } : {}),
      connectionTimeoutMs: config.smtp.connectionTimeoutMs,
      greetingTimeoutMs: config.smtp.greetingTimeoutMs,
      socketTimeoutMs: config.smtp.socketTimeoutMs,
    },
    ...(graph ? { graph } : {}),
    promoter,
    metrics,
    logger: logger.child({ component: 'processor' }),
  });

  // The gate publishes a mailbox here when all of its leases are taken. An idle connection of
  // that mailbox in this process then closes, instead of keeping its lease until it idles out.
  const subscriber = connectRedis(config.redisUrl, { maxRetriesPerRequest: null });
  subscriber.on('error', () => {});
  subscriber.on('message', (_channel: string, address: string) => pool.yieldIdle(address));
  await subscriber.subscribe(keys.leaseWanted);
  const worker = new Worker<JobPayload>(
    config.queueName,
    (job, token) => processor.process(job, token),
    {
      connection,
      prefix: KEY_PREFIX,
      concurrency: config.concurrency,
      lockDuration: config.lockDurationMs,
      stalledInterval: config.stalledIntervalMs,
      maxStalledCount: 10,
      autorun: false,
    },
  );
  worker.on('error', (error) => logger.warn({ err: error }, 'worker error'));
  worker.on('failed', (job, error) => {
    if (job?.name !== SEND_JOB_NAME)
      logger.warn({ jobId: job?.id, err: error }, 'unexpected job failed');
  });

  const snapshotReader = new QueueSnapshotReader(redis, queue, keys, config.mailboxes);
  collectQueueDepth(metrics, snapshotReader, redis, logger);

  let closing = false;
  const redisHealth = watchRedis(redis);
  const ready = () =>
    !closing && redis.status === 'ready' && redisHealth.answering() && worker.isRunning();
  const server = await startHttpServer(
    config.http.host,
    config.http.port,
    metrics.registry,
    { ready },
    logger.child({ component: 'http' }),
  );
  const retention = scheduleDeadLetterCleanup(queue, config.recordRetentionMs, logger);
  const repair = schedulePromotionRepair(gate, promoter, config.mailboxes, logger);
  void worker.run();
  logger.info({ httpPort: (server.address() as AddressInfo).port }, 'worker started');

  let closed: Promise<void> | undefined;
  return {
    httpPort: (server.address() as AddressInfo).port,
    metrics,
    ready,
    close: () => {
      closing = true;
      clearInterval(retention);
      clearInterval(repair);
      redisHealth.stop();
      closed ??= shutdown({
        worker,
        pool,
        graph,
        queue,
        redis,
        connection,
        subscriber,
        server,
        logger,
        timeoutMs: config.shutdownTimeoutMs,
      });
      return closed;
    },
  };
}

interface Resources {
  worker: Worker;
  pool: SessionPool;
  graph: GraphSender | undefined;
  queue: Queue;
  redis: RedisConnection;
  connection: RedisConnection;
  subscriber: RedisConnection;
  server: Server;
  logger: Logger;
  timeoutMs: number;
}

// Order: stop fetching and drain, close SMTP connections (frees Exchange's connection slots) and
// Graph's idle connections, then the queue, Redis and the HTTP server.
async function shutdown(resources: Resources): Promise<void> {
  const { worker, pool, graph, queue, redis, connection, subscriber, server, logger, timeoutMs } =
    resources;
  logger.info({ timeoutMs }, 'shutting down: draining in-flight sends');
  const drained = await Promise.race([
    worker.close().then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref()),
  ]);
  if (!drained) {
    logger.warn(
      { timeoutMs },
      'drain timed out; unfinished jobs return through stalled-job recovery',
    );
    // Sends still running are cut off; a send cut after its data counts as outcome unknown.
    pool.destroyAll();
    // BullMQ's forced close can still wait on a job's promise; do not let it hold the exit.
    await Promise.race([
      worker.close(true),
      new Promise((resolve) => setTimeout(resolve, FORCED_CLOSE_WAIT_MS).unref()),
    ]);
  }
  await pool.close();
  graph?.close();
  await queue.close();
  await Promise.allSettled([redis.quit(), connection.quit(), subscriber.quit()]);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  logger.info('worker stopped');
}

// Pings Redis every REDIS_PING_INTERVAL_MS. A Redis that accepts connections but does not reply
// (stopped, or stuck in a long command) keeps ioredis's status 'ready', so readiness also needs
// a PING reply within REDIS_ANSWER_WITHIN_MS.
function watchRedis(redis: RedisConnection) {
  let lastAnswerAt = Date.now();
  let pending = false;
  const timer = setInterval(() => {
    if (pending) return;
    pending = true;
    redis
      .ping()
      .then(() => {
        lastAnswerAt = Date.now();
      })
      .catch(() => {})
      .finally(() => {
        pending = false;
      });
  }, REDIS_PING_INTERVAL_MS);
  timer.unref();
  return {
    answering: () => Date.now() - lastAnswerAt < REDIS_ANSWER_WITHIN_MS,
    stop: () => clearInterval(timer),
  };
}

// Restarts broken chains of promotions (see MailboxGate.repairPromotions) every
// PROMOTION_REPAIR_INTERVAL_MS; a round still running when the next is due is not doubled.
function schedulePromotionRepair(
  gate: MailboxGate,
  promoter: JobPromoter,
  mailboxes: MailboxConfig[],
  logger: Logger,
): NodeJS.Timeout {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    gate
      .repairPromotions(mailboxes)
      .then((woken) => {
        for (const promotion of woken) {
          logger.debug({ jobId: promotion.jobId }, 'restarting the promotions of a mailbox');
          void promoter.wake(promotion);
        }
      })
      .catch((error: unknown) => logger.warn({ err: error }, 'promotion repair failed'))
      .finally(() => {
        running = false;
      });
  }, PROMOTION_REPAIR_INTERVAL_MS);
  timer.unref();
  return timer;
}

// Removes dead letters older than the retention, a bounded batch at a time.
function scheduleDeadLetterCleanup(
  queue: Queue,
  retentionMs: number,
  logger: Logger,
): NodeJS.Timeout {
  const clean = () => {
    queue.clean(retentionMs, DEAD_LETTER_CLEAN_BATCH, 'failed').then(
      (removed) => {
        if (removed.length > 0)
          logger.info({ removed: removed.length, retentionMs }, 'expired dead letters removed');
      },
      (error: unknown) => logger.warn({ err: error }, 'dead letter cleanup failed'),
    );
  };
  const timer = setInterval(clean, DEAD_LETTER_CLEAN_INTERVAL_MS);
  timer.unref();
  return timer;
}

/**
 * Opens the first Redis connection. When it fails, raises an error that names POSTROOM_REDIS_URL,
 * the address it tried and the cause (never the password). ioredis 6 rejects a refused connection
 * with only "Connection is closed.", so the cause comes from its last `error` event.
 */
async function connectAtStart(redis: RedisConnection, url: string): Promise<void> {
  let cause: unknown;
  const remember = (error: unknown) => {
    cause = error;
  };
  redis.on('error', remember);
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    const failure = (cause ?? error) as NodeJS.ErrnoException;
    throw new PostroomError(
      'POSTROOM_REDIS_UNREACHABLE',
      `cannot connect to Redis at ${redisAddress(url)} (${failure.code ?? failure.message}); check the host, port and password in POSTROOM_REDIS_URL, and that Redis runs there and accepts connections from this host`,
      { cause: failure },
    );
  } finally {
    redis.off('error', remember);
  }
}

async function checkEvictionPolicy(
  redis: RedisConnection,
  logger: Logger,
  metrics: Metrics,
  allowEviction: boolean,
): Promise<void> {
  let policy: string | undefined;
  try {
    const reply = (await redis.config('GET', 'maxmemory-policy')) as string[];
    policy = reply[1];
  } catch (error) {
    logger.warn(
      { err: error },
      'cannot read maxmemory-policy (CONFIG is disabled); make sure it is noeviction',
    );
    return;
  }
  if (!policy || policy === 'noeviction') return;

  metrics.redisEvictionPolicyUnsafe.set(1);
  const message = `Redis maxmemory-policy is ${policy}, so Redis may evict queued messages; set it to noeviction`;
  if (!allowEviction)
    throw new Error(`${message}, or set POSTROOM_ALLOW_EVICTION=true to start anyway`);
  logger.error({ policy }, `${message}; starting anyway because POSTROOM_ALLOW_EVICTION is set`);
}

async function publishMailboxes(
  redis: RedisConnection,
  key: string,
  config: WorkerConfig,
): Promise<void> {
  const entries = config.mailboxes.flatMap((mailbox) => [
    mailbox.address,
    JSON.stringify({ sendAs: mailbox.sendAs, limits: mailbox.limits }),
  ]);
  await redis.hset(key, ...entries);
}

/**
 * Connects the scrape-time gauges to Redis: queue depth, dead letters, oldest waiting message and
 * per-mailbox state and usage. A read that fails or takes over 2 s leaves those gauges without
 * series for that scrape. After a logged failure, the next is logged only once a read succeeded.
 */
function collectQueueDepth(
  metrics: Metrics,
  reader: QueueSnapshotReader,
  redis: RedisConnection,
  logger: Logger,
): void {
  initMailboxSeries(metrics, reader.addresses);
  metrics.sources.redisReady = () => redis.status === 'ready';

  let failing = false;
  metrics.sources.queueSnapshot = async () => {
    if (redis.status !== 'ready') return undefined;
    try {
      const snapshot = await reader.read();
      failing = false;
      return snapshot;
    } catch (error) {
      if (!failing) {
        logger.warn({ err: error }, 'reading queue metrics from redis failed; leaving them out');
      }
      failing = true;
      return undefined;
    }
  };
}

function logEffectiveConfig(logger: Logger, config: WorkerConfig): void {
  const { apps, mailboxes, ...rest } = config;
  logger.info(
    {
      ...rest,
      redisUrl: redactUrl(config.redisUrl),
      apps: apps.map((app) => ({
        name: app.name,
        tenantId: app.tenantId,
        clientId: app.clientId,
        ...describeCredential(app),
      })),
      mailboxes: mailboxes.map((mailbox) => ({
        address: mailbox.address,
        app: mailbox.app,
        transport: mailbox.transport,
        sendAs: mailbox.sendAs,
        limits: mailbox.limits,
      })),
    },
    'effective configuration',
  );
}

// The credential's kind, and for a certificate its thumbprint and expiry: enough to match it
// with the app registration, nothing that could sign in.
function describeCredential(app: AppConfig) {
  const { credential } = app;
  if (credential.kind === 'secret') return { credential: 'secret' };
  return {
    credential: 'certificate',
    thumbprintSha256: credential.thumbprintSha256,
    certificateNotAfter: credential.notAfter,
  };
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, (_match, credentials: string) => {
    const user = credentials.split(':')[0] ?? '';
    return `//${user}${credentials.includes(':') ? ':redacted' : ''}@`;
  });
}
