"""The Lua scripts: every change that reads before it writes runs as one script, so it is
atomic across replicas (Redis runs a script with nothing else in between).

Index keys are computed inside the scripts (`prefix .. status`), which is fine on one
Redis server (one primary at one address) and is why Redis Cluster is not supported.
"""

from __future__ import annotations

# A document under `id` in a data hash, its status in a status hash, and its id in the
# sorted set of that status (score: when it was written); moved out of the old status's set.
# KEYS: data hash, status hash, [all-documents zset]. ARGV: id, status, score, json, status-zset prefix.
PUT_INDEXED = """
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then redis.call('ZREM', ARGV[5] .. old, ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', ARGV[5] .. ARGV[2], ARGV[3], ARGV[1])
if KEYS[3] then redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1]) end
return 1
"""

# PUT_INDEXED for approvals, plus the revision and the writing call's token; with ARGV[8]
# set, only if the stored revision is ARGV[8] (compare-and-set), or the stored token is
# this call's (the same call sent again after its connection was lost: it won the first
# time). KEYS: data, status, revision, token hashes.
# ARGV: id, status, score, json, status-zset prefix, new revision, token, [expected revision].
PUT_APPROVAL = """
if ARGV[8] then
  if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
  if (redis.call('HGET', KEYS[3], ARGV[1]) or '0') ~= ARGV[8] then
    return redis.call('HGET', KEYS[4], ARGV[1]) == ARGV[7] and 1 or 0
  end
end
local old = redis.call('HGET', KEYS[2], ARGV[1])
if old then redis.call('ZREM', ARGV[5] .. old, ARGV[1]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[6])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[7])
redis.call('ZADD', ARGV[5] .. ARGV[2], ARGV[3], ARGV[1])
return 1
"""

# Documents of one status written before ARGV[1], out of every index (as PUT_INDEXED and
# PUT_APPROVAL keep them). KEYS: that status's zset, then ARGV[2] hashes holding a field per
# document (data, status, ...), then the zsets it is also in. Returns how many.
PRUNE_INDEXED = """
local hashes = tonumber(ARGV[2])
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
for _, id in ipairs(old) do
  for i = 2, #KEYS do
    if i <= hashes + 1 then redis.call('HDEL', KEYS[i], id) else redis.call('ZREM', KEYS[i], id) end
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
return #old
"""

# The documents whose ids a sorted set holds, in its order. KEYS: zset, data hash.
READ_INDEXED = """
local found = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local doc = redis.call('HGET', KEYS[2], id)
  if doc then found[#found + 1] = doc end
end
return found
"""

# Mutes: drop those ended at ARGV[1], return the rest soonest-ending first. KEYS: zset, data.
MUTES = """
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])) do
  redis.call('HDEL', KEYS[2], id)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local found = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local doc = redis.call('HGET', KEYS[2], id)
  if doc then found[#found + 1] = doc end
end
return found
"""

# A key offered once (SET NX EX) holds the token of the call that set it: the same call
# sent again after its connection was lost is still the first. KEYS: the key.
# ARGV: token, ttl seconds. 1 for the first offer, 0 for a repeat.
FIRST_OFFER = """
local holder = redis.call('GET', KEYS[1])
if holder then return holder == ARGV[1] and 1 or 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""

# A notification key, once (as FIRST_OFFER), and its time in a sorted set for
# forget_notifications. KEYS: the key's own string, the zset. ARGV: at, ttl seconds, key, token.
FIRST_NOTIFICATION = """
local holder = redis.call('GET', KEYS[1])
if holder then return holder == ARGV[4] and 1 or 0 end
redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
return 1
"""

# KEYS: zset. ARGV: before (exclusive), prefix of the keys' strings.
FORGET_NOTIFICATIONS = """
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
for _, key in ipairs(old) do redis.call('DEL', ARGV[2] .. key) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
return #old
"""

# A remediation, and with a webhook id its delivery's state; with ARGV[9] set, only if the
# stored revision is ARGV[9] or the stored token is this call's (as PUT_APPROVAL).
# KEYS: remediation data, open zset, delivery→remediation hash, pending zset, revision hash,
# token hash. ARGV: id, closed, score, json, webhook id ('' when none), delivery state,
# new revision, token, [expected revision].
PUT_REMEDIATION = """
if ARGV[9] then
  if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
  if (redis.call('HGET', KEYS[5], ARGV[1]) or '0') ~= ARGV[9] then
    return redis.call('HGET', KEYS[6], ARGV[1]) == ARGV[8] and 1 or 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
