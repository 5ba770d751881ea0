import { timingSafeEqual } from 'node:crypto';
import type { GraphCall, GraphContext, GraphReply } from './graph-call.js';
import type { UploadSession } from './graph-drafts.js';
import { type GraphError, GraphErrors, GraphRequestError } from './graph-errors.js';
import {
  attachmentFields,
  parseJsonObject,
  requireDraft,
  requireMessageSize,
} from './graph-handlers.js';
import { UPLOAD_WINDOW_TIME_UNITS } from './limits.js';

/**
 * Smallest file an upload session takes. NOTE: Graph documents upload sessions for files of
 * 3 MB and more, and public reports put the size it enforces at 2 MiB; the emulator uses that.
 */
export const MIN_UPLOAD_SESSION_BYTES = 2 * 1024 * 1024;
/** Largest attachment Graph takes through an upload session: 150 MB. */
export const MAX_UPLOAD_SESSION_BYTES = 150 * 1024 * 1024;
/** Every byte range but the last must be a multiple of this many bytes (320 KiB). */
export const UPLOAD_FRAGMENT_MULTIPLE_BYTES = 320 * 1024;
/** How long an upload session stays open after its creation or its last byte range. */
const SESSION_LIFETIME_MS = 15 * 60 * 1000;

const CONTENT_RANGE_PATTERN = /^bytes (\d+)-(\d+)\/(\d+)$/;

/**
 * `POST /users/{mailbox}/messages/{id}/attachments/createUploadSession` with an
 * `AttachmentItem`: opens a session and returns its pre-authenticated upload URL.
 */
export function createUploadSession(
  context: GraphContext,
  call: GraphCall,
  body: Buffer,
): GraphReply {
  const draft = requireDraft(context, call);
  const input = parseJsonObject(body);
  const item = input.AttachmentItem;
  if (typeof item !== 'object' || item === null || Array.isArray(item)) {
    throw new GraphRequestError(GraphErrors.invalidJson('AttachmentItem must be an object'));
  }
  const fields = item as Record<string, unknown>;
  if (fields.attachmentType !== 'file') {
    throw new GraphRequestError(
      GraphErrors.invalidJson('AttachmentItem.attachmentType must be file'),
    );
  }
  const { size } = fields;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1) {
    throw new GraphRequestError(
      GraphErrors.invalidJson('AttachmentItem.size must be a positive integer'),
    );
  }
  if (size < MIN_UPLOAD_SESSION_BYTES) {
    throw new GraphRequestError(GraphErrors.attachmentTooSmall(MIN_UPLOAD_SESSION_BYTES));
  }
  if (size > MAX_UPLOAD_SESSION_BYTES) {
    throw new GraphRequestError(GraphErrors.messageSizeExceeded(MAX_UPLOAD_SESSION_BYTES));
  }
  requireMessageSize(context, draft, size, call.mailbox);

  const session = context.drafts.openSession(
    draft,
    { ...attachmentFields(fields), size },
    Date.now() + SESSION_LIFETIME_MS,
  );
  const uploadUrl = `${call.baseUrl}/api/v2.0/Users('${encodeURIComponent(call.mailbox)}')/Messages('${draft.id}')/AttachmentSessions('${session.id}')?authtoken=${session.authToken}`;
  return {
    status: 201,
    body: {
      '@odata.context': `${call.baseUrl}/v1.0/$metadata#microsoft.graph.uploadSession`,
      uploadUrl,
      expirationDateTime: new Date(session.expiresAtMs).toISOString(),
      nextExpectedRanges: ['0-'],
    },
  };
}

/**
 * Finds the session of an upload URL and checks its `authtoken`, which takes the place of a
 * bearer token. Returns the session, or the error to respond with.
 */
