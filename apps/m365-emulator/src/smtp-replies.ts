/** Host name the emulator uses where Exchange Online names its front-end server. */
export const SERVER_NAME = 'EMULATOR';

/**
 * Replies the emulator sends on purpose, each a complete reply line. The limit, permission and
 * authentication replies are Exchange Online's texts unless a NOTE marks them otherwise.
 */
export const Replies = {
  startTls: '220 2.0.0 SMTP server ready',
  authSucceeded: '235 2.7.0 Authentication successful',
  senderOk: '250 2.1.0 Sender OK',
  recipientOk: '250 2.1.5 Recipient OK',
  startMailInput: '354 Start mail input; end with <CRLF>.<CRLF>',
  closing: '221 2.0.0 Service closing transmission channel',
  tokenRejected: `535 5.7.3 Authentication unsuccessful [${SERVER_NAME}]`,
  basicAuthDisabled: '535 5.7.139 Authentication unsuccessful, basic authentication is disabled.',
  notAuthenticated: '530 5.7.57 Client not authenticated to send mail.',
  sendAsDenied: '550 5.7.60 SMTP; Client does not have permissions to send as this sender',
  concurrentConnections:
    '432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending for more information.',
  // NOTE: Exchange Online's reply when the per-minute message rate is exceeded is unconfirmed.
  messageRate:
    '421 4.4.2 Message submission rate for this client has exceeded the configured limit',
  // NOTE: reply code unconfirmed for the recipients-per-message limit.
  tooManyRecipients: '452 4.5.3 Too many recipients',
  // NOTE: the text after "with message" is shortened; Exchange adds diagnostic data there.
  dailyRecipientQuota: `554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process message due to a permanent exception with message Cannot submit message. [Hostname=${SERVER_NAME}]`,
  // NOTE: reply code unconfirmed for the message size limit.
  messageTooLarge: '552 5.3.4 Message size exceeds fixed maximum message size',
  oldTlsVersion:
    '421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2. Visit https://aka.ms/smtp_auth_tls.',
  // NOTE: the protocol error replies below follow Exchange's wording as remembered. Only 504 5.7.4
  // is checked against transcripts, and there Exchange also appends its host name in brackets.
  unrecognizedAuthType: '504 5.7.4 Unrecognized authentication type',
  unrecognizedCommand: '500 5.3.3 Unrecognized command',
  sendHelloFirst: '503 5.5.2 Send hello first',
  needMailCommand: '503 5.5.2 Need mail command',
  needRcptCommand: '503 5.5.2 Need rcpt command',
  senderAlreadySpecified: '503 5.5.2 Sender already specified',
  alreadyAuthenticated: '503 5.5.2 Already authenticated',
  invalidSender: '501 5.1.7 Invalid address',
  invalidRecipient: '501 5.1.3 Invalid address',
  tooManyErrors: '421 4.7.0 Too many errors on this connection, closing transmission channel',
  serviceNotAvailable: '421 4.3.2 Service not available, closing transmission channel',
  timeout: '421 4.4.2 Connection dropped due to timeout',
  // Sent only when an emulator handler throws unexpectedly.
  temporaryServerError: '451 4.7.0 Temporary server error. Please try again later.',
  okay: '250 2.0.0 OK',
  resetting: '250 2.0.0 Resetting',
} as const;

/** Builds the reply to a message accepted at the end of DATA. */
export function acceptedReply(messageId: string): string {
  return `250 2.0.0 OK ${messageId} [Hostname=${SERVER_NAME}]`;
}

/** Builds the 220 greeting, with the date formatted like `Thu, 4 Dec 2025 15:14:00 +0000`. */
export function greetingReply(now: Date): string {
  const [weekday, day, month, year, time] = now.toUTCString().replace(',', '').split(' ');
  const date = `${weekday}, ${Number(day)} ${month} ${year} ${time} +0000`;
  return `220 ${SERVER_NAME} Microsoft ESMTP MAIL Service ready at ${date}`;
}

export interface ParsedReply {
  code: number;
  /** The text after the code, starting with the enhanced status code when there is one. */
  text: string;
}

export function parseReplyLine(line: string): ParsedReply {
  return { code: Number(line.slice(0, 3)), text: line.slice(4) };
}

/**
 * An error that smtp-server turns into exactly `line`. smtp-server writes `responseCode` and
 * `message` joined by a space, and adds no enhanced code while `hideENHANCEDSTATUSCODES` is set.
 */
export class SmtpReplyError extends Error {
  readonly responseCode: number;

  constructor(line: string) {
    const { code, text } = parseReplyLine(line);
    super(text);
    this.name = 'SmtpReplyError';
    this.responseCode = code;
  }
}
