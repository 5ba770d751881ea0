import { readFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { createMetrics } from '../../apps/worker/src/metrics.js';

const docs = readFileSync(new URL('../../docs/metrics.md', import.meta.url), 'utf8');

test('metrics catalogue lists every metric with its labels', async () => {
  const metrics = createMetrics();
  const exported = await metrics.registry.getMetricsAsJSON();

  expect(exported.length).toBeGreaterThan(15);
  for (const metric of exported) {
    const row = docs.split('\n').find((line) => line.startsWith(`| \`${metric.name}\` |`));
    expect(row, `docs/metrics.md has a row for ${metric.name}`).toBeDefined();
    expect(row, `row of ${metric.name} names its type`).toContain(`| ${metric.type} |`);
  }
});
