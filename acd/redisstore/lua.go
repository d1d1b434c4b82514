package redisstore

import (
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/ccd-platform/ccd/acd"
)

// Key layout under the prefix P (default "{acd}:", one hash slot):
//
//	P agent:<a>        hash   state state_since idle_since answered_today answered_day
//	                          rank skills call reason misses wrap_until
//	                          (skills: "skill level skill level ...", sorted)
//	P agents           set    every agent ever logged in
//	P staffed          set    logged-in agents (any state but logged_out)
//	P sk:<s>:<t>       set    logged-in agents with skill s at level >= t (t = 1..level)
//	P wrapups          zset   agents in an ACD wrap-up, score wrap_until (µs)
//
// Availability indexes hold exactly the available agents. One family per
// order a strategy needs; the idle family always exists, the others are
// built by SetQueue the first time a queue needs them (P fam lists them):
//
//	P avail, P avail:<s>    idle family (I), score idle_since, member agent
//	P best:<s>              level family (B, best_skill), score MaxLevel-level,
//	                        member idle(16 digits)..agent
//	P rank, P rank:<s>      rank family (R, linear and round_robin), score 0,
//	                        member rank+1e9 (10 digits)..agent: lexicographic
//	P fewest, P fewest:<s>  fewest family (F), score answered today,
//	                        member idle(16 digits)..agent
//	P fewestday             hash  fewest key ("" global is " ") → the day its
//	                        scores count; a stale key is reset to 0 first
//	P fam                   string  the families built besides I ("BRF")
//
// Queues and calls:
//
//	P queue:<q>      hash  strategy step max_misses retry wrap rr skills
//	P waiting:<q>    zset  waiting calls, score enqueue µs - priority*step
//	P handle:<q>     list  last 50 handle times (µs), newest first
//	P call:<c>       hash  queue prio score enq state agent answered req stages
//	                       prefer prefer_until excl_until owner channel callback attempts
//	P excl:<c>       zset  agents not to offer the call to, score until (µs)
//	P calls          set   every call with a hash (waiting, reserved, talking)
//	P rsv            zset  reserved calls, score deadline (µs)
//
// Times come from the Redis clock (TIME) so every dispatcher agrees; days
// are UTC days since the epoch. Scripts build key names from the prefix; on
// Redis Cluster the prefix must carry a hash tag so all keys share one slot.
// Requirement lists travel as "skill min skill min ..." (skill names hold no
// white space), expansion stages as lines "after_µs skill min ...".

// snippet is a piece of Lua shared by scripts; scripts include only the
// snippets they use (and their dependencies), so each call runs no more
// preamble than it needs.
type snippet struct {
	name string
	deps []string
	code string
}

