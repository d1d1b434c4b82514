package redisstore

// The scripts, one per atomic change. ARGV[1] is always the key prefix.

// ARGV: P agent rank paused skills
var loginScript = script(`
local a, rank, paused, skills = ARGV[2], tonumber(ARGV[3]), ARGV[4] == '1', ARGV[5]
local k = akey(a)
local v = redis.call('HMGET', k, 'state', 'answered_today', 'answered_day')
local to = 'available'
if paused then to = 'paused' end
if v[1] and v[1] ~= 'logged_out' then fail('ACDILLEGAL', a .. ' ' .. v[1] .. ' ' .. to) end
local t, day = now()
redis.call('HDEL', k, 'call', 'reason', 'wrap_until')
redis.call('HSET', k, 'state', 'logged_out', 'rank', rank, 'skills', skills, 'misses', 0)
redis.call('SADD', P .. 'agents', a)
local g = {state = 'logged_out', skills = skills, rank = rank, idle = t, ans = tonumber(v[2]) or 0,
  ansday = tonumber(v[3]), misses = 0}
move(a, g, to, t, day)
return to
`, "move")

// ARGV: P agent to reason
var setStateScript = script(`
local a, to, reason = ARGV[2], ARGV[3], ARGV[4]
local g = getagent(a)
local st = g.state
if (st == 'reserved' or to == 'reserved') and st ~= to then fail('ACDRESERVED', a .. ' ' .. st .. ' ' .. to) end
if st == 'on_call' and g.call and to ~= st then fail('ACDTALKING', a .. ' ' .. st .. ' ' .. to .. ' ' .. g.call) end
local t, day = now()
return move(a, g, to, t, day, nil, reason)
`, "move")

// setQueueScript stores a queue's configuration and builds the index family
// its strategy needs if no queue needed it before. Returns the number of
// agents indexed.
//
// ARGV: P queue strategy step_us max_misses retry_us wrap_us
var setQueueScript = script(`
local q, strat = ARGV[2], ARGV[3]
redis.call('HSET', P .. 'queue:' .. q, 'strategy', strat, 'step', ARGV[4], 'max_misses', ARGV[5],
  'retry', ARGV[6], 'wrap', ARGV[7])
local c = famof(strat)
if c == 'I' or string.find(fam(), c, 1, true) then return 0 end
local _, day = now()
local agents = redis.call('ZRANGE', P .. 'avail', 0, -1)
for _, a in ipairs(agents) do
  local g = getagent(a)
  if g.state ~= 'available' then fail('ACDINVARIANT', 'indexed agent ' .. a .. ' is ' .. g.state) end
  if c == 'F' then fewestready(g.skills, day) end
  entries(c, a, g, day, zadd)
end
redis.call('SET', P .. 'fam', fam() .. c)
return #agents
`, "agent", "index")

// ARGV: P queue call prio req stages prefer prefer_wait_us since_us owner channel
var enqueueScript = script(`
local q, c, prio = ARGV[2], ARGV[3], tonumber(ARGV[4])
local ck = P .. 'call:' .. c
if redis.call('EXISTS', ck) == 1 then fail('ACDQUEUED', 'call ' .. c) end
local step = tonumber(redis.call('HGET', P .. 'queue:' .. q, 'step')) or 0
if step <= 0 then step = 100000000000000 end -- strict: ~3 years per level
local t = now()
local enq = tonumber(ARGV[9])
if enq <= 0 or enq > t then enq = t end
local score = enq - prio * step
local f = {'queue', q, 'prio', prio, 'score', score, 'state', 'waiting', 'enq', enq, 'req', ARGV[5]}
if ARGV[6] ~= '' then f[#f + 1] = 'stages'; f[#f + 1] = ARGV[6] end
if ARGV[7] ~= '' then
  f[#f + 1] = 'prefer'; f[#f + 1] = ARGV[7]
  f[#f + 1] = 'prefer_until'; f[#f + 1] = enq + tonumber(ARGV[8])
end
if ARGV[10] ~= '' then f[#f + 1] = 'owner'; f[#f + 1] = ARGV[10] end
if ARGV[11] ~= '' then f[#f + 1] = 'channel'; f[#f + 1] = ARGV[11] end
redis.call('HSET', ck, unpack(f))
redis.call('ZADD', P .. 'waiting:' .. q, score, c)
redis.call('SADD', P .. 'calls', c)
return 1
`)

