import type { RedisConnection } from '@postroom/core';
import {
  type DeliveryStatus,
  type JobPayload,
  KEY_PREFIX,
  type MessageInput,
  PostroomError,
  type PostroomKeys,
  postroomKeys,
  type SEND_JOB_NAME,
  ValidationError,
} from '@postroom/core';
import { Queue } from 'bullmq';
import { closeConnection, openConnection } from './connection.js';
import { type BulkJob, planJobs, type SendResult } from './enqueue.js';
import { assignFairPriorities } from './fairness.js';
import { execPipeline, IdempotencyStore } from './idempotency.js';
import { type ClientSettings, type MailClientOptions, resolveSettings } from './options.js';
import { MailboxRegistry } from './registry.js';
import { needsJobData, type SendJob, statusFromJob, statusFromRecord } from './status.js';
import { validateBatch, validateMessage, withIdempotencyKey } from './validate.js';

/** Options of a single {@link MailClient.send}. */
export interface SendOptions {
  /**
   * Makes the send idempotent: a repeated key returns the first message's id with
   * `duplicate: true` for as long as `idempotencyWindowMs`. When the message also has an
   * `idempotencyKey`, the two must be equal.
   */
  idempotencyKey?: string;
}

type SendQueue = Queue<JobPayload, unknown, typeof SEND_JOB_NAME>;

// Job states from which `cancel` may remove a job. BullMQ rejects removing a locked (active) job.
const CANCELLABLE_STATES = new Set(['waiting', 'prioritized', 'delayed']);

/**
 * Producer of Postroom mail: validates messages and enqueues them as BullMQ jobs for the
 * workers, and reads what happened to them. One instance per process is enough, and its methods
 * are safe to call concurrently.
 */
export class MailClient {
  readonly #settings: ClientSettings;
  readonly #redis: RedisConnection;
  readonly #ownsRedis: boolean;
  readonly #keys: PostroomKeys;
  readonly #registry: MailboxRegistry;
  #queue: SendQueue | undefined;
  #idempotency: IdempotencyStore | undefined;
  #closing: Promise<void> | undefined;

  /** Checks the options and connects. Throws ConfigError when an option is invalid. */
  constructor(options: MailClientOptions) {
    this.#settings = resolveSettings(options);
    const { redis, owned } = openConnection(options.connection, this.#settings.onError);
    this.#redis = redis;
    this.#ownsRedis = owned;
    this.#keys = postroomKeys(this.#settings.queueName);
    this.#registry = new MailboxRegistry(
      redis,
      this.#keys.mailboxRegistry,
      this.#settings.senderCacheMs,
    );
  }