redis.call('HSET', KEYS[5], ARGV[1], ARGV[7])
redis.call('HSET', KEYS[6], ARGV[1], ARGV[8])
if ARGV[2] == '' then redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1]) else redis.call('ZREM', KEYS[2], ARGV[1]) end
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[3], ARGV[5], ARGV[1])
  if ARGV[6] == 'pending' then redis.call('ZADD', KEYS[4], ARGV[3], ARGV[5]) else redis.call('ZREM', KEYS[4], ARGV[5]) end
end
return 1
"""

# KEYS: pending zset, delivery→remediation hash, remediation data.
PENDING_DELIVERIES = """
local found = {}
for _, webhook in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local id = redis.call('HGET', KEYS[2], webhook)
  local doc = id and redis.call('HGET', KEYS[3], id)
  if doc then found[#found + 1] = doc end
end
return found
"""

# One active release per slot (cluster + target). KEYS: data, id→slot, slot→holder, active zset.
# ARGV: id, slot, json, score. Returns {0} when claimed (also when this release holds it
# already: the same claim sent again), else {1, the holder's json}.
CLAIM_RELEASE = """
local holder = redis.call('HGET', KEYS[3], ARGV[2])
if holder == ARGV[1] then return {0} end
if holder then return {1, redis.call('HGET', KEYS[1], holder) or '{}'} end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {1, '{}'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
return {0}
"""

# Update a claimed release; an inactive one frees its slot. KEYS as CLAIM_RELEASE.
# ARGV: id, '1' or '0', json, score.
PUT_RELEASE = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
local slot = redis.call('HGET', KEYS[2], ARGV[1])
if ARGV[2] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
  if slot and not redis.call('HGET', KEYS[3], slot) then redis.call('HSET', KEYS[3], slot, ARGV[1]) end
else
  redis.call('ZREM', KEYS[4], ARGV[1])
  if slot and redis.call('HGET', KEYS[3], slot) == ARGV[1] then redis.call('HDEL', KEYS[3], slot) end
end
return 1
"""

# KEYS: sequence, data hash, seq→cluster hash, all zset, slot→latest seq hash.
# ARGV: cluster, slot, json, cluster-zset prefix, app-zset prefix, app names...
ADD_VERSION = """
local seq = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], seq, ARGV[3])
redis.call('HSET', KEYS[3], seq, ARGV[1])
redis.call('ZADD', KEYS[4], seq, seq)
redis.call('ZADD', ARGV[4] .. ARGV[1], seq, seq)
for i = 6, #ARGV do redis.call('ZADD', ARGV[5] .. ARGV[i], seq, seq) end
redis.call('HSET', KEYS[5], ARGV[2], seq)
return seq
"""

# Newest first from one index, optionally only one cluster's. KEYS: index zset, data, seq→cluster.
# ARGV: limit, cluster ('' for any).
VERSIONS = """
local limit, found, start = tonumber(ARGV[1]), {}, 0
while #found < limit do
  local seqs = redis.call('ZREVRANGE', KEYS[1], start, start + 255)
  if #seqs == 0 then break end
  for _, seq in ipairs(seqs) do
    if ARGV[2] == '' or redis.call('HGET', KEYS[3], seq) == ARGV[2] then
      local doc = redis.call('HGET', KEYS[2], seq)
      if doc then found[#found + 1] = doc end
      if #found >= limit then break end
    end
  end
  start = start + 256
end
return found
"""

# The newest record of every slot, oldest first. KEYS: slot→latest seq hash, data.
LATEST_VERSIONS = """
local seqs = {}
for _, seq in ipairs(redis.call('HVALS', KEYS[1])) do seqs[#seqs + 1] = tonumber(seq) end
table.sort(seqs)
local found = {}
for _, seq in ipairs(seqs) do
  local doc = redis.call('HGET', KEYS[2], seq)
  if doc then found[#found + 1] = doc end
end
return found
"""

# Mark a context as used, only when it exists. KEYS: data, used. ARGV: key, used_at.
TOUCH_CONTEXT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then redis.call('HSET', KEYS[2], ARGV[1], ARGV[2]) end
return 1
"""

# A token bucket per channel, shared by every replica: `rate` tokens a second, at most
# `burst`, starting full. The clock is Redis's own (TIME), so replicas whose clocks differ
# still agree; ARGV[3], when given, is the time instead (tests drive the clock with it).
# The key expires once the bucket would be full again: a missing key is a full bucket.
# KEYS: the bucket hash. ARGV: rate, burst, [now in seconds].
# Returns the seconds to wait as a string ("0": a token was taken; else nothing taken).
TAKE_TOKEN = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now
if ARGV[3] then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(saved[1]) or burst
local at = tonumber(saved[2]) or now
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate)
  at = now
end
local wait = 0
if tokens >= 1 - 1e-9 then
  tokens = math.max(0, tokens - 1)
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.9f', tokens), 'at', string.format('%.6f', at))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return string.format('%.6f', wait)
"""
