import { composeDraftMessage } from './draft-mime.js';
import type { GraphCall, GraphContext, GraphReply } from './graph-call.js';
import type { Draft } from './graph-drafts.js';
import { GraphErrors, GraphRequestError } from './graph-errors.js';
import { decodeMimeBody, submitGraphMessage } from './graph-submission.js';
import { parseSubmission } from './message-capture.js';

const FILE_ATTACHMENT_TYPE = '#microsoft.graph.fileAttachment';
const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/;

/** `POST /users/{mailbox}/sendMail` with a MIME body: checks, stores and responds 202. */
export async function sendMail(
  context: GraphContext,
  call: GraphCall,
  body: Buffer,
): Promise<GraphReply> {
  const raw = readMimeBody(call, body);
  await submitGraphMessage(context, call.mailbox, raw, context.timeUnitMs);
  return { status: 202 };
}

/** `POST /users/{mailbox}/messages` with a MIME body: creates a draft and responds 201. */
export async function createDraft(
  context: GraphContext,
  call: GraphCall,
  body: Buffer,
): Promise<GraphReply> {
  const raw = readMimeBody(call, body);
  const parsed = await parseSubmission(raw);
  const draft = context.drafts.create(call.mailbox, raw, Date.now());
  context.logger.debug({ mailbox: call.mailbox, draftId: draft.id }, 'created Graph draft');
  return {
    status: 201,
    body: {
      '@odata.context': `${call.baseUrl}/v1.0/$metadata#users('${call.mailbox}')/messages/$entity`,
      id: draft.id,
      createdDateTime: new Date(draft.createdAt).toISOString(),
      isDraft: true,
      subject: parsed.subject ?? '',
      internetMessageId: parsed.messageId ?? null,
      hasAttachments: parsed.attachments.length > 0,
    },
  };
}

/** `POST /users/{mailbox}/messages/{id}/attachments` with a fileAttachment in JSON. */
export function addAttachment(context: GraphContext, call: GraphCall, body: Buffer): GraphReply {
  const draft = requireDraft(context, call);
  const input = parseJsonObject(body);
  if (input['@odata.type'] !== FILE_ATTACHMENT_TYPE) {
    throw new GraphRequestError(
      GraphErrors.invalidJson(`@odata.type must be ${FILE_ATTACHMENT_TYPE}`),
    );
  }
  const contentBytes = input.contentBytes;
  if (typeof contentBytes !== 'string' || !BASE64_PATTERN.test(contentBytes)) {
    throw new GraphRequestError(GraphErrors.invalidJson('contentBytes must be base64 text'));
  }
  const fields = attachmentFields(input);
  const content = Buffer.from(contentBytes, 'base64');
  requireMessageSize(context, draft, content.length, call.mailbox);

  const added = context.drafts.addAttachment(draft, { ...fields, content });
  return {
    status: 201,
    body: {
      '@odata.context': `${call.baseUrl}/v1.0/$metadata#users('${call.mailbox}')/messages('${draft.id}')/attachments/$entity`,
      '@odata.type': FILE_ATTACHMENT_TYPE,
      id: added.id,
      name: added.name,
      contentType: added.contentType,
      size: content.length,
      isInline: added.isInline,
      contentId: added.contentId ?? null,
    },
  };
}

/**
 * `POST /users/{mailbox}/messages/{id}/send`: builds the message with its attachments and
 * submits it like `sendMail`, with the same checks, counters and Message-ID duplicate
 * detection. On success the draft leaves the Drafts folder. A rejected send keeps the draft, as
 * Exchange does.
 */
export async function sendDraft(context: GraphContext, call: GraphCall): Promise<GraphReply> {
  const draft = requireDraft(context, call);
  if (draft.sending) {
    // A second send of the same draft while the first one runs finds no draft, as after it.
    throw new GraphRequestError(GraphErrors.itemNotFound());
  }
  const raw = composeDraftMessage(draft.raw, draft.attachments);
  const { maxMessageBytes } = context.limits.for(call.mailbox);
  if (raw.length > maxMessageBytes) {
    context.stats.countViolation('size');
    throw new GraphRequestError(GraphErrors.messageSizeExceeded(maxMessageBytes));
  }

  draft.sending = true;
  try {
    await submitGraphMessage(context, call.mailbox, raw, context.timeUnitMs);
  } finally {
    draft.sending = false;
  }
  context.drafts.delete(draft.id);
  return { status: 202 };
}

