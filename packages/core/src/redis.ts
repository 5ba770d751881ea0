import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { ConfigError } from './errors.js';

/** A connection to one Redis server or to a Redis Cluster. */
export type RedisConnection = Redis | Cluster;

const CLUSTER_SCHEMES = new Set(['redis+cluster:', 'rediss+cluster:']);
const DEFAULT_PORT = 6379;
const REDIS_URL = /^(rediss?|rediss?\+cluster):\/\/\S+$/;
const REDIS_URL_FORMS =
  'write redis://[user:password@]host:port[/db], rediss:// for TLS, or redis+cluster://host:port,host:port';

/**
 * Returns what is wrong with a Redis URL, or undefined when it can be used. The message never
 * quotes the URL, which may hold a password.
 */
export function redisUrlProblem(url: string): string | undefined {
  if (!REDIS_URL.test(url))
    return `must start with redis://, rediss:// or redis+cluster://; ${REDIS_URL_FORMS}`;
  if (isClusterUrl(url)) {
    try {
      parseClusterUrl(url);
      return undefined;
    } catch (error) {
      return error instanceof ConfigError
        ? (error.issues[0]?.message ?? String(error))
        : String(error);
    }
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `is not a valid URL (check the port and any special characters in the password, which must be percent-encoded); ${REDIS_URL_FORMS}`;
  }
  if (!parsed.hostname) return `names no host; ${REDIS_URL_FORMS}`;
  // Not quoted: a password with an unencoded / ends the host part, and the rest of the
  // password then reads as the database.
  const database = parsed.pathname.replace(/^\//, '');
  if (database !== '' && !/^\d+$/.test(database)) {
    return `names a database that is not a number (percent-encode any / in the password); ${REDIS_URL_FORMS}`;
  }
  return undefined;
}

/** True for `redis+cluster://host:port,host:port` and its TLS form `rediss+cluster://`. */
export function isClusterUrl(url: string): boolean {
  return CLUSTER_SCHEMES.has(url.slice(0, url.indexOf('//')));
}

/**
 * Connects to the Redis a URL names: `redis://` or `rediss://` for one server, or
 * `redis+cluster://[user:password@]host:port,host:port` for a cluster, given by any of its
 * nodes. Every key Postroom uses carries the `{postroom}` hash tag, so one queue lives in one
 * cluster slot and its multi-key scripts work unchanged.
 */
export function connectRedis(url: string, options: RedisOptions = {}): RedisConnection {
  const problem = redisUrlProblem(url);
  if (problem)
    throw new ConfigError('invalid Redis URL', [{ path: 'Redis URL', message: problem }]);
  // Postroom reads replies in ioredis's default ("legacy") shapes.
  if (!isClusterUrl(url)) return new Redis(url, { ...options, replyMapping: 'legacy' });

  const { nodes, username, password, tls } = parseClusterUrl(url);
  const redisOptions = {
    ...options,
    replyMapping: 'legacy' as const,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(tls ? { tls: {} } : {}),
  };
  return new Cluster(nodes, { redisOptions, lazyConnect: options.lazyConnect === true });
}

/**
 * Returns the `host:port` a Redis URL names, or for a cluster URL each node's, comma-separated.
 * User name and password are left out, so the result is safe for messages and logs.
 */
export function redisAddress(url: string): string {
  if (isClusterUrl(url)) {
    return parseClusterUrl(url)
      .nodes.map((node) => `${node.host}:${node.port}`)
      .join(', ');
  }
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || DEFAULT_PORT}`;
}

function parseClusterUrl(url: string) {
  const scheme = url.slice(0, url.indexOf('//'));
  const rest = url.slice(scheme.length + 2).replace(/\/.*$/, '');
  const at = rest.lastIndexOf('@');
  const credentials = at >= 0 ? rest.slice(0, at) : '';
  const hosts = at >= 0 ? rest.slice(at + 1) : rest;
  const [username, password] = credentials.includes(':')
    ? [
        decodeURIComponent(credentials.slice(0, credentials.indexOf(':'))),
        decodeURIComponent(credentials.slice(credentials.indexOf(':') + 1)),
      ]
    : ['', decodeURIComponent(credentials)];

  const nodes = hosts.split(',').map((entry) => {
    const colon = entry.lastIndexOf(':');
    const host = colon > 0 ? entry.slice(0, colon) : entry;
    const port = colon > 0 ? Number(entry.slice(colon + 1)) : DEFAULT_PORT;
    if (!host || !Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new ConfigError('invalid Redis URL', [
        {
          path: 'redis url',
          // Not quoted: with an unencoded / in the password, the node can hold part of it.
          message: `a cluster node is not host:port (percent-encode any / or @ in the password); write redis+cluster://host:port,host:port`,
        },
      ]);
    }
    return { host, port };
  });
  return { nodes, username, password, tls: scheme === 'rediss+cluster:' };
}
