export {
  LocalStack,
  type LocalStackOptions,
  type StackMailbox,
} from '../../apps/cli/src/local-stack.js';
export { freePort, RedisServer, type RedisServerOptions } from '../../apps/cli/src/redis-server.js';
export { type Account, account } from './account.js';
export { waitForFinal, waitUntil } from './wait.js';
export { type SharedStack, type SharedStackOptions, useSharedStack } from './shared-stack.js';
