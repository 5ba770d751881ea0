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

/** The outcome of a wait for a connection of the mailbox in this process. */
export type LocalWait = PooledSession | 'lease_freed' | 'timeout';

export interface SessionPoolOptions {
  /** How long an idle connection is kept for the next message, in ms; 0 closes it at once. */
  idleMs: number;
  /** Maximum number of idle connections over all mailboxes; at the cap, a released one closes. */
  maxIdle: number;
}

interface Waiter {
  tier: number;
  resolve: (outcome: LocalWait) => void;
  timer: NodeJS.Timeout;
}

const PRIORITY_TIERS = { high: 0, normal: 1, low: 2 } as const;

/**
 * Open SMTP connections of this process, per mailbox. Each connection holds a lease in the
 * gate, so the connection count of a mailbox stays within its limit across all replicas. An idle
 * connection is kept for `idleMs` for the next message, then closed and its lease released.
 * Jobs of this process that wait for a busy connection of their mailbox get it handed over as
 * soon as its transaction ends, high priority first.
 */
export class SessionPool {
  readonly #idle = new Map<string, PooledSession[]>();
  // Every idle connection, in the order it became idle.
  readonly #idleOrder = new Set<PooledSession>();
  readonly #open = new Set<PooledSession>();
  readonly #openCount = new Map<string, number>();
  readonly #opening = new Set<SmtpSession>();
  // Leases taken for connections that are still opening, by lease id. Opening can take longer
  // than a lease's ttl, so these are renewed too; `lost` marks one whose renewal failed.
  readonly #pendingLeases = new Map<string, { mailbox: MailboxConfig; lost: boolean }>();
  readonly #pendingCount = new Map<string, number>();
  readonly #idleTimers = new Map<PooledSession, NodeJS.Timeout>();
  readonly #waiters = new Map<string, Waiter[]>();
  readonly #gate: MailboxGate;
  readonly #options: SessionPoolOptions;
  readonly #logger: Logger;
  readonly #metrics: Metrics;
  readonly #renewTimer: NodeJS.Timeout;

  constructor(gate: MailboxGate, options: SessionPoolOptions, logger: Logger, metrics: Metrics) {
    this.#gate = gate;
    this.#options = options;
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
    const idle = this.#idle.get(mailbox.address);
    while (idle && idle.length > 0) {
      const pooled = idle.pop() as PooledSession;
      this.#idleOrder.delete(pooled);
      this.#clearIdleTimer(pooled);
      if (isUsable(pooled)) return pooled;
      void this.discard(pooled);
    }
    return undefined;
  }

  /** Connections of the mailbox that this process holds, busy or idle. */
  openCount(mailbox: MailboxConfig): number {
    return this.#openCount.get(mailbox.address) ?? 0;
  }