  /**
   * Validates a message and enqueues it. Resolves once the job is stored in Redis.
   *
   * @throws ValidationError listing every problem; nothing was enqueued.
   * @throws SenderNotAllowedError when workers publish their mailboxes and none serves `from`.
   * @throws IdempotencyConflictError when the key was used for a different message.
   * @throws Redis errors (such as OOM or a lost connection) as ioredis reports them.
   */
  async send(message: MessageInput, options: SendOptions = {}): Promise<SendResult> {
    this.#assertOpen();
    const registry = await this.#registry.load();
    const input = withIdempotencyKey(message, options.idempotencyKey);
    const parsed = validateMessage(input, registry, this.#settings.maxPayloadBytes);

    const [result] = await this.#enqueue([parsed]);
    return result as SendResult;
  }

  /**
   * Validates every message, then enqueues them all: one `addBulk` pipeline for the jobs, plus a
   * few pipelined round trips for messages with idempotency keys. Results are in input order.
   *
   * @throws ValidationError with paths prefixed by the index, such as `[3].to[0]`, when any
   *   message is invalid; nothing was enqueued.
   * @throws SenderNotAllowedError, IdempotencyConflictError or a Redis error, as `send` does. A
   *   conflict enqueues nothing. A Redis error while adding may leave part of the batch enqueued;
   *   sending the batch again with idempotency keys enqueues only the rest.
   */
  async sendMany(messages: readonly MessageInput[]): Promise<SendResult[]> {
    this.#assertOpen();
    if (!Array.isArray(messages)) {
      throw new ValidationError('invalid batch', [
        { path: '', message: 'sendMany expects an array of messages' },
      ]);
    }
    if (messages.length === 0) return [];

    const registry = await this.#registry.load();
    const parsed = validateBatch(messages, registry, this.#settings.maxPayloadBytes);
    return this.#enqueue(parsed);
  }

  /**
   * Returns the delivery status of a job, or undefined when no job and no status record exist
   * (an unknown id, or one older than the retention of finished jobs).
   */
  async status(id: string): Promise<DeliveryStatus | undefined> {
    this.#assertOpen();
    const record = await this.#redis.hgetall(this.#keys.status(id));
    const hasRecord = Object.keys(record).length > 0;
    if (hasRecord && !needsJobData(record))
      return statusFromRecord(id, record, undefined, undefined);

    const job: SendJob | undefined = await this.#getQueue().getJob(id);
    const jobState = job ? await job.getState() : undefined;
    if (hasRecord) return statusFromRecord(id, record, job, jobState);
    if (!job || !jobState) return undefined;
    return statusFromJob(id, job, jobState);
  }

  /**
   * Cancels a job that no worker has started: removes it from the queue and records the state
   * `cancelled`. Returns false when the job is being sent, has finished, or does not exist.
   */
  async cancel(id: string): Promise<boolean> {
    this.#assertOpen();
    const job: SendJob | undefined = await this.#getQueue().getJob(id);
    if (!job || !CANCELLABLE_STATES.has(await job.getState())) return false;

    try {
      // NOTE: a worker can take and finish the job between getState and remove. The removal then
      // deletes the finished job, so a message that was sent is reported as cancelled.
      await job.remove();
    } catch (error) {
      // remove() fails when a worker has locked the job meanwhile. Any other cause is re-thrown.
      if (!CANCELLABLE_STATES.has(await job.getState())) return false;
      throw error;
    }

    await this.#recordCancelled(id, job);
    return true;
  }

  /**
   * Closes the queue, then the Redis connection if the client created it. A caller's ioredis
   * client stays open. Safe to call more than once, because later calls return the same promise.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async #enqueue(messages: Parameters<typeof planJobs>[0]): Promise<SendResult[]> {
    const { jobs, results } = await planJobs(
      messages,
      this.#getIdempotencyStore(),
      this.#settings.idempotencyWindowMs,
    );
    if (jobs.length > 0) {
      await assignFairPriorities(this.#redis, this.#keys, jobs);
      await this.#addJobs(jobs);
    }
    return results;
  }

  // A single job skips `addBulk`, whose ioredis pipeline copies every script that BullMQ defined
  // on the connection, which costs more client CPU than the add script call itself.
  async #addJobs(jobs: BulkJob[]): Promise<void> {
    const queue = this.#getQueue();
    const [first] = jobs;
    if (jobs.length === 1 && first) await queue.add(first.name, first.data, first.opts);
    else await queue.addBulk(jobs);
  }

  async #recordCancelled(id: string, job: SendJob): Promise<void> {
    const key = this.#keys.status(id);
    const payload = job.data;
    // HSETNX keeps identity fields that the worker already wrote, such as the resolved mailbox.
    const transaction = this.#redis
      .multi()
      .hset(key, 'state', 'cancelled')
      .hsetnx(key, 'messageId', payload.messageId)
      .hsetnx(key, 'mailbox', payload.message.from.address)
      .hsetnx(key, 'enqueuedAt', new Date(payload.enqueuedAtMs).toISOString())
      .pexpire(key, this.#settings.idempotencyWindowMs);
    await execPipeline(transaction);
  }

  // The queue is created on first use, so that a client that only validates writes nothing.
  #getQueue(): SendQueue {
    if (this.#queue) return this.#queue;

    this.#queue = new Queue<JobPayload, unknown, typeof SEND_JOB_NAME>(this.#settings.queueName, {
      connection: this.#redis,
      prefix: KEY_PREFIX,
      // BullMQ would otherwise wait for a connection without limit before its first command,
      // and keep a failed version check as a permanent failure of the queue. Without both,
      // calls made while Redis is down fail like any other command and later calls recover.
      skipWaitingForReady: true,
      skipVersionCheck: true,
    });
    // The connection reports the same errors on the client itself; see MailClientOptions.onError.
    this.#queue.on('error', () => {});
    return this.#queue;
  }

  #getIdempotencyStore(): IdempotencyStore {
    this.#idempotency ??= new IdempotencyStore(
      this.#redis,
      this.#keys,
      (jobId) => this.#getQueue().toKey(jobId),
      this.#settings.idempotencyWindowMs,
    );
    return this.#idempotency;
  }

  #assertOpen(): void {
    if (this.#closing) {
      throw new PostroomError(
        'POSTROOM_CLIENT_CLOSED',
        'MailClient is closed; create a new MailClient to send again',
      );
    }
  }

  async #shutdown(): Promise<void> {
    await this.#queue?.close();
    if (this.#ownsRedis) await closeConnection(this.#redis, this.#settings.onError);
  }
}
