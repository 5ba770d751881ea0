import type { EmulatorOptions } from './types.js';

/** Effective scalar settings of an emulator, with defaults applied and values checked. */
export interface EmulatorSettings {
  host: string;
  smtpPort: number;
  httpsPort: number;
  apiPort: number;
  graphPort: number;
  timeUnitMs: number;
  tokenLifetimeSeconds: number;
  certificateHostnames: string[];
}

export const DEFAULT_TIME_UNIT_MS = 60_000;
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 3600;

/** Applies defaults and throws a TypeError naming the first invalid option. */
export function resolveSettings(options: EmulatorOptions): EmulatorSettings {
  if (!Array.isArray(options.apps)) {
    throw new TypeError('Invalid option apps: use an array of app registrations');
  }
  const settings: EmulatorSettings = {
    host: options.host ?? '127.0.0.1',
    smtpPort: options.smtpPort ?? 0,
    httpsPort: options.httpsPort ?? 0,
    apiPort: options.apiPort ?? 0,
    graphPort: options.graphPort ?? 0,
    timeUnitMs: options.timeUnitMs ?? DEFAULT_TIME_UNIT_MS,
    tokenLifetimeSeconds: options.tokenLifetimeSeconds ?? DEFAULT_TOKEN_LIFETIME_SECONDS,
    certificateHostnames: options.certificateHostnames ?? [],
  };
  for (const name of ['smtpPort', 'httpsPort', 'apiPort', 'graphPort'] as const) {
    requireInteger(name, settings[name], 0, 65_535);
  }
  requireInteger('timeUnitMs', settings.timeUnitMs, 1, Number.MAX_SAFE_INTEGER);
  requireInteger('tokenLifetimeSeconds', settings.tokenLifetimeSeconds, 0, 86_400);
  if (typeof settings.host !== 'string' || settings.host === '') {
    throw new TypeError('Invalid option host: use an IP address such as 127.0.0.1');
  }
  return settings;
}

function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new TypeError(
      `Invalid option ${name}: ${String(value)}; use an integer from ${min} to ${max}`,
    );
  }
}

/**
 * Host part of URLs that clients use: the listen address (bracketed when it is IPv6), or
 * 127.0.0.1 when the emulator listens on every interface.
 */
export function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') {
    return '127.0.0.1';
  }
  return host.includes(':') ? `[${host}]` : host;
}
