/**
 * Lua scripts of the mailbox gate. Each runs atomically in Redis, so any number of worker
 * replicas share one schedule per mailbox. All times are ms since the epoch on Redis's clock.
 */

// Milliseconds from Redis's clock, the one clock every replica shares.
const REDIS_NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`;

/**
 * Decides whether a job may submit now. Time is Redis's clock, so replicas with skewed clocks
 * still share one schedule.
 *
 * KEYS: 1 next free send slot (GCRA theoretical arrival time), 2 connection leases (sorted set of
 * lease id by expiry), 3 mailbox health (hash), 4 slot reservations (hash of job id to slot
 * time), 5 rate log (sorted set of job id by send time, moved to the acceptance time on success).
 * ARGV: 1 emission interval, 2 job id, 3 lease id ('' when the caller already holds a connection
 * lease), 4 lease ttl, 5 max connections, 6 late tolerance, 7 connection wait, 8 rate window,
 * 9 messages per window.
 *
 * Returns {1, now, 'ok', now} or {0, retryAtMs, reason, now}. The GCRA slot spreads sends evenly;
 * the rate log is the hard limit: a send starts only when fewer than `limit` sends were started
 * or accepted within the last window. Because a log entry carries the time the worker saw the
 * acceptance, which is after the server counted it, jitter in connection setup or scheduling
 * cannot fit one message too many into any window the server measures.
 *
 * A job that must wait keeps its reservation, so that it is not overtaken when it comes back; a
 * reservation used more than the late tolerance after its time is dropped and a new slot taken.
 */
export const ACQUIRE_SCRIPT = `${REDIS_NOW}local interval = tonumber(ARGV[1])
local jobId = ARGV[2]
local leaseId = ARGV[3]
local windowMs = tonumber(ARGV[8])
local limit = tonumber(ARGV[9])

local state = redis.call('HGET', KEYS[3], 'state')
if state and state ~= 'healthy' then
  local untilMs = tonumber(redis.call('HGET', KEYS[3], 'until') or '0')
  if untilMs == 0 then
    return {0, now + tonumber(ARGV[7]) * 10, state, now}
  end
  if untilMs > now then
    return {0, untilMs, state, now}
  end
  redis.call('DEL', KEYS[3])
end

local slot = tonumber(redis.call('HGET', KEYS[4], jobId) or '-1')
if slot < 0 or now > slot + tonumber(ARGV[6]) then
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  slot = math.max(tat, now)
  redis.call('SET', KEYS[1], slot + interval, 'PX', math.ceil(slot - now + interval * 2))
end
if slot <= now then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - windowMs)
  if redis.call('ZCARD', KEYS[5]) >= limit then
    local oldest = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
    slot = tonumber(oldest[2]) + windowMs + 1
  end
end
if slot > now then
  redis.call('HSET', KEYS[4], jobId, slot)
  redis.call('PEXPIRE', KEYS[4], math.ceil(slot - now + 3600000))
  return {0, slot, 'rate_limit', now}
end

if leaseId ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[5]) then
    redis.call('HSET', KEYS[4], jobId, now)
    redis.call('PEXPIRE', KEYS[4], 3600000)
    return {0, now + tonumber(ARGV[7]), 'connections', now}
  end
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), leaseId)
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[4]) * 2)
end
redis.call('HDEL', KEYS[4], jobId)
redis.call('ZADD', KEYS[5], now, jobId)
redis.call('PEXPIRE', KEYS[5], windowMs * 2)
return {1, now, 'ok', now}
`;

/**
 * Moves a send in the rate log to the time the server accepted it.
 * KEYS: 1 rate log. ARGV: 1 job id, 2 window. Only updates an entry that is still there.
 */
export const ACCEPTED_SCRIPT = `${REDIS_NOW}redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
return now
`;

/**
 * Takes a connection lease without a send slot.
 * KEYS: 1 leases. ARGV: 1 lease id, 2 lease ttl, 3 max connections. Returns 1 or 0.
 */
export const LEASE_SCRIPT = `${REDIS_NOW}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1
`;

/**
 * Extends a lease that is still held. KEYS: 1 leases. ARGV: 1 lease id, 2 lease ttl.
 * Returns 1, or 0 when the lease had expired (another replica may have taken the slot).
 */
export const RENEW_SCRIPT = `${REDIS_NOW}
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not expiry or tonumber(expiry) <= now then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1
`;
