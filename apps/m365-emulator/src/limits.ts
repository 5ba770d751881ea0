import type { EmulatorLimits } from './types.js';

/** Exchange Online's per-mailbox defaults for SMTP submission, and Graph's request limits. */
export const DEFAULT_LIMITS: Readonly<EmulatorLimits> = Object.freeze({
  messagesPerMinute: 30,
  recipientsPerMessage: 500,
  connectionsPerMailbox: 3,
  recipientsPerDay: 10_000,
  maxMessageBytes: 35 * 1024 * 1024,
  graphConcurrentRequests: 4,
  graphMaxRequestBytes: 4 * 1024 * 1024,
  graphUploadBytesPerFiveMinutes: 150 * 1024 * 1024,
});

/** Length of the rolling recipient window in time units (24 hours of emulated minutes). */
export const TIME_UNITS_PER_DAY = 1440;
/** Length of Graph's rolling upload window in time units (5 emulated minutes). */
export const UPLOAD_WINDOW_TIME_UNITS = 5;

const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as (keyof EmulatorLimits)[];

/** Looks up limits by mailbox: the per-mailbox override over the emulator-wide limits. */
export class LimitTable {
  readonly #defaults: EmulatorLimits;
  readonly #byMailbox = new Map<string, EmulatorLimits>();

  constructor(
    limits: Partial<EmulatorLimits> = {},
    mailboxLimits: Record<string, Partial<EmulatorLimits>> = {},
  ) {
    this.#defaults = mergeLimits(DEFAULT_LIMITS, limits, 'limits');
    for (const [mailbox, override] of Object.entries(mailboxLimits)) {
      const merged = mergeLimits(this.#defaults, override, `mailboxLimits["${mailbox}"]`);
      this.#byMailbox.set(mailbox.toLowerCase(), merged);
    }
  }

  for(mailbox: string): EmulatorLimits {
    return this.#byMailbox.get(mailbox.toLowerCase()) ?? this.#defaults;
  }

  /** Largest maxMessageBytes of any mailbox, which the EHLO SIZE keyword advertises. */
  maxMessageBytesOfAnyMailbox(): number {
    let max = this.#defaults.maxMessageBytes;
    for (const limits of this.#byMailbox.values()) {
      max = Math.max(max, limits.maxMessageBytes);
    }
    return max;
  }
}

function mergeLimits(
  base: Readonly<EmulatorLimits>,
  override: Partial<EmulatorLimits>,
  optionName: string,
): EmulatorLimits {
  const merged: EmulatorLimits = { ...base };
  for (const [name, value] of Object.entries(override)) {
    if (!LIMIT_NAMES.includes(name as keyof EmulatorLimits)) {
      throw new TypeError(
        `Invalid option ${optionName}.${name}: unknown limit; use one of ${LIMIT_NAMES.join(', ')}`,
      );
    }
    if (value === undefined) {
      continue;
    }
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(
        `Invalid option ${optionName}.${name}: ${String(value)}; use a positive integer`,
      );
    }
    merged[name as keyof EmulatorLimits] = value;
  }
  return merged;
}
