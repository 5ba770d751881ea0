import type { JobPayload, MailAddress } from '@postroom/core';
import { encode as base64Encode, wrap as base64Wrap } from 'nodemailer/lib/base64';
import MailComposer from 'nodemailer/lib/mail-composer';
import { detectMimeType } from 'nodemailer/lib/mime-funcs';
import type MimeNode from 'nodemailer/lib/mime-node';
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';

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
  const node = composeMessage(payload, options);
  const envelope = node.getEnvelope();
  const raw = serializeMime(node) ?? (await node.build());
  return {
    envelope: {
      from: envelope.from || payload.message.from.address,
      to: recipients ?? envelope.to,
    },
    raw,
  };
}

/** Builds the MIME tree of a job's message, ready to be written out. */
export function composeMessage(payload: JobPayload, options: RenderOptions = {}): MimeNode {
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
      contentType: attachmentType(attachment.contentType, attachment.filename),
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
  return node;
}

// Without a contentType, nodemailer picks one from the file name, and a multipart/* or message/*
// type (from .eml, for example) would be written without a transfer encoding, which changes
// binary bytes. Enqueue rejects those types when given, so this covers the picked ones.
function attachmentType(contentType: string | undefined, filename: string): string {
  const type = contentType ?? detectMimeType(filename);
  return /^(multipart|message)\//i.test(type) ? 'application/octet-stream' : type;
}

function toNodemailer(address: MailAddress): { name: string; address: string } {
  return { name: address.name ?? '', address: address.address };
}

/** The parts of nodemailer's MimeNode that `serializeMime` reads, beyond its typed interface. */
interface MimeNodeInternals {
  multipart?: string | false;
  newline?: string;
  _raw?: unknown;
  _transforms: unknown[];
  _processFuncs: unknown[];
}

// nodemailer's encoders wrap lines at this length.
const LINE_LENGTH = 76;
// nodemailer's quoted-printable encoder works in slices of this many bytes.
const QP_SLICE_BYTES = 64 * 1024;

/**
 * Writes a composed message as `MimeNode.build()` does, byte for byte, but in one synchronous
 * pass. build() streams every node through PassThrough, encoder and pipeline stages with a
 * setImmediate between them, which costs several times the work of the message itself. Only
 * string and Buffer content is written here (the composer has file and URL access disabled);
 * anything else returns undefined, for build() to handle. A test compares both outputs.
 */
export function serializeMime(root: MimeNode): Buffer | undefined {
  const internals = root as unknown as MimeNodeInternals;
  if (internals.newline || internals._transforms.length > 0 || internals._processFuncs.length > 0)
    return undefined;
  const parts: (string | Buffer)[] = [];
  if (!writeNode(root, parts)) return undefined;
  const last = parts.findLast((part) => part.length > 0);
  const lastByte = typeof last === 'string' ? last.charCodeAt(last.length - 1) : last?.at(-1);
  // build() ends every message with a line break.
  if (lastByte === 0x0d) parts.push('\n');
  else if (lastByte !== 0x0a) parts.push('\r\n');
  return Buffer.concat(
    parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'utf8') : part)),
  );
}

function writeNode(node: MimeNode, parts: (string | Buffer)[]): boolean {
  const internals = node as unknown as MimeNodeInternals;
  if (internals._raw) return false;
  const content = node.content;
  if (content && typeof content !== 'string' && !Buffer.isBuffer(content)) return false;
  const transferEncoding = node.getTransferEncoding();
  // Writing the headers also sets the node's content type and multipart fields read below.
  parts.push(`${node.buildHeaders()}\r\n\r\n`);
  const text = /^text\//i.test(node.contentType ?? '');
  // Outside text, quoted-printable keeps lone CR and LF as data, which the plain encoder does not.
  if (content && transferEncoding === 'quoted-printable' && !text) return false;
  if (content) {
    if (transferEncoding === 'base64') parts.push(base64Wrap(base64Encode(content), LINE_LENGTH));
    else if (transferEncoding === 'quoted-printable') {
      const encoded = quotedPrintable(content);
      if (encoded === undefined) return false;
      parts.push(encoded);
    } else parts.push(content);
  }
  if (!internals.multipart) return true;
  for (const [index, child] of node.childNodes.entries()) {
    parts.push(`${index > 0 ? '\r\n' : ''}--${node.boundary}\r\n`);
    if (!writeNode(child, parts)) return false;
  }
  parts.push(`\r\n--${node.boundary}--\r\n`);
  return true;
}

/**
 * Encodes text as nodemailer's quoted-printable stream encoder does when it gets the whole text
 * in one chunk. The encoder holds back the whitespace at the end until the input ends, and wraps
 * what it has so far and then that whitespace with the last line, which can break lines
 * differently from wrapping the whole encoded text. Text over one slice of the encoder is left
 * to nodemailer (undefined).
 */
function quotedPrintable(content: string | Buffer): string | undefined {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  if (bytes.length > QP_SLICE_BYTES) return undefined;
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === 0x20 || bytes[end - 1] === 0x09)) end--;
  let done = '';
  let lastLine = '';
  for (const slice of [bytes.subarray(0, end), bytes.subarray(end)]) {
    if (slice.length === 0) continue;
    const wrapped = qpWrap(lastLine + qpEncode(slice), LINE_LENGTH);
    const lastBreak = wrapped.lastIndexOf('\n');
    done += wrapped.slice(0, lastBreak + 1);
    lastLine = wrapped.slice(lastBreak + 1);
  }
  return done + lastLine;
}
