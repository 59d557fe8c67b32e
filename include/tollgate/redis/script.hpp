// The Lua script behind every decision of the Redis limiter backend
// (backend.hpp). Redis runs a script atomically, so each decision — the
// daily cap, a slot or the queue's tail, reclaiming expired leases, starting
// queued tasks — is one indivisible step however many instances call at once.
// One script holds every operation (ARGV[1] names it), so one SCRIPT LOAD per
// connection serves them all and calls are EVALSHA.
//
// Keys of one (account, model), all carrying the account's {hash tag} so a
// script touches one Redis Cluster slot:
//   KEYS[1] created  ZSET task -> creation time (us): the exact 24-hour log
//   KEYS[2] leases   ZSET task -> lease expiry (us): every open task
//   KEYS[3] queue    ZSET task -> sequence number: the FIFO of queued tasks
//                    (running = leases - queue)
//   KEYS[4] meta     HASH hw (the latest time seen, us), seq (last number)
// A token bucket is one HASH: its level, when it was computed, its rate and
// burst (the `take` operation).
//
// Numbers: Lua numbers are doubles, exact for integers below 2^53. Times are
// microseconds since the Unix epoch (1.8e15 in 2026: exact until the year
// 2255); nanoseconds would not be. redis.call() turns a Lua number into text
// with "%.14g", which would round a 16-digit time, so every number sent to
// Redis goes through s() ("%d": exact below 2^53). Scores come back as
// exact decimal text and integers returned to the client are converted
// exactly.
#pragma once

#include <string_view>

namespace tollgate::redis::detail {

/// ARGV[2..4] of every call: now (us, or "" for the server's TIME), the
/// lease TTL (us), the idle expiry of the keys (ms).
inline constexpr std::string_view limiter_script = R"lua(
local DAY = 86400000000
local op = ARGV[1]

local function s(x) return string.format('%d', x) end

local function server_or_caller_time()
  if ARGV[2] ~= '' then return tonumber(ARGV[2]) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

if op == 'take' then
  -- A token bucket in exact integers: a level in units of 1 / P token, so
  -- d us refill d * R units, n tokens cost n * P units and the bucket holds
  -- B * P. A new bucket is full; a changed rate keeps the whole tokens held
  -- (a fraction of a token is dropped: the refusing side), a changed burst
  -- keeps the level up to the new size; a clock behind the last write
  -- refills nothing.
  -- Exact floor division and remainder of integers below 2^53 (a / b may be
  -- rounded up to the next integer; the remainder says so).
  local function divmod(a, b)
    local q = math.floor(a / b)
    local r = a - q * b
    if r < 0 then q = q - 1; r = r + b elseif r >= b then q = q + 1; r = r - b end
    return q, r
  end
  local t = server_or_caller_time()
  local n, R, P, B = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
  local st = redis.call('HMGET', KEYS[1], 'lvl', 'at', 'r', 'p', 'b')
  local lvl, at = tonumber(st[1]), tonumber(st[2])
  if lvl == nil then
    lvl, at = B * P, t
  else
    local r0, p0 = tonumber(st[3]), tonumber(st[4])
    local cap0 = tonumber(st[5]) * p0
    if t > at then
      local q, rest = divmod(cap0 - lvl, r0)
      if rest > 0 then q = q + 1 end
      if t - at >= q then lvl = cap0 else lvl = lvl + (t - at) * r0 end
      at = t
    end
    if r0 ~= R or p0 ~= P then lvl = math.min((divmod(lvl, p0)), B) * P end
    lvl = math.min(lvl, B * P)
  end
  if n > B then return {0, (divmod(lvl, P)), -1, 2} end
  local result
  if lvl >= n * P then
    lvl = lvl - n * P
    result = {1, (divmod(lvl, P)), 0, 0}
  else
    local q, rest = divmod(n * P - lvl, R)
    if rest > 0 then q = q + 1 end
    result = {0, (divmod(lvl, P)), q, 1}
  end
  redis.call('HSET', KEYS[1], 'lvl', s(lvl), 'at', s(at), 'r', s(R), 'p', s(P), 'b', s(B))
  local full_in = divmod(B * P - lvl, R)
  redis.call('PEXPIRE', KEYS[1], s(math.floor(full_in / 1000) + 1 + tonumber(ARGV[4])))
  return result
end

local created, leases, queue, meta = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local ttl = tonumber(ARGV[3])
local SECOND = 1000000
local REFRESH = 3600 * SECOND  -- the keys' expiry is pushed out at most this often

-- The key's meta fields, read in one call: hw, the latest time recorded (the
-- log is trimmed up to it, never beyond); exp, a time no lease expires
-- before (nil: no lease); x, when the keys' expiry was last pushed out.
local raw = server_or_caller_time()
local m = redis.call('HMGET', meta, 'hw', 'exp', 'x')
local hw, exp, refreshed = tonumber(m[1]), tonumber(m[2]), tonumber(m[3])
-- The key decides at the latest time it has seen, so a clock stepping back
-- (a failover to a server whose clock is behind) lets nothing more in.
local t = raw
if hw ~= nil and hw > t then t = hw end

