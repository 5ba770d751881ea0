import type { DeliveryStatus, MailClient } from '@postroom/client';
import type { AcceptedMessage } from '@postroom/m365-emulator';
import { mapLimit } from './wait.js';

// No benchmark cancels messages, so a cancelled message counts as lost.
const FINAL_STATES = new Set(['sent', 'failed', 'outcome_unknown']);

/** Final states of a set of messages, cross-checked against what the server accepted. */
export interface Books {
  enqueued: number;
  sent: number;
  failed: number;
  unknown: number;
  /** Messages without a final state: enqueued - sent - failed - unknown. */
  lost: number;
  /** Failure reasons of failed and unknown messages, with their counts. */
  reasons: Map<string, number>;
  /** Status `sent`, but the server has no message with its Message-ID. */
  sentButNotAccepted: number;
  /** Status `failed`, but the server accepted a message with its Message-ID. */
  failedButAccepted: number;
  /** Status `outcome_unknown`, and the server did accept the message. */
  unknownButAccepted: number;
  /** Extra copies: messages the server accepted whose Message-ID it had accepted before. */
  repeatedMessageIds: number;
}

/**
 * Reads the status of every id through `MailClient.status` (a few at a time, so the reads do not
 * flood Redis) and balances the books against the messages the server accepted.
 */
export async function balanceBooks(
  client: MailClient,
  ids: readonly string[],
  accepted: readonly AcceptedMessage[],
): Promise<Books> {
  const statuses = await mapLimit(ids, 32, (id) => client.status(id));
  const copies = new Map<string, number>();
  for (const message of accepted) {
    copies.set(message.messageId, (copies.get(message.messageId) ?? 0) + 1);
  }

  const books: Books = {
    enqueued: ids.length,
    sent: 0,
    failed: 0,
    unknown: 0,
    lost: 0,
    reasons: new Map(),
    sentButNotAccepted: 0,
    failedButAccepted: 0,
    unknownButAccepted: 0,
    repeatedMessageIds: [...copies.values()].reduce((sum, count) => sum + count - 1, 0),
  };
  for (const status of statuses) countStatus(books, status, copies);
  books.lost = books.enqueued - books.sent - books.failed - books.unknown;
  return books;
}

function countStatus(
  books: Books,
  status: DeliveryStatus | undefined,
  copies: ReadonlyMap<string, number>,
): void {
  if (!status || !FINAL_STATES.has(status.state)) return;
  const acceptedCopies = copies.get(status.messageId) ?? 0;
  if (status.state === 'sent') {
    books.sent += 1;
    if (acceptedCopies === 0) books.sentButNotAccepted += 1;
    return;
  }
  if (status.state === 'failed') {
    books.failed += 1;
    if (acceptedCopies > 0) books.failedButAccepted += 1;
  }
  if (status.state === 'outcome_unknown') {
    books.unknown += 1;
    if (acceptedCopies > 0) books.unknownButAccepted += 1;
  }
  const reason = `${status.state}: ${status.failureReason ?? 'no reason'}`;
  books.reasons.set(reason, (books.reasons.get(reason) ?? 0) + 1);
}
