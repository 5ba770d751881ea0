import type { ReplyClass } from './classify.js';

/** Delivery state of one message, as `MailClient.status()` reports it. */
export type DeliveryState =
  | 'queued'
  | 'scheduled'
  | 'waiting_for_mailbox'
  | 'sending'
  | 'sent'
  | 'failed'
  | 'outcome_unknown'
  | 'cancelled';

export interface DeliveryStatus {
  id: string;
  state: DeliveryState;
  messageId: string;
  mailbox: string;
  /** Failed attempts so far; waits for limits are not attempts. */
  attempts: number;
  enqueuedAt: string;
  /** Reason a waiting message waits, such as `rate_limit` or `connections`. */
  waitReason?: string;
  /** When the next attempt may start. */
  nextAttemptAt?: string;
  sentAt?: string;
  /** Last reply line of the server, such as `250 2.0.0 OK`. */
  reply?: string;
  failureClass?: ReplyClass;
  failureReason?: string;
  /** Recipients the server rejected while it accepted the others. */
  rejectedRecipients?: string[];
}
