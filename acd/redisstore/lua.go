package redisstore

import (
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/ccd-platform/ccd/acd"
)

// Key layout under the prefix P (default "{acd}:", one hash slot):
//
//	P agent:<a>           hash  state state_since idle_since answered_today answered_day rank call
//	P agent:<a>:skills    hash  skill → level
//	P avail               zset  available agents, score idle_since (µs)
//	P avail:<skill>       zset  available agents having the skill, score idle_since
//	P queue:<q>           hash  strategy step rr_rank rr_id
//	P waiting:<q>         zset  waiting calls, score enqueue µs - priority*step
//	P call:<c>            hash  queue prio score req state agent excl
//	P call:<c>:excl       set   agents the call must not be offered to again
//	P rsv                 zset  reserved calls, score deadline (µs)
//	P rsv:call:<c>        string agent, with TTL (lookup, safety net)
//	P rsv:agent:<a>       string call, with TTL
//
// Times come from the Redis clock (TIME) so every dispatcher agrees.
// Scripts build key names from the prefix; on Redis Cluster the prefix must
// carry a hash tag so all keys share one slot.

// luaLib is prepended to every script.
var luaLib = `
local P = ARGV[1]
local function fail(code, msg) error({err = code .. ' ' .. msg}) end
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2]), math.floor(tonumber(t[1]) / 86400)
end
local T = ` + luaTransitions() + `
local function akey(a) return P .. 'agent:' .. a end
local function index(a, idle)
  redis.call('ZADD', P .. 'avail', idle, a)
  for _, s in ipairs(redis.call('HKEYS', akey(a) .. ':skills')) do
    redis.call('ZADD', P .. 'avail:' .. s, idle, a)
  end
end
local function unindex(a)
  redis.call('ZREM', P .. 'avail', a)
  for _, s in ipairs(redis.call('HKEYS', akey(a) .. ':skills')) do
    redis.call('ZREM', P .. 'avail:' .. s, a)
  end
end
-- move changes an agent's state, checking the table and keeping the
-- availability index in step. Entering available starts a new idle period,
-- except after a reservation that produced no work.
local function move(a, to, t)
  local k = akey(a)
  local from = redis.call('HGET', k, 'state')
  if not from then fail('ACDNOTFOUND', 'agent ' .. a) end
  if not (T[from] and T[from][to]) then fail('ACDILLEGAL', a .. ' ' .. from .. ' ' .. to) end
  if from == 'available' then unindex(a) end
  redis.call('HSET', k, 'state', to, 'state_since', t)
  if to == 'available' then
    local idle = t
    if from == 'reserved' then idle = tonumber(redis.call('HGET', k, 'idle_since')) or t end
    redis.call('HSET', k, 'idle_since', idle)
    index(a, idle)
  end
  if to ~= 'reserved' and to ~= 'on_call' then redis.call('HDEL', k, 'call') end
  return from
end
-- unreserve ends a call's reservation and returns the agent.
local function unreserve(c)
  local ck = P .. 'call:' .. c
  local a = redis.call('HGET', ck, 'agent')
  if not a or redis.call('HGET', ck, 'state') ~= 'reserved' then fail('ACDNOTRESERVED', 'call ' .. c) end
  if redis.call('HGET', akey(a), 'call') ~= c or redis.call('HGET', akey(a), 'state') ~= 'reserved' then
    fail('ACDINVARIANT', 'call ' .. c .. ' reserved for ' .. a .. ' which is not reserved for it')
  end
  redis.call('DEL', P .. 'rsv:call:' .. c, P .. 'rsv:agent:' .. a)
  redis.call('ZREM', P .. 'rsv', c)
  redis.call('HDEL', ck, 'agent')
  return a
end
local function requeue(c, exclude)
  local ck = P .. 'call:' .. c
  local h = redis.call('HMGET', ck, 'queue', 'score')
  if exclude then
    redis.call('SADD', ck .. ':excl', exclude)
    redis.call('HSET', ck, 'excl', 1)
  end
  redis.call('HSET', ck, 'state', 'waiting')
  redis.call('ZADD', P .. 'waiting:' .. h[1], h[2], c)
end
local function dropcall(c)
  redis.call('DEL', P .. 'call:' .. c, P .. 'call:' .. c .. ':excl')
end
`

