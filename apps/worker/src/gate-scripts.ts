/**
 * Lua scripts of the mailbox gate. Each runs atomically in Redis, so any number of worker
 * replicas share one schedule per mailbox. All times are ms since the epoch on Redis's clock.
 */

// Milliseconds from Redis's clock, the one clock every replica shares, with the microseconds
// kept as a fraction. In whole milliseconds, a limit with an interval under 1 ms (far above
// Exchange's, as when a benchmark lifts the limits) parked sends that came in the same ms.
const REDIS_NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
`;

/**
 * The gate decision, as a Lua function `decide()` that the scripts below embed. It decides
 * whether a job may submit now. Time is Redis's clock, so replicas with skewed clocks
 * still share one schedule.
 *
 * KEYS: 1 next free send slot (GCRA theoretical arrival time), 2 connection leases (sorted set of
 * lease id by expiry), 3 mailbox health (hash), 4 slot reservations (hash of job id to slot
 * time), 5 rate log (sorted set of attempt id by send time, moved to the acceptance time on
 * success), 6 parked jobs (sorted set of job id by priority tier and enqueue time), 7 recipient
 * counts (hash of time bucket to recipients). An attempt id is the claim owner, or the job id
 * when the attempt has no claim.
 * ARGV: 1 JSON object with the fields read below, decoded into `a` by the embedding script.
 *
 * `decide()` returns {allowed, retryAtMs, reason, now, promoteJobId, promoteSlotMs}: a parked
 * job to wake, with the slot reserved for it.
 *
 * - The GCRA slot spreads sends evenly, and only slots within `horizon` of now are handed out.
 *   Every other job is parked in priority order and woken (promoted) one at a time as slots are
 *   used, so a high-priority job overtakes any backlog and waiting costs O(1) per job.
 * - The rate log is the hard limit: a send starts only when fewer than `limit` sends were
 *   started or accepted within the last window. A log entry carries the time the worker saw the
 *   acceptance, which is after the server counted it, so jitter in connection setup or
 *   scheduling cannot fit one message too many into a window the server measures.
 * - Recipients are counted in time buckets; a bucket counts until all of it has left the
 *   window, which errs on the side of sending later.
 * - A job that waits for its slot keeps its reservation when it comes back late, because the
 *   rate log still holds the limit; only a reservation older than the late tolerance is dropped.
 */
const DECIDE = `
local function decide()
-- Wakes the best parked job with the next slot reserved for it, so that no job arriving
-- between its promotion and its return can take that slot and park it again.
local function promoteNext()
  local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
  if tat - now > a.horizon then
    return {'', 0}
  end
  local popped = redis.call('ZPOPMIN', KEYS[6])
  if popped[1] == nil then
    return {'', 0}
  end
  redis.call('HSET', KEYS[4], popped[1], tat)
  redis.call('PEXPIRE', KEYS[4], math.ceil(tat - now + 3600000))
  redis.call('SET', KEYS[1], tat + a.interval, 'PX', math.ceil(tat - now + a.interval * 2))
  return {popped[1], tat}
end

-- A parked job is woken by promotion, and a broken chain of promotions by REPAIR_SCRIPT; the
-- fallback only covers a queue without any running worker.
local function park()
  redis.call('ZADD', KEYS[6], a.parkScore, a.jobId)
  local backlog = redis.call('ZCARD', KEYS[6])
  return now + math.max(a.parkFallback, (backlog + 2) * a.interval * 2 + a.window)
end

-- A stopped mailbox parks its jobs, so that a resume can wake them; they also wake by
-- themselves when a cool-down with an end time is over.
local state = redis.call('HGET', KEYS[3], 'state')
if state and state ~= 'healthy' then
  local untilMs = tonumber(redis.call('HGET', KEYS[3], 'until') or '0')
  if untilMs == 0 or untilMs > now then
    local fallback = park()
    if untilMs > 0 then
      fallback = untilMs
    end
    return {0, fallback, state, now, ''}
  end
  redis.call('DEL', KEYS[3])
end

