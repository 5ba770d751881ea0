import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MAILBOX_STATES, type MailboxSnapshot, type QueueSnapshot } from './queue-snapshot.js';

// Enhanced status codes worth a label of their own; all others are counted as `other`.
const KNOWN_CODES = new Set([
  '2.0.0',
  '4.3.2',
  '4.4.2',
  '4.7.0',
  '4.2.0',
  '4.7.66',
  '5.7.3',
  '5.7.139',
  '5.7.57',
  '5.7.30',
  '5.7.60',
  '5.2.252',
  '5.2.0',
  '5.1.90',
  '5.2.2',
  '5.1.8',
  '5.1.1',
  '5.3.4',
  '5.7.233',
  '5.7.232',
]);

/** Reduces an enhanced status code to a bounded label value. */
export function codeLabel(enhancedCode: string | undefined): string {
  if (!enhancedCode) return 'none';
  return KNOWN_CODES.has(enhancedCode) ? enhancedCode : 'other';
}

export interface MetricSources {
  /** Queue and mailbox state from Redis; undefined when Redis cannot be read. */
  queueSnapshot?: () => Promise<QueueSnapshot | undefined>;
  redisReady?: () => boolean;
}

/** Creates the worker's Prometheus metrics. Labels come from configuration and fixed sets only. */
export function createMetrics(registry: Registry = new Registry()) {
  const registers = [registry];
  // Filled in once the queue and Redis exist; read at every scrape.
  const sources: MetricSources = {};
  return {
    registry,
    sources,
    sent: new Counter({
      name: 'postroom_messages_sent_total',
      help: 'Messages the server accepted.',
      labelNames: ['mailbox'],
      registers,
    }),
    failed: new Counter({
      name: 'postroom_messages_failed_total',
      help: 'Messages that ended failed or with an unknown outcome, by class and reason.',
      labelNames: ['mailbox', 'class', 'reason'],
      registers,
    }),
    retried: new Counter({
      name: 'postroom_messages_retried_total',
      help: 'Failed attempts that were scheduled for a retry, by class and reason.',
      labelNames: ['mailbox', 'class', 'reason'],
      registers,
    }),
    waits: new Counter({
      name: 'postroom_mailbox_waits_total',
      help: 'Jobs delayed by the mailbox gate without spending an attempt, by reason.',
      labelNames: ['mailbox', 'reason'],
      registers,
    }),
    replies: new Counter({
      name: 'postroom_smtp_replies_total',
      help: 'SMTP replies that ended a submission, by reply code and enhanced status code.',
      labelNames: ['mailbox', 'code', 'enhanced_code'],
      registers,
    }),
    sendDuration: new Histogram({
      name: 'postroom_send_duration_seconds',
      help: 'Time of one submission attempt, from taking a connection to the final reply.',
      labelNames: ['mailbox', 'outcome'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    }),
    tokenRequests: new Counter({
      name: 'postroom_token_requests_total',
      help: 'Access token requests to Entra ID, by result.',
      labelNames: ['app', 'result'],
      registers,
    }),
    authFailures: new Counter({
      name: 'postroom_auth_failures_total',
      help: 'Authentication failures by source (token, smtp, graph) and code: AADSTS number from a known set, enhanced status code, or HTTP status.',
      labelNames: ['app', 'source', 'code'],
      registers,
    }),
    tokenExpiry: new Gauge({
      name: 'postroom_token_expiry_timestamp_seconds',
      help: 'Expiry time of the cached access token, as a Unix timestamp.',
      labelNames: ['app'],
      registers,
    }),
    connectionsOpen: new Gauge({
      name: 'postroom_smtp_connections_open',
      help: 'SMTP connections this process holds open.',
      labelNames: ['mailbox'],
      registers,
    }),
    ...createQueueGauges(
      registers,
      coalesce(() => sources.queueSnapshot?.()),
    ),
    redisEvictionPolicyUnsafe: new Gauge({
      name: 'postroom_redis_eviction_policy_unsafe',
      help: '1 when Redis may evict keys (maxmemory-policy is not noeviction) and POSTROOM_ALLOW_EVICTION=true started the worker anyway.',
      registers,
    }),
    redisUp: new Gauge({
      name: 'postroom_redis_up',
      help: '1 when this process can reach Redis, else 0.',
      registers,
      collect() {
        this.set(sources.redisReady?.() ? 1 : 0);
      },
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/**
 * Starts each mailbox's sent counter at 0, so that the series exists before the first message
 * and `increase()` counts that message too.
 */
export function initMailboxSeries(metrics: Metrics, addresses: readonly string[]): void {
  for (const mailbox of addresses) metrics.sent.inc({ mailbox }, 0);
}

type Snapshot = () => Promise<QueueSnapshot | undefined>;

/**
 * Creates the gauges read from Redis at scrape time. They describe the shared queue, so every
 * replica reports the same values. While Redis cannot be read they have no series, rather than
 * stale or zero ones. That is why they carry a `queue` label: a gauge without labels always has
 * a value in prom-client.
 */
function createQueueGauges(registers: Registry[], snapshot: Snapshot) {
  return {
    queueDepth: new Gauge({
      name: 'postroom_queue_jobs',
      help: 'Jobs in the queue by state; the same for every replica, so take max, not sum.',
      labelNames: ['queue', 'state'],
      registers,
      async collect() {
        const current = await snapshot();
        this.reset();
        if (!current) return;
        for (const [state, count] of Object.entries(current.jobCounts)) {
          this.set({ queue: current.queueName, state }, count);
        }
      },
    }),
    deadLetters: new Gauge({
      name: 'postroom_dead_letters',
      help: 'Messages in the dead-letter set (BullMQ failed jobs) until retried or purged.',
      labelNames: ['queue'],
      registers,
      async collect() {
        const current = await snapshot();
        this.reset();
        if (current) this.set({ queue: current.queueName }, current.jobCounts.failed ?? 0);
      },
    }),
    oldestWaitingAge: new Gauge({
      name: 'postroom_oldest_waiting_message_age_seconds',
      help: 'Time since the oldest unsent message became due (enqueued, or its notBefore); 0 when none waits.',
      labelNames: ['queue'],
      registers,
      async collect() {
        const current = await snapshot();
        this.reset();
        if (current) this.set({ queue: current.queueName }, current.oldestWaitingAgeSeconds);
      },
    }),
    ...createMailboxGauges(registers, snapshot),
  };
}

function createMailboxGauges(registers: Registry[], snapshot: Snapshot) {
  // One gauge per field of MailboxSnapshot; all share the snapshot of one scrape.
  const mailboxGauge = (name: string, help: string, value: (mailbox: MailboxSnapshot) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['mailbox'],
      registers,
      async collect() {
        const current = await snapshot();
        this.reset();
        for (const mailbox of current?.mailboxes ?? []) {
          this.set({ mailbox: mailbox.address }, value(mailbox));
        }
      },
    });
  return {
    mailboxState: new Gauge({
      name: 'postroom_mailbox_state',
      help: 'Health state of each mailbox, shared by every replica: 1 for the current state, 0 for the others.',
      labelNames: ['mailbox', 'state'],
      registers,
      async collect() {
        const current = await snapshot();
        this.reset();
        for (const mailbox of current?.mailboxes ?? []) {
          for (const state of MAILBOX_STATES) {
            this.set({ mailbox: mailbox.address, state }, mailbox.state === state ? 1 : 0);
          }
        }
      },
    }),
    mailboxSendsInWindow: mailboxGauge(
      'postroom_mailbox_sends_in_window',
      'Sends of each mailbox started or accepted within its current rate window, across every replica.',
      (mailbox) => mailbox.sendsInWindow,
    ),
    mailboxRateLimit: mailboxGauge(
      'postroom_mailbox_rate_limit',
      'Messages each mailbox may send per rate window (messagesPerWindow).',
      (mailbox) => mailbox.rateLimit,
    ),
    mailboxConnections: mailboxGauge(
      'postroom_mailbox_connections',
      'SMTP connection leases each mailbox holds now, across every replica.',
      (mailbox) => mailbox.connections,
    ),
    mailboxConnectionLimit: mailboxGauge(
      'postroom_mailbox_connection_limit',
      'SMTP connections each mailbox may hold at once (maxConnections).',
      (mailbox) => mailbox.connectionLimit,
    ),
  };
}

// Lets every gauge of one scrape share one read: prom-client collects all metrics concurrently,
// so calls that arrive while a read is in flight get its result.
function coalesce<T>(read: () => Promise<T> | undefined): () => Promise<T | undefined> {
  let inFlight: Promise<T | undefined> | undefined;
  return () => {
    inFlight ??= Promise.resolve(read()).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}
