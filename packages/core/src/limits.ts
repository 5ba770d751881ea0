/** Sending limits of one mailbox. Defaults are Exchange Online's for SMTP client submission. */
export interface MailboxLimits {
  /** Messages per rolling `rateWindowMs`. */
  messagesPerWindow: number;
  /** Length of the message-rate window, in ms (one minute on Exchange Online). */
  rateWindowMs: number;
  /** Recipients (To + Cc + Bcc) per rolling `recipientWindowMs`. */
  recipientsPerDay: number;
  /** Length of the recipient window, in ms (24 hours on Exchange Online). */
  recipientWindowMs: number;
  /** Concurrent SMTP connections across every worker replica. */
  maxConnections: number;
  /** Recipients in one message. */
  maxRecipientsPerMessage: number;
  /** Size of one message as sent, after MIME encoding, in bytes. */
  maxMessageBytes: number;
}

export const EXCHANGE_ONLINE_LIMITS: Readonly<MailboxLimits> = Object.freeze({
  messagesPerWindow: 30,
  rateWindowMs: 60_000,
  recipientsPerDay: 10_000,
  recipientWindowMs: 24 * 60 * 60 * 1000,
  maxConnections: 3,
  maxRecipientsPerMessage: 500,
  maxMessageBytes: 35 * 1024 * 1024,
});