if op == 'state' then
  local n = redis.call('ZCOUNT', created, '(' .. s(t - DAY), '+inf')
  local nq = redis.call('ZCARD', queue)
  return {n, redis.call('ZCARD', leases) - nq, nq}
end

local NONE = {}  -- the empty list of the replies
local set = {}  -- meta fields to write, in one HSET at the end
-- Record the time (and trim the log up to it) once a second: counts use
-- ZCOUNT over the window, so untrimmed old entries never count.
if hw == nil or t >= hw + SECOND then
  table.insert(set, 'hw'); table.insert(set, s(t))
  redis.call('ZREMRANGEBYSCORE', created, '-inf', s(t - DAY))
end
local nl, nq = redis.call('ZCARD', leases), redis.call('ZCARD', queue)
local fresh = {}  -- keys this call creates: they get their expiry at the end

local function note_lease(e)
  if exp == nil or e < exp then
    exp = e
    table.insert(set, 'exp'); table.insert(set, s(e))
  end
end

-- ZREM or ZADD of many members, in chunks (Lua's stack is small).
local function each_chunk(list, step, f)
  for i = 1, #list, step do f(unpack(list, i, math.min(i + step - 1, #list))) end
end

-- Leases that ran out (at most 1000 a call): their tasks hold nothing more.
-- Looked for only once the earliest lease can have expired.
local expired = NONE
if exp ~= nil and t >= exp then
  expired = redis.call('ZRANGEBYSCORE', leases, '-inf', s(t), 'LIMIT', 0, 1000)
  each_chunk(expired, 200, function(...) redis.call('ZREM', leases, ...); redis.call('ZREM', queue, ...) end)
  nl, nq = redis.call('ZCARD', leases), redis.call('ZCARD', queue)
  local first = redis.call('ZRANGE', leases, 0, 0, 'WITHSCORES')
  exp = tonumber(first[2])
  if exp == nil then redis.call('HDEL', meta, 'exp')
  else table.insert(set, 'exp'); table.insert(set, first[2]) end
end

-- Starts queued tasks, FIFO, while slots are free (limit < 0: unlimited);
-- each gets a fresh lease.
local function start(limit)
  if nq == 0 then return NONE end
  local free = nq
  if limit >= 0 then free = math.min(nq, limit - (nl - nq)) end
  if free <= 0 then return NONE end
  local popped = redis.call('ZPOPMIN', queue, s(free))
  local ids, pairs_ = {}, {}
  local until_ = s(t + ttl)
  for i = 1, #popped, 2 do
    table.insert(ids, popped[i])
    table.insert(pairs_, until_); table.insert(pairs_, popped[i])
  end
  each_chunk(pairs_, 200, function(...) redis.call('ZADD', leases, ...) end)
  nq = nq - #ids
  note_lease(t + ttl)
  return ids
end

-- Where a task is: 0 absent, 1 running, 2 queued (and its position).
local function place_of(task)
  if not redis.call('ZSCORE', leases, task) then return 0, 0 end
  local r = redis.call('ZRANK', queue, task)
  if r then return 2, r + 1 end
  return 1, 0
end

-- Writes the meta fields, pushes the keys' expiry out (every REFRESH, and
-- for the keys this call created), and returns the reply.
local function done(reply)
  if refreshed == nil or t >= refreshed + REFRESH then
    table.insert(set, 'x'); table.insert(set, s(t))
    fresh = KEYS
  end
  if #set > 0 then redis.call('HSET', meta, unpack(set)) end
  for _, k in ipairs(fresh) do redis.call('PEXPIRE', k, ARGV[4]) end
  return reply
end

