import type { PostroomKeys, RedisConnection } from '@postroom/core';
import type { Queue } from 'bullmq';
import type { MailboxConfig } from './config.js';
import type { MailboxState } from './gate.js';

/** Queue and mailbox state read from Redis at scrape time; the same on every replica. */
export interface QueueSnapshot {
  queueName: string;
  /** Jobs per BullMQ state: waiting, prioritized, delayed, active, completed, failed. */
  jobCounts: Record<string, number>;
  /** Age of the oldest message that is due and not yet sent, in seconds; 0 when none waits. */
  oldestWaitingAgeSeconds: number;
  mailboxes: MailboxSnapshot[];
}

export interface MailboxSnapshot {
  address: string;
  state: MailboxState;
  /** Sends started or accepted within the last rate window, as the gate counts them. */
  sendsInWindow: number;
  rateLimit: number;
  /** Connection leases held now, across every replica. */
  connections: number;
  connectionLimit: number;
}

// The compiler rejects this object when a state is added to MailboxState but not here.
const STATE_NAMES = {
  healthy: true,
  throttled: true,
  quota_exhausted: true,
  auth_failed: true,
  blocked: true,
  paused: true,
} satisfies Record<MailboxState, true>;

/** Every mailbox state, each exported as one series of `postroom_mailbox_state`. */
export const MAILBOX_STATES = Object.keys(STATE_NAMES) as MailboxState[];

// Milliseconds from Redis's clock, the clock the gate writes its scores with.
const REDIS_NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`;

/**
 * Finds the due time of the oldest message waiting to be sent, without reading every job.
 *
 * KEYS: 1 wait list, 2 prioritized set, 3 delayed set. ARGV: 1 job key prefix, 2 entries to
 * look at in each of the three, 3 candidates whose data is read.
 *
 * It looks at the oldest end of the wait list and the head of the prioritized and delayed sets
 * (the jobs next in line). A message is due at its enqueue time plus the delay the producer
 * requested (`notBefore`), so a scheduled message does not count as waiting before its time.
 * Candidates are picked by BullMQ's job `timestamp`, which is set when the job is added. Only the
 * oldest few have their `data` read for `enqueuedAtMs`. The search starts in the last 1 KB,
 * because the job payload ends with that field and the message before it may be megabytes long.
 *
 * Returns {due time in ms or -1 when nothing is due, Redis now in ms}.
 */
export const OLDEST_WAITING_SCRIPT = `${REDIS_NOW}
local prefix = ARGV[1]
local limit = tonumber(ARGV[2])
local keep = tonumber(ARGV[3])

