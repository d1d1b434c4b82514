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
emit('q', q .. '\t' .. strat .. '\t' .. (redis.call('HGET', P .. 'queue:' .. q, 'rr') or ''))
local c = famof(strat)
if c == 'I' or string.find(fam(), c, 1, true) then return 0 end
local _, day = now()
local agents = redis.call('ZRANGE', P .. 'avail', 0, -1)
for _, a in ipairs(agents) do
  local g = getagent(a)
  if g.state ~= 'available' then fail('ACDINVARIANT', 'available agent ' .. a .. ' is ' .. g.state) end
  if c == 'F' then fewestready(g.skills, day) end
  entries(a, g, c, day, zadd)
end
redis.call('SET', P .. 'fam', fam() .. c)
return #agents
`, "agent", "index", "feed")

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
local f = {'queue', q, 'prio', prio, 'score', int(score), 'state', 'waiting', 'enq', int(enq), 'req', ARGV[5]}
if ARGV[6] ~= '' then f[#f + 1] = 'stages'; f[#f + 1] = ARGV[6] end
if ARGV[7] ~= '' then
  f[#f + 1] = 'prefer'; f[#f + 1] = ARGV[7]
  f[#f + 1] = 'prefer_until'; f[#f + 1] = int(enq + tonumber(ARGV[8]))
end
if ARGV[10] ~= '' then f[#f + 1] = 'owner'; f[#f + 1] = ARGV[10] end
if ARGV[11] ~= '' then f[#f + 1] = 'channel'; f[#f + 1] = ARGV[11] end
redis.call('HSET', ck, unpack(f))
redis.call('ZADD', P .. 'waiting:' .. q, int(score), c)
redis.call('SADD', P .. 'calls', c)
emit('w', wentry(c))
return 1
`, "feed")

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
  emit('r', c)
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
  redis.call('HSET', ck, 'state', 'talking', 'answered', int(t))
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
redis.call('ZREMRANGEBYSCORE', ek, '-inf', int(t))
redis.call('ZADD', ek, int(t + retry), a)
redis.call('HSET', ck, 'state', 'waiting', 'excl_until', int(math.max(t + retry, tonumber(h[6]) or 0)))
if h[5] == a then
  redis.call('HDEL', ck, 'agent', 'prefer', 'prefer_until') -- the preferred agent declined: no more waiting for it
else
  redis.call('HDEL', ck, 'agent')
end
redis.call('ZADD', P .. 'waiting:' .. h[1], h[4], c)
emit('w', wentry(c))
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

// redirectScript: a blind transfer of a talking call to agent b. The
// talking agent's part ends (wrap-up, handle time), b is reserved for the
// call as if picked, so Release ends the offer like any other.
// ARGV: P call agent
var redirectScript = script(`
local c, b = ARGV[2], ARGV[3]
local ck = P .. 'call:' .. c
local h = redis.call('HMGET', ck, 'queue', 'state', 'agent', 'answered')
if not h[1] then fail('ACDNOTFOUND', 'call ' .. c) end
if h[2] ~= 'talking' then fail('ACDNOTTALKING', 'call ' .. c .. ' is ' .. h[2]) end
if h[3] == b then fail('ACDINVALID', 'call ' .. c .. ' is already with agent ' .. b) end
local gb = getagent(b)
if gb.state ~= 'available' then fail('ACDILLEGAL', b .. ' ' .. gb.state .. ' reserved') end
local t, day = now()
local a = endtalk(c, h[1], h[3], h[4], t, day, true)
move(b, gb, 'reserved', t, day, {'call', c})
redis.call('HSET', ck, 'state', 'reserved', 'agent', b)
redis.call('HDEL', ck, 'answered')
redis.call('ZADD', P .. 'rsv', int(t + tonumber(ARGV[4])), c)
return a
`, "calls")

