import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MailClient } from '@postroom/client';
import type { DeliveryStatus } from '@postroom/core';
import { afterAll, beforeAll, expect, inject, test } from 'vitest';
import { LocalStack, waitForFinal, waitUntil } from '../harness/index.js';
import { dashboardQueries, loadDashboard } from './dashboard.js';
import { PrometheusServer, type PromSeries } from './prometheus-server.js';

// Two workers, each its own scrape target, send mail of two mailboxes while a real Prometheus
// scrapes them every second. The emulator adds one permanent failure, one retry and one
// throttling reply, so that the failure, retry and throttling panels have data too.
const MAILBOXES = ['alerts@contoso.example', 'receipts@contoso.example'];
const MESSAGES_PER_MAILBOX = 20;
const ALERTS_FILE = fileURLToPath(new URL('../../deploy/prometheus/alerts.yml', import.meta.url));

let stack: LocalStack;
let client: MailClient;
let prometheus: PrometheusServer;
let finals: DeliveryStatus[];

beforeAll(async () => {
  stack = await LocalStack.start({
    redisUrl: inject('redisUrl'),
    timeUnitMs: 1000,
    mailboxes: MAILBOXES.map((address) => ({ address, messagesPerMinute: 30 })),
    workerEnv: { POSTROOM_CONCURRENCY: '4' },
  });
  const workers = await Promise.all([stack.addWorker(), stack.addWorker()]);
  const targets = workers.map((worker) => `'127.0.0.1:${worker.httpPort}'`).join(', ');
  prometheus = await PrometheusServer.start(
    [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      `rule_files: ['${ALERTS_FILE}']`,
      'scrape_configs:',
      '  - job_name: postroom-worker',
      `    static_configs: [{ targets: [${targets}] }]`,
    ].join('\n'),
    join(stack.dir, 'prometheus'),
  );
  client = new MailClient({ connection: stack.redisUrl, queueName: stack.queueName });
  // Prometheus applies discovered targets in batches about 5 s apart. Sending starts once it
  // scrapes both workers, so that the counters are sampled while they grow.
  await waitUntil(
    'prometheus to scrape both workers',
    async () => (await prometheus.query('up{job="postroom-worker"} == 1')).length === 2,
    15_000,
  );

  const [alerts, receipts] = MAILBOXES as [string, string];
  stack.emulator.addFault({
    stage: 'rcpt',
    action: 'reply',
    reply: '550 5.1.1 RESOLVER.ADR.RecipNotFound; not found',
    mailbox: alerts,
  });
  stack.emulator.addFault({
    stage: 'mail',
    action: 'reply',
    reply: '451 4.3.0 Temporary server error',
    mailbox: receipts,
  });
  stack.emulator.addFault({
    stage: 'auth',
    action: 'reply',
    reply: '432 4.3.2 STOREDRV.ClientSubmit; sender thread limit exceeded',
    mailbox: receipts,
  });

  // One message more than the mailboxes send, for the one that fails for good.
  const messages = Array.from({ length: MESSAGES_PER_MAILBOX * 2 + 1 }, (_, index) => ({
    from: MAILBOXES[index % 2] as string,
    to: `user${index}@fabrikam.example`,
    subject: `Metrics test ${index}`,
    text: `message number ${index}`,
  }));
  const results = await client.sendMany(messages);
  finals = await Promise.all(results.map((result) => waitForFinal(client, result.id, 40_000)));
}, 60_000);

afterAll(async () => {
  await prometheus?.stop();
  await client?.close();
  await stack?.stop();
});

const sampleValue = (series: PromSeries | undefined) => Number(series?.value?.[1] ?? Number.NaN);

async function queryNumber(promql: string): Promise<number> {
  return sampleValue((await prometheus.query(promql))[0]);
}

