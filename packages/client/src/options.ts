import {
  ConfigError,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_QUEUE_NAME,
  QUEUE_NAME_PATTERN,
  QUEUE_NAME_RULE,
  type RedisConnection,
  type ValidationIssue,
} from '@postroom/core';
import type { RedisOptions } from 'ioredis';

/** Default time an idempotency key is remembered: 24 hours, in ms. */
export const DEFAULT_IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;

/** Default time the mailbox registry read from Redis is cached, in ms. */
export const DEFAULT_SENDER_CACHE_MS = 5000;

/** Options of a {@link MailClient}. */
export interface MailClientOptions {
  /**
   * Redis to enqueue into: a `redis://` URL, ioredis options, or an ioredis client that the
   * caller owns. `close()` leaves a caller's client open and closes a connection that the
   * client created from a URL or options.
   *
   * Connections created from a URL or options fail a command after 3 reconnection attempts
   * (ioredis `maxRetriesPerRequest: 3`), so `send` rejects within seconds when Redis is down
   * instead of waiting for it to come back. Set `maxRetriesPerRequest` in the options to change
   * that. A caller's client keeps its own setting, and with `maxRetriesPerRequest: null` a call
   * waits until Redis is back.
   */
  connection: string | RedisOptions | RedisConnection;
  /** BullMQ queue name that workers consume. Default `postroom`. */
  queueName?: string;
  /** Maximum size of a message serialized as JSON, in bytes. Default 10 MB. */
  maxPayloadBytes?: number;
  /**
   * How long an idempotency key is remembered, in ms. Default 24 hours. Completed jobs are kept
   * for the same time, so that a repeated key finds its job.
   */
  idempotencyWindowMs?: number;
  /** How long the mailbox registry that workers publish is cached, in ms. Default 5000. */
  senderCacheMs?: number;
  /**
   * Receives errors that the connection reports outside any call, such as a lost connection
   * or a failed reconnection attempt. Errors of a call always reject that call's promise.
   * Default: ignored. Only called for connections that the client created.
   */
  onError?: (error: Error) => void;
}

/** Options after defaults are applied and values are checked. */
export interface ClientSettings {
  queueName: string;
  maxPayloadBytes: number;
  idempotencyWindowMs: number;
  senderCacheMs: number;
  onError: (error: Error) => void;
}

/** Applies defaults and checks every option. Throws ConfigError listing each invalid one. */
export function resolveSettings(options: MailClientOptions): ClientSettings {
  const settings: ClientSettings = {
    queueName: options.queueName ?? DEFAULT_QUEUE_NAME,
    maxPayloadBytes: options.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES,
    idempotencyWindowMs: options.idempotencyWindowMs ?? DEFAULT_IDEMPOTENCY_WINDOW_MS,
    senderCacheMs: options.senderCacheMs ?? DEFAULT_SENDER_CACHE_MS,
    onError: options.onError ?? (() => {}),
  };

  const issues: ValidationIssue[] = [];
  if (options.connection === undefined || options.connection === null) {
    issues.push({ path: 'connection', message: 'connection is required; pass a redis:// URL' });
  }
  if (typeof settings.queueName !== 'string' || !QUEUE_NAME_PATTERN.test(settings.queueName)) {
    issues.push({
      path: 'queueName',
      message: `queueName ${JSON.stringify(settings.queueName)} ${QUEUE_NAME_RULE}, the rule of the worker's POSTROOM_QUEUE_NAME`,
    });
  }
  checkInteger(issues, 'maxPayloadBytes', settings.maxPayloadBytes, 1);
  checkInteger(issues, 'idempotencyWindowMs', settings.idempotencyWindowMs, 1000);
  checkInteger(issues, 'senderCacheMs', settings.senderCacheMs, 0);

  if (issues.length > 0) throw new ConfigError('invalid MailClient options', issues);
  return settings;
}

function checkInteger(issues: ValidationIssue[], name: string, value: number, min: number): void {
  if (Number.isSafeInteger(value) && value >= min) return;
  issues.push({
    path: name,
    message: `${name} must be an integer of at least ${min}, got ${value}`,
  });
}
