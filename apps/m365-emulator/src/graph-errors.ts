import { randomUUID } from 'node:crypto';

/** A Graph error response: HTTP status, Graph error code and message. */
export interface GraphError {
  status: number;
  code: string;
  message: string;
  /** Retry-After header value in seconds, for 429 and 503. */
  retryAfterSeconds?: number;
  /** Code of the inner error, such as `fragmentOverlap`, when the service sends one. */
  innerCode?: string;
}

/**
 * Graph errors the emulator sends. Codes and texts follow Microsoft Graph's unless a NOTE marks
 * them otherwise.
 */
export const GraphErrors = {
  missingToken: (): GraphError => ({
    status: 401,
    code: 'InvalidAuthenticationToken',
    message: 'Access token is empty.',
  }),
  invalidToken: (): GraphError => ({
    status: 401,
    code: 'InvalidAuthenticationToken',
    message: 'Access token validation failure. Invalid audience.',
  }),
  accessDenied: (): GraphError => ({
    status: 403,
    code: 'ErrorAccessDenied',
    message: 'Access is denied. Check credentials and try again.',
  }),
  // NOTE: the text Graph sends when an application access policy excludes the mailbox is
  // remembered from public reports, not checked against a live tenant.
  mailboxNotAllowed: (): GraphError => ({
    status: 403,
    code: 'ErrorAccessDenied',
    message:
      'Access to OData is disabled: Blocked by tenant configured AppOnly AccessPolicy settings.',
  }),
  sendAsDenied: (): GraphError => ({
    status: 403,
    code: 'ErrorSendAsDenied',
    message:
      'The user account which was used to submit this request does not have the right to send mail on behalf of the specified sending account.',
  }),
  tooLarge: (maxBytes: number): GraphError => ({
    status: 413,
    code: 'RequestEntityTooLarge',
    message: `The request body exceeds ${maxBytes} bytes; send large messages as a draft with upload sessions.`,
  }),
  concurrency: (): GraphError => ({
    status: 429,
    code: 'ApplicationThrottled',
    message: 'Application is over its MailboxConcurrency limit.',
    retryAfterSeconds: 1,
  }),
  // NOTE: Graph's reply when Exchange's per-minute or per-day sending limit is exceeded is
  // unconfirmed; the emulator throttles with 429 like the other Graph limits.
  sendingLimit: (retryAfterSeconds: number): GraphError => ({
    status: 429,
    code: 'ApplicationThrottled',
    message: 'Mailbox is over its sending limit.',
    retryAfterSeconds,
  }),
  unsupportedBody: (): GraphError => ({
    status: 400,
    code: 'ErrorInvalidRequest',
    // NOTE: Graph also accepts a JSON message; the emulator implements only the MIME form.
    message:
      'The emulator accepts only MIME message bodies: base64 text with Content-Type text/plain.',
  }),
  invalidJson: (detail: string): GraphError => ({
    status: 400,
    code: 'BadRequest',
    message: `Invalid request body: ${detail}`,
  }),
  itemNotFound: (): GraphError => ({
    status: 404,
    code: 'ErrorItemNotFound',
    message: 'The specified object was not found in the store.',
  }),
  // Graph documents this code for upload sessions of small files; the text is the emulator's.
  attachmentTooSmall: (minBytes: number): GraphError => ({
    status: 400,
    code: 'ErrorAttachmentSizeShouldNotBeLessThanMinimumSize',
    message: `Attachment size must be at least ${minBytes} bytes for an upload session; POST smaller attachments.`,
  }),
  // NOTE: the code and text come from public reports; the status Graph sends with them is
  // unconfirmed, and the emulator uses 413.
  messageSizeExceeded: (maxBytes: number): GraphError => ({
    status: 413,
    code: 'ErrorMessageSizeExceeded',
    message: `The message exceeds the maximum supported size of ${maxBytes} bytes.`,
  }),
  // The upload-session errors below have the shapes OneDrive upload sessions send. NOTE: the
  // texts of Outlook attachment sessions, including the upload limit's, are unconfirmed, and the
  // 320 KiB rule is documented for OneDrive.
  malformedContentRange: (): GraphError => ({
    status: 400,
    code: 'invalidRequest',
    message: 'The Content-Range header is missing or malformed.',
  }),
  contentRangeLengthMismatch: (): GraphError => ({
    status: 400,
    code: 'invalidRequest',
    message: 'The Content-Range header length does not match the provided number of bytes.',
  }),
  contentRangeTotalMismatch: (sessionBytes: number, declaredBytes: number): GraphError => ({
    status: 400,
    code: 'invalidRequest',
    message: `The current upload session is for ${sessionBytes} total bytes, but the current fragment declares a total of ${declaredBytes}.`,
  }),
  fragmentSize: (multipleBytes: number): GraphError => ({
    status: 400,
    code: 'invalidRequest',
    message: `Every fragment but the last must be a multiple of ${multipleBytes} bytes.`,
  }),
  fragmentOverlap: (): GraphError => ({
    status: 416,
    code: 'invalidRange',
    message: 'Uploaded fragment overlaps with existing data.',
    innerCode: 'fragmentOverlap',
  }),
  fragmentOutOfOrder: (): GraphError => ({
    status: 416,
    code: 'invalidRange',
    message: 'Uploaded fragment is out of order.',
  }),
  uploadLimit: (retryAfterSeconds: number): GraphError => ({
    status: 429,
    code: 'ApplicationThrottled',
    message: 'Application is over its upload volume limit for this mailbox.',
    retryAfterSeconds,
  }),
  invalidBase64: (): GraphError => ({
    status: 400,
    code: 'ErrorMimeContentInvalidBase64String',
    message: 'Invalid base64 string for MIME content.',
  }),
  noRecipients: (): GraphError => ({
    status: 400,
    code: 'ErrorInvalidRecipients',
    message: 'At least one recipient is not valid.',
  }),
  notFound: (method: string, path: string): GraphError => ({
    status: 404,
    code: 'BadRequest',
    message: `Resource not found for the segment in ${method} ${path}.`,
  }),
  /** The reply of a `graph` stage fault. */
  injected: (status: number, retryAfterSeconds: number | undefined): GraphError => ({
    status,
    code:
      status === 429
        ? 'ApplicationThrottled'
        : status === 503
          ? 'ServiceUnavailable'
          : 'ErrorInjected',
    message: 'Error injected by the emulator.',
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  }),
};

/** Builds Graph's JSON error body; `clientRequestId` echoes the client's header. */
export function graphErrorBody(error: GraphError, requestId: string, clientRequestId?: string) {
  return {
    error: {
      code: error.code,
      message: error.message,
      innerError: {
        ...(error.innerCode === undefined ? {} : { code: error.innerCode }),
        date: new Date().toISOString().slice(0, 19),
        'request-id': requestId,
        'client-request-id': clientRequestId ?? requestId,
      },
    },
  };
}

/** Thrown by the request handlers to end the request with a Graph error. */
export class GraphRequestError extends Error {
  readonly failure: GraphError;

  constructor(failure: GraphError) {
    super(`${failure.status} ${failure.code}: ${failure.message}`);
    this.name = 'GraphRequestError';
    this.failure = failure;
  }
}

export function newRequestId(): string {
  return randomUUID();
}