// lib is in definition order: a snippet only uses snippets above it.
var lib = []snippet{
	{name: "agent", code: `
local function akey(a) return P .. 'agent:' .. a end
-- getagent reads the fields the scripts need; g is passed to move.
local function getagent(a)
  local v = redis.call('HMGET', akey(a), 'state', 'skills', 'rank', 'idle_since', 'answered_today',
    'answered_day', 'call', 'misses', 'wrap_until', 'reason')
  if not v[1] then fail('ACDNOTFOUND', 'agent ' .. a) end
  return {state = v[1], skills = v[2] or '', rank = tonumber(v[3]) or 0, idle = tonumber(v[4]) or 0,
    ans = tonumber(v[5]) or 0, ansday = tonumber(v[6]), call = v[7], misses = tonumber(v[8]) or 0,
    wrap = tonumber(v[9]), reason = v[10]}
end
`},
	{name: "fam", code: `
local FAM
local function fam()
  if not FAM then FAM = redis.call('GET', P .. 'fam') or '' end
  return FAM
end
local function famof(strategy)
  if strategy == 'best_skill' then return 'B' end
  if strategy == 'fewest_answered' then return 'F' end
  if strategy == 'linear' or strategy == 'round_robin' then return 'R' end
  return 'I'
end
`},
	{name: "fewestday", code: `
-- fewestready resets the fewest keys of the given skills (and the global
-- one) whose counts are from an earlier day: everybody starts at 0.
local function fewestready(skills, day)
  local f = {' '}
  for s in string.gmatch(skills, '(%S+) %d+') do f[#f + 1] = s end
  local d = redis.call('HMGET', P .. 'fewestday', unpack(f))
  for i, s in ipairs(f) do
    if tonumber(d[i]) ~= day then
      local k = P .. 'fewest'
      if s ~= ' ' then k = k .. ':' .. s end
      redis.call('ZUNIONSTORE', k, 1, k, 'WEIGHTS', 0)
      redis.call('HSET', P .. 'fewestday', s, day)
    end
  end
end
`},
	{name: "index", deps: []string{"fam", "fewestday"}, code: `
-- entries calls fn(key, score, member) for each index key of family c that
-- holds agent a while available.
local function entries(c, a, g, day, fn)
  local base, m, sc
  if c == 'I' then base, m, sc = 'avail', a, g.idle
  elseif c == 'R' then base, m, sc = 'rank', string.format('%010d', g.rank + 1000000000) .. a, 0
  elseif c == 'F' then
    base, m, sc = 'fewest', string.format('%016d', g.idle) .. a, 0
    if g.ansday == day then sc = g.ans end
  else base, m = 'best', string.format('%016d', g.idle) .. a end
  if c ~= 'B' then fn(P .. base, sc, m) end
  for s, l in string.gmatch(g.skills, '(%S+) (%d+)') do
    if c == 'B' then sc = {{MAX}} - tonumber(l) end
    fn(P .. base .. ':' .. s, sc, m)
  end
end
local function zadd(k, s, m) redis.call('ZADD', k, s, m) end
local function zrem(k, _, m) redis.call('ZREM', k, m) end
local function index(a, g, day)
  local f = 'I' .. fam()
  for i = 1, #f do
    local c = string.sub(f, i, i)
    if c == 'F' then fewestready(g.skills, day) end
    entries(c, a, g, day, zadd)
  end
end
local function unindex(a, g)
  local f = 'I' .. fam()
  for i = 1, #f do entries(string.sub(f, i, i), a, g, nil, zrem) end
end
-- staff adds the agent to (or removes it from) the staffed sets.
local function staff(a, skills, add)
  local cmd = add and 'SADD' or 'SREM'
  redis.call(cmd, P .. 'staffed', a)
  for s, l in string.gmatch(skills, '(%S+) (%d+)') do
    for th = 1, tonumber(l) do redis.call(cmd, P .. 'sk:' .. s .. ':' .. th, a) end
  end
end
`},
	{name: "move", deps: []string{"agent", "index"}, code: `
local TR = '{{TRANSITIONS}}'
-- move changes agent a (g from getagent) to state to if the transition
-- table allows it, keeping the indexes in step, and writes set (field,
-- value, ...) with it. Entering available starts a new idle period (at idle,
-- default now) except after a reservation that produced no work. A pause
-- records reason; resuming from a pause clears the miss count.
local function move(a, g, to, t, day, set, reason, idle)
  local from = g.state
  if not string.find(TR, ' ' .. from .. '>' .. to .. ' ', 1, true) then fail('ACDILLEGAL', a .. ' ' .. from .. ' ' .. to) end
  set = set or {}
  local del = {}
  if from == 'available' then unindex(a, g) end
  if from == 'logged_out' then staff(a, g.skills, true) end
  if to == 'logged_out' then staff(a, g.skills, false) end
  if from == 'wrap_up' and g.wrap then
    redis.call('ZREM', P .. 'wrapups', a)
    del[#del + 1] = 'wrap_until'
  end
  set[#set + 1] = 'state'; set[#set + 1] = to
  set[#set + 1] = 'state_since'; set[#set + 1] = t
  if to == 'available' then
    if from ~= 'reserved' then g.idle = idle or t end
    set[#set + 1] = 'idle_since'; set[#set + 1] = g.idle
    index(a, g, day)
  end
  if to ~= 'reserved' and to ~= 'on_call' and g.call then del[#del + 1] = 'call' end
  if to == 'paused' then
    set[#set + 1] = 'reason'; set[#set + 1] = reason or ''
  elseif g.reason then
    del[#del + 1] = 'reason'
  end
  if from == 'paused' and to == 'available' and g.misses > 0 then set[#set + 1] = 'misses'; set[#set + 1] = 0 end
  redis.call('HSET', akey(a), unpack(set))
  if #del > 0 then redis.call('HDEL', akey(a), unpack(del)) end
  g.state = to
  return from
end
`},
	{name: "calls", deps: []string{"move"}, code: `
local function dropcall(c)
  redis.call('DEL', P .. 'call:' .. c, P .. 'excl:' .. c)
  redis.call('SREM', P .. 'calls', c)
end
-- endtalk ends a talking call: wrap-up (or available) for the agent, the
-- handle time into the queue's stats, the call dropped.
local function endtalk(c, q, a, answered, t, day)
  local g = getagent(a)
  if g.state ~= 'on_call' or g.call ~= c then
    fail('ACDINVARIANT', 'call ' .. c .. ' talking with ' .. a .. ' which is ' .. g.state .. ' on ' .. tostring(g.call))
  end
  local wrap = tonumber(redis.call('HGET', P .. 'queue:' .. q, 'wrap')) or 0
  if wrap > 0 then
    move(a, g, 'wrap_up', t, day, {'wrap_until', t + wrap})
    redis.call('ZADD', P .. 'wrapups', t + wrap, a)
  else
    move(a, g, 'available', t, day)
  end
  local hk = P .. 'handle:' .. q
  redis.call('LPUSH', hk, t - (tonumber(answered) or t) + wrap)
  redis.call('LTRIM', hk, 0, {{HANDLED}} - 1)
  dropcall(c)
  return a
end
`},
}