/** `DELETE /users/{mailbox}/messages/{id}`: removes a draft and its upload sessions. */
export function deleteDraft(context: GraphContext, call: GraphCall): GraphReply {
  const draft = requireDraft(context, call);
  context.drafts.delete(draft.id);
  context.logger.debug({ mailbox: call.mailbox, draftId: draft.id }, 'deleted Graph draft');
  return { status: 204 };
}

/** Returns the draft named in the path, or throws 404 ErrorItemNotFound. */
export function requireDraft(context: GraphContext, call: GraphCall): Draft {
  const draft = context.drafts.get(call.mailbox, call.route.messageId ?? '');
  if (draft === undefined) {
    throw new GraphRequestError(GraphErrors.itemNotFound());
  }
  return draft;
}

/**
 * Throws 413 ErrorMessageSizeExceeded when `addedBytes` more would take the draft over the
 * mailbox's message size limit.
 */
export function requireMessageSize(
  context: GraphContext,
  draft: Draft,
  addedBytes: number,
  mailbox: string,
): void {
  const { maxMessageBytes } = context.limits.for(mailbox);
  if (context.drafts.sizeBytes(draft) + addedBytes > maxMessageBytes) {
    context.stats.countViolation('size');
    throw new GraphRequestError(GraphErrors.messageSizeExceeded(maxMessageBytes));
  }
}

/** Parses a JSON object body, or throws 400 BadRequest. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new GraphRequestError(GraphErrors.invalidJson('the body is not valid JSON'));
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new GraphRequestError(GraphErrors.invalidJson('the body must be a JSON object'));
  }
  return parsed as Record<string, unknown>;
}

/** Reads the name, content type, inline flag and Content-ID of an attachment in JSON. */
export function attachmentFields(input: Record<string, unknown>): {
  name: string;
  contentType: string;
  isInline: boolean;
  contentId?: string;
} {
  const { name, contentType, isInline, contentId } = input;
  if (typeof name !== 'string' || name === '' || /[\r\n]/.test(name)) {
    throw new GraphRequestError(GraphErrors.invalidJson('name must be a non-empty string'));
  }
  if (contentType !== undefined && !isMediaType(contentType)) {
    throw new GraphRequestError(GraphErrors.invalidJson('contentType must look like type/subtype'));
  }
  if (isInline !== undefined && typeof isInline !== 'boolean') {
    throw new GraphRequestError(GraphErrors.invalidJson('isInline must be a boolean'));
  }
  if (contentId !== undefined && contentId !== null && !isContentId(contentId)) {
    throw new GraphRequestError(
      GraphErrors.invalidJson('contentId must be text without <, >, spaces or line breaks'),
    );
  }
  return {
    name,
    contentType: typeof contentType === 'string' ? contentType : 'application/octet-stream',
    isInline: isInline === true,
    ...(typeof contentId === 'string' ? { contentId } : {}),
  };
}

function isMediaType(value: unknown): value is string {
  return typeof value === 'string' && /^[\w.+-]+\/[\w.+-]+(\s*;[^\r\n]*)?$/.test(value);
}

function isContentId(value: unknown): value is string {
  return typeof value === 'string' && /^[^<>\s]{1,250}$/.test(value);
}

/** Checks the Content-Type of a MIME body and decodes its base64 text. */
function readMimeBody(call: GraphCall, body: Buffer): Buffer {
  const contentType = call.request.headers['content-type'] ?? '';
  if (!contentType.toLowerCase().startsWith('text/plain')) {
    throw new GraphRequestError(GraphErrors.unsupportedBody());
  }
  return decodeMimeBody(body.toString('latin1'));
}
