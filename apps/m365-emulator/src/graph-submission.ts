import { GraphErrors, GraphRequestError } from './graph-errors.js';
import {
  describeAcceptedMessage,
  fromAddresses,
  headerRecipients,
  parseSubmission,
} from './message-capture.js';
import type { SmtpContext } from './smtp-context.js';

/** Decodes a `sendMail` MIME body: base64 text of an RFC 5322 message. */
export function decodeMimeBody(body: string): Buffer {
  const compact = body.replace(/\s+/g, '');
  if (compact === '' || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact) || compact.length % 4 !== 0) {
    throw new GraphRequestError(GraphErrors.invalidBase64());
  }
  return Buffer.from(compact, 'base64');
}

/**
 * Applies the checks Exchange runs on a Graph submission (Send As, message rate, rolling-day
 * recipients) and stores the message. Recipients come from the To, Cc and Bcc headers, because
 * Graph has no envelope. The stored copy has no Bcc header, like a delivered copy. The checks and
 * their update run without an await in between, as on the SMTP path.
 */
export async function submitGraphMessage(
  context: SmtpContext,
  mailbox: string,
  raw: Buffer,
  timeUnitMs: number,
): Promise<void> {
  const parsed = await parseSubmission(raw);
  const log = context.logger.child({ mailbox, transport: 'graph' });
  const from = fromAddresses(parsed);
  const deniedSender = from.find((address) => !context.directory.maySendAs(mailbox, address));
  if (deniedSender !== undefined) {
    context.stats.countViolation('sendAs');
    log.info({ sender: deniedSender }, 'rejected From header without Send As permission');
    throw new GraphRequestError(GraphErrors.sendAsDenied());
  }
  const recipients = headerRecipients(parsed);
  if (recipients.length === 0) {
    throw new GraphRequestError(GraphErrors.noRecipients());
  }

  const nowMs = Date.now();
  const limits = context.limits.for(mailbox);
  if (context.usage.messagesInWindow(mailbox, nowMs) >= limits.messagesPerMinute) {
    context.stats.countViolation('rate');
    log.info({ messagesPerMinute: limits.messagesPerMinute }, 'throttled message over the rate');
    throw new GraphRequestError(GraphErrors.sendingLimit(Math.ceil(timeUnitMs / 1000)));
  }
  if (context.usage.recipientsInDay(mailbox, nowMs) + recipients.length > limits.recipientsPerDay) {
    context.stats.countViolation('recipientsPerDay');
    log.info(
      { recipientsPerDay: limits.recipientsPerDay },
      'throttled message over the daily quota',
    );
    throw new GraphRequestError(GraphErrors.sendingLimit(Math.ceil((timeUnitMs * 60) / 1000)));
  }

  context.usage.recordAccepted(mailbox, recipients.length, nowMs);
  const stored = withoutBccHeader(raw);
  const facts = {
    mailbox,
    transport: 'graph' as const,
    envelopeFrom: from[0] ?? mailbox,
    envelopeTo: recipients,
  };
  const message = describeAcceptedMessage(parsed, stored, facts, nowMs);
  delete message.headers.bcc;
  if (!context.store.add(message, stored)) {
    context.stats.countDuplicateMessageId();
  }
  log.debug({ id: message.id, recipients: recipients.length }, 'accepted Graph message');
}

/** Removes the Bcc header (with its folded lines) from the header section of a message. */
function withoutBccHeader(raw: Buffer): Buffer {
  const text = raw.toString('latin1');
  const headerEnd = text.search(/\r?\n\r?\n/);
  if (headerEnd < 0) {
    return raw;
  }
  const header = text.slice(0, headerEnd).replace(/^bcc:[^\n]*\n?(?:[ \t][^\n]*\n?)*/gim, '');
  return Buffer.from(header + text.slice(headerEnd), 'latin1');
}
