#!/usr/bin/env node
import { pino } from 'pino';
import { CliConfigError, loadCliConfig } from './cli-config.js';
import { startEmulator } from './emulator.js';

/**
 * Starts the emulator from `M365_EMULATOR_*` variables. Logs go to stderr, so that stdout carries
 * only the one JSON line with the ports and the CA file, written once every server listens.
 */
async function main(): Promise<void> {
  const config = await loadCliConfig(process.env);
  const logger = pino({ level: config.logLevel }, pino.destination(2));
  const emulator = await startEmulator({ ...config.options, logger }).catch((error: unknown) => {
    if (error instanceof TypeError) {
      // Invalid app registrations, limits or Send As lists come from the config file.
      throw new CliConfigError(
        `M365_EMULATOR_CONFIG (${process.env.M365_EMULATOR_CONFIG}): ${error.message}`,
      );
    }
    throw error;
  });

  const stop = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'stopping on signal');
    emulator.close().catch((error: unknown) => {
      logger.error({ err: error }, 'failed to close the emulator');
      process.exitCode = 1;
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  // Written only once the handlers are in place: a caller may send SIGTERM as soon as it reads
  // this line, and without a handler that signal would kill the process instead of closing it.
  const ready = {
    smtpPort: emulator.smtpPort,
    httpsPort: emulator.httpsPort,
    apiPort: emulator.apiPort,
    graphPort: emulator.graphPort,
    caFile: emulator.caFile,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof CliConfigError) {
    process.stderr.write(`m365-emulator: ${error.message}\n`);
    process.exitCode = 2;
    return;
  }
  if (isAddressInUse(error)) {
    process.stderr.write(
      `m365-emulator: ${error.message}; set M365_EMULATOR_SMTP_PORT, M365_EMULATOR_HTTPS_PORT, M365_EMULATOR_API_PORT and M365_EMULATOR_GRAPH_PORT to free ports, or 0 to pick any free port\n`,
    );
    process.exitCode = 1;
    return;
  }
  process.stderr.write(`m365-emulator: failed to start: ${String(error)}\n`);
  process.exitCode = 1;
});

function isAddressInUse(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
}
