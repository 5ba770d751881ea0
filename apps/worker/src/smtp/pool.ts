import type { Logger } from 'pino';
import type { MailboxConfig } from '../config.js';
import type { MailboxGate } from '../gate.js';
import type { Metrics } from '../metrics.js';
import type { SmtpSession } from './session.js';

/** An open, authenticated connection together with the Redis lease that allows it. */
export interface PooledSession {
  session: SmtpSession;
  leaseId: string;
  mailbox: MailboxConfig;
  /** Expiry of the token the connection authenticated with, in ms since the epoch. */
  tokenExpiresAtMs: number;
  /** Set when the lease could not be renewed; the connection closes after its transaction. */
  leaseLost?: boolean;
}

/**
 * Open SMTP connections of this process, per mailbox. Each connection holds a lease in the
 * gate, so the connection count of a mailbox stays within its limit across all replicas. An idle
 * connection is kept for `idleMs` for the next message, then closed and its lease released.
 */
export class SessionPool {
  readonly #idle = new Map<string, PooledSession[]>();
  readonly #open = new Set<PooledSession>();
  readonly #opening = new Set<SmtpSession>();
  readonly #idleTimers = new Map<PooledSession, NodeJS.Timeout>();
  readonly #gate: MailboxGate;
  readonly #idleMs: number;
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  readonly #renewTimer: NodeJS.Timeout;

  constructor(gate: MailboxGate, idleMs: number, logger: Logger, metrics: Metrics) {
    this.#gate = gate;
    this.#idleMs = idleMs;
    this.#logger = logger;
    this.#metrics = metrics;
    this.#renewTimer = setInterval(
      () => void this.#renewAll(),
      Math.max(1000, gate.leaseTtlMs / 3),
    );
    this.#renewTimer.unref();
  }

  /** Takes an idle connection of the mailbox whose token is still valid, if there is one. */
  takeIdle(mailbox: MailboxConfig): PooledSession | undefined {
    const idle = this.#idle.get(mailbox.address) ?? [];
    while (idle.length > 0) {
      const pooled = idle.pop() as PooledSession;
      this.#clearIdleTimer(pooled);
      if (!pooled.session.closed && pooled.tokenExpiresAtMs > Date.now() + 60_000) return pooled;
      void this.discard(pooled);
    }
    return undefined;
  }

  /** Registers a newly opened connection. */
  add(pooled: PooledSession): void {
    this.#open.add(pooled);
    this.#metrics.connectionsOpen.set(
      { mailbox: pooled.mailbox.address },
      this.#countOpen(pooled.mailbox.address),
    );
  }

  /** Returns a connection after a successful transaction, for reuse until it idles out. */
  release(pooled: PooledSession): void {
    if (pooled.session.closed || pooled.leaseLost || this.#idleMs === 0) {
      void this.discard(pooled);
      return;
    }
    const idle = this.#idle.get(pooled.mailbox.address) ?? [];
    idle.push(pooled);
    this.#idle.set(pooled.mailbox.address, idle);
    const timer = setTimeout(() => {
      this.#removeIdle(pooled);
      void this.discard(pooled);
    }, this.#idleMs);
    timer.unref();
    this.#idleTimers.set(pooled, timer);
  }

  /** Closes a connection and frees its lease. */
  async discard(pooled: PooledSession): Promise<void> {
    this.#clearIdleTimer(pooled);
    pooled.session.close();
    if (!this.#open.delete(pooled)) return;
    this.#metrics.connectionsOpen.set(
      { mailbox: pooled.mailbox.address },
      this.#countOpen(pooled.mailbox.address),
    );
    try {
      await this.#gate.releaseLease(pooled.mailbox, pooled.leaseId);
    } catch (error) {
      // The lease expires by itself after its ttl.
      this.#logger.warn(
        { err: error, mailbox: pooled.mailbox.address },
        'connection lease release failed',
      );
    }
  }

  /** Closes every connection, idle or not, and frees their leases. */
  /** Registers a connection that is still opening, so that destroyAll reaches it too. */
  trackOpening(session: SmtpSession): () => void {
    this.#opening.add(session);
    return () => this.#opening.delete(session);
  }

  /** Drops every connection at once, busy and opening ones included, so their sends fail now. */
  destroyAll(): void {
    for (const pooled of this.#open) pooled.session.destroy();
    for (const session of this.#opening) session.destroy();
  }

  async close(): Promise<void> {
    clearInterval(this.#renewTimer);
    this.#idle.clear();
    await Promise.all([...this.#open].map((pooled) => this.discard(pooled)));
  }

  #removeIdle(pooled: PooledSession): boolean {
    const idle = this.#idle.get(pooled.mailbox.address) ?? [];
    const index = idle.indexOf(pooled);
    if (index < 0) return false;
    idle.splice(index, 1);
    return true;
  }

  #clearIdleTimer(pooled: PooledSession): void {
    const timer = this.#idleTimers.get(pooled);
    if (timer) clearTimeout(timer);
    this.#idleTimers.delete(pooled);
  }

  #countOpen(address: string): number {
    return [...this.#open].filter((pooled) => pooled.mailbox.address === address).length;
  }

  async #renewAll(): Promise<void> {
    for (const pooled of this.#open) {
      try {
        if (await this.#gate.renewLease(pooled.mailbox, pooled.leaseId)) continue;
        this.#logger.warn(
          { mailbox: pooled.mailbox.address },
          'connection lease expired; closing the connection',
        );
        pooled.leaseLost = true;
        if (this.#removeIdle(pooled)) void this.discard(pooled);
      } catch (error) {
        this.#logger.warn(
          { err: error, mailbox: pooled.mailbox.address },
          'connection lease renewal failed',
        );
      }
    }
  }
}