// header starts every script: the prefix, errors and the Redis clock.
const header = `local P = ARGV[1]
local function fail(code, msg) error({err = code .. ' ' .. msg}) end
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2]), math.floor(tonumber(t[1]) / 86400)
end
`

// handled is how many handle times a queue keeps for its mean.
const handled = 50

// script builds a script from the header, the snippets it needs and body.
func script(body string, needs ...string) *redis.Script {
	byName := make(map[string]snippet, len(lib))
	for _, s := range lib {
		byName[s.name] = s
	}
	want := map[string]bool{}
	var add func(string)
	add = func(n string) {
		s, ok := byName[n]
		if !ok {
			panic("redisstore: unknown lua snippet " + n)
		}
		if want[n] {
			return
		}
		want[n] = true
		for _, d := range s.deps {
			add(d)
		}
	}
	for _, n := range needs {
		add(n)
	}
	var b strings.Builder
	b.WriteString(header)
	for _, s := range lib {
		if want[s.name] {
			b.WriteString(s.code)
		}
	}
	b.WriteString(body)
	return redis.NewScript(strings.NewReplacer(
		"{{MAX}}", fmt.Sprint(acd.MaxLevel),
		"{{TRANSITIONS}}", luaTransitions(),
		"{{HANDLED}}", fmt.Sprint(handled),
		"{{RETRY}}", fmt.Sprint(defaultRetry.Microseconds()),
	).Replace(b.String()))
}

// luaTransitions renders the transition table as " from>to from>to ... ",
// searched with string.find: no table to build on every call.
func luaTransitions() string {
	var b strings.Builder
	b.WriteString(" ")
	for _, from := range acd.States {
		for _, to := range acd.Transitions(from) {
			fmt.Fprintf(&b, "%s>%s ", from, to)
		}
	}
	return b.String()
}
