import type { JobPayload, MailAddress } from '@postroom/core';
import MailComposer from 'nodemailer/lib/mail-composer';

export interface RenderedMessage {
  envelope: { from: string; to: string[] };
  raw: Buffer;
}

const PRIORITY_HEADERS = { high: 'high', normal: 'normal', low: 'low' } as const;

export interface RenderOptions {
  /**
   * Keep the Bcc header in the message. Graph `sendMail` takes the recipients from the MIME
   * headers, as it has no envelope, and removes Bcc before delivery. Default false.
   */
  keepBcc?: boolean;
}

/**
 * Renders a job's message as RFC 5322 MIME with the job's fixed Message-ID. Bcc recipients go
 * into the envelope only, unless `keepBcc` is set. Every header value was checked for CR and LF
 * at enqueue, and the composer encodes non-ASCII text (RFC 2047 and RFC 2231), so no input can
 * add a header.
 */
export async function renderMessage(
  payload: JobPayload,
  recipients?: string[],
  options: RenderOptions = {},
): Promise<RenderedMessage> {
  const { message } = payload;
  const composer = new MailComposer({
    from: toNodemailer(message.from),
    ...(message.to ? { to: message.to.map(toNodemailer) } : {}),
    ...(message.cc ? { cc: message.cc.map(toNodemailer) } : {}),
    ...(message.bcc ? { bcc: message.bcc.map(toNodemailer) } : {}),
    ...(message.replyTo ? { replyTo: message.replyTo.map(toNodemailer) } : {}),
    subject: message.subject,
    ...(message.text !== undefined ? { text: message.text } : {}),
    ...(message.html !== undefined ? { html: message.html } : {}),
    ...(message.headers ? { headers: message.headers } : {}),
    attachments: (message.attachments ?? []).map((attachment) => ({
      filename: attachment.filename,
      content: attachment.content,
      encoding: 'base64',
      ...(attachment.contentType ? { contentType: attachment.contentType } : {}),
      ...(attachment.contentId ? { cid: attachment.contentId } : {}),
      contentDisposition:
        attachment.disposition ?? (attachment.contentId ? 'inline' : 'attachment'),
    })),
    messageId: payload.messageId,
    date: new Date(payload.enqueuedAtMs),
    priority: PRIORITY_HEADERS[message.priority],
    disableFileAccess: true,
    disableUrlAccess: true,
  });

  const node = composer.compile();
  if (options.keepBcc) node.keepBcc = true;
  const envelope = node.getEnvelope();
  const raw = await node.build();
  return {
    envelope: { from: envelope.from || message.from.address, to: recipients ?? envelope.to },
    raw,
  };
}

function toNodemailer(address: MailAddress): { name: string; address: string } {
  return { name: address.name ?? '', address: address.address };
}
