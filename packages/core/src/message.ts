import { z } from 'zod';
import { CONTROL_CHARACTERS, type MailAddress, parseAddress } from './address.js';
import { ValidationError, type ValidationIssue } from './errors.js';

/** Exchange Online's default recipients-per-message limit (To + Cc + Bcc). */
export const DEFAULT_MAX_RECIPIENTS_PER_MESSAGE = 500;
/** Default cap on a serialized job payload, in bytes. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
/** RFC 5322 limit on a header line, in characters. */
const MAX_HEADER_LINE_CHARS = 998;

// Headers the message fields own; setting them through `headers` would bypass validation.
const RESERVED_HEADERS: Record<string, string> = {
  from: 'from',
  sender: 'from',
  to: 'to',
  cc: 'cc',
  bcc: 'bcc',
  'reply-to': 'replyTo',
  subject: 'subject',
  'message-id': 'idempotencyKey (Postroom sets Message-ID itself)',
  date: 'notBefore',
  'mime-version': 'text, html and attachments',
  'content-type': 'text, html and attachments',
  'content-transfer-encoding': 'text, html and attachments',
  'return-path': 'from',
};

const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+$/;
// A plain character class, so the check stays linear on attachments of many megabytes.
const BASE64_CHARACTERS = /^[A-Za-z0-9+/]*={0,2}$/;
const isBase64 = (value: string) => value.length % 4 === 0 && BASE64_CHARACTERS.test(value);
const TAG = /^[A-Za-z0-9_.:-]{1,64}$/;

const noControl = (field: string) =>
  z.string().refine((value) => !CONTROL_CHARACTERS.test(value), {
    message: `${field} must not contain CR, LF or NUL characters`,
  });

const address = z
  .union([z.string(), z.strictObject({ name: z.string().optional(), address: z.string() })])
  .transform((value, ctx): MailAddress => {
    const parsed = parseAddress(value);
    if (typeof parsed === 'string') {
      ctx.addIssue({ code: 'custom', message: parsed });
      return z.NEVER;
    }
    return parsed;
  });

// A single address is wrapped in an array first, so that errors point at `to[1]` and not `to`.
const addressList = z.preprocess(
  (value) => (value === undefined || Array.isArray(value) ? value : [value]),
  z.array(address),
);

const attachment = z.strictObject({
  filename: noControl('attachment filename')
    .min(1, 'attachment filename must not be empty')
    .max(255, 'attachment filename must be at most 255 characters')
    .refine((name) => !/[\\/]/.test(name), 'attachment filename must not contain / or \\'),
  content: z
    .string()
    .refine(isBase64, 'attachment content must be standard base64 without line breaks'),
  contentType: noControl('attachment contentType')
    .regex(/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/, 'attachment contentType must look like type/subtype')
    .optional(),
  contentId: noControl('attachment contentId')
    .regex(
      /^[^<>\s]{1,250}$/,
      'attachment contentId must be 1 to 250 characters without <, > or spaces',
    )
    .optional(),
  disposition: z.enum(['attachment', 'inline']).optional(),
});

const isoDateTime = z
  .union([z.iso.datetime({ offset: true }), z.date()])
  .transform((value) =>
    value instanceof Date ? value.toISOString() : new Date(value).toISOString(),
  );

const headers = z.record(z.string(), z.string()).superRefine((record, ctx) => {
  for (const [name, value] of Object.entries(record)) {
    checkHeader(name, value, (message) => ctx.addIssue({ code: 'custom', message, path: [name] }));
  }
});

export const messageSchema = z
  .strictObject({
    from: address,
    to: addressList.optional(),
    cc: addressList.optional(),
    bcc: addressList.optional(),
    replyTo: addressList.optional(),
    subject: noControl('subject')
      .min(1, 'subject must not be empty')
      .max(MAX_HEADER_LINE_CHARS, `subject must be at most ${MAX_HEADER_LINE_CHARS} characters`),
    text: z.string().optional(),
    html: z.string().optional(),
    headers: headers.optional(),
    attachments: z.array(attachment).max(250, 'at most 250 attachments per message').optional(),
    priority: z.enum(['high', 'normal', 'low']).default('normal'),
    notBefore: isoDateTime.optional(),
    expiresAt: isoDateTime.optional(),
    idempotencyKey: z
      .string()
      .regex(/^[\x21-\x7e]{1,256}$/, 'idempotencyKey must be 1 to 256 printable ASCII characters')
      .optional(),
    tags: z
      .array(z.string().regex(TAG, 'tags must match [A-Za-z0-9_.:-]{1,64}'))
      .max(20)
      .optional(),
  })
  .superRefine((message, ctx) => {
    if (message.text === undefined && message.html === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: 'a message needs text, html or both',
        path: ['text'],
      });
    }
    if (message.expiresAt && Date.parse(message.expiresAt) <= Date.now()) {
      ctx.addIssue({
        code: 'custom',
        message: `expiresAt ${message.expiresAt} is already in the past`,
        path: ['expiresAt'],
      });
    }
    if (message.notBefore && message.expiresAt && message.expiresAt <= message.notBefore) {
      ctx.addIssue({
        code: 'custom',
        message: 'expiresAt must be later than notBefore',
        path: ['expiresAt'],
      });
    }
  });

