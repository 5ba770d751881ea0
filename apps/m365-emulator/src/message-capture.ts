import { createHash, randomUUID } from 'node:crypto';
import { type AddressObject, type ParsedMail, simpleParser } from 'mailparser';
import { SERVER_NAME } from './smtp-replies.js';
import type { AcceptedMessage, AttachmentSummary } from './types.js';

export interface SubmissionFacts {
  mailbox: string;
  transport: 'smtp' | 'graph';
  envelopeFrom: string;
  envelopeTo: string[];
}

/** Parses a submitted message, with attachment contents in memory. */
export async function parseSubmission(raw: Buffer): Promise<ParsedMail> {
  return simpleParser(raw, { skipHtmlToText: true, skipTextLinks: true, skipImageLinks: true });
}

/** Returns every address of the From header in lower case. */
export function fromAddresses(parsed: ParsedMail): string[] {
  return addressesOf(parsed.from).map((address) => address.toLowerCase());
}

/** Returns the To, Cc and Bcc header addresses, each once, in header order. */
export function headerRecipients(parsed: ParsedMail): string[] {
  const all = [parsed.to, parsed.cc, parsed.bcc].flatMap((header) => addressesOf(header));
  const seen = new Set<string>();
  return all.filter((address) => {
    const key = address.toLowerCase();
    if (seen.has(key)) {
      return false;
    }
    seen.add(key);
    return true;
  });
}

export function describeAcceptedMessage(
  parsed: ParsedMail,
  raw: Buffer,
  facts: SubmissionFacts,
  acceptedAt: number,
): AcceptedMessage {
  const to = addressesOf(parsed.to);
  const cc = addressesOf(parsed.cc);
  const visible = new Set([...to, ...cc].map((address) => address.toLowerCase()));
  return {
    id: randomUUID(),
    mailbox: facts.mailbox,
    transport: facts.transport,
    envelope: { from: facts.envelopeFrom, to: [...facts.envelopeTo] },
    messageId: parsed.messageId ?? `<${randomUUID()}@${SERVER_NAME.toLowerCase()}.invalid>`,
    subject: parsed.subject ?? null,
    from: addressesOf(parsed.from)[0] ?? null,
    to,
    cc,
    bcc: facts.envelopeTo.filter((address) => !visible.has(address.toLowerCase())),
    replyTo: addressesOf(parsed.replyTo),
    date: parsed.date === undefined ? null : parsed.date.toISOString(),
    headers: rawHeaders(parsed),
    text: parsed.text ?? null,
    html: typeof parsed.html === 'string' ? parsed.html : null,
    attachments: parsed.attachments.map(summarizeAttachment),
    sizeBytes: raw.length,
    acceptedAt,
  };
}

function addressesOf(header: AddressObject | AddressObject[] | undefined): string[] {
  if (header === undefined) {
    return [];
  }
  const objects = Array.isArray(header) ? header : [header];
  const addresses: string[] = [];
  for (const object of objects) {
    for (const entry of object.value) {
      const members = entry.group ?? [entry];
      for (const member of members) {
        if (member.address !== undefined && member.address !== '') {
          addresses.push(member.address);
        }
      }
    }
  }
  return addresses;
}

/** Header values as received, unfolded (line breaks removed), keyed by lower-case name. */
function rawHeaders(parsed: ParsedMail): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const { key, line } of parsed.headerLines) {
    const separator = line.indexOf(':');
    const value = line
      .slice(separator + 1)
      .replace(/\r?\n(?=[ \t])/g, '')
      .trim();
    const existing = headers[key];
    if (existing === undefined) {
      headers[key] = value;
    } else if (Array.isArray(existing)) {
      existing.push(value);
    } else {
      headers[key] = [existing, value];
    }
  }
  return headers;
}

function summarizeAttachment(attachment: ParsedMail['attachments'][number]): AttachmentSummary {
  const content: Buffer = Buffer.isBuffer(attachment.content)
    ? attachment.content
    : Buffer.from(String(attachment.content));
  return {
    filename: attachment.filename ?? null,
    contentType: attachment.contentType,
    contentId: attachment.cid ?? null,
    contentDisposition: attachment.contentDisposition ?? null,
    size: content.length,
    sha256: createHash('sha256').update(content).digest('hex'),
  };
}