test('messages reach their expected final states', () => {
  const replies = stack.emulator.stats().replies;

  expect(finals.filter((status) => status.state === 'sent')).toHaveLength(MESSAGES_PER_MAILBOX * 2);
  expect(finals.filter((status) => status.state === 'failed')).toHaveLength(1);
  expect(replies['550 5.1.1']).toBe(1);
  expect(replies['451 4.3.0']).toBe(1);
  expect(replies['432 4.3.2']).toBe(1);
});

test('sent counter sums to the messages sent over both replicas', async () => {
  const sent = finals.filter((status) => status.state === 'sent').length;
  await waitUntil(
    `sum(postroom_messages_sent_total) == ${sent}`,
    async () => (await queryNumber('sum(postroom_messages_sent_total)')) === sent,
    15_000,
  );

  expect(await queryNumber('sum(postroom_messages_sent_total)')).toBe(sent);
  expect(await queryNumber('sum(postroom_messages_failed_total)')).toBe(1);
  expect(await queryNumber('count(count by (instance) (postroom_messages_sent_total))')).toBe(2);
});

test('counters never decrease between scrapes', async () => {
  // Scrapes come every second, but a loaded machine can delay them: wait for at least four.
  const scrapeCount = async () => {
    const series = await prometheus.query('postroom_messages_sent_total[5m]');
    return Math.max(0, ...series.map((entry) => entry.values?.length ?? 0));
  };
  await waitUntil(
    'four scrapes of the sent counter',
    async () => (await scrapeCount()) > 3,
    20_000,
  );

  const counters = [
    'postroom_messages_sent_total',
    'postroom_smtp_replies_total',
    'postroom_token_requests_total',
  ];
  for (const counter of counters) {
    const raw = await prometheus.query(`${counter}[5m]`);
    expect(raw.length, `${counter} has series`).toBeGreaterThan(0);

    for (const series of raw) {
      const values = (series.values ?? []).map(([, value]) => Number(value));
      const decreases = values.filter(
        (value, index) => index > 0 && value < (values[index - 1] ?? 0),
      );
      expect(decreases, `${counter}${JSON.stringify(series.metric)}: ${values.join(' ')}`).toEqual(
        [],
      );
    }
    const resets = await prometheus.query(`sum(resets(${counter}[5m]))`);
    expect(sampleValue(resets[0]), `resets of ${counter}`).toBe(0);
  }
  const scrapes = await prometheus.query('postroom_messages_sent_total[5m]');
  expect(Math.max(...scrapes.map((series) => series.values?.length ?? 0))).toBeGreaterThan(3);
});

test('every dashboard query returns data', async () => {
  const queries = dashboardQueries(loadDashboard());
  const empty = async () => {
    const results = await Promise.all(
      queries.map(async (query) => ({ query, result: await prometheus.query(query.promql) })),
    );
    return results
      .filter(({ result }) => result.length === 0)
      .map(({ query }) => `${query.source}: ${query.promql}`);
  };
  // Rates need two scrapes after a series first appears; give Prometheus a few more seconds.
  await waitUntil(
    'every dashboard query to return data',
    async () => (await empty()).length === 0,
    15_000,
  ).catch(() => undefined);

  expect(queries.length).toBeGreaterThan(20);
  expect(await empty()).toEqual([]);
});

test('alert rules load and evaluate without errors', async () => {
  interface RulesData {
    groups: { rules: { name: string; health: string; lastError?: string }[] }[];
  }
  const rules = async () =>
    (await prometheus.get<RulesData>('/api/v1/rules')).groups.flatMap((group) => group.rules);
  await waitUntil(
    'every rule to be evaluated',
    async () => (await rules()).every((rule) => rule.health !== 'unknown'),
    10_000,
  );

  const all = await rules();
  expect(all.length).toBeGreaterThanOrEqual(10);
  expect(
    all.filter((rule) => rule.health !== 'ok').map((rule) => `${rule.name}: ${rule.lastError}`),
  ).toEqual([]);
});
