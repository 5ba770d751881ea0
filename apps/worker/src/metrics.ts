import { Counter, Gauge, Histogram, Registry } from 'prom-client';

// Enhanced status codes worth a label of their own; all others are counted as `other`.
const KNOWN_CODES = new Set([
  '2.0.0', '4.3.2', '4.4.2', '4.7.0', '4.2.0', '4.7.66', '5.7.3', '5.7.139', '5.7.57', '5.7.30',
  '5.7.60', '5.2.252', '5.2.0', '5.1.90', '5.2.2', '5.1.8', '5.1.1', '5.3.4', '5.7.233', '5.7.232',
]);

/** Reduces an enhanced status code to a bounded label value. */
export function codeLabel(enhancedCode: string | undefined): string {
  if (!enhancedCode) return 'none';
  return KNOWN_CODES.has(enhancedCode) ? enhancedCode : 'other';
}

export interface MetricSources {
  queueCounts?: () => Promise<Record<string, number> | undefined>;
  redisReady?: () => boolean;
}

/** The worker's Prometheus metrics. Labels come from configuration and fixed sets only. */
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
    queueDepth: new Gauge({
      name: 'postroom_queue_jobs',
      help: 'Jobs in the queue by state; the same for every replica, so take max, not sum.',
      labelNames: ['state'],
      registers,
      async collect() {
        const counts = await sources.queueCounts?.();
        for (const [state, count] of Object.entries(counts ?? {})) this.set({ state }, count);
      },
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
