import { defineConfig } from 'vitest/config';

// Workspace packages export their TypeScript sources under the "source" condition.
const resolve = { conditions: ['source'] };
const ssr = { resolve: { conditions: ['source'], externalConditions: ['source'] } };
const timeouts = { testTimeout: 30_000, hookTimeout: 60_000 };

export default defineConfig({
  resolve,
  ssr,
  test: {
    pool: 'forks',
    projects: [
      {
        resolve,
        ssr,
        test: {
          name: 'default',
          include: ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts', 'test/**/*.test.ts'],
          globalSetup: ['test/harness/global-setup.ts'],
          ...timeouts,
        },
      },
      {
        // The end-to-end suite again, unchanged, against a three-master Redis Cluster.
        resolve,
        ssr,
        test: {
          name: 'cluster',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/harness/global-setup-cluster.ts'],
          ...timeouts,
        },
      },
    ],
  },
});