/** A message as callers write it: addresses may be strings, dates may be Date objects. */
export type MessageInput = z.input<typeof messageSchema>;
/** A validated message: addresses parsed, lists normalized to arrays, dates as ISO strings. */
export type Message = z.output<typeof messageSchema>;

export interface ParseMessageOptions {
  /** Cap on To + Cc + Bcc. Default 500, Exchange Online's recipients-per-message limit. */
  maxRecipients?: number;
  /** Cap on the serialized message, in bytes. Default 10 MB. */
  maxPayloadBytes?: number;
}

/**
 * Validates and normalizes a message. Throws ValidationError listing every problem, each with
 * the field path and the limit it broke.
 */
export function parseMessage(input: unknown, options: ParseMessageOptions = {}): Message {
  const result = messageSchema.safeParse(input);
  if (!result.success) {
    throw new ValidationError('invalid message', result.error.issues.map(toValidationIssue));
  }

  const issues = checkLimits(result.data, options);
  if (issues.length > 0) throw new ValidationError('invalid message', issues);
  return result.data;
}

/** Lists every recipient address of a message: To, then Cc, then Bcc. */
export function recipientsOf(message: Message): string[] {
  return [...(message.to ?? []), ...(message.cc ?? []), ...(message.bcc ?? [])].map(
    (a) => a.address,
  );
}

function checkLimits(message: Message, options: ParseMessageOptions): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const maxRecipients = options.maxRecipients ?? DEFAULT_MAX_RECIPIENTS_PER_MESSAGE;
  const recipientCount = recipientsOf(message).length;

  if (recipientCount === 0) {
    issues.push({ path: 'to', message: 'a message needs at least one recipient in to, cc or bcc' });
  }
  if (recipientCount > maxRecipients) {
    issues.push({
      path: 'to',
      message: `${recipientCount} recipients in to, cc and bcc exceed the limit of ${maxRecipients}; split the message`,
    });
  }

  const maxPayloadBytes = options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  const payloadBytes = Buffer.byteLength(JSON.stringify(message));
  if (payloadBytes > maxPayloadBytes) {
    issues.push({
      path: '',
      message: `serialized message is ${payloadBytes} bytes, over the limit of ${maxPayloadBytes} bytes; send large files as links`,
    });
  }
  return issues;
}

function checkHeader(name: string, value: string, report: (message: string) => void): void {
  if (!HEADER_NAME.test(name)) {
    report(`header name ${JSON.stringify(name)} must be printable ASCII without spaces or colons`);
    return;
  }
  const owner = Object.hasOwn(RESERVED_HEADERS, name.toLowerCase())
    ? RESERVED_HEADERS[name.toLowerCase()]
    : undefined;
  if (owner) report(`header ${name} cannot be set through headers; use ${owner}`);
  if (CONTROL_CHARACTERS.test(value))
    report(`header ${name} value must not contain CR, LF or NUL characters`);
  if (name.length + 2 + value.length > MAX_HEADER_LINE_CHARS) {
    report(`header ${name} is longer than ${MAX_HEADER_LINE_CHARS} characters`);
  }
}

const URL_OR_PATH_KEYS = new Set(['path', 'href', 'url', 'file', 'filePath']);

function toValidationIssue(issue: z.core.$ZodIssue): ValidationIssue {
  const path = formatPath(issue.path);

  if (issue.code === 'unrecognized_keys') {
    const isAttachment = issue.path[0] === 'attachments';
    if (isAttachment && issue.keys.some((key) => URL_OR_PATH_KEYS.has(key))) {
      return {
        path,
        message: `attachments given as file paths or URLs (${issue.keys.join(', ')}) are not accepted; put the file's bytes in content as base64`,
      };
    }
    return {
      path,
      message: `unknown field ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}; remove it`,
    };
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return { path, message: `${path || 'message'} is required` };
  }
  return { path, message: issue.message };
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) => {
      if (typeof part === 'number') return `[${part}]`;
      return index === 0 ? String(part) : `.${String(part)}`;
    })
    .join('');
}
