import { z } from 'zod';
import { CONTROL_CHARACTERS } from './address.js';

// Limits and checks of a message that both `messageSchema` and `parseMessageFast` apply, so that
// the two accept exactly the same input.

/** RFC 5322 limit on a header line, in characters. */
export const MAX_HEADER_LINE_CHARS = 998;
export const MAX_ATTACHMENTS = 250;
export const MAX_FILENAME_CHARS = 255;
export const MAX_TAGS = 20;

export const PRIORITIES = ['high', 'normal', 'low'] as const;
export const DISPOSITIONS = ['attachment', 'inline'] as const;

export const FILENAME_SEPARATORS = /[\\/]/;
export const CONTENT_TYPE = /^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/;
// An attachment of these types is written as MIME structure without a transfer encoding, so
// binary content arrives changed and a multipart one disappears (RFC 2046 allows them no base64).
export const CONTAINER_CONTENT_TYPE = /^(multipart|message)\//i;
export const CONTAINER_CONTENT_TYPE_RULE =
  'attachment contentType must not be multipart/* or message/*. Send the file as application/octet-stream';
export const CONTENT_ID = /^[^<>\s]{1,250}$/;
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,256}$/;
export const TAG = /^[A-Za-z0-9_.:-]{1,64}$/;

// A plain character class, so the check stays linear on attachments of many megabytes.
const BASE64_CHARACTERS = /^[A-Za-z0-9+/]*={0,2}$/;

export function isBase64(value: string): boolean {
  return value.length % 4 === 0 && BASE64_CHARACTERS.test(value);
}

export function hasControlCharacters(value: string): boolean {
  return CONTROL_CHARACTERS.test(value);
}

/** An ISO 8601 date-time with an offset, or a Date, normalized to an ISO string in UTC. */
export const isoDateTime = z
  .union([z.iso.datetime({ offset: true }), z.date()])
  .transform((value) =>
    value instanceof Date ? value.toISOString() : new Date(value).toISOString(),
  );

// Headers that message fields own, because setting them through `headers` would bypass validation.
// A Map, so that a name such as `constructor` does not find an Object.prototype member.
const RESERVED_HEADERS = new Map<string, string>([
  ['from', 'from'],
  ['sender', 'from'],
  ['to', 'to'],
  ['cc', 'cc'],
  ['bcc', 'bcc'],
  ['reply-to', 'replyTo'],
  ['subject', 'subject'],
  ['message-id', 'idempotencyKey (Postroom sets Message-ID itself)'],
  ['date', 'notBefore'],
  ['mime-version', 'text, html and attachments'],
  ['content-type', 'text, html and attachments'],
  ['content-transfer-encoding', 'text, html and attachments'],
  ['return-path', 'from'],
]);

const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/** Calls `report` once for each problem of a custom header, and not at all for a valid one. */
export function checkHeader(name: string, value: string, report: (message: string) => void): void {
  if (!HEADER_NAME.test(name)) {
    report(`header name ${JSON.stringify(name)} must be printable ASCII without spaces or colons`);
    return;
  }
  const owner = RESERVED_HEADERS.get(name.toLowerCase());
  if (owner) report(`header ${name} cannot be set through headers; use ${owner}`);
  if (CONTROL_CHARACTERS.test(value))
    report(`header ${name} value must not contain CR, LF or NUL characters`);
  if (name.length + 2 + value.length > MAX_HEADER_LINE_CHARS) {
    report(`header ${name} is longer than ${MAX_HEADER_LINE_CHARS} characters`);
  }
}

/** Returns true when `checkHeader` finds no problem, without building any message. */
export function isValidHeader(name: string, value: string): boolean {
  return (
    HEADER_NAME.test(name) &&
    !RESERVED_HEADERS.has(name.toLowerCase()) &&
    !CONTROL_CHARACTERS.test(value) &&
    name.length + 2 + value.length <= MAX_HEADER_LINE_CHARS
  );
}

/** The fields of a parsed message that the checks across fields read. */
interface CrossFieldInput {
  text?: string | undefined;
  html?: string | undefined;
  notBefore?: string | undefined;
  expiresAt?: string | undefined;
}

/**
 * Checks the rules that involve more than one field of a parsed message, with dates as ISO
 * strings in UTC. Calls `report` once for each broken rule.
 */
export function checkMessageFields(
  message: CrossFieldInput,
  report: (path: string, message: string) => void,
): void {
  if (message.text === undefined && message.html === undefined) {
    report('text', 'a message needs text, html or both');
  }
  if (message.expiresAt && Date.parse(message.expiresAt) <= Date.now()) {
    report('expiresAt', `expiresAt ${message.expiresAt} is already in the past`);
  }
  if (message.notBefore && message.expiresAt && message.expiresAt <= message.notBefore) {
    report('expiresAt', 'expiresAt must be later than notBefore');
  }
}
