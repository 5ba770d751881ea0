export { freePort, RedisServer, type RedisServerOptions } from '../../apps/cli/src/redis-server.js';