// ARGV: P call
var dequeueScript = script(`
local c = ARGV[2]
local ck = P .. 'call:' .. c
local h = redis.call('HMGET', ck, 'queue', 'state', 'agent', 'answered')
if not h[1] then fail('ACDNOTFOUND', 'call ' .. c) end
local t, day = now()
if h[2] == 'talking' then return endtalk(c, h[1], h[3], h[4], t, day) end
local a = ''
if h[2] == 'reserved' then
  a = h[3]
  local g = getagent(a)
  if g.state ~= 'reserved' or g.call ~= c then fail('ACDINVARIANT', 'call ' .. c .. ' reserved for ' .. a .. ' which is not reserved for it') end
  redis.call('ZREM', P .. 'rsv', c)
  move(a, g, 'available', t, day)
else
  redis.call('ZREM', P .. 'waiting:' .. h[1], c)
end
dropcall(c)
return a
`, "calls")

// ARGV: P call outcome
var releaseScript = script(`
local c, o = ARGV[2], ARGV[3]
local ck = P .. 'call:' .. c
local h = redis.call('HMGET', ck, 'queue', 'state', 'agent', 'score', 'prefer', 'excl_until')
if not h[1] then fail('ACDNOTFOUND', 'call ' .. c) end
if h[2] ~= 'reserved' or not h[3] then fail('ACDNOTRESERVED', 'call ' .. c .. ' is ' .. tostring(h[2])) end
local a = h[3]
local g = getagent(a)
if g.state ~= 'reserved' or g.call ~= c then fail('ACDINVARIANT', 'call ' .. c .. ' reserved for ' .. a .. ' which is not reserved for it') end
local t, day = now()
redis.call('ZREM', P .. 'rsv', c)
if o == 'answered' then
  local n = 0
  if g.ansday == day then n = g.ans end
  move(a, g, 'on_call', t, day, {'answered_today', n + 1, 'answered_day', day, 'misses', 0})
  redis.call('HSET', ck, 'state', 'talking', 'answered', t)
  return a
end
local cfg = redis.call('HMGET', P .. 'queue:' .. h[1], 'max_misses', 'retry')
local retry = tonumber(cfg[2]) or {{RETRY}}
if o == 'rejected' then
  move(a, g, 'available', t, day)
else
  local misses, max = g.misses + 1, tonumber(cfg[1]) or 0
  if max > 0 and misses >= max then
    move(a, g, 'paused', t, day, {'misses', misses}, 'missed_offers')
  else
    move(a, g, 'available', t, day, {'misses', misses})
  end
end
local ek = P .. 'excl:' .. c
redis.call('ZREMRANGEBYSCORE', ek, '-inf', t)
redis.call('ZADD', ek, t + retry, a)
redis.call('HSET', ck, 'state', 'waiting', 'excl_until', math.max(t + retry, tonumber(h[6]) or 0))
if h[5] == a then
  redis.call('HDEL', ck, 'agent', 'prefer', 'prefer_until') -- the preferred agent declined: no more waiting for it
else
  redis.call('HDEL', ck, 'agent')
end
redis.call('ZADD', P .. 'waiting:' .. h[1], h[4], c)
return a
`, "move")

// ARGV: P call
var finishScript = script(`
local c = ARGV[2]
local h = redis.call('HMGET', P .. 'call:' .. c, 'queue', 'state', 'agent', 'answered')
if not h[1] then fail('ACDNOTFOUND', 'call ' .. c) end
if h[2] ~= 'talking' then fail('ACDNOTTALKING', 'call ' .. c .. ' is ' .. h[2]) end
local t, day = now()
return endtalk(c, h[1], h[3], h[4], t, day)
`, "calls")

// ARGV: P call
var requeueScript = script(`
local c = ARGV[2]
local ck = P .. 'call:' .. c
local h = redis.call('HMGET', ck, 'queue', 'state', 'agent', 'score', 'callback', 'attempts')
if not h[1] then fail('ACDNOTFOUND', 'call ' .. c) end
if h[2] ~= 'talking' then fail('ACDNOTTALKING', 'call ' .. c .. ' is ' .. h[2]) end
if not h[5] then fail('ACDINVALID', 'call ' .. c .. ' is no callback') end
local a = h[3]
local g = getagent(a)
if g.state ~= 'on_call' or g.call ~= c then fail('ACDINVARIANT', 'call ' .. c .. ' talking with ' .. a .. ' which is not on it') end
local t, day = now()
move(a, g, 'available', t, day)
redis.call('HSET', ck, 'state', 'waiting', 'attempts', (tonumber(h[6]) or 0) + 1)
redis.call('HDEL', ck, 'agent', 'answered')
redis.call('ZADD', P .. 'waiting:' .. h[1], h[4], c)
return a
`, "move")

