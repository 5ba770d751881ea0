import type { RedisConnection } from '@postroom/core';
import { SenderNotAllowedError } from '@postroom/core';

/** One mailbox as a worker publishes it in the registry hash. */
interface MailboxEntry {
  /** Addresses this mailbox may send as, lowercased. */
  sendAs: string[];
  maxRecipientsPerMessage: number | undefined;
}

/**
 * The mailboxes that workers serve, read from the registry hash (field: mailbox address, value:
 * JSON `{ "sendAs": [...], "limits": { "maxRecipientsPerMessage": n, ... } }`). An empty
 * registry means no worker has started yet, and then every sender is accepted.
 */
export class MailboxSnapshot {
  readonly #mailboxes: ReadonlyMap<string, MailboxEntry>;

  constructor(mailboxes: ReadonlyMap<string, MailboxEntry>) {
    this.#mailboxes = mailboxes;
  }

  /** Parses the fields of the registry hash. A value that is not valid JSON counts as `{}`. */
  static fromHash(hash: Record<string, string>): MailboxSnapshot {
    const mailboxes = new Map<string, MailboxEntry>();
    for (const [address, value] of Object.entries(hash)) {
      mailboxes.set(address.toLowerCase(), parseEntry(value));
    }
    return new MailboxSnapshot(mailboxes);
  }

  get isEmpty(): boolean {
    return this.#mailboxes.size === 0;
  }

  /**
   * Returns the recipients-per-message limit for a `from` address: its own mailbox's limit, else
   * the largest limit among mailboxes that may send as it. Undefined when nothing is published.
   */
  maxRecipientsFor(fromAddress: string): number | undefined {
    const address = fromAddress.toLowerCase();
    const own = this.#mailboxes.get(address);
    if (own) return own.maxRecipientsPerMessage;

    // NOTE: which mailbox a worker picks for a shared Send As address is the worker's choice, so
    // the most permissive limit is used here and the worker enforces the exact one.
    let largest: number | undefined;
    for (const entry of this.#mailboxes.values()) {
      if (!entry.sendAs.includes(address) || entry.maxRecipientsPerMessage === undefined) continue;
      largest = Math.max(largest ?? 0, entry.maxRecipientsPerMessage);
    }
    return largest;
  }

  /** Throws SenderNotAllowedError unless the registry is empty or lists the address. */
  assertSenderAllowed(fromAddress: string): void {
    if (this.isEmpty) return;

    const address = fromAddress.toLowerCase();
    if (this.#mailboxes.has(address)) return;
    for (const entry of this.#mailboxes.values()) {
      if (entry.sendAs.includes(address)) return;
    }
    throw new SenderNotAllowedError(fromAddress, this.#configuredAddresses());
  }

  #configuredAddresses(): string[] {
    const addresses = new Set<string>();
    for (const [mailbox, entry] of this.#mailboxes) {
      addresses.add(mailbox);
      for (const alias of entry.sendAs) addresses.add(alias);
    }
    return [...addresses].sort();
  }
}

/** Reads the mailbox registry from Redis and caches it. Concurrent callers share one read. */
export class MailboxRegistry {
  readonly #redis: RedisConnection;
  readonly #key: string;
  readonly #cacheMs: number;
  #cached: { snapshot: MailboxSnapshot; expiresAtMs: number } | undefined;
  #pending: Promise<MailboxSnapshot> | undefined;

  constructor(redis: RedisConnection, key: string, cacheMs: number) {
    this.#redis = redis;
    this.#key = key;
    this.#cacheMs = cacheMs;
  }

  /** Returns the cached snapshot, or reads the hash when the cache is older than its lifetime. */
  async load(): Promise<MailboxSnapshot> {
    if (this.#cached && Date.now() < this.#cached.expiresAtMs) return this.#cached.snapshot;

    this.#pending ??= this.#read().finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  async #read(): Promise<MailboxSnapshot> {
    const hash = await this.#redis.hgetall(this.#key);
    const snapshot = MailboxSnapshot.fromHash(hash);
    this.#cached = { snapshot, expiresAtMs: Date.now() + this.#cacheMs };
    return snapshot;
  }
}

function parseEntry(value: string): MailboxEntry {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    // A malformed entry still names a served mailbox; only its Send As list and limits are lost.
    parsed = {};
  }
  const record = isRecord(parsed) ? parsed : {};
  const sendAs = Array.isArray(record.sendAs)
    ? record.sendAs.filter((item): item is string => typeof item === 'string')
    : [];
  const limits = isRecord(record.limits) ? record.limits : {};
  const maxRecipients = limits.maxRecipientsPerMessage;

  return {
    sendAs: sendAs.map((address) => address.toLowerCase()),
    maxRecipientsPerMessage:
      typeof maxRecipients === 'number' && Number.isInteger(maxRecipients) && maxRecipients > 0
        ? maxRecipients
        : undefined,
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
