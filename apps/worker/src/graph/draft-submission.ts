import type { Logger } from 'pino';
import { GraphFailure } from './classify.js';
import type { GraphMailClient, GraphResponse } from './client.js';
import {
  type DraftPlan,
  type SeparateAttachment,
  toAttachmentItem,
  toFileAttachment,
} from './draft-plan.js';
import type { GraphRequests } from './requests.js';

/**
 * Bytes per upload request: 12 times 320 KiB, the unit upload sessions require for every range
 * but the last, and under Graph's 4 MB request limit.
 */
export const UPLOAD_CHUNK_BYTES = 12 * 320 * 1024;

export interface DraftSubmission {
  client: GraphMailClient;
  requests: GraphRequests;
  /** The sending mailbox's address. */
  mailbox: string;
  logger: Logger;
}

/**
 * Sends a message over Graph's 4 MB request limit as a draft: creates the draft from the MIME
 * text of the plan, adds the separate attachments by POST or upload session, then sends it.
 * Until the send request is written, Graph has accepted nothing, so a failure deletes the draft
 * (best effort) and rethrows. When the response to the send is lost, the outcome is unknown and
 * the draft is left as it is: it leaves the Drafts folder only if Graph accepted the message.
 */
export async function sendAsDraft(submission: DraftSubmission, plan: DraftPlan): Promise<void> {
  const { client, requests, mailbox, logger } = submission;
  const created = await requests.authorized('createDraft', [201], (token) =>
    client.createDraft(mailbox, plan.draftBase64, token),
  );
  const draftId = stringField(created, 'id', 'createDraft');
  logger.debug(
    { draftId, draftRequestBytes: plan.draftBase64.length, separate: plan.separate.length },
    'created Graph draft for a message over 4 MB',
  );

  try {
    for (const separate of plan.separate) {
      await addToDraft(submission, draftId, separate);
    }
    await requests.authorized('sendDraft', [202], (token) =>
      client.sendDraft(mailbox, draftId, token),
    );
  } catch (error) {
    if (!(error instanceof GraphFailure) || error.classification.class !== 'unknown_outcome') {
      await deleteDraft(submission, draftId);
    }
    throw error;
  }
}

async function addToDraft(
  submission: DraftSubmission,
  draftId: string,
  separate: SeparateAttachment,
): Promise<void> {
  const { client, requests, mailbox } = submission;
  if (separate.method === 'post') {
    const attachment = toFileAttachment(separate.attachment);
    await requests.authorized('addAttachment', [201], (token) =>
      client.addAttachment(mailbox, draftId, attachment, token),
    );
    return;
  }

  const item = toAttachmentItem(separate.attachment, separate.sizeBytes);
  const session = await requests.authorized('createUploadSession', [201], (token) =>
    client.createUploadSession(mailbox, draftId, item, token),
  );
  const uploadUrl = stringField(session, 'uploadUrl', 'createUploadSession');
  // The URL carries its own authorization, so it goes over TLS or not at all, and it never
  // appears in an error message.
  if (!URL.canParse(uploadUrl) || new URL(uploadUrl).protocol !== 'https:') {
    throw invalidResponse('createUploadSession', 'an uploadUrl that is not a valid https URL');
  }
  await uploadFile(submission, uploadUrl, Buffer.from(separate.attachment.content, 'base64'));
}

/**
 * Uploads a file in ranges of UPLOAD_CHUNK_BYTES. Each response but the last gives the next
 * expected offset, and the upload continues from that offset, even when Graph kept less.
 */
async function uploadFile(
  submission: DraftSubmission,
  uploadUrl: string,
  content: Buffer,
): Promise<void> {
  const { client, requests } = submission;
  let offset = 0;
  while (offset < content.length) {
    const chunk = content.subarray(offset, offset + UPLOAD_CHUNK_BYTES);
    const start = offset;
    const response = await requests.preauthorized('uploadRange', [200, 201], () =>
      client.uploadRange(uploadUrl, chunk, start, content.length),
    );
    if (response.status === 201) return;

    const next = nextExpectedOffset(response) ?? start + chunk.length;
    if (next <= start || next > content.length) {
      throw invalidResponse(
        'uploadRange',
        `nextExpectedRanges ${next} after a range from ${start}`,
      );
    }
    offset = next;
  }
}

/** Reads the start of the first `nextExpectedRanges` entry, `"N"` or `"N-M"`. */
function nextExpectedOffset(response: GraphResponse): number | undefined {
  const ranges = (response.body as { nextExpectedRanges?: unknown } | undefined)
    ?.nextExpectedRanges;
  const first = Array.isArray(ranges) ? ranges[0] : undefined;
  const match = typeof first === 'string' ? /^(\d+)(?:-\d*)?$/.exec(first) : null;
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/**
 * Deletes a draft that will not be sent. A failure is logged and dropped, because the message
 * was not submitted either way.
 */
async function deleteDraft(submission: DraftSubmission, draftId: string): Promise<void> {
  const { client, requests, mailbox, logger } = submission;
  try {
    await requests.authorized('deleteDraft', [204], (token) =>
      client.deleteDraft(mailbox, draftId, token),
    );
    logger.debug({ draftId }, 'deleted Graph draft that was not sent');
  } catch (error) {
    // NOTE: a draft whose deletion failed, for example because Graph throttles the mailbox,
    // stays in its Drafts folder; nothing retries the deletion later.
    const reply = error instanceof GraphFailure ? error.reply : undefined;
    logger.warn(
      { draftId, reply, err: error instanceof GraphFailure ? undefined : error },
      'Graph draft deletion failed; the unsent draft stays in the Drafts folder',
    );
  }
}

function stringField(
  response: GraphResponse,
  field: string,
  step: 'createDraft' | 'createUploadSession',
): string {
  const value = (response.body as Record<string, unknown> | undefined)?.[field];
  if (typeof value !== 'string' || value === '') {
    throw invalidResponse(step, `no ${field} in the response`);
  }
  return value;
}

/** Creates the failure for a success response the flow cannot use; nothing was submitted. */
function invalidResponse(step: string, detail: string): GraphFailure {
  return new GraphFailure(
    { class: 'transient', action: 'retry', reason: 'graph_invalid_response' },
    `${detail} (${step})`,
  );
}