  /** Leases of the mailbox that this process holds: open connections and ones still opening. */
  heldCount(mailbox: MailboxConfig): number {
    return this.openCount(mailbox) + (this.#pendingCount.get(mailbox.address) ?? 0);
  }

  /**
   * Connections of the mailbox that this process has in a transaction or still opening. Each
   * comes free for another job of this process when its job ends.
   */
  busyCount(mailbox: MailboxConfig): number {
    return this.heldCount(mailbox) - (this.#idle.get(mailbox.address)?.length ?? 0);
  }

  /**
   * Records a lease taken for a connection that is about to open. Until the connection is added
   * or the lease returned, other jobs of this process wait for that connection instead of
   * asking the gate for a lease they cannot get.
   */
  leaseTaken(mailbox: MailboxConfig, leaseId: string): void {
    this.#pendingLeases.set(leaseId, { mailbox, lost: false });
    this.#changePendingCount(mailbox.address, 1);
  }

  /** Frees a lease that never became an open connection, and wakes a job waiting for one. */
  async returnLease(mailbox: MailboxConfig, leaseId: string): Promise<void> {
    this.#forgetPending(leaseId);
    try {
      await this.#gate.releaseLease(mailbox, leaseId);
    } finally {
      this.#shiftWaiter(mailbox.address)?.resolve('lease_freed');
    }
  }

  /**
   * Waits up to `timeoutMs` for a connection of the mailbox that another job of this process is
   * using. Resolves with the connection, with 'lease_freed' when one of the mailbox's
   * connections closed (so a new one may be opened), or with 'timeout'.
   */
  waitForRelease(
    mailbox: MailboxConfig,
    priority: keyof typeof PRIORITY_TIERS,
    timeoutMs: number,
  ): Promise<LocalWait> {
    return new Promise((resolve) => {
      const waiters = this.#waiters.get(mailbox.address) ?? [];
      const waiter: Waiter = {
        tier: PRIORITY_TIERS[priority],
        resolve,
        timer: setTimeout(() => {
          this.#removeWaiter(mailbox.address, waiter);
          resolve('timeout');
        }, timeoutMs),
      };
      // Ordered by tier, first come first served within a tier.
      const index = waiters.findIndex((other) => other.tier > waiter.tier);
      waiters.splice(index < 0 ? waiters.length : index, 0, waiter);
      this.#waiters.set(mailbox.address, waiters);
    });
  }

  /** Registers a newly opened connection. */
  add(pooled: PooledSession): void {
    if (this.#pendingLeases.get(pooled.leaseId)?.lost) pooled.leaseLost = true;
    this.#forgetPending(pooled.leaseId);
    this.#open.add(pooled);
    this.#changeOpenCount(pooled.mailbox.address, 1);
  }

  /** Returns a connection after a successful transaction, for the next job or until it idles out. */
  release(pooled: PooledSession): void {
    if (pooled.session.closed || pooled.leaseLost || !isUsable(pooled)) {
      void this.discard(pooled);
      return;
    }
    const waiter = this.#shiftWaiter(pooled.mailbox.address);
    if (waiter) {
      waiter.resolve(pooled);
      return;
    }
    // At the cap, the connection just used closes rather than an older idle one. With many
    // mailboxes taking turns, closing the oldest would close each connection just before its
    // mailbox's next message, and no connection would ever be reused.
    if (this.#options.idleMs === 0 || this.#idleOrder.size >= this.#options.maxIdle) {
      void this.discard(pooled);
      return;
    }
    const idle = this.#idle.get(pooled.mailbox.address) ?? [];
    idle.push(pooled);
    this.#idle.set(pooled.mailbox.address, idle);
    this.#idleOrder.add(pooled);
    const timer = setTimeout(() => {
      this.#removeIdle(pooled);
      void this.discard(pooled);
    }, this.#options.idleMs);
    timer.unref();
    this.#idleTimers.set(pooled, timer);
  }

  /**
   * Closes one idle connection of the mailbox, if this process has one and no job of its own
   * waits for it, so that a job in another replica can take its lease.
   */
  yieldIdle(address: string): void {
    if ((this.#waiters.get(address)?.length ?? 0) > 0) return;
    const idle = this.#idle.get(address);
    const pooled = idle?.shift();
    if (!pooled) return;
    this.#idleOrder.delete(pooled);
    this.#logger.debug({ mailbox: address }, 'closing an idle connection another replica needs');
    void this.discard(pooled);
  }

  /** Closes a connection and frees its lease. */
  async discard(pooled: PooledSession): Promise<void> {
    this.#clearIdleTimer(pooled);
    pooled.session.close();
    if (!this.#open.delete(pooled)) return;
    this.#changeOpenCount(pooled.mailbox.address, -1);
    try {
      await this.#gate.releaseLease(pooled.mailbox, pooled.leaseId);
    } catch (error) {
      // The lease expires by itself after its ttl.
      this.#logger.warn(
        { err: error, mailbox: pooled.mailbox.address },
        'connection lease release failed',
      );
    }
    this.#shiftWaiter(pooled.mailbox.address)?.resolve('lease_freed');
  }

  /** Registers a connection that is still opening, so that destroyAll reaches it too. */
  trackOpening(session: SmtpSession): () => void {
    this.#opening.add(session);
    return () => this.#opening.delete(session);
  }

  /** Drops every connection at once, busy and opening ones included, so their sends fail now. */
  destroyAll(): void {
    this.#wakeAllWaiters();
    for (const pooled of this.#open) pooled.session.destroy();
    for (const session of this.#opening) session.destroy();
  }

  /** Closes every connection, idle or not, and frees their leases. */
  async close(): Promise<void> {
    clearInterval(this.#renewTimer);
    this.#wakeAllWaiters();
    this.#idle.clear();
    this.#idleOrder.clear();
    await Promise.all([...this.#open].map((pooled) => this.discard(pooled)));
  }

  #shiftWaiter(address: string): Waiter | undefined {
    const waiter = this.#waiters.get(address)?.shift();
    if (waiter) clearTimeout(waiter.timer);
    if (this.#waiters.get(address)?.length === 0) this.#waiters.delete(address);
    return waiter;
  }

  #removeWaiter(address: string, waiter: Waiter): void {
    const waiters = this.#waiters.get(address) ?? [];
    const index = waiters.indexOf(waiter);
    if (index >= 0) waiters.splice(index, 1);
    if (waiters.length === 0) this.#waiters.delete(address);
  }

  #wakeAllWaiters(): void {
    for (const waiters of this.#waiters.values()) {
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.resolve('timeout');
      }
    }
    this.#waiters.clear();
  }

  #forgetPending(leaseId: string): void {
    const pending = this.#pendingLeases.get(leaseId);
    if (pending === undefined) return;
    this.#pendingLeases.delete(leaseId);
    this.#changePendingCount(pending.mailbox.address, -1);
  }

  #changePendingCount(address: string, change: number): void {
    const count = (this.#pendingCount.get(address) ?? 0) + change;
    if (count > 0) this.#pendingCount.set(address, count);
    else this.#pendingCount.delete(address);
  }

  #changeOpenCount(address: string, change: number): void {
    const count = (this.#openCount.get(address) ?? 0) + change;
    if (count > 0) this.#openCount.set(address, count);
    else this.#openCount.delete(address);
    this.#metrics.connectionsOpen.set({ mailbox: address }, Math.max(0, count));
  }

  #removeIdle(pooled: PooledSession): boolean {
    const idle = this.#idle.get(pooled.mailbox.address) ?? [];
    const index = idle.indexOf(pooled);
    if (index < 0) return false;
    idle.splice(index, 1);
    this.#idleOrder.delete(pooled);
    return true;
  }

  #clearIdleTimer(pooled: PooledSession): void {
    const timer = this.#idleTimers.get(pooled);
    if (timer) clearTimeout(timer);
    this.#idleTimers.delete(pooled);
  }

  async #renewAll(): Promise<void> {
    for (const [leaseId, pending] of this.#pendingLeases) {
      try {
        if (pending.lost || (await this.#gate.renewLease(pending.mailbox, leaseId))) continue;
        // The connection closes after its first transaction, once it is open.
        this.#logger.warn(
          { mailbox: pending.mailbox.address },
          'connection lease expired while the connection was opening',
        );
        pending.lost = true;
      } catch (error) {
        this.#logger.warn(
          { err: error, mailbox: pending.mailbox.address },
          'connection lease renewal failed',
        );
      }
    }
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

// A connection whose token expires within a minute is closed rather than reused: the server
// ends sessions whose token has expired.
function isUsable(pooled: PooledSession): boolean {
  return !pooled.session.closed && pooled.tokenExpiresAtMs > Date.now() + 60_000;
}