export function resolveUploadSession(
  context: GraphContext,
  call: GraphCall,
): UploadSession | GraphError {
  const { sessionId, authToken, messageId } = call.route;
  const session = context.drafts.session(sessionId ?? '');
  if (session === undefined || session.draftId !== messageId || session.mailbox !== call.mailbox) {
    return GraphErrors.itemNotFound();
  }
  if (!sameSecret(session.authToken, authToken ?? '')) {
    return GraphErrors.invalidToken();
  }
  if (Date.now() > session.expiresAtMs) {
    context.drafts.closeSession(session.id);
    return GraphErrors.itemNotFound();
  }
  return session;
}

/**
 * `PUT {uploadUrl}` with a byte range: checks Content-Range against the bytes received so far
 * and the mailbox's upload volume, then stores the range. Responds 200 with the next expected
 * offset, or 201 with the attachment's Location once the file is complete.
 */
export function uploadChunk(
  context: GraphContext,
  call: GraphCall,
  session: UploadSession,
  body: Buffer,
): GraphReply {
  checkRange(session, call.request.headers['content-range'], body.length);

  const nowMs = Date.now();
  const limits = context.limits.for(call.mailbox);
  const uploaded = context.usage.uploadedBytesInWindow(call.mailbox, nowMs);
  if (uploaded + body.length > limits.graphUploadBytesPerFiveMinutes) {
    context.stats.countViolation('graphUploadVolume');
    context.logger.info(
      { mailbox: call.mailbox, limitBytes: limits.graphUploadBytesPerFiveMinutes },
      'throttled upload over the volume limit',
    );
    const windowSeconds = Math.ceil((context.timeUnitMs * UPLOAD_WINDOW_TIME_UNITS) / 1000);
    throw new GraphRequestError(GraphErrors.uploadLimit(windowSeconds));
  }
  context.usage.recordUpload(call.mailbox, body.length, nowMs);
  session.expiresAtMs = nowMs + SESSION_LIFETIME_MS;

  const attachment = context.drafts.append(session, body);
  if (attachment === undefined) {
    return {
      status: 200,
      body: {
        expirationDateTime: new Date(session.expiresAtMs).toISOString(),
        nextExpectedRanges: [String(session.receivedBytes)],
      },
    };
  }
  const location = `${call.baseUrl}/api/v2.0/Users('${encodeURIComponent(call.mailbox)}')/Messages('${session.draftId}')/Attachments('${attachment.id}')`;
  return { status: 201, headers: { location } };
}

/** Throws the upload-session error for a Content-Range that does not continue the file. */
function checkRange(session: UploadSession, header: string | undefined, bodyBytes: number): void {
  const match = CONTENT_RANGE_PATTERN.exec(header ?? '');
  if (match === null) {
    throw new GraphRequestError(GraphErrors.malformedContentRange());
  }
  const [start, end, total] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (total !== session.item.size) {
    throw new GraphRequestError(GraphErrors.contentRangeTotalMismatch(session.item.size, total));
  }
  if (start > end || end >= total) {
    throw new GraphRequestError(GraphErrors.malformedContentRange());
  }
  if (end - start + 1 !== bodyBytes) {
    throw new GraphRequestError(GraphErrors.contentRangeLengthMismatch());
  }
  if (start < session.receivedBytes) {
    throw new GraphRequestError(GraphErrors.fragmentOverlap());
  }
  if (start > session.receivedBytes) {
    throw new GraphRequestError(GraphErrors.fragmentOutOfOrder());
  }
  const isLast = end === total - 1;
  if (!isLast && bodyBytes % UPLOAD_FRAGMENT_MULTIPLE_BYTES !== 0) {
    throw new GraphRequestError(GraphErrors.fragmentSize(UPLOAD_FRAGMENT_MULTIPLE_BYTES));
  }
}

function sameSecret(expected: string, actual: string): boolean {
  const expectedBytes = Buffer.from(expected);
  const actualBytes = Buffer.from(actual);
  return expectedBytes.length === actualBytes.length && timingSafeEqual(expectedBytes, actualBytes);
}
