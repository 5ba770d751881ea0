import { createHash, randomUUID } from 'node:crypto';
import type { Message } from './message.js';

/** What a queued job carries. `version` lets a newer worker read jobs of older producers. */
export interface JobPayload {
  version: 1;
  message: Message;
  /** RFC 5322 Message-ID, fixed at enqueue so that every attempt sends the same one. */
  messageId: string;
  /** Time the producer accepted the message, in ms since the epoch. */
  enqueuedAtMs: number;
  /** SHA-256 of the normalized message; compares payloads that reuse an idempotency key. */
  payloadHash: string;
}

/** Creates a job id. Ids never contain `:`, which BullMQ rejects in custom ids. */
export function createJobId(): string {
  return `msg_${randomUUID().replaceAll('-', '')}`;
}

/** Creates a Message-ID in the sender's domain, such as `<3f2a...@example.com>`. */
export function createMessageId(fromAddress: string): string {
  const domain = fromAddress.slice(fromAddress.lastIndexOf('@') + 1);
  return `<${randomUUID()}@${domain}>`;
}

/** Hashes a normalized message; the idempotency key itself is left out. */
export function hashMessage(message: Message): string {
  const { idempotencyKey: _ignored, ...content } = message;
  return createHash('sha256').update(stableStringify(content)).digest('hex');
}

export function createJobPayload(message: Message, nowMs: number = Date.now()): JobPayload {
  return {
    version: 1,
    message,
    messageId: createMessageId(message.from.address),
    enqueuedAtMs: nowMs,
    payloadHash: hashMessage(message),
  };
}

// JSON with object keys sorted, so that equal messages hash equally whatever the key order.
function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${stableStringify(item)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
