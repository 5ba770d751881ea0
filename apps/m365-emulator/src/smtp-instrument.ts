import { runFault } from './fault-actions.js';
import type { SmtpConnection } from './hooked-smtp-server.js';
import { type OutgoingReply, replyStatsKey, toExchangeReply } from './reply-rewrite.js';
import type { SessionState, SmtpContext } from './smtp-context.js';
import { parseReplyLine } from './smtp-replies.js';

/**
 * Wraps `connection.send`. In smtp-server 3.21 every reply of a connection goes through this one
 * method (command replies, AUTH challenges, the greeting, timeouts and shutdown notices), and its
 * source calls `send` the single write site, so the wrapper receives each reply once. It rewrites
 * smtp-server's own texts to Exchange Online's, counts the reply by code and enhanced code, and
 * injects `ehlo` and `data` stage faults.
 */
export function instrumentConnection(
  connection: SmtpConnection,
  state: SessionState,
  context: SmtpContext,
  advertisedSizeBytes: number,
): void {
  const writeReply = connection.send.bind(connection);

  const write = (reply: OutgoingReply): void => {
    countReply(context, reply);
    const data = reply.kind === 'ehlo' ? reply.lines : (reply.lines[0] ?? '');
    writeReply(reply.code, data, false);
  };

  connection.send = (code, data, replyContext) => {
    const exactLine = typeof data === 'string' ? `${code} ${data}` : undefined;
    if (exactLine !== undefined && state.exactReplies.delete(exactLine)) {
      write({ code, lines: [data as string], kind: 'other' });
      return;
    }
    const facts = {
      secure: connection.secure,
      authenticated: Boolean(connection.session.user),
      advertisedSizeBytes,
    };
    const reply = toExchangeReply(code, data, replyContext, facts);
    if (reply.kind === 'other') {
      write(reply);
      return;
    }
    const fault = context.faults.take(reply.kind, state.mailbox);
    const outcomes = {
      proceed: () => write(reply),
      reply: (fault: { reply?: string }) => {
        const { code: faultCode, text } = parseReplyLine(fault.reply ?? '');
        write({ code: faultCode, lines: [text], kind: 'other' });
      },
      drop: () => state.socket.destroy(),
    };
    runFault(fault, outcomes, context.timers);
  };
}

function countReply(context: SmtpContext, reply: OutgoingReply): void {
  context.stats.countReply(replyStatsKey(reply));
  if (reply.code === 530 || reply.code === 535) {
    context.stats.countViolation('auth');
  }
}
