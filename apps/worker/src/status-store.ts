import type { DeliveryState, PostroomKeys, RedisConnection, ReplyClass } from '@postroom/core';

export interface StatusUpdate {
  state: DeliveryState;
  messageId?: string;
  mailbox?: string;
  enqueuedAt?: string;
  waitReason?: string;
  nextAttemptAt?: string;
  sentAt?: string;
  reply?: string;
  failureClass?: ReplyClass;
  failureReason?: string;
  rejectedRecipients?: string[];
}

/** Writes the delivery record that `MailClient.status()` and `postroom status` read. */
export class StatusStore {
  readonly #redis: RedisConnection;
  readonly #keys: PostroomKeys;
  readonly #retentionMs: number;

  constructor(redis: RedisConnection, keys: PostroomKeys, retentionMs: number) {
    this.#redis = redis;
    this.#keys = keys;
    this.#retentionMs = retentionMs;
  }

  async update(jobId: string, update: StatusUpdate): Promise<void> {
    const key = this.#keys.status(jobId);
    const { rejectedRecipients, ...fields } = update;
    const values: Record<string, string> = {};
    for (const [name, value] of Object.entries(fields)) {
      if (value !== undefined) values[name] = String(value);
    }
    if (rejectedRecipients) values.rejectedRecipients = JSON.stringify(rejectedRecipients);

    const stale = ['waitReason', 'nextAttemptAt'].filter((name) => !(name in values));
    const pipeline = this.#redis.multi().hset(key, values);
    if (stale.length > 0) pipeline.hdel(key, ...stale);
    await pipeline.pexpire(key, this.#retentionMs).exec();
  }

  /** Returns why the job last waited, such as `throttled`, if it did. */
  async lastWaitReason(jobId: string): Promise<string | undefined> {
    return (await this.#redis.hget(this.#keys.status(jobId), 'waitReason')) ?? undefined;
  }

  /** Counts one more failed attempt and returns the new total. */
  async addAttempt(jobId: string): Promise<number> {
    return this.#redis.hincrby(this.#keys.status(jobId), 'attempts', 1);
  }

  /** Counts one more wait for an access token and returns the new total. */
  async addTokenWait(jobId: string): Promise<number> {
    return this.#redis.hincrby(this.#keys.status(jobId), 'tokenWaits', 1);
  }
}
