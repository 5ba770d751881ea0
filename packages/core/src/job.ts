import { createHash, randomFillSync, randomUUID } from 'node:crypto';
import type { Message } from './message.js';

/** Data of a queued job. `version` lets a newer worker read jobs of older producers. */
export interface JobPayload {
  version: 1;
  message: Message;
  /** RFC 5322 Message-ID, fixed at enqueue so that every attempt sends the same one. */
  messageId: string;
  /** Time the producer accepted the message, in ms since the epoch. */
  enqueuedAtMs: number;
  /**
   * SHA-256 of the normalized message; compares payloads that reuse an idempotency key. Set only
   * when the message has an `idempotencyKey`, because nothing else reads it.
   */
  payloadHash?: string;
}

/**
 * Creates a job id: `msg_` and 128 random bits in hex. Ids never contain `:`, which BullMQ rejects
 * in custom ids.
 */
export function createJobId(): string {
  return `msg_${randomHex(16)}`;
}

// Random bytes come from the CSPRNG in blocks of 4 KiB, because one call per id costs more than
// the id. No byte is used twice.
const RANDOM_POOL_BYTES = 4096;
const randomPool = Buffer.alloc(RANDOM_POOL_BYTES);
let randomPoolOffset = RANDOM_POOL_BYTES;

function randomHex(byteCount: number): string {
  if (randomPoolOffset + byteCount > RANDOM_POOL_BYTES) {
    randomFillSync(randomPool);
    randomPoolOffset = 0;
  }
  const hex = randomPool.toString('hex', randomPoolOffset, randomPoolOffset + byteCount);
  randomPoolOffset += byteCount;
  return hex;
}

/** Creates a Message-ID in the sender's domain, such as `<3f2a...@example.com>`. */
export function createMessageId(fromAddress: string): string {
  const domain = fromAddress.slice(fromAddress.lastIndexOf('@') + 1);
  return `<${randomUUID()}@${domain}>`;
}

/**
 * Hashes a normalized message; the idempotency key itself is left out. Parsing fixes the key
 * order of every object except `headers`, a free-form record, so only its keys are sorted.
 */
export function hashMessage(message: Message): string {
  const { idempotencyKey: _ignored, headers, ...content } = message;
  let sortedHeaders: Record<string, string> | undefined;
  if (headers) {
    const entries = Object.entries(headers).sort(([left], [right]) => (left < right ? -1 : 1));
    sortedHeaders = Object.fromEntries(entries);
  }
  return createHash('sha256')
    .update(JSON.stringify({ ...content, headers: sortedHeaders }))
    .digest('hex');
}

/** Builds the job data of a validated message, with a new Message-ID. */
export function createJobPayload(message: Message, nowMs: number = Date.now()): JobPayload {
  const payload: JobPayload = {
    version: 1,
    message,
    messageId: createMessageId(message.from.address),
    enqueuedAtMs: nowMs,
  };
  if (message.idempotencyKey !== undefined) payload.payloadHash = hashMessage(message);
  return payload;
}
