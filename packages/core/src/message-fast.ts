import { z } from 'zod';
import { type MailAddress, parseAddress, parseMailbox } from './address.js';
import type { Message } from './message.js';
import {
  CONTAINER_CONTENT_TYPE,
  CONTENT_ID,
  CONTENT_TYPE,
  checkMessageFields,
  DISPOSITIONS,
  FILENAME_SEPARATORS,
  hasControlCharacters,
  IDEMPOTENCY_KEY,
  isBase64,
  isoDateTime,
  isValidHeader,
  MAX_ATTACHMENTS,
  MAX_FILENAME_CHARS,
  MAX_HEADER_LINE_CHARS,
  MAX_TAGS,
  PRIORITIES,
  TAG,
} from './message-rules.js';

// Keys of each strict object of `messageSchema`, in the schema's order. The output objects get
// their keys in this order, as zod builds them, because `hashMessage` serializes them as they are.
const MESSAGE_KEYS = new Set([
  'from',
  'to',
  'cc',
  'bcc',
  'replyTo',
  'subject',
  'text',
  'html',
  'headers',
  'attachments',
  'priority',
  'notBefore',
  'expiresAt',
  'idempotencyKey',
  'tags',
]);
const ADDRESS_KEYS = new Set(['name', 'address']);
const ATTACHMENT_KEYS = new Set(['filename', 'content', 'contentType', 'contentId', 'disposition']);
const PRIORITY_SET = new Set<unknown>(PRIORITIES);
const DISPOSITION_SET = new Set<unknown>(DISPOSITIONS);

// zod's own object tests, so that both paths take the same inputs for an object and a record.
const { isObject, isPlainObject } = z.core.util;

/** Marks a field value that `messageSchema` would reject. */
const INVALID = Symbol('invalid');
/** Marks an optional field that the input does not have. */
const ABSENT = Symbol('absent');

type Fields = Record<PropertyKey, unknown>;
interface MessageFields {
  from?: unknown;
  to?: unknown;
  cc?: unknown;
  bcc?: unknown;
  replyTo?: unknown;
  subject?: unknown;
  text?: unknown;
  html?: unknown;
  headers?: unknown;
  attachments?: unknown;
  priority?: unknown;
  notBefore?: unknown;
  expiresAt?: unknown;
  idempotencyKey?: unknown;
  tags?: unknown;
}
type FieldParser = (value: unknown) => unknown;

/**
 * Parses a message with plain checks, several times faster than `messageSchema` and with far
 * fewer allocations. Returns what `messageSchema.parse` returns, or undefined when the schema
 * would reject the input, so that the caller runs the schema to list the problems. Both must
 * accept the same inputs and return equal values with keys in the same order. The property test
 * in `message-fast.test.ts` compares them on generated valid and invalid messages.
 */