if op == 'admit' then
  local task, daily, limit = ARGV[5], tonumber(ARGV[6]), tonumber(ARGV[7])
  local started = start(limit)
  local n = redis.call('ZCOUNT', created, '(' .. s(t - DAY), '+inf')
  local ts, until_ = s(t), s(t + ttl)
  local function duplicate()
    local c = tonumber(redis.call('ZSCORE', created, task))
    if c ~= nil and c + DAY <= t then c = nil end  -- left the window (not trimmed yet)
    local place, pos = place_of(task)
    if c == nil and place == 0 then return nil end
    return done({3, place, pos, c or 0, 0, n, started, expired})
  end
  if daily >= 0 and n >= daily then
    local d = duplicate()
    if d then return d end
    local retry = -1
    if daily > 0 then
      -- The (n - daily + 1)-th oldest job of the window must leave; the
      -- window's jobs are the set's top n (older entries may wait to be trimmed).
      local i = s(redis.call('ZCARD', created) - daily)
      retry = tonumber(redis.call('ZRANGE', created, i, i, 'WITHSCORES')[2]) + DAY - raw
    end
    return done({2, 0, 0, 0, retry, n, started, expired})
  end
  -- Count it and give it a lease; NX: an id already there is a duplicate.
  if redis.call('ZADD', created, 'NX', ts, task) == 0 then
    local d = duplicate()
    if d then return d end
    redis.call('ZADD', created, ts, task)  -- a stale entry of the same id: a new job
  end
  if n == 0 then table.insert(fresh, created) end
  if redis.call('ZADD', leases, 'NX', until_, task) == 0 then
    redis.call('ZREM', created, task)  -- open for more than 24 h: still a duplicate
    return duplicate()
  end
  if nl == 0 then table.insert(fresh, leases) end
  note_lease(t + ttl)
  local running = nl - nq
  nl = nl + 1
  if nq > 0 or (limit >= 0 and running >= limit) then
    if nq == 0 then table.insert(fresh, queue) end
    redis.call('ZADD', queue, s(redis.call('HINCRBY', meta, 'seq', 1)), task)
    nq = nq + 1
    return done({1, 2, nq, t, 0, n + 1, started, expired})
  end
  return done({0, 1, 0, t, 0, n + 1, started, expired})
end

if op == 'finish' or op == 'revoke' then
  local task, limit = ARGV[5], tonumber(ARGV[6])
  local started = start(limit)
  local found, was_running = 0, 0
  if redis.call('ZREM', leases, task) == 1 then
    found, nl = 1, nl - 1
    if redis.call('ZREM', queue, task) == 1 then nq = nq - 1 else was_running = 1 end
  end
  if op == 'revoke' then redis.call('ZREM', created, task) end
  local more = start(limit)
  if #more > 0 then
    if started == NONE then started = more else for _, id in ipairs(more) do table.insert(started, id) end end
  end
  return done({found, was_running, started, expired})
end

if op == 'renew' then
  local task, limit = ARGV[5], tonumber(ARGV[6])
  local started = start(limit)
  local place, pos = place_of(task)
  if place ~= 0 then redis.call('ZADD', leases, 'XX', s(t + ttl), task) end
  return done({place, pos, started, expired})
end

if op == 'poll' then
  return done({start(tonumber(ARGV[5])), expired})
end

if op == 'restore' then
  -- ARGV[6..]: (task, created us, place) triples in admission order.
  -- Running tasks hold their slots whatever the limit; queued ones queue
  -- in order; nothing is counted or placed twice.
  for i = 6, #ARGV, 3 do
    local id, c = ARGV[i], tonumber(ARGV[i + 1])
    if c + DAY > t then redis.call('ZADD', created, 'NX', s(c), id) end
    if ARGV[i + 2] == '1' then redis.call('ZADD', leases, 'NX', s(t + ttl), id) end
  end
  for i = 6, #ARGV, 3 do
    local id = ARGV[i]
    if ARGV[i + 2] == '2' and not redis.call('ZSCORE', leases, id) then
      redis.call('ZADD', queue, s(redis.call('HINCRBY', meta, 'seq', 1)), id)
      redis.call('ZADD', leases, s(t + ttl), id)
    end
  end
  note_lease(t + ttl)
  nl, nq = redis.call('ZCARD', leases), redis.call('ZCARD', queue)
  local started = start(tonumber(ARGV[5]))
  fresh = KEYS
  return done({started, expired})
end

return redis.error_reply('tollgate: unknown operation ' .. tostring(op))
)lua";

/// The round-trip floor of the benchmarks: a script that does nothing.
inline constexpr std::string_view empty_script = "return 0";

}  // namespace tollgate::redis::detail
