/**
 * `@postroom/client`: the producer SDK of Postroom. Validates mail, enqueues it for Postroom
 * workers, and reports what happened to each message.
 */
export {
  ConfigError,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_QUEUE_NAME,
  type DeliveryState,
  type DeliveryStatus,
  IdempotencyConflictError,
  type MailAddress,
  type MessageInput,
  PostroomError,
  type ReplyClass,
  SenderNotAllowedError,
  ValidationError,
  type ValidationIssue,
} from '@postroom/core';
export { MailClient, type SendOptions } from './client.js';
export { DEFAULT_MAX_RETRIES_PER_REQUEST } from './connection.js';
export type { SendResult } from './enqueue.js';
export {
  DEFAULT_IDEMPOTENCY_WINDOW_MS,
  DEFAULT_SENDER_CACHE_MS,
  type MailClientOptions,
} from './options.js';
