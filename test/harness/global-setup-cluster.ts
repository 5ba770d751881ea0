import type { TestProject } from 'vitest/node';
import { RedisCluster } from './redis-cluster.js';

let cluster: RedisCluster | undefined;

/** Gives the cluster test project a three-master Redis Cluster as its `redisUrl`. */
export async function setup(project: TestProject): Promise<void> {
  cluster = await RedisCluster.start();
  project.provide('redisUrl', cluster.url);
}

export async function teardown(): Promise<void> {
  await cluster?.close();
}