func luaTransitions() string {
	var b strings.Builder
	b.WriteString("{")
	for _, from := range acd.States {
		fmt.Fprintf(&b, "%s={", from)
		for _, to := range acd.Transitions(from) {
			fmt.Fprintf(&b, "%s=true,", to)
		}
		b.WriteString("},")
	}
	b.WriteString("}")
	return b.String()
}

// ARGV: P agent rank paused skill1 level1 ...
var loginScript = redis.NewScript(luaLib + `
local a, rank, paused = ARGV[2], ARGV[3], ARGV[4] == '1'
local k = akey(a)
local st = redis.call('HGET', k, 'state')
local to = 'available'
if paused then to = 'paused' end
if st and st ~= 'logged_out' then fail('ACDILLEGAL', a .. ' ' .. st .. ' ' .. to) end
local t = now()
redis.call('DEL', k .. ':skills')
for i = 5, #ARGV, 2 do redis.call('HSET', k .. ':skills', ARGV[i], ARGV[i + 1]) end
redis.call('HSET', k, 'state', 'logged_out', 'rank', rank)
move(a, to, t)
return to
`)

// ARGV: P agent to
var setStateScript = redis.NewScript(luaLib + `
local a, to = ARGV[2], ARGV[3]
local st = redis.call('HGET', akey(a), 'state')
if not st then fail('ACDNOTFOUND', 'agent ' .. a) end
if (st == 'reserved' or to == 'reserved') and st ~= to then fail('ACDRESERVED', a .. ' ' .. st .. ' ' .. to) end
local t = now()
return move(a, to, t)
`)

// ARGV: P queue call prio reqjson
var enqueueScript = redis.NewScript(luaLib + `
local q, c, prio, req = ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local ck = P .. 'call:' .. c
if redis.call('EXISTS', ck) == 1 then fail('ACDQUEUED', 'call ' .. c) end
local step = tonumber(redis.call('HGET', P .. 'queue:' .. q, 'step')) or 0
if step <= 0 then step = 100000000000000 end -- strict: ~3 years per level
local t = now()
local score = t - prio * step
redis.call('HSET', ck, 'queue', q, 'prio', prio, 'score', score, 'req', req, 'state', 'waiting', 'enq', t)
redis.call('ZADD', P .. 'waiting:' .. q, score, c)
return 1
`)

// ARGV: P call
var dequeueScript = redis.NewScript(luaLib + `
local c = ARGV[2]
local ck = P .. 'call:' .. c
local h = redis.call('HMGET', ck, 'queue', 'state')
if not h[1] then fail('ACDNOTFOUND', 'call ' .. c) end
local a = ''
if h[2] == 'reserved' then
  a = unreserve(c)
  move(a, 'available', now())
else
  redis.call('ZREM', P .. 'waiting:' .. h[1], c)
end
dropcall(c)
return a
`)

// ARGV: P call outcome
var releaseScript = redis.NewScript(luaLib + `
local c, o = ARGV[2], ARGV[3]
if redis.call('EXISTS', P .. 'call:' .. c) == 0 then fail('ACDNOTFOUND', 'call ' .. c) end
local a = unreserve(c)
local t, day = now()
if o == 'answered' then
  move(a, 'on_call', t)
  local k = akey(a)
  local h = redis.call('HMGET', k, 'answered_day')
  if tonumber(h[1]) ~= day then redis.call('HSET', k, 'answered_day', day, 'answered_today', 0) end
  redis.call('HINCRBY', k, 'answered_today', 1)
  dropcall(c)
elseif o == 'rejected' then
  move(a, 'available', t)
  requeue(c, a)
else
  move(a, 'paused', t)
  requeue(c, a)
end
return a
`)

// ARGV: P limit
var reapScript = redis.NewScript(luaLib + `
local t = now()
local n = 0
for _, c in ipairs(redis.call('ZRANGEBYSCORE', P .. 'rsv', '-inf', t, 'LIMIT', 0, tonumber(ARGV[2]))) do
  if redis.call('HGET', P .. 'call:' .. c, 'state') == 'reserved' then
    local a = unreserve(c)
    move(a, 'available', t)
    requeue(c, false)
  else
    redis.call('ZREM', P .. 'rsv', c)
  end
  n = n + 1
end
return n
`)

