#!/usr/bin/env node
import { ConfigError } from '@postroom/core';
import { loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { startWorker } from './worker.js';

async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`postroom-worker: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config.logLevel);
  for (const warning of config.warnings ?? []) logger.warn(warning.fields, warning.message);
  const worker = await startWorker(config, { logger });

  const stop = (signal: string) => {
    logger.info({ signal }, 'stop signal received');
    worker.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `postroom-worker: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