local slot = tonumber(redis.call('HGET', KEYS[4], a.jobId) or '-1')
if slot < 0 or now > slot + a.lateTolerance then
  redis.call('HDEL', KEYS[4], a.jobId)
  local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
  local best = redis.call('ZRANGE', KEYS[6], 0, 0, 'WITHSCORES')
  -- Parked jobs of the same priority and age go first too: a job without a slot only passes
  -- the parked ones when it is the best of them, or better than all of them.
  local betterParked = best[1] ~= nil and best[1] ~= a.jobId and tonumber(best[2]) <= a.parkScore
  if tat - now > a.horizon or betterParked then
    local retryAt = park()
    local promote = {'', 0}
    if tat - now <= a.horizon then
      promote = promoteNext()
    end
    return {0, retryAt, 'parked', now, promote[1], promote[2]}
  end
  redis.call('ZREM', KEYS[6], a.jobId)
  slot = tat
  redis.call('SET', KEYS[1], slot + a.interval, 'PX', math.ceil(slot - now + a.interval * 2))
end

if slot <= now then
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - a.window)
  if redis.call('ZCARD', KEYS[5]) >= a.limit then
    local oldest = redis.call('ZRANGE', KEYS[5], 0, 0, 'WITHSCORES')
    slot = tonumber(oldest[2]) + a.window + 1
  end
end
if slot > now then
  redis.call('HSET', KEYS[4], a.jobId, slot)
  redis.call('PEXPIRE', KEYS[4], math.ceil(slot - now + 3600000))
  return {0, slot, 'rate_limit', now, ''}
end

local bucket = math.floor(now / a.bucket)
local firstLive = math.floor((now - a.recipientWindow) / a.bucket)
local counts = redis.call('HGETALL', KEYS[7])
local live = {}
local used = 0
for i = 1, #counts, 2 do
  local index = tonumber(counts[i])
  if index < firstLive then
    redis.call('HDEL', KEYS[7], counts[i])
  else
    local count = tonumber(counts[i + 1])
    used = used + count
    table.insert(live, {index, count})
  end
end
if used + a.recipients > a.recipientLimit then
  table.sort(live, function(x, y) return x[1] < y[1] end)
  local freed = 0
  local retryAt = now + a.recipientWindow
  for _, entry in ipairs(live) do
    freed = freed + entry[2]
    if used - freed + a.recipients <= a.recipientLimit then
      retryAt = (entry[1] + 1) * a.bucket + a.recipientWindow
      break
    end
  end
  return {0, retryAt, 'recipient_quota', now, ''}
end

if a.leaseId ~= '' then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= a.maxConnections then
    -- Replicas that keep an idle connection of this mailbox close one when they hear this.
    redis.call('PUBLISH', a.leaseChannel, a.mailbox)
    redis.call('HSET', KEYS[4], a.jobId, now)
    redis.call('PEXPIRE', KEYS[4], 3600000)
    return {0, now + a.connectionWait, 'connections', now, ''}
  end
  redis.call('ZADD', KEYS[2], now + a.leaseTtl, a.leaseId)
  redis.call('PEXPIRE', KEYS[2], a.leaseTtl * 2)
end