// pickScript finds, for the first waiting calls of a queue (lookahead), the
// best available agent and reserves both. Candidates come from the smallest
// availability set among the call's required skills (or all available
// agents), walked in idle order; the other skills' levels are checked with
// one HMGET per candidate. Longest idle stops at the first fit; the other
// strategies walk the driving set and keep the best, ties going to the
// longest idle.
//
// ARGV: P queue lookahead ttl_us. Returns {call, agent}, {'empty'} or {'noagent'}.
var pickScript = redis.NewScript(luaLib + `
local q, look, ttl = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local qk = P .. 'queue:' .. q
local cfg = redis.call('HMGET', qk, 'strategy', 'rr_rank', 'rr_id')
local strat = cfg[1] or 'longest_idle'
local rrRank, rrID = tonumber(cfg[2]), cfg[3]
local calls = redis.call('ZRANGE', P .. 'waiting:' .. q, 0, look - 1)
if #calls == 0 then return {'empty'} end
local t, day = now()

local function choose(c, req, excl)
  local drive, size = P .. 'avail', -1
  local names = {}
  for i, r in ipairs(req) do
    local key = P .. 'avail:' .. r[1]
    local n = redis.call('ZCARD', key)
    if n == 0 then return nil end
    if size < 0 or n < size then drive, size = key, n end
    names[i] = r[1]
  end
  local best, k1, k2         -- best so far and its keys
  local after, a1, a2        -- round robin: best after the cursor
  local start = 0
  while true do
    local batch = redis.call('ZRANGE', drive, start, start + 63)
    if #batch == 0 then break end
    start = start + 64
    for _, a in ipairs(batch) do
      local fit, sum = true, 0
      if #names > 0 then
        local lv = redis.call('HMGET', akey(a) .. ':skills', unpack(names))
        for i, r in ipairs(req) do
          local l = tonumber(lv[i])
          if not l or l < r[2] then fit = false break end
          sum = sum + l
        end
      end
      if fit and excl and redis.call('SISMEMBER', P .. 'call:' .. c .. ':excl', a) == 1 then fit = false end
      if fit then
        if strat == 'longest_idle' then return a end
        if strat == 'best_skill' then
          if not best or sum > k1 then best, k1 = a, sum end
        elseif strat == 'fewest_answered' then
          local h = redis.call('HMGET', akey(a), 'answered_today', 'answered_day')
          local n = 0
          if tonumber(h[2]) == day then n = tonumber(h[1]) or 0 end
          if not best or n < k1 then best, k1 = a, n end
        else
          local rank = tonumber(redis.call('HGET', akey(a), 'rank')) or 0
          if not best or rank < k1 or (rank == k1 and a < k2) then best, k1, k2 = a, rank, a end
          if strat == 'round_robin' and rrRank and (rank > rrRank or (rank == rrRank and a > rrID)) then
            if not after or rank < a1 or (rank == a1 and a < a2) then after, a1, a2 = a, rank, a end
          end
        end
      end
    end
  end
  if after then return after, a1 end
  return best, k1
end

for _, c in ipairs(calls) do
  local ck = P .. 'call:' .. c
  local h = redis.call('HMGET', ck, 'req', 'excl')
  local req = cjson.decode(h[1] or '[]')
  local a, rank = choose(c, req, h[2] and true or false)
  if a then
    local k = akey(a)
    if redis.call('HGET', k, 'state') ~= 'available' then fail('ACDINVARIANT', 'indexed agent ' .. a .. ' not available') end
    if redis.call('EXISTS', P .. 'rsv:agent:' .. a) == 1 then fail('ACDINVARIANT', 'agent ' .. a .. ' already reserved') end
    if redis.call('HGET', ck, 'state') ~= 'waiting' then fail('ACDINVARIANT', 'call ' .. c .. ' not waiting') end
    move(a, 'reserved', t)
    redis.call('HSET', k, 'call', c)
    redis.call('HSET', ck, 'state', 'reserved', 'agent', a)
    redis.call('ZREM', P .. 'waiting:' .. q, c)
    redis.call('ZADD', P .. 'rsv', t + ttl, c)
    local px = math.floor(ttl / 1000) + 1
    redis.call('SET', P .. 'rsv:call:' .. c, a, 'PX', px)
    redis.call('SET', P .. 'rsv:agent:' .. a, c, 'PX', px)
    if strat == 'round_robin' then redis.call('HSET', qk, 'rr_rank', rank, 'rr_id', a) end
    return {c, a}
  end
end
return {'noagent'}
`)
