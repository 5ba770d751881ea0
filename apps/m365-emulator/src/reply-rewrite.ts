import { greetingReply, parseReplyLine, Replies, SERVER_NAME } from './smtp-replies.js';

/** A reply ready to write: a code and one text per line. */
export interface OutgoingReply {
  code: number;
  lines: string[];
  /** The 250 reply to EHLO, and the 354 reply to DATA, where faults can be injected. */
  kind: 'ehlo' | 'data' | 'other';
}

export interface ConnectionFacts {
  secure: boolean;
  authenticated: boolean;
  /** Value of the SIZE keyword in EHLO replies. */
  advertisedSizeBytes: number;
}

/** smtp-server's own reply texts, keyed by `code text`, mapped to Exchange Online's. */
const BUILT_IN_REPLIES = new Map<string, string>([
  ['220 Ready to start TLS', Replies.startTls],
  ['235 Authentication successful', Replies.authSucceeded],
  ['354 End data with <CR><LF>.<CR><LF>', Replies.startMailInput],
  ['221 Bye', Replies.closing],
  ['250 OK', Replies.okay],
  ['250 Flushed', Replies.resetting],
  // NOTE: Exchange's reply to AUTH before STARTTLS is quoted from memory, not from a transcript.
  ['538 Error: Must issue a STARTTLS command first', Replies.unrecognizedAuthType],
  ['504 Error: Unrecognized authentication type', Replies.unrecognizedAuthType],
  ['500 Error: command not recognized', Replies.unrecognizedCommand],
  ['503 Error: send HELO/EHLO first', Replies.sendHelloFirst],
  ['503 Error: need MAIL command', Replies.needMailCommand],
  ['503 Error: need RCPT command', Replies.needRcptCommand],
  ['503 Error: nested MAIL command', Replies.senderAlreadySpecified],
  ['503 Error: No identity changes permitted', Replies.alreadyAuthenticated],
  ['501 Error: Bad sender address syntax', Replies.invalidSender],
  ['501 Error: Bad recipient address syntax', Replies.invalidRecipient],
  // A malformed XOAUTH2 initial response is an authentication failure at Exchange.
  ['501 Error: invalid userdata', Replies.tokenRejected],
  ['421 Error: too many unauthenticated commands', Replies.tooManyErrors],
  ['421 Error: too many unrecognized commands', Replies.tooManyErrors],
  ['421 Server shutting down', Replies.serviceNotAvailable],
  ['421 Timeout - closing connection', Replies.timeout],
]);

const ENHANCED_CODE_PATTERN = /^[245]\.\d{1,3}\.\d{1,3}(?: |$)/;

/**
 * Turns a reply as smtp-server's `send(code, data, context)` received it into the reply Exchange
 * Online sends. Replies the emulator built itself start with an enhanced status code and pass
 * unchanged. smtp-server's own texts are mapped to Exchange's. Any other text gets a generic
 * enhanced code such as `5.0.0`, so that every 2xx, 4xx and 5xx reply carries one.
 */
export function toExchangeReply(
  code: number,
  data: string | string[] | null | undefined,
  context: string | false | undefined,
  facts: ConnectionFacts,
): OutgoingReply {
  if (Array.isArray(data)) {
    return { code, lines: ehloLines(data, facts), kind: 'ehlo' };
  }
  const text = data ?? '';
  if (code === 220 && text === `${SERVER_NAME} ESMTP`) {
    return single(greetingReply(new Date()), 'other');
  }
  if (code === 250 && text === 'Accepted') {
    return single(context === 'RCPT_TO_OK' ? Replies.recipientOk : Replies.senderOk, 'other');
  }
  const mapped = BUILT_IN_REPLIES.get(`${code} ${text}`);
  if (mapped !== undefined) {
    return single(mapped, code === 354 ? 'data' : 'other');
  }
  if (code >= 300 && code < 400) {
    return { code, lines: [text], kind: 'other' };
  }
  if (ENHANCED_CODE_PATTERN.test(text) || code === 220 || context === false) {
    return { code, lines: [text], kind: 'other' };
  }
  const generic = `${Math.floor(code / 100)}.0.0 ${text.replace(/^Error: /, '')}`;
  return { code, lines: [generic], kind: 'other' };
}

function single(line: string, kind: OutgoingReply['kind']): OutgoingReply {
  const { code, text } = parseReplyLine(line);
  return { code, lines: [text], kind };
}

/**
 * EHLO keywords in Exchange Online's order. AUTH appears only after STARTTLS, and STARTTLS only
 * before it. NOTE: Exchange also advertises DSN, BINARYMIME and CHUNKING; smtp-server implements
 * none of them, so the emulator leaves them out.
 */
function ehloLines(data: string[], facts: ConnectionFacts): string[] {
  const lines = [data[0] ?? SERVER_NAME, `SIZE ${facts.advertisedSizeBytes}`, 'PIPELINING'];
  lines.push('ENHANCEDSTATUSCODES');
  if (!facts.secure) {
    lines.push('STARTTLS');
  } else if (!facts.authenticated) {
    lines.push('AUTH LOGIN XOAUTH2');
  }
  lines.push('8BITMIME', 'SMTPUTF8');
  return lines;
}

/** Key of a reply in the statistics: `"250 2.0.0"`, or the code alone when there is no enhanced code. */
export function replyStatsKey(reply: OutgoingReply): string {
  const firstLine = reply.lines[0] ?? '';
  const enhanced = reply.kind === 'ehlo' ? undefined : ENHANCED_CODE_PATTERN.exec(firstLine);
  return enhanced === null || enhanced === undefined
    ? String(reply.code)
    : `${reply.code} ${enhanced[0].trim()}`;
}
