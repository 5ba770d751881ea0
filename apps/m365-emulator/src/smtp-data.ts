import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { SMTPServerSession } from 'smtp-server';
import { describeAcceptedMessage, fromAddresses, parseSubmission } from './message-capture.js';
import type { SessionState, SmtpContext } from './smtp-context.js';
import { acceptedReply, Replies, SmtpReplyError } from './smtp-replies.js';

export interface ReceivedData {
  /** The message source, or undefined when it exceeded the size limit and was discarded. */
  raw: Buffer | undefined;
  sizeBytes: number;
}

/** Reads the DATA stream to its end, keeping at most `maxBytes` bytes in memory. */
export async function readMessage(stream: Readable, maxBytes: number): Promise<ReceivedData> {
  const chunks: Buffer[] = [];
  let sizeBytes = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    sizeBytes += buffer.length;
    if (sizeBytes <= maxBytes) {
      chunks.push(buffer);
    }
  }
  return { raw: sizeBytes <= maxBytes ? Buffer.concat(chunks) : undefined, sizeBytes };
}

/**
 * Applies the end-of-DATA checks (size, From header Send As, message rate, rolling-day
 * recipients) and stores the message. Resolves with the 250 reply line, or rejects with the
 * SmtpReplyError to send. The rate and quota checks and their update run without an await in
 * between, so concurrent sessions of one mailbox cannot both take the last slot.
 */
export async function submitMessage(
  context: SmtpContext,
  state: SessionState,
  session: SMTPServerSession,
  data: ReceivedData,
): Promise<string> {
  const mailbox = state.mailbox;
  if (mailbox === undefined) {
    throw new SmtpReplyError(Replies.notAuthenticated);
  }
  const log = context.logger.child({ sessionId: state.id, mailbox });
  const limits = context.limits.for(mailbox);
  if (data.raw === undefined) {
    context.stats.countViolation('size');
    log.info(
      { sizeBytes: data.sizeBytes, limitBytes: limits.maxMessageBytes },
      'rejected message over the size limit',
    );
    throw new SmtpReplyError(Replies.messageTooLarge);
  }

  const parsed = await parseSubmission(data.raw);
  const deniedSender = fromAddresses(parsed).find(
    (address) => !context.directory.maySendAs(mailbox, address),
  );
  if (deniedSender !== undefined) {
    context.stats.countViolation('sendAs');
    log.info({ sender: deniedSender }, 'rejected From header without Send As permission');
    throw new SmtpReplyError(Replies.sendAsDenied);
  }

  const envelopeTo = session.envelope.rcptTo.map((recipient) => recipient.address);
  const nowMs = Date.now();
  checkSendingLimits(context, mailbox, envelopeTo.length, nowMs, log);

  context.usage.recordAccepted(mailbox, envelopeTo.length, nowMs);
  const mailFrom = session.envelope.mailFrom;
  const envelopeFrom = mailFrom === false ? '' : mailFrom.address;
  const facts = { mailbox, transport: 'smtp' as const, envelopeFrom, envelopeTo };
  const message = describeAcceptedMessage(parsed, data.raw, facts, nowMs);
  if (!context.store.add(message, data.raw)) {
    context.stats.countDuplicateMessageId();
  }
  log.debug({ id: message.id, recipients: envelopeTo.length }, 'accepted message');
  return acceptedReply(message.messageId);
}

/** Checks the message rate, then the rolling-day recipient quota, of the mailbox. */
function checkSendingLimits(
  context: SmtpContext,
  mailbox: string,
  recipientCount: number,
  nowMs: number,
  log: Logger,
): void {
  const limits = context.limits.for(mailbox);
  if (context.usage.messagesInWindow(mailbox, nowMs) >= limits.messagesPerMinute) {
    context.stats.countViolation('rate');
    log.info({ messagesPerMinute: limits.messagesPerMinute }, 'rejected message over the rate');
    throw new SmtpReplyError(Replies.messageRate);
  }
  const recipientsToday = context.usage.recipientsInDay(mailbox, nowMs);
  if (recipientsToday + recipientCount > limits.recipientsPerDay) {
    context.stats.countViolation('recipientsPerDay');
    log.info(
      { recipientsToday, recipientsPerDay: limits.recipientsPerDay },
      'rejected message over the daily recipient quota',
    );
    throw new SmtpReplyError(Replies.dailyRecipientQuota);
  }
}
