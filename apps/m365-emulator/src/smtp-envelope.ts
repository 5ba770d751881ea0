import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import type { SessionState, SmtpContext } from './smtp-context.js';
import { Replies, SmtpReplyError } from './smtp-replies.js';

/** Checks MAIL FROM: authentication, the declared SIZE and Send As permission. */
export function checkMailFrom(
  context: SmtpContext,
  state: SessionState,
  address: SMTPServerAddress,
): void {
  const mailbox = state.mailbox;
  if (mailbox === undefined) {
    throw new SmtpReplyError(Replies.notAuthenticated);
  }
  const declaredSize = address.args === false ? undefined : address.args.SIZE;
  const maxMessageBytes = context.limits.for(mailbox).maxMessageBytes;
  if (typeof declaredSize === 'string' && Number(declaredSize) > maxMessageBytes) {
    context.stats.countViolation('size');
    throw new SmtpReplyError(Replies.messageTooLarge);
  }
  if (!context.directory.maySendAs(mailbox, address.address)) {
    context.stats.countViolation('sendAs');
    context.logger.info(
      { sessionId: state.id, mailbox, sender: address.address },
      'rejected MAIL FROM without Send As permission',
    );
    throw new SmtpReplyError(Replies.sendAsDenied);
  }
}

/** Checks RCPT TO against the per-message recipient limit; a repeated recipient always passes. */
export function checkRcptTo(
  context: SmtpContext,
  state: SessionState,
  address: SMTPServerAddress,
  session: SMTPServerSession,
): void {
  const mailbox = state.mailbox ?? '';
  const recipients = session.envelope.rcptTo;
  const wanted = address.address.toLowerCase();
  if (recipients.some((recipient) => recipient.address.toLowerCase() === wanted)) {
    return;
  }
  if (recipients.length >= context.limits.for(mailbox).recipientsPerMessage) {
    context.stats.countViolation('recipientsPerMessage');
    throw new SmtpReplyError(Replies.tooManyRecipients);
  }
}
