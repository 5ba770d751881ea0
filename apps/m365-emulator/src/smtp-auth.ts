import type { SMTPServerAuthentication } from 'smtp-server';
import type { SessionState, SmtpContext } from './smtp-context.js';
import { Replies, SmtpReplyError } from './smtp-replies.js';
import { OUTLOOK_RESOURCE, TokenRejectedError } from './token-authority.js';

const SEND_AS_APP_ROLE = 'SMTP.SendAsApp';

/**
 * Authenticates an AUTH command and takes a session slot of the mailbox. Resolves with the
 * mailbox in lower case, or rejects with the SmtpReplyError to send.
 *
 * Concurrent connections are counted from a successful AUTH until the connection closes, because
 * the mailbox is unknown before AUTH. The session that would exceed the limit gets the 432 at AUTH
 * and stays unauthenticated. NOTE: whether Exchange sends this 432 at AUTH or at MAIL FROM is
 * unconfirmed.
 */
export async function authenticate(
  context: SmtpContext,
  state: SessionState,
  auth: SMTPServerAuthentication,
): Promise<string> {
  const log = context.logger.child({ sessionId: state.id, method: auth.method });
  if (auth.method !== 'XOAUTH2') {
    log.info({ mailbox: auth.username }, 'rejected basic authentication');
    throw new SmtpReplyError(Replies.basicAuthDisabled);
  }
  const mailbox = (auth.username ?? '').toLowerCase();
  const reason = await findTokenProblem(context, mailbox, auth.accessToken ?? '');
  if (reason !== undefined) {
    log.info({ mailbox, reason }, 'rejected access token');
    throw new SmtpReplyError(Replies.tokenRejected);
  }

  const maxSessions = context.limits.for(mailbox).connectionsPerMailbox;
  if (!context.usage.tryOpenSession(mailbox, maxSessions)) {
    context.stats.countViolation('connections');
    log.info({ mailbox, maxSessions }, 'rejected session over the concurrent connection limit');
    throw new SmtpReplyError(Replies.concurrentConnections);
  }
  if (state.closed) {
    // The client left while the token was being checked, so onClose has already run.
    context.usage.closeSession(mailbox);
  }
  return mailbox;
}

/** Returns why the token does not grant SMTP access to `mailbox`, or undefined when it does. */
async function findTokenProblem(
  context: SmtpContext,
  mailbox: string,
  accessToken: string,
): Promise<string | undefined> {
  try {
    const token = await context.tokens.verify(accessToken, OUTLOOK_RESOURCE);
    if (!token.roles.includes(SEND_AS_APP_ROLE)) {
      return `token lacks the ${SEND_AS_APP_ROLE} role`;
    }
    const app = context.directory.findApp(token.tenantId, token.clientId);
    if (app === undefined) {
      return `app ${token.clientId} is not registered in tenant ${token.tenantId}`;
    }
    if (!context.directory.appHasMailbox(app, mailbox)) {
      return `app ${token.clientId} has no FullAccess permission on the mailbox`;
    }
    return undefined;
  } catch (error) {
    if (error instanceof TokenRejectedError) {
      return error.reason;
    }
    throw error;
  }
}