redis.call('HDEL', KEYS[4], a.jobId)
-- One entry per attempt: a stale attempt of the same job that refunds its grant must not
-- remove the entry of the attempt that took the job over.
redis.call('ZADD', KEYS[5], now, a.sendId or a.jobId)
redis.call('PEXPIRE', KEYS[5], a.window * 2)
redis.call('HINCRBY', KEYS[7], bucket, a.recipients)
redis.call('PEXPIRE', KEYS[7], a.recipientWindow + a.bucket)
local promote = promoteNext()
return {1, now, 'ok', now, promote[1], promote[2]}
end
`;

/** The gate decision on its own. KEYS and ARGV as for `decide()` above. */
export const ACQUIRE_SCRIPT = `${REDIS_NOW}
local a = cjson.decode(ARGV[1])
${DECIDE}
return decide()
`;

/**
 * The gate decision, the submission claim and the 'sending' status in one step: the first
 * round trip of every send. A message whose submission record exists (sent, in flight
 * elsewhere, or of unknown outcome) takes no slot and no lease.
 *
 * KEYS 1 to 7 as for ACQUIRE_SCRIPT, 8 submission record (keyed by Message-ID), 9 status record.
 * ARGV: 1 JSON object with the fields of ACQUIRE_SCRIPT and `clientNow`, `owner`, `claimUntil`,
 * `claimState`, `submissionTtl`, `statusTtl`, `messageId` (`clientNow` and `claimUntil` are on
 * the worker's clock, as the claim's renewals are).
 *
 * The claim starts as `claimState`: 'claimed' when the sender marks the start of the message
 * data itself (SMTP, with SubmissionGuard.markStarted), 'inflight' when it cannot (Graph). A
 * 'claimed' record whose claim has expired belongs to a send that never began, so it is taken
 * over like a missing record.
 *
 * Returns what ACQUIRE_SCRIPT returns, or {2, kind, detail, now, ''} for an existing submission
 * record (and no job to wake), where kind is 'sent' (detail: the reply), 'unknown', 'busy' or 'abandoned' (detail:
 * the claim's expiry).
 */
export const BEGIN_SEND_SCRIPT = `${REDIS_NOW}
local a = cjson.decode(ARGV[1])
local existing = redis.call('HGET', KEYS[8], 'state')
if existing == 'claimed' and tonumber(redis.call('HGET', KEYS[8], 'until') or '0') <= a.clientNow then
  existing = false
end
if existing == 'sent' then
  return {2, 'sent', redis.call('HGET', KEYS[8], 'reply') or '', now, '', 0}
elseif existing == 'unknown' then
  return {2, 'unknown', '', now, '', 0}
elseif existing then
  local untilMs = redis.call('HGET', KEYS[8], 'until') or '0'
  local kind = 'abandoned'
  if tonumber(untilMs) > a.clientNow then
    kind = 'busy'
  end
  return {2, kind, untilMs, now, '', 0}
end
${DECIDE}
local result = decide()
if result[1] == 1 then
  redis.call('HSET', KEYS[8], 'state', a.claimState, 'owner', a.owner, 'until', a.claimUntil)
  redis.call('PEXPIRE', KEYS[8], a.submissionTtl)
  redis.call('HSET', KEYS[9], 'state', 'sending', 'mailbox', a.mailbox, 'messageId', a.messageId)
  redis.call('HDEL', KEYS[9], 'waitReason', 'nextAttemptAt')
  redis.call('PEXPIRE', KEYS[9], a.statusTtl)
end
return result
`;

/**
 * The last round trip of a send the server accepted: the submission record becomes 'sent', the
 * send moves to its acceptance time in the rate log and recipient buckets, and the status record
 * becomes 'sent'. Counting from the acceptance, which the worker sees after the server counted
 * it, keeps a slow send from letting a later one exceed the limit in the server's window.
 *
 * KEYS: 1 rate log, 2 recipient buckets, 3 submission record, 4 status record.
 * ARGV: 1 JSON object: jobId, recipients, grantedAt (-1 when the send held no grant), bucket,
 * reply, sentAt, rejected (a JSON array as a string, or ''), submissionTtl, statusTtl.
 */
export const FINISH_SEND_SCRIPT = `${REDIS_NOW}
local a = cjson.decode(ARGV[1])
redis.call('HSET', KEYS[3], 'state', 'sent', 'reply', a.reply)
redis.call('PEXPIRE', KEYS[3], a.submissionTtl)
if a.grantedAt >= 0 then
  redis.call('ZADD', KEYS[1], 'XX', now, a.sendId or a.jobId)
  local granted = math.floor(a.grantedAt / a.bucket)
  local accepted = math.floor(now / a.bucket)
  if a.recipients > 0 and accepted ~= granted and redis.call('HEXISTS', KEYS[2], granted) == 1 then
    redis.call('HINCRBY', KEYS[2], granted, -a.recipients)
    redis.call('HINCRBY', KEYS[2], accepted, a.recipients)
  end
end
redis.call('HSET', KEYS[4], 'state', 'sent', 'sentAt', a.sentAt, 'reply', a.reply)
if a.rejected ~= '' then
  redis.call('HSET', KEYS[4], 'rejectedRecipients', a.rejected)
