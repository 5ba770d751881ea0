import type { UsageSnapshot } from './mailbox-usage.js';
import type { EmulatorStats, ViolationCounts } from './types.js';

export type Violation = keyof ViolationCounts;

function emptyViolations(): ViolationCounts {
  return {
    rate: 0,
    connections: 0,
    recipientsPerMessage: 0,
    recipientsPerDay: 0,
    size: 0,
    auth: 0,
    sendAs: 0,
    graphConcurrency: 0,
    graphUploadVolume: 0,
  };
}

/**
 * Counters of SMTP replies, Graph responses, limit violations, duplicate Message-IDs and token
 * requests.
 */
export class StatsRecorder {
  #replies = new Map<string, number>();
  #repliesByCode = new Map<string, number>();
  #violations = emptyViolations();
  #duplicateMessageIds = 0;
  #tokenRequests = { ok: 0, error: 0 };
  #graphResponses = new Map<string, number>();

  /** Counts one reply; `key` is `"250 2.0.0"` or a bare code such as `"220"`. */
  countReply(key: string): void {
    this.#replies.set(key, (this.#replies.get(key) ?? 0) + 1);
    const code = key.slice(0, 3);
    this.#repliesByCode.set(code, (this.#repliesByCode.get(code) ?? 0) + 1);
  }

  /** Counts one Graph response by its HTTP status. */
  countGraphResponse(status: number): void {
    const key = String(status);
    this.#graphResponses.set(key, (this.#graphResponses.get(key) ?? 0) + 1);
  }

  countViolation(violation: Violation): void {
    this.#violations[violation] += 1;
  }

  countDuplicateMessageId(): void {
    this.#duplicateMessageIds += 1;
  }

  countTokenRequest(outcome: 'ok' | 'error'): void {
    this.#tokenRequests[outcome] += 1;
  }

  reset(): void {
    this.#replies.clear();
    this.#repliesByCode.clear();
    this.#violations = emptyViolations();
    this.#duplicateMessageIds = 0;
    this.#tokenRequests = { ok: 0, error: 0 };
    this.#graphResponses.clear();
  }

  snapshot(usage: UsageSnapshot): EmulatorStats {
    return {
      replies: Object.fromEntries(this.#replies),
      repliesByCode: Object.fromEntries(this.#repliesByCode),
      violations: { ...this.#violations },
      maxConcurrentConnections: usage.maxConcurrentConnections,
      openConnections: usage.openConnections,
      messagesByMailbox: usage.messagesByMailbox,
      duplicateMessageIds: this.#duplicateMessageIds,
      tokenRequests: { ...this.#tokenRequests },
      graphResponses: Object.fromEntries(this.#graphResponses),
      maxConcurrentGraphRequests: usage.maxConcurrentGraphRequests,
    };
  }
}