// partyScript: an agent consulted on a talking call (a consult transfer or
// a conference). op claim: the available agent is reserved for the call;
// answer: the reserved agent is on the call; end: the agent leaves it
// (wrap-up for the queue's time after talking, available after a ring);
// handover: the agent becomes the call's agent and the one it had ends its
// talk (wrap-up, handle time). Returns the call's agent before the op.
// ARGV: P call agent op
var partyScript = script(`
local c, b, op = ARGV[2], ARGV[3], ARGV[4]
local ck = P .. 'call:' .. c
local h = redis.call('HMGET', ck, 'queue', 'state', 'agent', 'answered')
if not h[1] then fail('ACDNOTFOUND', 'call ' .. c) end
if h[2] ~= 'talking' then fail('ACDNOTTALKING', 'call ' .. c .. ' is ' .. h[2]) end
if h[3] == b then fail('ACDINVALID', 'call ' .. c .. ' is already with agent ' .. b) end
local g = getagent(b)
local t, day = now()
if op == 'claim' then
  if g.state ~= 'available' then fail('ACDILLEGAL', b .. ' ' .. g.state .. ' reserved') end
  move(b, g, 'reserved', t, day, {'call', c})
  return h[3]
end
if g.call ~= c then fail('ACDINVALID', 'agent ' .. b .. ' is not on call ' .. c) end
if op == 'answer' then
  local n = 0
  if g.ansday == day then n = g.ans end
  move(b, g, 'on_call', t, day, {'answered_today', n + 1, 'answered_day', day})
elseif op == 'end' then
  local wrap = tonumber(redis.call('HGET', P .. 'queue:' .. h[1], 'wrap')) or 0
  if g.state == 'on_call' and wrap > 0 then
    move(b, g, 'wrap_up', t, day, {'wrap_until', int(t + wrap)})
    redis.call('ZADD', P .. 'wrapups', int(t + wrap), b)
  else
    move(b, g, 'available', t, day)
  end
elseif op == 'handover' then
  if g.state ~= 'on_call' then fail('ACDILLEGAL', b .. ' ' .. g.state .. ' on_call') end
  endtalk(c, h[1], h[3], h[4], t, day, true)
  redis.call('HSET', ck, 'agent', b, 'answered', int(t))
else
  fail('ACDINVALID', 'op ' .. op)
end
return h[3]
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
emit('w', wentry(c))
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
for _, c in ipairs(redis.call('ZRANGE', P .. 'rsv', '-inf', int(t), 'BYSCORE', 'LIMIT', 0, lim)) do
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
    emit('w', wentry(c))
    n = n + 1
  end
end
for _, a in ipairs(redis.call('ZRANGE', P .. 'wrapups', '-inf', int(t), 'BYSCORE', 'LIMIT', 0, lim)) do
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
// reserves both; with max > 1 it goes on as that many picks would.
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
// ARGV: P queue lookahead ttl_us max. Returns {call, agent, ...}, {'empty'}
// or {'noagent'}.
var pickScript = script(pickLua, "akey", "fewestday", "stage", "batch")

const pickLua = `
local q, look, ttl, max = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local wk = P .. 'waiting:' .. q
local calls = redis.call('ZRANGE', wk, 0, 0) -- the rest of the lookahead only if needed
if #calls == 0 then return {'empty'} end
local qk = P .. 'queue:' .. q
local cfg = redis.call('HMGET', qk, 'strategy', 'rr')
local strat = cfg[1] or 'longest_idle'
local fc = famof(strat)
if fc ~= 'I' and not string.find(fam(), fc, 1, true) then fail('ACDINVARIANT', 'queue ' .. q .. ': no ' .. strat .. ' index') end
local AV = P .. 'avail' -- exactly the available agents, score idle since
local t, day = now()
-- Agents reserved by this script: still in avail until the end (the
-- writes of a batch are made together), so every walk skips them.
local taken = {}

-- less compares in byte order, as Redis orders members (Lua's < follows
-- the locale).
local function less(a, b)
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

local function parse(str)
  local r = {}
  for s, m in string.gmatch(str, '(%S+) (%d+)') do r[#r + 1] = {s, tonumber(m)} end
  return r
end

-- first walks fetch(offset, count) over index key in growing batches and
-- returns the first available agent (the member from byte cut+1 on) that
-- passes the checks (sets it must be in) and is not excluded, and its
-- member. Entries of agents no longer available are dropped on the way.
local function first(key, fetch, cut, checks, excl)
  local off, n = 0, 4
  while true do
    local ms = fetch(off, n)
    local cnt = #ms
    if cnt == 0 then return nil end
    local ids = ms
    if cut > 0 then
      ids = {}
      for i = 1, cnt do ids[i] = string.sub(ms[i], cut + 1) end
    end
    local av = ids
    if key ~= AV then av = redis.call('ZMSCORE', AV, unpack(ids)) end
    local cand, stale = {}, {}
    for i = 1, cnt do
      if not av[i] then stale[#stale + 1] = ms[i]
      elseif not taken[ids[i]] and not (excl and excl[ids[i]]) then cand[#cand + 1] = i end
    end
    if #stale > 0 then redis.call('ZREM', key, unpack(stale)) end
    for _, ck in ipairs(checks) do
      if #cand == 0 then break end
      local sub = {}
      for j, i in ipairs(cand) do sub[j] = ids[i] end
      local r = redis.call('SMISMEMBER', ck, unpack(sub))
      local keep = {}
      for j, i in ipairs(cand) do if r[j] == 1 then keep[#keep + 1] = i end end
      cand = keep
    end
    if #cand > 0 then return ids[cand[1]], ms[cand[1]] end
    if cnt < n then return nil end
    off = off + n - #stale
    if n < 256 then n = n * 4 end
  end
end
local function byrank(key, off, n) return redis.call('ZRANGE', key, off, off + n - 1) end

-- bestskill: highest sum of levels, then longest idle. The rarest skill's
-- agents are walked level by level, highest first, each level in idle
-- order, the other skills' levels read per batch; the walk stops once no
-- later agent can beat the best found.
local function bestskill(req, excl)
  local k, drive = #req, 1
  if k > 1 then
    local size
    for i, r in ipairs(req) do
      local c = redis.call('SCARD', P .. 'sk:' .. r[1] .. ':' .. r[2])
      if not size or c < size then size, drive = c, i end
    end
  end
  local s, m = req[drive][1], req[drive][2]
  local others = {}
  for i, r in ipairs(req) do if i ~= drive then others[#others + 1] = r end end
  local ba, bsum, bidle
  for L = {{MAX}}, m, -1 do
    local top = L + {{MAX}} * (k - 1) -- the best sum an agent at level L can have
    if bsum and bsum > top then break end
    local key = P .. 'best:' .. s .. ':' .. L
    if k == 1 then
      local a = first(key, function(off, n) return byrank(key, off, n) end, 0, {}, excl)
      if a then return a end
    else
      local off, n, done = 0, 16, false
      while not done do
        local r = redis.call('ZRANGE', key, off, off + n - 1, 'WITHSCORES')
        local cnt = #r / 2
        if cnt == 0 then break end
        local ids = {}
        for i = 1, cnt do ids[i] = r[2 * i - 1] end
        local av = redis.call('ZMSCORE', AV, unpack(ids))
        local lv = {}
        for j, o in ipairs(others) do lv[j] = redis.call('ZMSCORE', P .. 'lvz:' .. o[1], unpack(ids)) end
        local stale = {}
        for i = 1, cnt do
          local idle = tonumber(r[2 * i])
          if not av[i] then
            stale[#stale + 1] = ids[i]
          elseif bsum and bsum >= top and idle >= bidle then
            done = true -- idle order: nobody later at this level wins
            break
          elseif not taken[ids[i]] and not (excl and excl[ids[i]]) then
            local sum, ok = L, true
            for j, o in ipairs(others) do
              local l = tonumber(lv[j][i])
              if not l or l < o[2] then ok = false break end
              sum = sum + l
            end
            if ok and (not bsum or sum > bsum or (sum == bsum and idle < bidle)) then ba, bsum, bidle = ids[i], sum, idle end
          end
        end
        if #stale > 0 then redis.call('ZREM', key, unpack(stale)) end
        if cnt < n then break end
        off = off + n - #stale
        if n < 256 then n = n * 4 end
      end
    end
  end
  return ba
end

local function rankkey(rank, a) return string.format('%010d', rank + 1000000000) .. a end

-- pairpick picks among the agents having the skills req[i] and req[j]
-- (r: pair set entries, scored 10*level i + level j): levels checked on the
-- scores, availability and idle time read at once from avail, then the
-- other skills, then the strategy's order.
local function pairpick(r, req, i, j, excl)
  local ids, sum = {}, {}
  local mi, mj = req[i][2], req[j][2]
  for x = 1, #r, 2 do
    local sc = tonumber(r[x + 1])
    local li, lj = math.floor(sc / 10), sc % 10
    if li >= mi and lj >= mj and not taken[r[x]] and not (excl and excl[r[x]]) then
      ids[#ids + 1] = r[x]
      sum[#sum + 1] = li + lj
    end
  end
  if #ids == 0 then return nil end
  local idle = {}
  local av = redis.call('ZMSCORE', AV, unpack(ids))
  local function filter(ok)
    local i2, s2, d2 = {}, {}, {}
    for x = 1, #ids do
      if ok[x] then i2[#i2 + 1] = ids[x]; s2[#s2 + 1] = sum[x]; d2[#d2 + 1] = idle[x] end
    end
    ids, sum, idle = i2, s2, d2
  end
  for x = 1, #ids do idle[x] = tonumber(av[x]) end
  filter(idle)
  for x, q in ipairs(req) do
    if #ids == 0 then return nil end
    if x ~= i and x ~= j then
      local ok = redis.call('SMISMEMBER', P .. 'sk:' .. q[1] .. ':' .. q[2], unpack(ids))
      for y = 1, #ok do ok[y] = ok[y] == 1 end
      filter(ok)
    end
  end
  if #ids == 0 then return nil end
  if fc == 'B' then
    for x, q in ipairs(req) do
      if x ~= i and x ~= j then
        local lv = redis.call('ZMSCORE', P .. 'lvz:' .. q[1], unpack(ids))
        for y = 1, #ids do sum[y] = sum[y] + tonumber(lv[y]) end
      end
    end
    local top = 0
    for y = 1, #ids do if sum[y] > top then top = sum[y] end end
    local ok = {}
    for y = 1, #ids do ok[y] = sum[y] == top end
    filter(ok)
  end
  local sc = idle
  if fc == 'R' then
    sc = redis.call('ZMSCORE', P .. 'rankz', unpack(ids))
  elseif fc == 'F' then
    fewestready('', day)
    sc = redis.call('ZMSCORE', P .. 'fewest', unpack(ids))
  end
  local ba, bs
  local aa, ak -- round robin: the first after the cursor
  for y, a in ipairs(ids) do
    local v = tonumber(sc[y])
    if not bs or v < bs or (v == bs and less(a, ba)) then ba, bs = a, v end
    if fc == 'R' and strat == 'round_robin' and cfg[2] then
      local rk = rankkey(v, a)
      if less(cfg[2], rk) and (not ak or less(rk, ak)) then aa, ak = a, rk end
    end
  end
  if aa then return aa, ak end
  if fc == 'R' then return ba, rankkey(bs, ba) end
  return ba
end

-- choose returns the agent for requirements req (and, round robin, its
-- rank key). Several skills: the agents having the two rarest are a pair
-- set; when it is small, its few agents are checked (pairpick), else the walk
-- meets fitting agents soon enough.
local function choose(req, excl)
  local k = #req
  if k > 1 then
    local i, j = 1, 2
    if k > 2 then
      local sz = {}
      for x, r in ipairs(req) do sz[x] = redis.call('SCARD', P .. 'sk:' .. r[1] .. ':' .. r[2]) end
      if sz[j] < sz[i] then i, j = j, i end
      for x = 3, k do
        if sz[x] < sz[i] then i, j = x, i elseif sz[x] < sz[j] then j = x end
      end
      if j < i then i, j = j, i end
    end
    local r = redis.call('ZRANGE', P .. 'pair:' .. req[i][1] .. ' ' .. req[j][1], 0, 256, 'WITHSCORES')
    if #r == 0 then return nil end
    if #r <= 512 then return pairpick(r, req, i, j, excl) end
  end
  if fc == 'B' and k > 0 then return bestskill(req, excl) end
  local f = fc
  if f == 'B' then f = 'I' end -- best skill without skills: longest idle
  local base = 'avail'
  if f == 'R' then base = 'rank' elseif f == 'F' then base = 'fewest' end
  local drive = 1
  if k > 1 then
    local size
    for i, r in ipairs(req) do
      local c = redis.call('SCARD', P .. 'sk:' .. r[1] .. ':' .. r[2])
      if not size or c < size then size, drive = c, i end
    end
  end
  local key = P .. base
  if k > 0 then key = key .. ':' .. req[drive][1] end
  local checks = {}
  for i, r in ipairs(req) do
    if i ~= drive or r[2] > 1 then checks[#checks + 1] = P .. 'sk:' .. r[1] .. ':' .. r[2] end
  end
  if f == 'F' then
    if k > 0 then fewestready(req[drive][1] .. ' 1', day) else fewestready('', day) end
  end
  if f ~= 'R' then
    return first(key, function(off, c) return byrank(key, off, c) end, 0, checks, excl)
  end
  local hi = '+'
  if strat == 'round_robin' and cfg[2] then
    local a, m = first(key, function(off, c) return redis.call('ZRANGE', key, '(' .. cfg[2], '+', 'BYLEX', 'LIMIT', off, c) end, 10, checks, excl)
    if a then return a, m end
    hi = '[' .. cfg[2]
  end
  return first(key, function(off, c) return redis.call('ZRANGE', key, '-', hi, 'BYLEX', 'LIMIT', off, c) end, 10, checks, excl)
end

local function preferred(p, req, excl)
  if taken[p] or (excl and excl[p]) then return nil end
  local v = redis.call('HMGET', akey(p), 'state', 'skills')
  if v[1] ~= 'available' then return nil end
  local lv = {}
  for s, l in string.gmatch(v[2] or '', '(%S+) (%d+)') do lv[s] = tonumber(l) end
  for _, r in ipairs(req) do
    if not lv[r[1]] or lv[r[1]] < r[2] then return nil end
  end
  return p
end

-- The calls in queue order, examined once each: a call no agent can take
-- stays so while the batch only takes agents away. After r reservations
-- the window reaches look + r calls, as it would for r+1 single picks.
local failed, out, r, i = {}, {}, 0, 1
local B = newbatch({})
while i <= look + r do
  if not calls[i] then
    local from = i - 1 -- reserved calls leave the waiting set at the end
    local more = redis.call('ZRANGE', wk, from, from + look + r - i)
    if #more == 0 then break end
    for _, x in ipairs(more) do calls[#calls + 1] = x end
  end
  local c = calls[i]
  local ck = P .. 'call:' .. c
  local h = redis.call('HMGET', ck, 'req', 'stages', 'enq', 'prefer', 'prefer_until', 'excl_until', 'state')
  if h[7] ~= 'waiting' then fail('ACDINVARIANT', 'call ' .. c .. ' in ' .. wk .. ' is ' .. tostring(h[7])) end
  local rs = stagereq(h[1], h[2], h[3], t)
  local excl
  local eu = tonumber(h[6])
  if eu and eu > t then
    excl = {}
    for _, a in ipairs(redis.call('ZRANGE', P .. 'excl:' .. c, '(' .. int(t), '+inf', 'BYSCORE')) do excl[a] = true end
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
    -- a came from avail in this script and was not taken: it is available
    taken[a] = true
    book(B, c, a, t, ttl)
    if strat == 'round_robin' and m then cfg[2] = m end
    out[#out + 1] = c
    out[#out + 1] = a
    r = r + 1
    if r >= max then break end
  end
  i = i + 1
end
if #out == 0 then return {'noagent'} end
local rr
if strat == 'round_robin' then rr = cfg[2] end
commit(B, q, rr, strat)
return out
`

// reserveScript reserves the pairs a dispatcher chose from its copy of the
// routing state (mirror.go), each only if it is still right, and writes
// what pickScript writes for them (and the round robin cursor if given).
//
// The copy is as new as the feed entry it names (seen). Strict, the script
// first checks that the feed has nothing newer but the reservations of the
// same copy (entries tagged with its id: the copy planned around those in
// flight); if it has, nothing is reserved and the entries from seen on are
// returned, so the dispatcher decides again on the state as it is. A copy
// found current is exact: each call is checked to wait in the queue and
// each agent to be available, in one command each. Not strict (a second
// try, with changes pouring in), each pair is checked in full: the call
// waits in the queue, the agent is available with the skills the copy had
// for it. Either way a call held for a preferred agent, with agents
// excluded or with expansion steps (flagged by the copy) is checked on
// Redis's clock: requirements at this time's step, exclusions, preference.
//
// ARGV: P queue ttl_us cursor seen strict copy_id, then call agent skills
// flag for each pair. Returns the number of pairs refused, the id of its
// feed entry (empty if none), then call, agent, ... reserved; or {'stale',
// id of the feed's last entry, entries after seen}.
var reserveScript = script(`
local q, ttl, rr, seen, strict, id = ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6] == '1', ARGV[7]
local fk = P .. 'feed'
local wk = P .. 'waiting:' .. q
local fresh = false
if strict then
  local head = redis.call('XREVRANGE', fk, '+', '-', 'COUNT', 1)
  fresh = (head[1] and head[1][1] or '0-0') == '0-' .. seen
  if not fresh and head[1] then
    local ents = redis.call('XRANGE', fk, '(0-' .. seen, '+', 'COUNT', 32)
    fresh = #ents < 32 and #ents > 0
    for _, e in ipairs(ents) do
      if e[2][1] ~= 'i' or e[2][2] ~= id then fresh = false break end
    end
  end
  if not fresh then
    return {'stale', head[1] and head[1][1] or '0-0', redis.call('XRANGE', fk, '(0-' .. seen, '+', 'COUNT', 4096)}
  end
end
local t = now()
local n = (#ARGV - 7) / 4
local inq, av = {}, {}
if fresh then
  local cs, as = {}, {}
  for i = 1, n do cs[i], as[i] = ARGV[4 + 4 * i], ARGV[5 + 4 * i] end
  inq = redis.call('ZMSCORE', wk, unpack(cs))
  av = redis.call('ZMSCORE', P .. 'avail', unpack(as))
end
local out, taken, B = {0, ''}, {}, newbatch({'i', id})
for i = 1, n do
  local c, a, sk, flag = ARGV[4 + 4 * i], ARGV[5 + 4 * i], ARGV[6 + 4 * i], ARGV[7 + 4 * i] == '1'
  local ck = P .. 'call:' .. c
  local ok = not taken[a]
  if fresh then
    ok = ok and inq[i] and av[i]
  elseif ok then
    local h = redis.call('HMGET', ck, 'state', 'queue', 'stages', 'prefer_until', 'excl_until')
    ok = h[1] == 'waiting' and h[2] == q
    flag = h[3] or h[4] or h[5]
    if ok then
      local v = redis.call('HMGET', akey(a), 'state', 'skills')
      ok = v[1] == 'available' and v[2] == sk
    end
  end
  if ok and flag then
    local d = redis.call('HMGET', ck, 'req', 'enq', 'prefer', 'stages', 'prefer_until', 'excl_until')
    local rs = stagereq(d[1], d[4], d[2], t)
    if d[3] and d[3] ~= a and t < (tonumber(d[5]) or 0) then ok = false end
    if ok and (tonumber(d[6]) or 0) > t then
      local u = redis.call('ZSCORE', P .. 'excl:' .. c, a)
      if u and tonumber(u) > t then ok = false end
    end
    local lv = {}
    for s, l in string.gmatch(sk, '(%S+) (%d+)') do lv[s] = tonumber(l) end
    for s, m in string.gmatch(rs, '(%S+) (%d+)') do
      if (lv[s] or 0) < tonumber(m) then ok = false break end
    end
  end
  if ok then
    taken[a] = true
    book(B, c, a, t, ttl)
    out[#out + 1] = c
    out[#out + 1] = a
  else
    out[1] = out[1] + 1
  end
end
if #B.agents == 0 then return out end
if rr == '' then rr = nil end
out[2] = commit(B, q, rr)
return out
`, "akey", "stage", "batch")

// allScripts are loaded by Store.Load.
var allScripts = []*redisScript{
	{"login", loginScript}, {"set state", setStateScript}, {"set queue", setQueueScript},
	{"enqueue", enqueueScript}, {"dequeue", dequeueScript}, {"release", releaseScript},
	{"finish", finishScript}, {"requeue", requeueScript}, {"set callback", setCallbackScript},
	{"position", positionScript}, {"reap", reapScript}, {"stats", statsScript}, {"pick", pickScript},
	{"redirect", redirectScript}, {"party", partyScript}, {"reserve", reserveScript},
}
