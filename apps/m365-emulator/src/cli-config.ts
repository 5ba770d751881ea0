import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { EmulatorApp, EmulatorLimits, EmulatorOptions } from './types.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const CONFIG_KEYS = new Set(['apps', 'limits', 'mailboxLimits', 'sendAs']);

/** An environment variable or the file it names is invalid; the message names both and the fix. */
export class CliConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliConfigError';
  }
}

export interface CliConfig {
  options: Omit<EmulatorOptions, 'logger'>;
  logLevel: string;
}

/**
 * Reads the emulator settings from `M365_EMULATOR_*` variables and the JSON file named by
 * `M365_EMULATOR_CONFIG`: `{ apps, limits?, mailboxLimits?, sendAs? }`. An app may give
 * `certificateFile`, a PEM path relative to the config file, in place of `certificatePem`.
 */
export async function loadCliConfig(env: NodeJS.ProcessEnv): Promise<CliConfig> {
  const options: Omit<EmulatorOptions, 'logger'> = {
    host: env.M365_EMULATOR_HOST ?? '127.0.0.1',
    smtpPort: readInteger(env, 'M365_EMULATOR_SMTP_PORT', 0, 65_535, 0),
    httpsPort: readInteger(env, 'M365_EMULATOR_HTTPS_PORT', 0, 65_535, 0),
    apiPort: readInteger(env, 'M365_EMULATOR_API_PORT', 0, 65_535, 0),
    graphPort: readInteger(env, 'M365_EMULATOR_GRAPH_PORT', 0, 65_535, 0),
    timeUnitMs: readInteger(env, 'M365_EMULATOR_TIME_UNIT_MS', 1, Number.MAX_SAFE_INTEGER, 60_000),
    tokenLifetimeSeconds: readInteger(env, 'M365_EMULATOR_TOKEN_LIFETIME_SECONDS', 0, 86_400, 3600),
    apps: [],
  };
  if (env.M365_EMULATOR_STATE_DIR) {
    options.stateDir = env.M365_EMULATOR_STATE_DIR;
  }
  if (env.M365_EMULATOR_CERT_HOSTNAMES) {
    options.certificateHostnames = env.M365_EMULATOR_CERT_HOSTNAMES.split(',')
      .map((name) => name.trim())
      .filter(Boolean);
  }
  const logLevel = env.M365_EMULATOR_LOG_LEVEL ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new CliConfigError(
      `M365_EMULATOR_LOG_LEVEL is invalid: "${logLevel}"; set one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  Object.assign(options, await readConfigFile(env.M365_EMULATOR_CONFIG));
  return { options, logLevel };
}

function readInteger(
  env: NodeJS.ProcessEnv,
  name: string,
  min: number,
  max: number,
  fallback: number,
): number {
  const text = env[name];
  if (text === undefined || text === '') {
    return fallback;
  }
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || value < min || value > max) {
    throw new CliConfigError(`${name} is invalid: "${text}"; set an integer from ${min} to ${max}`);
  }
  return value;
}

type ConfigFileOptions = Pick<EmulatorOptions, 'apps' | 'limits' | 'mailboxLimits' | 'sendAs'>;

async function readConfigFile(file: string | undefined): Promise<ConfigFileOptions> {
  const name = 'M365_EMULATOR_CONFIG';
  if (file === undefined || file === '') {
    throw new CliConfigError(
      `${name} is not set; set it to a JSON file such as {"apps":[{"tenantId":"...","clientId":"...","clientSecret":"...","mailboxes":["sender@example.com"]}]}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new CliConfigError(`${name} (${file}) could not be read as JSON: ${String(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new CliConfigError(`${name} (${file}) must contain a JSON object with an "apps" array`);
  }
  const config = parsed as Record<string, unknown>;
  const unknownKeys = Object.keys(config).filter((key) => !CONFIG_KEYS.has(key));
  if (unknownKeys.length > 0) {
    throw new CliConfigError(
      `${name} (${file}) has unknown keys ${unknownKeys.join(', ')}; use ${[...CONFIG_KEYS].join(', ')}`,
    );
  }
  if (!Array.isArray(config.apps)) {
    throw new CliConfigError(`${name} (${file}) must have an "apps" array of app registrations`);
  }
  const apps = await Promise.all(
    config.apps.map((app: unknown, index: number) => resolveApp(app, index, file)),
  );
  return {
    apps,
    ...(config.limits === undefined ? {} : { limits: config.limits as Partial<EmulatorLimits> }),
    ...(config.mailboxLimits === undefined
      ? {}
      : { mailboxLimits: config.mailboxLimits as Record<string, Partial<EmulatorLimits>> }),
    ...(config.sendAs === undefined ? {} : { sendAs: config.sendAs as Record<string, string[]> }),
  };
}

/** Loads `certificateFile` into `certificatePem`; the library checks the remaining fields. */
async function resolveApp(app: unknown, index: number, file: string): Promise<EmulatorApp> {
  if (typeof app !== 'object' || app === null) {
    throw new CliConfigError(`M365_EMULATOR_CONFIG (${file}): apps[${index}] must be an object`);
  }
  const { certificateFile, ...fields } = app as Record<string, unknown>;
  if (certificateFile === undefined) {
    return fields as unknown as EmulatorApp;
  }
  const certificatePath = path.resolve(path.dirname(file), String(certificateFile));
  try {
    const certificatePem = await readFile(certificatePath, 'utf8');
    return { ...fields, certificatePem } as unknown as EmulatorApp;
  } catch (error) {
    throw new CliConfigError(
      `M365_EMULATOR_CONFIG (${file}): apps[${index}].certificateFile could not be read: ${String(error)}`,
    );
  }
}
