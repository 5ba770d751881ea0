export {
  type AppConfig,
  loadConfig,
  type MailboxConfig,
  type MailTransport,
  type WorkerConfig,
} from './config.js';
export { MailboxGate, type MailboxState } from './gate.js';
export { createLogger } from './logger.js';
export { createMetrics, type Metrics } from './metrics.js';
export { renderMessage } from './mime.js';
export { createTokenProviders } from './tokens/create.js';
export { describeAadsts, TokenError } from './tokens/errors.js';
export type { AccessToken, TokenProvider } from './tokens/provider.js';
export { appIdentity, TokenProviders } from './tokens/registry.js';
export { type PostroomWorker, type StartWorkerOptions, startWorker } from './worker.js';
