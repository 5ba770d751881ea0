/** Queue name used when callers give none. */
export const DEFAULT_QUEUE_NAME = 'postroom';

/**
 * Queue names that both the worker and the SDK accept. The name becomes part of every Redis key
 * of the queue, so it excludes `:`, which separates key parts, and `{` and `}`, the hash tag.
 */
export const QUEUE_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
/** The rule of QUEUE_NAME_PATTERN, worded for error messages. */
export const QUEUE_NAME_RULE = 'must be 1 to 64 ASCII letters, digits, _ or -';

/**
 * BullMQ key prefix. The braces are a Redis Cluster hash tag: every key of a queue hashes to one
 * slot, which BullMQ's multi-key scripts and the mailbox gate both require.
 */
export const KEY_PREFIX = '{postroom}';

/** BullMQ job name of a message submission. */
export const SEND_JOB_NAME = 'send';

/** Builds the Redis keys Postroom owns beside BullMQ's, all under the same hash tag. */
export function postroomKeys(queueName: string) {
  const base = `${KEY_PREFIX}:${queueName}`;
  return {
    /** Hash of mailbox address to its published settings (limits, Send As addresses). */
    mailboxRegistry: `${base}:mailboxes`,
    /** String: `jobId payloadHash` for an idempotency key, expiring with the idempotency window. */
    idempotency: (key: string) => `${base}:idem:${key}`,
    /** Hash: the delivery record of one job (state, reply, attempts, timestamps). */
    status: (jobId: string) => `${base}:status:${jobId}`,
    /**
     * Pub/sub channel: the gate publishes a mailbox address on it when a job found all of the
     * mailbox's connection leases taken, so that replicas holding idle connections close one.
     */
    leaseWanted: `${base}:lease-wanted`,
    /** Hash: the submission record of one message (state, owner, reply), keyed by Message-ID. */
    submission: (messageId: string) => `${base}:submitted:${messageId}`,
    /** Per-mailbox gate keys: next slot, leases, recipients, health, reservations, rate log. */
    mailbox: (address: string) => ({
      nextSlot: `${base}:mb:${address}:tat`,
      leases: `${base}:mb:${address}:leases`,
      recipients: `${base}:mb:${address}:rcpt`,
      health: `${base}:mb:${address}:health`,
      reservations: `${base}:mb:${address}:reservations`,
      rateLog: `${base}:mb:${address}:sends`,
      parked: `${base}:mb:${address}:parked`,
      enqueued: `${base}:mb:${address}:enqueued`,
      authVerified: `${base}:mb:${address}:auth-ok`,
      authProbe: `${base}:mb:${address}:auth-probe`,
    }),
  };
}

export type PostroomKeys = ReturnType<typeof postroomKeys>;
