import { TIME_UNITS_PER_DAY, UPLOAD_WINDOW_TIME_UNITS } from './limits.js';
import { RollingWindow } from './rolling-window.js';

interface MailboxCounters {
  openSessions: number;
  maxOpenSessions: number;
  openGraphRequests: number;
  maxOpenGraphRequests: number;
  acceptedMessages: number;
  messageWindow: RollingWindow;
  recipientWindow: RollingWindow;
  uploadWindow: RollingWindow;
}

export interface UsageSnapshot {
  maxConcurrentConnections: Record<string, number>;
  maxConcurrentGraphRequests: Record<string, number>;
  openConnections: Record<string, number>;
  messagesByMailbox: Record<string, number>;
}

/**
 * SMTP sessions, Graph requests in progress, message rate, rolling-day recipients and uploaded
 * bytes of every mailbox, keyed in lower case.
 */
export class MailboxUsage {
  readonly #timeUnitMs: number;
  readonly #byMailbox = new Map<string, MailboxCounters>();

  constructor(timeUnitMs: number) {
    this.#timeUnitMs = timeUnitMs;
  }

  /** Counts a new authenticated session unless `maxSessions` are already open. */
  tryOpenSession(mailbox: string, maxSessions: number): boolean {
    const counters = this.#countersOf(mailbox);
    if (counters.openSessions >= maxSessions) {
      return false;
    }
    counters.openSessions += 1;
    counters.maxOpenSessions = Math.max(counters.maxOpenSessions, counters.openSessions);
    return true;
  }

  closeSession(mailbox: string): void {
    const counters = this.#countersOf(mailbox);
    counters.openSessions = Math.max(0, counters.openSessions - 1);
  }

  /** Counts a Graph request in progress unless `maxRequests` are already in progress. */
  tryStartGraphRequest(mailbox: string, maxRequests: number): boolean {
    const counters = this.#countersOf(mailbox);
    if (counters.openGraphRequests >= maxRequests) {
      return false;
    }
    counters.openGraphRequests += 1;
    counters.maxOpenGraphRequests = Math.max(
      counters.maxOpenGraphRequests,
      counters.openGraphRequests,
    );
    return true;
  }

  endGraphRequest(mailbox: string): void {
    const counters = this.#countersOf(mailbox);
    counters.openGraphRequests = Math.max(0, counters.openGraphRequests - 1);
  }

  messagesInWindow(mailbox: string, nowMs: number): number {
    return this.#countersOf(mailbox).messageWindow.total(nowMs);
  }

  recipientsInDay(mailbox: string, nowMs: number): number {
    return this.#countersOf(mailbox).recipientWindow.total(nowMs);
  }

  /** Attachment bytes uploaded through upload sessions in the last 5 time units. */
  uploadedBytesInWindow(mailbox: string, nowMs: number): number {
    return this.#countersOf(mailbox).uploadWindow.total(nowMs);
  }

  recordUpload(mailbox: string, sizeBytes: number, nowMs: number): void {
    this.#countersOf(mailbox).uploadWindow.add(nowMs, sizeBytes);
  }

  recordAccepted(mailbox: string, recipientCount: number, nowMs: number): void {
    const counters = this.#countersOf(mailbox);
    counters.acceptedMessages += 1;
    counters.messageWindow.add(nowMs);
    counters.recipientWindow.add(nowMs, recipientCount);
  }

  /** Clears windows and message counts; the session maximum restarts from the open sessions. */
  reset(): void {
    for (const counters of this.#byMailbox.values()) {
      counters.acceptedMessages = 0;
      counters.maxOpenSessions = counters.openSessions;
      counters.maxOpenGraphRequests = counters.openGraphRequests;
      counters.messageWindow.clear();
      counters.recipientWindow.clear();
      counters.uploadWindow.clear();
    }
  }

  snapshot(): UsageSnapshot {
    const snapshot: UsageSnapshot = {
      maxConcurrentConnections: {},
      maxConcurrentGraphRequests: {},
      openConnections: {},
      messagesByMailbox: {},
    };
    for (const [mailbox, counters] of this.#byMailbox) {
      snapshot.maxConcurrentConnections[mailbox] = counters.maxOpenSessions;
      if (counters.maxOpenGraphRequests > 0) {
        snapshot.maxConcurrentGraphRequests[mailbox] = counters.maxOpenGraphRequests;
      }
      snapshot.openConnections[mailbox] = counters.openSessions;
      snapshot.messagesByMailbox[mailbox] = counters.acceptedMessages;
    }
    return snapshot;
  }

  #countersOf(mailbox: string): MailboxCounters {
    const key = mailbox.toLowerCase();
    let counters = this.#byMailbox.get(key);
    if (counters === undefined) {
      counters = {
        openSessions: 0,
        maxOpenSessions: 0,
        openGraphRequests: 0,
        maxOpenGraphRequests: 0,
        acceptedMessages: 0,
        messageWindow: new RollingWindow(this.#timeUnitMs),
        recipientWindow: new RollingWindow(this.#timeUnitMs * TIME_UNITS_PER_DAY),
        uploadWindow: new RollingWindow(this.#timeUnitMs * UPLOAD_WINDOW_TIME_UNITS),
      };
      this.#byMailbox.set(key, counters);
    }
    return counters;
  }
}