end
redis.call('HDEL', KEYS[4], 'waitReason', 'nextAttemptAt')
redis.call('PEXPIRE', KEYS[4], a.statusTtl)
return now
`;

/**
 * Gives back a grant that never reached the server: removes the send from the rate log and its
 * recipients from their bucket. KEYS: 1 rate log, 2 recipient buckets. ARGV: 1 the attempt's
 * id in the rate log, 2 recipients, 3 granted at, 4 bucket length.
 */
export const REFUND_SCRIPT = `
redis.call('ZREM', KEYS[1], ARGV[1])
local recipients = tonumber(ARGV[2])
local granted = math.floor(tonumber(ARGV[3]) / tonumber(ARGV[4]))
if recipients > 0 and redis.call('HEXISTS', KEYS[2], granted) == 1 then
  redis.call('HINCRBY', KEYS[2], granted, -recipients)
end
return 1
`;

/**
 * Restarts the chain of promotions of mailboxes where it broke. Normally each grant wakes the
 * next parked job; a woken job that never comes back (cancelled, or its wake failed) ends the
 * chain. For each mailbox this wakes again every job whose reservation is a window old. Then, if
 * it finds parked jobs, a healthy state, no slot handed out within the last interval and no
 * reservation still in use, it wakes the best parked job with a slot reserved now.
 *
 * KEYS: per mailbox, 4 keys in this order: next slot, health, reservations, parked.
 * ARGV: 1 JSON array with one {interval, window} per mailbox, in the order of KEYS.
 * Returns a flat list: job id, reserved slot, job id, reserved slot, ... and then now.
 */
export const REPAIR_SCRIPT = `${REDIS_NOW}
local mailboxes = cjson.decode(ARGV[1])
local woken = {}
for index, m in ipairs(mailboxes) do
  local base = (index - 1) * 4
  local tatKey, healthKey, reservationsKey, parkedKey =
    KEYS[base + 1], KEYS[base + 2], KEYS[base + 3], KEYS[base + 4]
  -- A reservation a whole window old belongs to a job that was woken but never came back,
  -- because the worker that woke it died first: wake it again, without the stale slot.
  local live = false
  local reservations = redis.call('HGETALL', reservationsKey)
  for i = 1, #reservations, 2 do
    if tonumber(reservations[i + 1]) < now - m.window then
      redis.call('HDEL', reservationsKey, reservations[i])
      table.insert(woken, reservations[i])
      table.insert(woken, now)
    else
      live = true
    end
  end
  local tat = tonumber(redis.call('GET', tatKey) or '0')
  if not live and tat < now - m.interval and redis.call('ZCARD', parkedKey) > 0 then
    local state = redis.call('HGET', healthKey, 'state')
    local untilMs = tonumber(redis.call('HGET', healthKey, 'until') or '0')
    if not state or state == 'healthy' or (untilMs > 0 and untilMs <= now) then
      local popped = redis.call('ZPOPMIN', parkedKey)
      redis.call('HSET', reservationsKey, popped[1], now)
      redis.call('PEXPIRE', reservationsKey, 3600000)
      redis.call('SET', tatKey, now + m.interval, 'PX', math.ceil(m.interval * 2))
      table.insert(woken, popped[1])
      table.insert(woken, now)
    end
  end
end
table.insert(woken, now)
return woken
`;

/**
 * Decides whether a new connection may authenticate. A stopped mailbox returns 'busy', so a
 * connection that passed the gate just before the circuit opened does not repeat the failure.
 * KEYS: 1 health, 2 auth verified flag, 3 auth probe lock. ARGV: 1 probe ttl.
 * Returns 'verified', 'probe' or 'busy'.
 */
export const BEGIN_AUTH_SCRIPT = `${REDIS_NOW}
local state = redis.call('HGET', KEYS[1], 'state')
if state and state ~= 'healthy' then
  local untilMs = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
  if untilMs == 0 or untilMs > now then
    return 'busy'
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then
  return 'verified'
end
if redis.call('SET', KEYS[3], '1', 'PX', tonumber(ARGV[1]), 'NX') then
  return 'probe'
end
return 'busy'
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