export function parseMessageFast(input: unknown): Message | undefined {
  if (!isObject(input) || hasUnknownKey(input, MESSAGE_KEYS)) return undefined;
  const fields = input as MessageFields;

  // Each field is read by name, so that the common shapes of input stay fast property loads.
  const from = parseAddressValue(fields.from);
  const to = readOptional(fields, 'to', fields.to, parseAddressList);
  const cc = readOptional(fields, 'cc', fields.cc, parseAddressList);
  const bcc = readOptional(fields, 'bcc', fields.bcc, parseAddressList);
  const replyTo = readOptional(fields, 'replyTo', fields.replyTo, parseAddressList);
  const subject = parseSubject(fields.subject);
  const text = readOptional(fields, 'text', fields.text, parseString);
  const html = readOptional(fields, 'html', fields.html, parseString);
  const headers = readOptional(fields, 'headers', fields.headers, parseHeaders);
  const attachments = readOptional(fields, 'attachments', fields.attachments, parseAttachments);
  const priority = parsePriority(fields.priority);
  const notBefore = readOptional(fields, 'notBefore', fields.notBefore, parseDateTime);
  const expiresAt = readOptional(fields, 'expiresAt', fields.expiresAt, parseDateTime);
  const idempotencyKey = readOptional(
    fields,
    'idempotencyKey',
    fields.idempotencyKey,
    parseIdempotencyKey,
  );
  const tags = readOptional(fields, 'tags', fields.tags, parseTags);

  const valid =
    from !== INVALID &&
    to !== INVALID &&
    cc !== INVALID &&
    bcc !== INVALID &&
    replyTo !== INVALID &&
    subject !== INVALID &&
    text !== INVALID &&
    html !== INVALID &&
    headers !== INVALID &&
    attachments !== INVALID &&
    priority !== INVALID &&
    notBefore !== INVALID &&
    expiresAt !== INVALID &&
    idempotencyKey !== INVALID &&
    tags !== INVALID;
  if (!valid) return undefined;

  // Keys are added in the schema's order, and an absent optional field stays absent.
  const message: Fields = { from };
  if (to !== ABSENT) message.to = to;
  if (cc !== ABSENT) message.cc = cc;
  if (bcc !== ABSENT) message.bcc = bcc;
  if (replyTo !== ABSENT) message.replyTo = replyTo;
  message.subject = subject;
  if (text !== ABSENT) message.text = text;
  if (html !== ABSENT) message.html = html;
  if (headers !== ABSENT) message.headers = headers;
  if (attachments !== ABSENT) message.attachments = attachments;
  message.priority = priority;
  if (notBefore !== ABSENT) message.notBefore = notBefore;
  if (expiresAt !== ABSENT) message.expiresAt = expiresAt;
  if (idempotencyKey !== ABSENT) message.idempotencyKey = idempotencyKey;
  if (tags !== ABSENT) message.tags = tags;

  let consistent = true;
  checkMessageFields(message as Message, () => {
    consistent = false;
  });
  return consistent ? (message as Message) : undefined;
}

// zod's `.optional()`: an absent key stays absent, a key present with `undefined` is kept as
// `undefined`, any other value must parse.
function readOptional(fields: object, key: string, value: unknown, parse: FieldParser): unknown {
  if (value !== undefined) return parse(value);
  return key in fields ? undefined : ABSENT;
}

// Like readOptional, for the fields of an attachment: copies the parsed value into `to`.
function copyOptional(from: Fields, to: Fields, key: string, parse: FieldParser): boolean {
  const value = from[key];
  if (value === undefined) {
    if (key in from) to[key] = undefined;
    return true;
  }
  return copyRequired(from, to, key, parse);
}

function copyRequired(from: Fields, to: Fields, key: string, parse: FieldParser): boolean {
  const parsed = parse(from[key]);
  if (parsed === INVALID) return false;
  to[key] = parsed;
  return true;
}

// zod's strict object: `for...in` includes inherited enumerable keys, and so must this check.
function hasUnknownKey(value: object, allowed: ReadonlySet<string>): boolean {
  for (const key in value) {
    if (!allowed.has(key)) return true;
  }
  return false;
}

function parseAddressValue(value: unknown): MailAddress | typeof INVALID {
  let parsed: MailAddress | string;
  if (typeof value === 'string') {
    parsed = parseAddress(value);
  } else if (isObject(value) && !hasUnknownKey(value, ADDRESS_KEYS)) {
    const { name, address } = value as Fields;
    if (typeof address !== 'string') return INVALID;
    if (name !== undefined && typeof name !== 'string') return INVALID;
    parsed = parseMailbox(name, address);
  } else {
    return INVALID;
  }
  return typeof parsed === 'string' ? INVALID : parsed;
}

// A single address counts as a list of one, as in the schema's preprocess step.
function parseAddressList(value: unknown): MailAddress[] | typeof INVALID {
  if (!Array.isArray(value)) {
    const parsed = parseAddressValue(value);
    return parsed === INVALID ? INVALID : [parsed];
  }

  const list: MailAddress[] = [];
  for (let index = 0; index < value.length; index++) {
    const parsed = parseAddressValue(value[index]);
    if (parsed === INVALID) return INVALID;
    list.push(parsed);
  }
  return list;
}

function parseSubject(value: unknown): string | typeof INVALID {
  if (typeof value !== 'string' || hasControlCharacters(value)) return INVALID;
  if (value.length < 1 || value.length > MAX_HEADER_LINE_CHARS) return INVALID;
  return value;
}

