export { type AppConfig, loadConfig, type MailboxConfig, type WorkerConfig } from './config.js';
export { createLogger } from './logger.js';
export { type MailboxState, MailboxGate } from './gate.js';
export { createMetrics, type Metrics } from './metrics.js';
export { renderMessage } from './mime.js';
export { type PostroomWorker, type StartWorkerOptions, startWorker } from './worker.js';
