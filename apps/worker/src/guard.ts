import type { PostroomKeys, RedisConnection } from '@postroom/core';

/**
 * Claims a submission. KEYS: 1 submission record. ARGV: 1 now, 2 owner, 3 claim expiry, 4 ttl.
 * Returns {'claimed'}, {'sent', reply}, {'unknown'}, {'busy', expiry} or {'abandoned'}.
 */
const CLAIM_SCRIPT = `
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  redis.call('HSET', KEYS[1], 'state', 'inflight', 'owner', ARGV[2], 'until', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
  return {'claimed'}
end
if state == 'sent' then
  return {'sent', redis.call('HGET', KEYS[1], 'reply') or ''}
end
if state == 'unknown' then
  return {'unknown'}
end
local untilMs = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if untilMs > tonumber(ARGV[1]) then
  return {'busy', tostring(untilMs)}
end
return {'abandoned', tostring(untilMs)}
`;

/** Extends a claim its owner still holds. KEYS: 1 record. ARGV: 1 owner, 2 new expiry. */
const EXTEND_SCRIPT = `
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] and redis.call('HGET', KEYS[1], 'state') == 'inflight' then
  redis.call('HSET', KEYS[1], 'until', ARGV[2])
  return 1
end
return 0
`;

export type ClaimResult =
  | { kind: 'claimed' }
  | { kind: 'sent'; reply: string }
  | { kind: 'unknown' }
  | { kind: 'busy'; untilMs: number }
  | { kind: 'abandoned'; untilMs: number };

interface GuardCommands {
  postroomClaim(...args: (string | number)[]): Promise<string[]>;
  postroomExtendClaim(...args: (string | number)[]): Promise<number>;
}

/**
 * The record, keyed by Message-ID, that keeps a message from being submitted twice: when a job
 * runs again after a stall, a crash or a lost acknowledgement, the record shows whether the
 * server already accepted it, or whether another worker may still be sending it.
 */
export class SubmissionGuard {
  readonly #redis: RedisConnection & GuardCommands;
  readonly #keys: PostroomKeys;
  readonly #retentionMs: number;

  constructor(redis: RedisConnection, keys: PostroomKeys, retentionMs: number) {
    redis.defineCommand('postroomClaim', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
    redis.defineCommand('postroomExtendClaim', { numberOfKeys: 1, lua: EXTEND_SCRIPT });
    this.#redis = redis as RedisConnection & GuardCommands;
    this.#keys = keys;
    this.#retentionMs = retentionMs;
  }

  /** Claims the right to submit until `untilMs`; a claim past it counts as abandoned. */
  async claim(messageId: string, owner: string, untilMs: number): Promise<ClaimResult> {
    const [kind, detail] = await this.#redis.postroomClaim(
      this.#keys.submission(messageId),
      Date.now(),
      owner,
      untilMs,
      this.#retentionMs,
    );
    if (kind === 'sent') return { kind, reply: detail ?? '' };
    if (kind === 'busy' || kind === 'abandoned') return { kind, untilMs: Number(detail) };
    return { kind: kind as 'claimed' | 'unknown' };
  }

  /** Keeps a claim alive while its send is in progress. */
  async extend(messageId: string, owner: string, untilMs: number): Promise<void> {
    await this.#redis.postroomExtendClaim(this.#keys.submission(messageId), owner, untilMs);
  }

  /** Records that the server accepted the message. */
  async markSent(messageId: string, reply: string): Promise<void> {
    const key = this.#keys.submission(messageId);
    await this.#redis
      .multi()
      .hset(key, { state: 'sent', reply })
      .pexpire(key, this.#retentionMs)
      .exec();
  }

  /** Records that the message may or may not have been accepted; it is never resent blindly. */
  async markUnknown(messageId: string): Promise<void> {
    await this.#redis.hset(this.#keys.submission(messageId), { state: 'unknown' });
  }

  /** Drops a claim after a failure that certainly happened before the message data was sent. */
  async release(messageId: string): Promise<void> {
    await this.#redis.del(this.#keys.submission(messageId));
  }
}
