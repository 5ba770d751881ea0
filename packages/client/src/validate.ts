import {
  hashMessage,
  type Message,
  type ParseMessageOptions,
  parseMessage,
  ValidationError,
  type ValidationIssue,
} from '@postroom/core';
import type { MailboxSnapshot } from './registry.js';

/**
 * Validates one message against the shared schema, the payload limit and the registry's
 * recipients limit for its sender. Throws ValidationError listing every problem, then
 * SenderNotAllowedError when the registry does not list the `from` address.
 */
export function validateMessage(
  input: unknown,
  registry: MailboxSnapshot,
  maxPayloadBytes: number,
): Message {
  const message = parseMessage(input, parseOptions(registry, maxPayloadBytes));
  registry.assertSenderAllowed(message.from.address);
  return message;
}

/**
 * Validates every message of a batch before any is enqueued. Throws one ValidationError whose
 * issue paths start with the message's index, such as `[3].to[0]`. Two messages that share an
 * idempotency key must be equal, because one key names one message.
 */
export function validateBatch(
  inputs: readonly unknown[],
  registry: MailboxSnapshot,
  maxPayloadBytes: number,
): Message[] {
  const issues: ValidationIssue[] = [];
  const messages: Message[] = [];

  // Schema problems of every message come first, so that the caller sees them all at once.
  const options = parseOptions(registry, maxPayloadBytes);
  inputs.forEach((input, index) => {
    try {
      messages.push(parseMessage(input, options));
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      issues.push(...error.issues.map((issue) => prefixIssue(index, issue)));
    }
  });
  if (issues.length === 0) issues.push(...findKeyConflicts(messages));
  if (issues.length > 0) {
    throw new ValidationError(`invalid messages in batch, nothing was enqueued`, issues);
  }

  for (const message of messages) registry.assertSenderAllowed(message.from.address);
  return messages;
}

/**
 * Applies the `idempotencyKey` option of `send` to the message, so that the schema checks it and
 * the worker receives it. A different key inside the message is an error rather than a silent choice.
 */
export function withIdempotencyKey(input: unknown, key: string | undefined): unknown {
  if (key === undefined || typeof input !== 'object' || input === null || Array.isArray(input)) {
    return input;
  }
  const inner = (input as { idempotencyKey?: unknown }).idempotencyKey;
  if (inner !== undefined && inner !== key) {
    throw new ValidationError('invalid message', [
      {
        path: 'idempotencyKey',
        message: `idempotencyKey option "${key}" differs from the message's idempotencyKey "${String(inner)}"; set only one`,
      },
    ]);
  }
  return { ...input, idempotencyKey: key };
}

// The registry's recipients limit for the sender applies when it publishes one.
function parseOptions(registry: MailboxSnapshot, maxPayloadBytes: number): ParseMessageOptions {
  if (registry.isEmpty) return { maxPayloadBytes };
  return {
    maxPayloadBytes,
    maxRecipientsFor: (fromAddress) => registry.maxRecipientsFor(fromAddress),
  };
}

function prefixIssue(index: number, issue: ValidationIssue): ValidationIssue {
  const separator = issue.path === '' || issue.path.startsWith('[') ? '' : '.';
  return { path: `[${index}]${separator}${issue.path}`, message: issue.message };
}

// Hashes only messages whose key occurs more than once in the batch, because most keys occur once.
function findKeyConflicts(messages: readonly Message[]): ValidationIssue[] {
  const countByKey = new Map<string, number>();
  for (const message of messages) {
    const key = message.idempotencyKey;
    if (key !== undefined) countByKey.set(key, (countByKey.get(key) ?? 0) + 1);
  }

  const firstByKey = new Map<string, { index: number; hash: string }>();
  const issues: ValidationIssue[] = [];
  messages.forEach((message, index) => {
    const key = message.idempotencyKey;
    if (key === undefined || countByKey.get(key) === 1) return;

    const hash = hashMessage(message);
    const first = firstByKey.get(key);
    if (!first) {
      firstByKey.set(key, { index, hash });
    } else if (first.hash !== hash) {
      issues.push({
        path: `[${index}].idempotencyKey`,
        message: `idempotency key "${key}" is also used by message [${first.index}] with different content; use a new key for a different message`,
      });
    }
  });
  return issues;
}