function parseString(value: unknown): string | typeof INVALID {
  return typeof value === 'string' ? value : INVALID;
}

// zod's record: own enumerable keys in `Reflect.ownKeys` order, `__proto__` dropped, and a
// symbol key rejected because the key schema is `z.string()`.
function parseHeaders(value: unknown): Record<string, string> | typeof INVALID {
  if (!isPlainObject(value)) return INVALID;
  const fields = value as Fields;
  const headers: Record<string, string> = {};
  for (const key of Reflect.ownKeys(fields)) {
    if (key === '__proto__' || !Object.prototype.propertyIsEnumerable.call(fields, key)) continue;
    if (typeof key !== 'string') return INVALID;

    const headerValue = fields[key];
    if (typeof headerValue !== 'string' || !isValidHeader(key, headerValue)) return INVALID;
    headers[key] = headerValue;
  }
  return headers;
}

function parseAttachments(value: unknown): Fields[] | typeof INVALID {
  if (!Array.isArray(value) || value.length > MAX_ATTACHMENTS) return INVALID;
  const attachments: Fields[] = [];
  for (let index = 0; index < value.length; index++) {
    const attachment = parseAttachment(value[index]);
    if (attachment === INVALID) return INVALID;
    attachments.push(attachment);
  }
  return attachments;
}

function parseAttachment(value: unknown): Fields | typeof INVALID {
  if (!isObject(value) || hasUnknownKey(value, ATTACHMENT_KEYS)) return INVALID;
  const fields = value as Fields;
  const attachment: Fields = {};
  const valid =
    copyRequired(fields, attachment, 'filename', parseFilename) &&
    copyRequired(fields, attachment, 'content', parseContent) &&
    copyOptional(fields, attachment, 'contentType', parseContentType) &&
    copyOptional(fields, attachment, 'contentId', parseContentId) &&
    copyOptional(fields, attachment, 'disposition', parseDisposition);
  return valid ? attachment : INVALID;
}

function parseFilename(value: unknown): string | typeof INVALID {
  if (typeof value !== 'string' || hasControlCharacters(value)) return INVALID;
  if (value.length < 1 || value.length > MAX_FILENAME_CHARS) return INVALID;
  return FILENAME_SEPARATORS.test(value) ? INVALID : value;
}

function parseContent(value: unknown): string | typeof INVALID {
  return typeof value === 'string' && isBase64(value) ? value : INVALID;
}

function parseContentType(value: unknown): string | typeof INVALID {
  if (typeof value !== 'string' || hasControlCharacters(value)) return INVALID;
  return CONTENT_TYPE.test(value) && !CONTAINER_CONTENT_TYPE.test(value) ? value : INVALID;
}

function parseContentId(value: unknown): string | typeof INVALID {
  if (typeof value !== 'string' || hasControlCharacters(value)) return INVALID;
  return CONTENT_ID.test(value) ? value : INVALID;
}

function parseDisposition(value: unknown): unknown {
  return DISPOSITION_SET.has(value) ? value : INVALID;
}

// zod's `.default('normal')` replaces `undefined` whether the key is absent or present.
function parsePriority(value: unknown): unknown {
  if (value === undefined) return 'normal';
  return PRIORITY_SET.has(value) ? value : INVALID;
}

// Dates are rare and their format check is zod's own pattern, so this field runs its schema.
function parseDateTime(value: unknown): string | typeof INVALID {
  const result = isoDateTime.safeParse(value);
  return result.success ? result.data : INVALID;
}

function parseIdempotencyKey(value: unknown): string | typeof INVALID {
  return typeof value === 'string' && IDEMPOTENCY_KEY.test(value) ? value : INVALID;
}

function parseTags(value: unknown): string[] | typeof INVALID {
  if (!Array.isArray(value) || value.length > MAX_TAGS) return INVALID;
  const tags: string[] = [];
  for (let index = 0; index < value.length; index++) {
    const tag: unknown = value[index];
    if (typeof tag !== 'string' || !TAG.test(tag)) return INVALID;
    tags.push(tag);
  }
  return tags;
}
