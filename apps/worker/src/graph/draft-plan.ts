import { type JobPayload, recipientsOf } from '@postroom/core';
import { detectMimeType } from 'nodemailer/lib/mime-funcs';
import { renderMessage } from '../mime.js';
import { GraphFailure } from './classify.js';
import { type AttachmentItem, FILE_ATTACHMENT_TYPE, type FileAttachment } from './client.js';

/** Largest Graph request body: 4 MB. For `sendMail` and a draft it is the base64 MIME text. */
export const GRAPH_MAX_REQUEST_BYTES = 4 * 1024 * 1024;
/** Graph documents upload sessions for files of 3 MB to 150 MB, and one POST below that. */
export const UPLOAD_SESSION_MIN_BYTES = 3 * 1024 * 1024;
export const UPLOAD_SESSION_MAX_BYTES = 150 * 1024 * 1024;

// A base64 MIME body line carries 76 characters and a CRLF.
const MIME_LINE_EXPANSION = 78 / 76;

export type Attachment = NonNullable<JobPayload['message']['attachments']>[number];

/** An attachment added to the draft after it was created. */
export interface SeparateAttachment {
  attachment: Attachment;
  /** Size of the decoded file in bytes. */
  sizeBytes: number;
  /** `upload` through an upload session, or `post` as one JSON request. */
  method: 'upload' | 'post';
}

/** How to send a message that is too large for one `sendMail` request. */
export interface DraftPlan {
  /** Base64 MIME text of the draft: the message without the separate attachments. */
  draftBase64: string;
  /** Attachments to add to the draft, in the message's order. */
  separate: SeparateAttachment[];
}

interface SizedAttachment {
  attachment: Attachment;
  index: number;
  sizeBytes: number;
}

/**
 * Splits a message into a draft that fits one request and the attachments to add to it later.
 * Files of 3 MB or more always go separately, through upload sessions. Smaller files leave the
 * draft, largest first, only while it is still over 4 MB, and each is POSTed unless its request
 * would pass 4 MB too. Throws a permanent GraphFailure when a file is over 150 MB, or when the
 * draft is over 4 MB without any attachment.
 */
export async function planDraft(payload: JobPayload): Promise<DraftPlan> {
  const sized = (payload.message.attachments ?? []).map((attachment, index) => ({
    attachment,
    index,
    sizeBytes: Buffer.byteLength(attachment.content, 'base64'),
  }));
  const oversized = sized.find((entry) => entry.sizeBytes > UPLOAD_SESSION_MAX_BYTES);
  if (oversized) {
    throw new GraphFailure(
      { class: 'permanent', action: 'fail', reason: 'attachment_too_large_for_graph' },
      `attachment ${oversized.index + 1} is ${oversized.sizeBytes} bytes; Graph takes at most ${UPLOAD_SESSION_MAX_BYTES} per file`,
    );
  }

  let inDraft = sized.filter((entry) => entry.sizeBytes < UPLOAD_SESSION_MIN_BYTES);
  for (;;) {
    const draftBase64 = await renderBase64(payload, inDraft);
    if (draftBase64.length <= GRAPH_MAX_REQUEST_BYTES) {
      const separate = sized.filter((entry) => !inDraft.includes(entry));
      return { draftBase64, separate: separate.map(toSeparate) };
    }
    if (inDraft.length === 0) {
      throw new GraphFailure(
        { class: 'permanent', action: 'fail', reason: 'message_too_large_for_graph' },
        `message is ${draftBase64.length} bytes as base64 without its attachments; a Graph request takes at most ${GRAPH_MAX_REQUEST_BYTES}`,
      );
    }
    inDraft = withoutLargest(inDraft, draftBase64.length - GRAPH_MAX_REQUEST_BYTES);
  }
}

/**
 * Removes the largest attachments until their estimated share of the draft request covers
 * `excessBytes`. The estimate may fall short, so the caller renders the draft again.
 */
function withoutLargest(inDraft: SizedAttachment[], excessBytes: number): SizedAttachment[] {
  const byLargest = [...inDraft].sort((a, b) => b.sizeBytes - a.sizeBytes);
  const removed = new Set<SizedAttachment>();
  let freedBytes = 0;
  for (const entry of byLargest) {
    if (freedBytes >= excessBytes) break;
    removed.add(entry);
    freedBytes += draftShareBytes(entry.sizeBytes);
  }
  return inDraft.filter((entry) => !removed.has(entry));
}

/** Estimates a file's share of a base64 draft request: base64 in the MIME text, then again. */
function draftShareBytes(sizeBytes: number): number {
  return Math.floor(base64Length(base64Length(sizeBytes) * MIME_LINE_EXPANSION));
}

function toSeparate(entry: SizedAttachment): SeparateAttachment {
  const withoutContent = {
    '@odata.type': FILE_ATTACHMENT_TYPE,
    ...toFileAttachment(entry.attachment),
    contentBytes: '',
  };
  const postBytes =
    Buffer.byteLength(JSON.stringify(withoutContent)) + entry.attachment.content.length;
  const needsSession =
    entry.sizeBytes >= UPLOAD_SESSION_MIN_BYTES || postBytes > GRAPH_MAX_REQUEST_BYTES;
  return {
    attachment: entry.attachment,
    sizeBytes: entry.sizeBytes,
    method: needsSession ? 'upload' : 'post',
  };
}

/** Describes an attachment as Graph's fileAttachment, for one POST. */
export function toFileAttachment(attachment: Attachment): FileAttachment {
  return { ...describeFile(attachment), contentBytes: attachment.content };
}

/** Describes an attachment as the AttachmentItem of an upload session for `sizeBytes`. */
export function toAttachmentItem(attachment: Attachment, sizeBytes: number): AttachmentItem {
  return { ...describeFile(attachment), size: sizeBytes };
}

/** Returns the name, type, disposition and Content-ID the MIME renderer gives an attachment. */
function describeFile(attachment: Attachment): Omit<AttachmentItem, 'size'> {
  const disposition = attachment.disposition ?? (attachment.contentId ? 'inline' : 'attachment');
  return {
    name: attachment.filename,
    contentType: attachment.contentType ?? detectMimeType(attachment.filename),
    isInline: disposition === 'inline',
    ...(attachment.contentId ? { contentId: attachment.contentId } : {}),
  };
}

async function renderBase64(payload: JobPayload, inDraft: SizedAttachment[]): Promise<string> {
  const draft: JobPayload = {
    ...payload,
    message: { ...payload.message, attachments: inDraft.map((entry) => entry.attachment) },
  };
  const rendered = await renderMessage(draft, recipientsOf(draft.message), { keepBcc: true });
  return rendered.raw.toString('base64');
}

function base64Length(sizeBytes: number): number {
  return Math.ceil(sizeBytes / 3) * 4;
}
