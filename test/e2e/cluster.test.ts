import { connectRedis, isClusterUrl, KEY_PREFIX } from '@postroom/core';
import { Cluster } from 'ioredis';
import { expect, inject, test } from 'vitest';

const redisUrl = inject('redisUrl');

// Runs in the cluster project, where the rest of this suite runs against the same cluster.
test.runIf(isClusterUrl(redisUrl))('suite runs on a three-master cluster', async () => {
  const redis = connectRedis(redisUrl);
  expect(redis).toBeInstanceOf(Cluster);
  const cluster = redis as Cluster;
  await cluster.ping();
  const masters = cluster.nodes('master');
  expect(masters).toHaveLength(3);

  // Every Postroom key hashes to one slot, so BullMQ's and the gate's scripts work.
  const slots = await Promise.all(
    [`${KEY_PREFIX}:q:wait`, `${KEY_PREFIX}:q:mb:a@example.com:leases`].map((key) =>
      cluster.cluster('KEYSLOT', key),
    ),
  );
  expect(new Set(slots).size).toBe(1);
  cluster.disconnect();
});
