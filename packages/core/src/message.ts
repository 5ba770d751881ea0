import { z } from 'zod';
import { CONTROL_CHARACTERS, type MailAddress, parseAddress } from './address.js';
import { ValidationError, type ValidationIssue } from './errors.js';
import { parseMessageFast } from './message-fast.js';
import { toValidationIssue } from './message-issues.js';
import {
  CONTAINER_CONTENT_TYPE,
  CONTAINER_CONTENT_TYPE_RULE,
  CONTENT_ID,
  CONTENT_TYPE,
  checkHeader,
  checkMessageFields,
  DISPOSITIONS,
  FILENAME_SEPARATORS,
  IDEMPOTENCY_KEY,
  isBase64,
  isoDateTime,
  MAX_ATTACHMENTS,
  MAX_FILENAME_CHARS,
  MAX_HEADER_LINE_CHARS,
  MAX_TAGS,
  PRIORITIES,
  TAG,
} from './message-rules.js';

/** Exchange Online's default recipients-per-message limit (To + Cc + Bcc). */
export const DEFAULT_MAX_RECIPIENTS_PER_MESSAGE = 500;
/** Default cap on a serialized job payload, in bytes. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;

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
    .max(MAX_FILENAME_CHARS, `attachment filename must be at most ${MAX_FILENAME_CHARS} characters`)
    .refine(
      (name) => !FILENAME_SEPARATORS.test(name),
      'attachment filename must not contain / or \\',
    ),
  content: z
    .string()
    .refine(isBase64, 'attachment content must be standard base64 without line breaks'),
  contentType: noControl('attachment contentType')
    .regex(CONTENT_TYPE, 'attachment contentType must look like type/subtype')
    .refine((value) => !CONTAINER_CONTENT_TYPE.test(value), CONTAINER_CONTENT_TYPE_RULE)
    .optional(),
  contentId: noControl('attachment contentId')
    .regex(CONTENT_ID, 'attachment contentId must be 1 to 250 characters without <, > or spaces')
    .optional(),
  disposition: z.enum(DISPOSITIONS).optional(),
});

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
    attachments: z
      .array(attachment)
      .max(MAX_ATTACHMENTS, `at most ${MAX_ATTACHMENTS} attachments per message`)
      .optional(),
    priority: z.enum(PRIORITIES).default('normal'),
    notBefore: isoDateTime.optional(),
    expiresAt: isoDateTime.optional(),
    idempotencyKey: z
      .string()
      .regex(IDEMPOTENCY_KEY, 'idempotencyKey must be 1 to 256 printable ASCII characters')
      .optional(),
    tags: z
      .array(z.string().regex(TAG, 'tags must match [A-Za-z0-9_.:-]{1,64}'))
      .max(MAX_TAGS)
      .optional(),
  })
  .superRefine((message, ctx) => {
    checkMessageFields(message, (path, text) => {
      ctx.addIssue({ code: 'custom', message: text, path: [path] });
    });
  });

/** A message as callers write it: addresses may be strings, dates may be Date objects. */
export type MessageInput = z.input<typeof messageSchema>;
/** A validated message: addresses parsed, lists normalized to arrays, dates as ISO strings. */
export type Message = z.output<typeof messageSchema>;

export interface ParseMessageOptions {
  /** Cap on To + Cc + Bcc. Default 500, Exchange Online's recipients-per-message limit. */
  maxRecipients?: number;
  /**
   * Returns the cap on To + Cc + Bcc for the parsed `from` address. When it returns undefined,
   * or is not given, `maxRecipients` applies.
   */
  maxRecipientsFor?: (fromAddress: string) => number | undefined;
  /** Cap on the serialized message, in bytes. Default 10 MB. */
  maxPayloadBytes?: number;
}

/**
 * Validates and normalizes a message. Throws ValidationError listing every problem, each with
 * the field path and the limit it broke.
 */
export function parseMessage(input: unknown, options: ParseMessageOptions = {}): Message {
  // The fast parser accepts what the schema accepts; zod runs only to describe a rejection.
  const message = parseMessageFast(input) ?? parseWithSchema(input);

  const issues = checkLimits(message, options);
  if (issues.length > 0) throw new ValidationError('invalid message', issues);
  return message;
}

function parseWithSchema(input: unknown): Message {
  // The issues then carry the input, so that a wrong type can be named. Only its type is reported.
  const result = messageSchema.safeParse(input, { reportInput: true });
  if (!result.success) {
    throw new ValidationError('invalid message', result.error.issues.map(toValidationIssue));
  }
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
  const maxRecipients =
    options.maxRecipientsFor?.(message.from.address) ??
    options.maxRecipients ??
    DEFAULT_MAX_RECIPIENTS_PER_MESSAGE;
  const recipientCount =
    (message.to?.length ?? 0) + (message.cc?.length ?? 0) + (message.bcc?.length ?? 0);

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
  // Serializing costs more than the bound, and only messages near the limit need the exact size.
  if (maxJsonBytes(message) > maxPayloadBytes) {
    const payloadBytes = Buffer.byteLength(JSON.stringify(message));
    if (payloadBytes > maxPayloadBytes) {
      issues.push({
        path: '',
        message: `serialized message is ${payloadBytes} bytes, over the limit of ${maxPayloadBytes} bytes; send large files as links`,
      });
    }
  }
  return issues;
}

/**
 * Returns an upper bound of the UTF-8 bytes of `JSON.stringify(value)` for plain data. A UTF-16
 * code unit takes at most 6 bytes (an escape such as `\u001f`), any other primitive at most 24,
 * and quotes, colons, commas and brackets are all counted.
 */
export function maxJsonBytes(value: unknown): number {
  if (typeof value === 'string') return value.length * 6 + 2;
  if (typeof value !== 'object' || value === null) return 24;

  let bytes = 2;
  if (Array.isArray(value)) {
    for (const item of value) bytes += maxJsonBytes(item) + 1;
    return bytes;
  }
  for (const key in value) {
    bytes += key.length * 6 + 4 + maxJsonBytes((value as Record<string, unknown>)[key]);
  }
  return bytes;
}