local ids = redis.call('LRANGE', KEYS[1], -limit, -1)
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, limit - 1)) do ids[#ids + 1] = id end
for _, id in ipairs(redis.call('ZRANGE', KEYS[3], 0, limit - 1)) do ids[#ids + 1] = id end

-- The earliest due times (at most keep of them), in order. Insertion is cheaper than a full sort.
local candidates = {}
for _, id in ipairs(ids) do
  local fields = redis.call('HMGET', prefix .. id, 'timestamp', 'opts')
  local timestamp = tonumber(fields[1])
  if timestamp then
    local delay = 0
    -- Decode only options that mention a delay: decoding every job's options costs several ms.
    if fields[2] and string.find(fields[2], '"delay"', 1, true) then
      local ok, opts = pcall(cjson.decode, fields[2])
      if ok and type(opts) == 'table' then delay = tonumber(opts['delay']) or 0 end
    end
    local due = timestamp + delay
    if due <= now and (#candidates < keep or due < candidates[#candidates][1]) then
      local position = #candidates + 1
      while position > 1 and candidates[position - 1][1] > due do position = position - 1 end
      table.insert(candidates, position, {due, id, delay})
      if #candidates > keep then table.remove(candidates) end
    end
  end
end

local oldest = -1
for i = 1, #candidates do
  local candidate = candidates[i]
  local data = redis.call('HGET', prefix .. candidate[2], 'data') or ''
  local pattern = '"enqueuedAtMs":(%d+)'
  local enqueued = tonumber(string.match(string.sub(data, -1024), pattern) or string.match(data, pattern))
  local due = candidate[1]
  if enqueued then due = enqueued + candidate[3] end
  if oldest < 0 or due < oldest then oldest = due end
end
return {oldest, now}
`;

/**
 * Reads each mailbox's health state, sends in its rate window and held connection leases.
 *
 * KEYS: health hash, rate log and leases of each mailbox in turn. ARGV: each mailbox's rate
 * window in ms, in the same order. A state whose `until` has passed is healthy, as for the gate.
 * An `until` of 0 keeps the state until it is changed.
 *
 * Returns {state, sends, connections} for each mailbox, flattened.
 */
export const MAILBOX_USAGE_SCRIPT = `${REDIS_NOW}
local result = {}
for i = 1, #KEYS, 3 do
  local window = tonumber(ARGV[(i + 2) / 3])
  local health = redis.call('HMGET', KEYS[i], 'state', 'until')
  local state = health[1]
  local untilMs = tonumber(health[2] or '0') or 0
  if not state or (untilMs > 0 and untilMs <= now) then state = 'healthy' end
  result[#result + 1] = state
  result[#result + 1] = redis.call('ZCOUNT', KEYS[i + 1], '(' .. (now - window), '+inf')
  result[#result + 1] = redis.call('ZCOUNT', KEYS[i + 2], '(' .. now, '+inf')
end
return result
`;

/**
 * Time a scrape waits for Redis. Waiting longer would let Prometheus time out (10 s by default)
 * and mark the replica down, although only Redis is.
 */
const READ_TIMEOUT_MS = 2000;
/**
 * Entries looked at in each of wait, prioritized and delayed. Looking at 600 entries took about
 * 1.2 ms of Redis time in one measurement (Redis 7.0 on one AMD EPYC core, 2 KB messages).
 * NOTE: with more jobs than this in a state, the age is a lower bound. It misses an old job that
 * BullMQ placed behind newer ones, such as a delayed job promoted to the end of its priority lane.
 * It also misses one delayed far ahead because its mailbox is stopped; the mailbox state gauge
 * shows that case.
 */
const OLDEST_SCAN_LIMIT = 200;
/** Candidates whose payload is read for `enqueuedAtMs`. */
const OLDEST_CANDIDATES = 5;

interface SnapshotCommands {
  postroomOldestWaiting(...args: (string | number)[]): Promise<[number, number]>;
  postroomMailboxUsage(...args: (string | number)[]): Promise<(string | number)[]>;
}

/** Reads the queue-wide gauges from Redis: job counts, oldest waiting message, mailbox usage. */
export class QueueSnapshotReader {
  readonly #redis: RedisConnection & SnapshotCommands;
  readonly #queue: Queue;
  readonly #keys: PostroomKeys;
  readonly #mailboxes: readonly MailboxConfig[];

  constructor(
    redis: RedisConnection,
    queue: Queue,
    keys: PostroomKeys,
    mailboxes: readonly MailboxConfig[],
  ) {
    redis.defineCommand('postroomOldestWaiting', { numberOfKeys: 3, lua: OLDEST_WAITING_SCRIPT });
    redis.defineCommand('postroomMailboxUsage', {
      numberOfKeys: mailboxes.length * 3,
      lua: MAILBOX_USAGE_SCRIPT,
    });
    this.#redis = redis as RedisConnection & SnapshotCommands;
    this.#queue = queue;
    this.#keys = keys;
    this.#mailboxes = mailboxes;
  }

  /** Addresses of the configured mailboxes, the only values of the `mailbox` label. */
  get addresses(): string[] {
    return this.#mailboxes.map((mailbox) => mailbox.address);
  }

  /** Reads every value of the snapshot; rejects when Redis fails or takes over 2 s to reply. */
  async read(): Promise<QueueSnapshot> {
    const reading = Promise.all([
      this.#queue.getJobCounts(
        'waiting',
        'prioritized',
        'delayed',
        'active',
        'completed',
        'failed',
      ),
      this.#readOldestWaitingAge(),
      this.#readMailboxes(),
    ]);
    const [jobCounts, oldestWaitingAgeSeconds, mailboxes] = await withTimeout(
      reading,
      READ_TIMEOUT_MS,
    );
    return { queueName: this.#queue.name, jobCounts, oldestWaitingAgeSeconds, mailboxes };
  }

  async #readOldestWaitingAge(): Promise<number> {
    const [dueMs, nowMs] = await this.#redis.postroomOldestWaiting(
      this.#queue.toKey('wait'),
      this.#queue.toKey('prioritized'),
      this.#queue.toKey('delayed'),
      this.#queue.toKey(''),
      OLDEST_SCAN_LIMIT,
      OLDEST_CANDIDATES,
    );
    if (dueMs < 0) return 0;
    return Math.max(0, nowMs - dueMs) / 1000;
  }

  async #readMailboxes(): Promise<MailboxSnapshot[]> {
    if (this.#mailboxes.length === 0) return [];
    const keys = this.#mailboxes.flatMap((mailbox) => {
      const mailboxKeys = this.#keys.mailbox(mailbox.address);
      return [mailboxKeys.health, mailboxKeys.rateLog, mailboxKeys.leases];
    });
    const windows = this.#mailboxes.map((mailbox) => mailbox.limits.rateWindowMs);
    const flat = await this.#redis.postroomMailboxUsage(...keys, ...windows);

    return this.#mailboxes.map((mailbox, index) => ({
      address: mailbox.address,
      state: toState(flat[index * 3]),
      sendsInWindow: Number(flat[index * 3 + 1]),
      rateLimit: mailbox.limits.messagesPerWindow,
      connections: Number(flat[index * 3 + 2]),
      connectionLimit: mailbox.limits.maxConnections,
    }));
  }
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`reading queue metrics from redis timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// The gate stops a mailbox in any state but healthy, so a state this version does not know (one
// written by a newer worker) is reported as blocked, which alerts, instead of being dropped.
function toState(value: unknown): MailboxState {
  return MAILBOX_STATES.includes(value as MailboxState) ? (value as MailboxState) : 'blocked';
}