// ARGV: P call number
var setCallbackScript = script(`
local c, number = ARGV[2], ARGV[3]
local ck = P .. 'call:' .. c
local st = redis.call('HGET', ck, 'state')
if not st then fail('ACDNOTFOUND', 'call ' .. c) end
if st ~= 'waiting' then fail('ACDHELD', 'call ' .. c .. ' is ' .. st) end
redis.call('HSET', ck, 'callback', number)
redis.call('HDEL', ck, 'owner', 'channel')
return 1
`)

// ARGV: P call
var positionScript = script(`
local c = ARGV[2]
local h = redis.call('HMGET', P .. 'call:' .. c, 'queue', 'state')
if not h[1] then fail('ACDNOTFOUND', 'call ' .. c) end
if h[2] ~= 'waiting' then return 0 end
local r = redis.call('ZRANK', P .. 'waiting:' .. h[1], c)
if not r then fail('ACDINVARIANT', 'waiting call ' .. c .. ' not in waiting:' .. h[1]) end
return r + 1
`)

// reapScript ends expired reservations and wrap-ups, at most limit of each.
//
// ARGV: P limit
var reapScript = script(`
local lim = tonumber(ARGV[2])
local t, day = now()
local n = 0
for _, c in ipairs(redis.call('ZRANGE', P .. 'rsv', '-inf', t, 'BYSCORE', 'LIMIT', 0, lim)) do
  local ck = P .. 'call:' .. c
  local h = redis.call('HMGET', ck, 'state', 'agent', 'queue', 'score')
  redis.call('ZREM', P .. 'rsv', c)
  if h[1] == 'reserved' then
    local a = h[2]
    local g = getagent(a)
    if g.state ~= 'reserved' or g.call ~= c then fail('ACDINVARIANT', 'call ' .. c .. ' reserved for ' .. a .. ' which is not reserved for it') end
    move(a, g, 'available', t, day)
    redis.call('HSET', ck, 'state', 'waiting')
    redis.call('HDEL', ck, 'agent')
    redis.call('ZADD', P .. 'waiting:' .. h[3], h[4], c)
    n = n + 1
  end
end
for _, a in ipairs(redis.call('ZRANGE', P .. 'wrapups', '-inf', t, 'BYSCORE', 'LIMIT', 0, lim)) do
  local g = getagent(a)
  if g.state == 'wrap_up' and g.wrap and g.wrap <= t then
    move(a, g, 'available', t, day, nil, nil, g.wrap)
    n = n + 1
  else
    redis.call('ZREM', P .. 'wrapups', a)
  end
end
return n
`, "move")

// statsScript returns waiting, staffed, available, handle time sum (µs) and
// count. Staffed and available are exact intersections over the queue's
// skills (SetQueueSkills), all agents when none.
//
// ARGV: P queue
var statsScript = script(`
local q = ARGV[2]
local waiting = redis.call('ZCARD', P .. 'waiting:' .. q)
local keys = {}
for s, m in string.gmatch(redis.call('HGET', P .. 'queue:' .. q, 'skills') or '', '(%S+) (%d+)') do
  keys[#keys + 1] = P .. 'sk:' .. s .. ':' .. m
end
local staffed, avail
if #keys == 0 then
  staffed = redis.call('SCARD', P .. 'staffed')
  avail = redis.call('ZCARD', P .. 'avail')
else
  staffed = redis.call('SINTERCARD', #keys, unpack(keys))
  avail = redis.call('ZINTERCARD', #keys + 1, P .. 'avail', unpack(keys))
end
local hs = redis.call('LRANGE', P .. 'handle:' .. q, 0, -1)
local sum = 0
for _, v in ipairs(hs) do sum = sum + tonumber(v) end
return {waiting, staffed, avail, sum, #hs}
`)

