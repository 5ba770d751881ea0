import type { PostroomKeys, RedisConnection } from '@postroom/core';

/** Extends a claim its owner still holds. KEYS: 1 record. ARGV: 1 owner, 2 new expiry. */
const EXTEND_SCRIPT = `
local state = redis.call('HGET', KEYS[1], 'state')
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] and (state == 'claimed' or state == 'inflight') then
  redis.call('HSET', KEYS[1], 'until', ARGV[2])
  return 1
end
return 0
`;

/**
 * Moves a claim from 'claimed' to 'inflight' if its owner still owns it. Returns 0 when the claim
 * is no longer this owner's, because it expired and another run took the message over.
 * KEYS: 1 record. ARGV: 1 owner.
 */
const MARK_STARTED_SCRIPT = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then
  return 0
end
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'claimed' then
  redis.call('HSET', KEYS[1], 'state', 'inflight')
  return 1
end
if state == 'inflight' then
  return 1
end
return 0
`;

/** Deletes a claim its owner still holds. KEYS: 1 record. ARGV: 1 owner. */
const RELEASE_SCRIPT = `
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

interface GuardCommands {
  postroomExtendClaim(...args: (string | number)[]): Promise<number>;
  postroomMarkStarted(...args: (string | number)[]): Promise<number>;
  postroomReleaseClaim(...args: (string | number)[]): Promise<number>;
}

/** Raised when a claim was taken over by another run before this one began to send. */
export class ClaimTakenOver extends Error {
  constructor(messageId: string) {
    super(`the submission claim of ${messageId} was taken over by another run; not sending`);
    this.name = 'ClaimTakenOver';
  }
}

/**
 * The submission record, keyed by Message-ID, that keeps a message from being submitted twice:
 * when a job runs again after a stall, a crash or a lost acknowledgement, the record shows
 * whether the server already accepted it, or whether another worker may still be sending it.
 * `MailboxGate.beginSend` claims it and `finishSend` marks it sent. This class renews a claim,
 * marks an unknown outcome and drops a claim whose send never started.
 */
export class SubmissionGuard {
  readonly #redis: RedisConnection & GuardCommands;
  readonly #keys: PostroomKeys;

  constructor(redis: RedisConnection, keys: PostroomKeys) {
    redis.defineCommand('postroomExtendClaim', { numberOfKeys: 1, lua: EXTEND_SCRIPT });
    redis.defineCommand('postroomMarkStarted', { numberOfKeys: 1, lua: MARK_STARTED_SCRIPT });
    redis.defineCommand('postroomReleaseClaim', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
    this.#redis = redis as RedisConnection & GuardCommands;
    this.#keys = keys;
  }

  /** Keeps a claim alive while its send is in progress. */
  async extend(messageId: string, owner: string, untilMs: number): Promise<void> {
    await this.#redis.postroomExtendClaim(this.#keys.submission(messageId), owner, untilMs);
  }

  /**
   * Records that the message data is about to be sent, before any of it is. From then on a run
   * that loses track of the send marks the message as of unknown outcome. Throws ClaimTakenOver
   * when the claim is no longer this owner's.
   */
  async markStarted(messageId: string, owner: string): Promise<void> {
    const marked = await this.#redis.postroomMarkStarted(this.#keys.submission(messageId), owner);
    if (Number(marked) !== 1) throw new ClaimTakenOver(messageId);
  }

  /** Records that the message may or may not have been accepted; it is never resent blindly. */
  async markUnknown(messageId: string): Promise<void> {
    await this.#redis.hset(this.#keys.submission(messageId), { state: 'unknown' });
  }

  /**
   * Drops a claim after a failure that certainly happened before the message data was sent.
   * A claim that another attempt took over in the meantime stays.
   */
  async release(messageId: string, owner: string): Promise<void> {
    await this.#redis.postroomReleaseClaim(this.#keys.submission(messageId), owner);
  }
}
