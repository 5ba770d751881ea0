/**
 * Lua scripts of the mailbox gate. Each runs atomically in Redis, so any number of worker
 * replicas share one schedule per mailbox. All times are ms since the epoch, taken from the
 * caller's clock.
 */

/**
 * Decides whether a job may submit now.
 *
 * KEYS: 1 next free send slot (GCRA theoretical arrival time), 2 connection leases (sorted set of
 * lease id by expiry), 3 mailbox health (hash), 4 slot reservations (hash of job id to slot time).
 * ARGV: 1 now, 2 emission interval, 3 job id, 4 lease id ('' when the caller already holds a
 * connection lease), 5 lease ttl, 6 max connections, 7 late tolerance, 8 connection wait.
 *
 * Returns {1, now, 'ok'} or {0, retryAtMs, reason}. A job that must wait for the rate keeps a
 * reservation, so that it is not overtaken when it comes back; a reservation used more than the
 * late tolerance after its time is dropped and a new slot is taken, because sending late would
 * squeeze the gap to the next message below the emission interval.
 */
export const ACQUIRE_SCRIPT = `
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local jobId = ARGV[3]
local leaseId = ARGV[4]

local state = redis.call('HGET', KEYS[3], 'state')
if state and state ~= 'healthy' then
  local untilMs = tonumber(redis.call('HGET', KEYS[3], 'until') or '0')
  if untilMs == 0 then
    return {0, now + tonumber(ARGV[8]) * 10, state}
  end
  if untilMs > now then
    return {0, untilMs, state}
  end
  redis.call('DEL', KEYS[3])
end

local slot = tonumber(redis.call('HGET', KEYS[4], jobId) or '-1')
if slot < 0 or now > slot + tonumber(ARGV[7]) then
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  slot = math.max(tat, now)
  redis.call('SET', KEYS[1], slot + interval, 'PX', math.ceil(slot - now + interval * 2))
end
if slot > now then
  redis.call('HSET', KEYS[4], jobId, slot)
  redis.call('PEXPIRE', KEYS[4], math.ceil(slot - now + 3600000))
  return {0, slot, 'rate_limit'}
end

if leaseId ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[6]) then
    redis.call('HSET', KEYS[4], jobId, now)
    redis.call('PEXPIRE', KEYS[4], 3600000)
    return {0, now + tonumber(ARGV[8]), 'connections'}
  end
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[5]), leaseId)
  redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[5]) * 2)
end
redis.call('HDEL', KEYS[4], jobId)
return {1, now, 'ok'}
`;

/**
 * Takes a connection lease without a send slot.
 * KEYS: 1 leases. ARGV: 1 now, 2 lease id, 3 lease ttl, 4 max connections. Returns 1 or 0.
 */
export const LEASE_SCRIPT = `
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 1
`;

/**
 * Extends a lease that is still held. KEYS: 1 leases. ARGV: 1 now, 2 lease id, 3 lease ttl.
 * Returns 1, or 0 when the lease had expired (another replica may have taken the slot).
 */
export const RENEW_SCRIPT = `
local expiry = redis.call('ZSCORE', KEYS[1], ARGV[2])
if not expiry or tonumber(expiry) <= tonumber(ARGV[1]) then
  redis.call('ZREM', KEYS[1], ARGV[2])
  return 0
end
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 1
`;