// pickScript finds, among the first waiting calls of a queue (lookahead),
// the first that can be served and the best available agent for it, and
// reserves both.
//
// A call's requirements are its skills, or those of the latest expansion
// stage reached. Until prefer_until only the preferred agent may take it;
// otherwise the call is passed over. Agents come from the index family of
// the queue's strategy, already in the strategy's order: the walk takes the
// index of the requirement with the fewest available agents (or the global
// one) in growing batches and checks the other requirements with one
// SMISMEMBER per batch on the staffed-at-level sets, so the first agent that
// passes is the answer. best_skill with several skills walks its per-level
// index and stops once no later agent can reach the best sum. A requirement
// that found nobody is not tried again for the next calls of the same pick.
//
// ARGV: P queue lookahead ttl_us. Returns {call, agent}, {'empty'} or {'noagent'}.
var pickScript = script(`
local q, look, ttl = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local wk = P .. 'waiting:' .. q
local calls = redis.call('ZRANGE', wk, 0, look - 1)
if #calls == 0 then return {'empty'} end
local qk = P .. 'queue:' .. q
local cfg = redis.call('HMGET', qk, 'strategy', 'rr')
local strat = cfg[1] or 'longest_idle'
local fc = famof(strat)
if fc ~= 'I' and not string.find(fam(), fc, 1, true) then fail('ACDINVARIANT', 'queue ' .. q .. ': no ' .. strat .. ' index') end
local base, cut = 'avail', 0
if fc == 'R' then base, cut = 'rank', 10 elseif fc == 'F' then base, cut = 'fewest', 16 elseif fc == 'B' then base, cut = 'best', 16 end
local t, day = now()

local function parse(str)
  local r = {}
  for s, m in string.gmatch(str, '(%S+) (%d+)') do r[#r + 1] = {s, tonumber(m)} end
  return r
end

-- first walks fetch(offset, count) in growing batches and returns the first
-- agent (and its index member) passing the checks and not excluded.
local function first(fetch, cut, checks, excl)
  local off, n = 0, 8
  while true do
    local ms = fetch(off, n)
    local cnt = #ms
    if cnt == 0 then return nil end
    local ids = ms
    if cut > 0 then
      ids = {}
      for i = 1, cnt do ids[i] = string.sub(ms[i], cut + 1) end
    end
    local ok = {}
    for i = 1, cnt do ok[i] = not (excl and excl[ids[i]]) end
    for _, key in ipairs(checks) do
      local r = redis.call('SMISMEMBER', key, unpack(ids))
      for i = 1, cnt do if r[i] == 0 then ok[i] = false end end
    end
    for i = 1, cnt do if ok[i] then return ids[i], ms[i] end end
    if cnt < n then return nil end
    off = off + n
    if n < 256 then n = n * 4 end
  end
end

local function bestskill(req, excl)
  local k, drive = #req, 1
  if k > 1 then
    local size
    for i, r in ipairs(req) do
      local n = redis.call('ZCOUNT', P .. 'best:' .. r[1], 0, {{MAX}} - r[2])
      if n == 0 then return nil end
      if not size or n < size then size, drive = n, i end
    end
  end
  local key, top = P .. 'best:' .. req[drive][1], {{MAX}} - req[drive][2]
  if k == 1 then
    return first(function(off, n) return redis.call('ZRANGE', key, 0, top, 'BYSCORE', 'LIMIT', off, n) end, 16, {}, excl)
  end
  local others = {}
  for i, r in ipairs(req) do if i ~= drive then others[#others + 1] = r end end
  local bm, bsum, bidle
  local off, n = 0, 16
  while true do
    local r = redis.call('ZRANGE', key, 0, top, 'BYSCORE', 'LIMIT', off, n, 'WITHSCORES')
    local cnt = #r / 2
    if cnt == 0 then break end
    local ms = {}
    for i = 1, cnt do ms[i] = r[2 * i - 1] end
    local lv = {}
    for j, o in ipairs(others) do lv[j] = redis.call('ZMSCORE', P .. 'best:' .. o[1], unpack(ms)) end
    for i = 1, cnt do
      local l1 = {{MAX}} - tonumber(r[2 * i])
      if bsum and bsum > l1 + {{MAX}} * (k - 1) then return string.sub(bm, 17), bm end
      local m, sum, ok = ms[i], l1, true
      for j, o in ipairs(others) do
        local sc = lv[j][i]
        if not sc or {{MAX}} - tonumber(sc) < o[2] then ok = false break end
        sum = sum + {{MAX}} - tonumber(sc)
      end
      if ok and excl and excl[string.sub(m, 17)] then ok = false end
      if ok then
        local idle = tonumber(string.sub(m, 1, 16))
        if not bsum or sum > bsum or (sum == bsum and idle < bidle) then bm, bsum, bidle = m, sum, idle end
      end
    end
    if cnt < n then break end
    off = off + n
    if n < 256 then n = n * 4 end
  end
  if bm then return string.sub(bm, 17), bm end
  return nil
end

local function choose(req, excl)
  local k = #req
  if fc == 'B' and k > 0 then return bestskill(req, excl) end
  local drive = 1
  if k > 1 then
    local size
    for i, r in ipairs(req) do
      local n = redis.call('ZCARD', P .. base .. ':' .. r[1])
      if n == 0 then return nil end
      if not size or n < size then size, drive = n, i end
    end
  end
  local key, field, kcut = P .. 'avail', ' ', 0 -- best_skill without skills: longest idle
  if fc ~= 'B' then key, kcut = P .. base, cut end
  if k > 0 then key, field = key .. ':' .. req[drive][1], req[drive][1] end
  local checks = {}
  for i, r in ipairs(req) do
    if i ~= drive or r[2] > 1 then checks[#checks + 1] = P .. 'sk:' .. r[1] .. ':' .. r[2] end
  end
  if fc == 'F' and tonumber(redis.call('HGET', P .. 'fewestday', field)) ~= day then
    redis.call('ZUNIONSTORE', key, 1, key, 'WEIGHTS', 0)
    redis.call('HSET', P .. 'fewestday', field, day)
  end
  if fc == 'R' then
    local hi = '+'
    if strat == 'round_robin' and cfg[2] then
      local a, m = first(function(off, n) return redis.call('ZRANGE', key, '(' .. cfg[2], '+', 'BYLEX', 'LIMIT', off, n) end, kcut, checks, excl)
      if a then return a, m end
      hi = '[' .. cfg[2]
    end
    return first(function(off, n) return redis.call('ZRANGE', key, '-', hi, 'BYLEX', 'LIMIT', off, n) end, kcut, checks, excl)
  end
  return first(function(off, n) return redis.call('ZRANGE', key, off, off + n - 1) end, kcut, checks, excl)
end

local function preferred(p, req, excl)
  if excl and excl[p] then return nil end
  local v = redis.call('HMGET', akey(p), 'state', 'skills')
  if v[1] ~= 'available' then return nil end
  local lv = {}
  for s, l in string.gmatch(v[2] or '', '(%S+) (%d+)') do lv[s] = tonumber(l) end
  for _, r in ipairs(req) do
    if not lv[r[1]] or lv[r[1]] < r[2] then return nil end
  end
  return p
end

local failed = {}
for _, c in ipairs(calls) do
  local ck = P .. 'call:' .. c
  local h = redis.call('HMGET', ck, 'req', 'stages', 'enq', 'prefer', 'prefer_until', 'excl_until', 'state')
  if h[7] ~= 'waiting' then fail('ACDINVARIANT', 'call ' .. c .. ' in ' .. wk .. ' is ' .. tostring(h[7])) end
  local rs = h[1] or ''
  if h[2] then
    local enq = tonumber(h[3])
    for after, r in string.gmatch(h[2], '(%d+) ?([^\n]*)') do
      if enq + tonumber(after) > t then break end
      rs = r
    end
  end
  local excl
  local eu = tonumber(h[6])
  if eu and eu > t then
    excl = {}
    for _, a in ipairs(redis.call('ZRANGE', P .. 'excl:' .. c, '(' .. t, '+inf', 'BYSCORE')) do excl[a] = true end
  end
  local a, m
  local pu = tonumber(h[5])
  if h[4] and pu and t < pu then
    a = preferred(h[4], parse(rs), excl)
  elseif excl or not failed[rs] then
    a, m = choose(parse(rs), excl)
    if not a and not excl then failed[rs] = true end
  end
  if a then
    local g = getagent(a)
    if g.state ~= 'available' then fail('ACDINVARIANT', 'indexed agent ' .. a .. ' is ' .. g.state) end
    move(a, g, 'reserved', t, day, {'call', c})
    redis.call('HSET', ck, 'state', 'reserved', 'agent', a)
    redis.call('ZREM', wk, c)
    redis.call('ZADD', P .. 'rsv', t + ttl, c)
    if strat == 'round_robin' and m then redis.call('HSET', qk, 'rr', m) end
    return {c, a}
  end
end
return {'noagent'}
`, "move")

// allScripts are loaded by Store.Load.
var allScripts = []*redisScript{
	{"login", loginScript}, {"set state", setStateScript}, {"set queue", setQueueScript},
	{"enqueue", enqueueScript}, {"dequeue", dequeueScript}, {"release", releaseScript},
	{"finish", finishScript}, {"requeue", requeueScript}, {"set callback", setCallbackScript},
	{"position", positionScript}, {"reap", reapScript}, {"stats", statsScript}, {"pick", pickScript},
}
