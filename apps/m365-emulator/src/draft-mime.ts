import { randomUUID } from 'node:crypto';
import type { DraftAttachment } from './graph-drafts.js';

const BASE64_LINE_LENGTH = 76;

/**
 * Builds the RFC 5322 source of a draft about to be sent: its MIME source with the attachments
 * that were added separately. The original body becomes the first part of a new
 * multipart/mixed, so any structure it has stays intact, and every other header is kept as it
 * was, including the Message-ID.
 */
export function composeDraftMessage(raw: Buffer, attachments: DraftAttachment[]): Buffer {
  if (attachments.length === 0) {
    return raw;
  }
  // latin1 maps every byte to one character, so 8-bit content survives the round trip.
  const text = raw.toString('latin1');
  const separator = /\r?\n\r?\n/.exec(text);
  const headerText = separator === null ? text : text.slice(0, separator.index);
  const body = separator === null ? '' : text.slice(separator.index + separator[0].length);

  const fields = splitHeaderFields(headerText);
  const contentFields = fields.filter((field) => /^content-/i.test(field));
  const otherFields = fields.filter((field) => !/^content-/i.test(field));
  if (!otherFields.some((field) => /^mime-version:/i.test(field))) {
    otherFields.push('MIME-Version: 1.0');
  }
  if (!contentFields.some((field) => /^content-type:/i.test(field))) {
    contentFields.push('Content-Type: text/plain; charset=us-ascii');
  }

  const boundary = `----=_Part_${randomUUID()}`;
  const parts = [
    `${contentFields.join('\r\n')}\r\n\r\n${body}`,
    ...attachments.map(attachmentPart),
  ];
  const message = [
    ...otherFields,
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    ...parts.map((part) => `--${boundary}\r\n${part}`),
    `--${boundary}--`,
    '',
  ].join('\r\n');
  return Buffer.from(message, 'latin1');
}

/** Splits a header section into fields, each with its folded continuation lines. */
function splitHeaderFields(headerText: string): string[] {
  const fields: string[] = [];
  for (const line of headerText.split(/\r?\n/)) {
    const last = fields.length - 1;
    if (/^[ \t]/.test(line) && last >= 0) {
      fields[last] = `${fields[last]}\r\n${line}`;
    } else if (line !== '') {
      fields.push(line);
    }
  }
  return fields;
}

function attachmentPart(attachment: DraftAttachment): string {
  const disposition = attachment.isInline ? 'inline' : 'attachment';
  const headers = [
    `Content-Type: ${attachment.contentType}; ${parameter('name', attachment.name)}`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: ${disposition}; ${parameter('filename', attachment.name)}`,
  ];
  if (attachment.contentId !== undefined) {
    headers.push(`Content-ID: <${attachment.contentId}>`);
  }
  const base64 = attachment.content.toString('base64');
  const lines: string[] = [];
  for (let offset = 0; offset < base64.length; offset += BASE64_LINE_LENGTH) {
    lines.push(base64.slice(offset, offset + BASE64_LINE_LENGTH));
  }
  return `${headers.join('\r\n')}\r\n\r\n${lines.join('\r\n')}\r\n`;
}

/** Formats a MIME parameter, quoted when it is printable ASCII and RFC 2231-encoded otherwise. */
function parameter(name: string, value: string): string {
  if (/^[\x20-\x7e]*$/.test(value) && !/["\\]/.test(value)) {
    return `${name}="${value}"`;
  }
  const encoded = encodeURIComponent(value).replace(
    /['()*!]/g,
    (character) => `%${character.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `${name}*=utf-8''${encoded}`;
}
