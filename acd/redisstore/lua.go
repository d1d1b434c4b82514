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
//	P wrapups          zset   agents in an ACD wrap-up, score wrap_until (µs)
//
// Static sets, changed only at login and logout (logged-in agents):
//
//	P staffed             set   logged-in agents
//	P sk:<s>:<t>          set   agents with skill s at level >= t (t = 1..level)
//	P lvz:<s>             zset  agents with skill s, score level
//	P pair:<s1> <s2>      zset  agents with both skills (s1 < s2), score 10*level1+level2
//	P rankz               zset  score rank
//
// Availability: P avail (zset, score idle_since µs) holds exactly the
// available agents. The per-skill indexes below hold them in each
// strategy's order; their entries are renewed when an agent becomes
// available but not removed when it stops being: a walk checks candidates
// against avail and drops the stale ones it meets, and logout purges. So a
// pick writes one index key, not one per skill and strategy. The idle
// family always exists; the others are built by SetQueue the first time a
// queue needs them (P fam lists them: "B", "R", "F").
//
//	P avail:<s>             zset  score idle_since, member agent (longest idle)
//	P best:<s>:<level>      zset  score idle_since (best skill: level by level)
//	P rank, P rank:<s>      zset  score 0, member rank+1e9 (10 digits)..agent:
//	                              lexicographic (rank, agent) for linear and round robin
//	P fewest, P fewest:<s>  zset  score answered today*2^41 + idle ms since 2024
//	P fewestday             hash  fewest key (skill, "" global) → the day its
//	                              counts are from; a stale key is reset to 0
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
// The routing feed, which each Store's routing copy follows (mirror.go):
//
//	P feed   stream  ids 0-1, 0-2, ...; fields: a "agent idle rank answered
//	                 day skills" (became available), u agent (no longer),
//	                 w "call queue score enq req stages prefer prefer_until
//	                 excl_until excl" (waits, again), r call (waits no
//	                 more), q "queue strategy cursor" (tab-separated);
//	                 i copy (the copy whose reservation the entry is)
//
// Times come from the Redis clock (TIME) so every dispatcher agrees; days
// are UTC days since the epoch. Scripts build key names from the prefix; on
// Redis Cluster the prefix must carry a hash tag so all keys share one slot.
// Requirement lists travel as "skill min skill min ..." sorted by skill
// (skill names hold no white space), expansion stages as lines
// "after_µs skill min ...".

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
	{name: "akey", code: `
local function akey(a) return P .. 'agent:' .. a end
`},
	{name: "feed", code: `
-- emit appends one entry (kind, value, ...) to the routing feed, which
-- dispatchers follow to keep their copy of the routing state (mirror.go).
-- Ids are 0-1, 0-2, ...: a dispatcher that finds a gap fell behind the
-- trimming and reads the state again.
local function emit(...)
  return redis.call('XADD', P .. 'feed', 'MAXLEN', '~', {{FEEDLEN}}, '0-*', ...)
end
-- aentry is an agent that became available (g from getagent).
local function aentry(a, g)
  return a .. '\t' .. int(g.idle) .. '\t' .. int(g.rank) .. '\t' .. int(g.ans) .. '\t' .. int(g.ansday or -1) .. '\t' .. g.skills
end
-- wentry is a call that waits (again), from its hash, with the agents it
-- is not to be offered to ("agent until ...").
local function wentry(c)
  local h = redis.call('HMGET', P .. 'call:' .. c, 'queue', 'score', 'enq', 'req', 'stages', 'prefer', 'prefer_until', 'excl_until')
  for i = 1, 8 do h[i] = h[i] or '' end
  h[9] = ''
  if h[8] ~= '' then h[9] = table.concat(redis.call('ZRANGE', P .. 'excl:' .. c, 0, -1, 'WITHSCORES'), ' ') end
  return c .. '\t' .. table.concat(h, '\t')
end
`},
	{name: "stage", code: `
-- stagereq is a call's requirement list at time t: its own, or that of the
-- latest expansion step reached (stages: lines "after_µs skill min ...").
local function stagereq(req, stages, enq, t)
  local rs = req or ''
  if stages then
    enq = tonumber(enq)
    for after, x in string.gmatch(stages, '(%d+) ?([^\n]*)') do
      if enq + tonumber(after) > t then break end
      rs = x
    end
  end
  return rs
end
`},
	{name: "batch", deps: []string{"akey", "feed"}, code: `
-- A batch of reservations, as pickScript and reserveScript make them: book
-- writes one pair's hashes, commit the keys the pairs share and the feed
-- entry (fe starts it: the reserving copy's tag, if any).
local function newbatch(fe) return {agents = {}, calls = {}, rsv = {}, fe = fe} end
local function book(B, c, a, t, ttl)
  B.agents[#B.agents + 1] = a
  B.calls[#B.calls + 1] = c
  B.rsv[#B.rsv + 1] = int(t + ttl)
  B.rsv[#B.rsv + 1] = c
  redis.call('HSET', akey(a), 'state', 'reserved', 'state_since', int(t), 'call', c)
  redis.call('HSET', P .. 'call:' .. c, 'state', 'reserved', 'agent', a)
  local fe = B.fe
  fe[#fe + 1] = 'u'; fe[#fe + 1] = a; fe[#fe + 1] = 'r'; fe[#fe + 1] = c
end
-- commit (at least one pair booked) takes the agents out of avail (their
-- other index entries go stale) and the calls out of queue q's waiting set,
-- gives the reservations their deadline and sets the round robin cursor rr
-- (strat: the queue's strategy, read if nil). Returns the feed entry's id.
local function commit(B, q, rr, strat)
  redis.call('ZREM', P .. 'avail', unpack(B.agents))
  redis.call('ZREM', P .. 'waiting:' .. q, unpack(B.calls))
  redis.call('ZADD', P .. 'rsv', unpack(B.rsv))
  if rr then
    local qk = P .. 'queue:' .. q
    redis.call('HSET', qk, 'rr', rr)
    strat = strat or redis.call('HGET', qk, 'strategy') or ''
    B.fe[#B.fe + 1] = 'q'; B.fe[#B.fe + 1] = q .. '\t' .. strat .. '\t' .. rr
  end
  return emit(unpack(B.fe))
end
`},
	{name: "agent", deps: []string{"akey"}, code: `
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
	{name: "fewestday", deps: []string{"fam"}, code: `
-- Fewest entries score answered*2^41 + idle ms since 2024: count first,
-- then idle (to the millisecond, then agent id).
local FBASE, FMUL = 1704067200000, 2199023255552
local function fscore(n, idle) return math.min(n, 2047) * FMUL + math.floor(idle / 1000) - FBASE end
-- fewestready resets to 0 the counts of the fewest keys (global, and of
-- the given skills) scored on an earlier day.
local function fewestready(skills, day)
  local f = {''}
  for s in string.gmatch(skills, '(%S+) %d+') do f[#f + 1] = s end
  local d = redis.call('HMGET', P .. 'fewestday', unpack(f))
  for i, s in ipairs(f) do
    if tonumber(d[i]) ~= day then
      local k = P .. 'fewest'
      if s ~= '' then k = k .. ':' .. s end
      local old = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
      local add = {}
      for j = 1, #old, 2 do
        add[#add + 1] = int(tonumber(old[j + 1]) % FMUL)
        add[#add + 1] = old[j]
        if #add >= 1000 then redis.call('ZADD', k, unpack(add)) add = {} end
      end
      if #add > 0 then redis.call('ZADD', k, unpack(add)) end
      redis.call('HSET', P .. 'fewestday', s, day)
    end
  end
end
`},
	{name: "index", deps: []string{"fam", "fewestday"}, code: `
-- entries calls fn(key, score, member) for each index entry of agent a
-- (g from getagent) in the families of f ('I' and those of fam()).
local function entries(a, g, f, day, fn)
  local B, R, F = string.find(f, 'B', 1, true), string.find(f, 'R', 1, true), string.find(f, 'F', 1, true)
  local I = string.find(f, 'I', 1, true)
  local rm, fs
  if I then fn(P .. 'avail', g.idle, a) end
  if R then
    rm = string.format('%010d', g.rank + 1000000000) .. a
    fn(P .. 'rank', 0, rm)
  end
  if F then
    local n = 0
    if g.ansday == day then n = g.ans end
    fs = fscore(n, g.idle)
    fn(P .. 'fewest', fs, a)
  end
  for s, l in string.gmatch(g.skills, '(%S+) (%d+)') do
    if I then fn(P .. 'avail:' .. s, g.idle, a) end
    if B then fn(P .. 'best:' .. s .. ':' .. l, g.idle, a) end
    if R then fn(P .. 'rank:' .. s, 0, rm) end
    if F then fn(P .. 'fewest:' .. s, fs, a) end
  end
end
local function zadd(k, sc, m) redis.call('ZADD', k, int(sc), m) end
local function zrem(k, _, m) redis.call('ZREM', k, m) end
-- index adds an agent entering available to the indexes (a stale entry
-- left there just gets its new score).
local function index(a, g, day)
  local f = 'I' .. fam()
  if string.find(f, 'F', 1, true) then fewestready(g.skills, day) end
  entries(a, g, f, day, zadd)
end
-- unindex takes an agent leaving available out of avail, which always
-- holds exactly the available agents. Its other index entries go stale:
-- walks skip and drop them, index renews them.
local function unindex(a)
  redis.call('ZREM', P .. 'avail', a)
end
-- purge drops every index entry of an agent (logout).
local function purge(a, g)
  entries(a, g, 'I' .. fam(), nil, zrem)
end
-- staff adds the agent to (or removes it from) the static sets: staffed,
-- staffed at level, skill pairs, levels and ranks.
local function staff(a, g, add)
  local cmd = add and 'SADD' or 'SREM'
  redis.call(cmd, P .. 'staffed', a)
  if add then redis.call('ZADD', P .. 'rankz', g.rank, a) else redis.call('ZREM', P .. 'rankz', a) end
  local names, levels = {}, {}
  for s, l in string.gmatch(g.skills, '(%S+) (%d+)') do
    for th = 1, tonumber(l) do redis.call(cmd, P .. 'sk:' .. s .. ':' .. th, a) end
    if add then redis.call('ZADD', P .. 'lvz:' .. s, l, a) else redis.call('ZREM', P .. 'lvz:' .. s, a) end
    for x, o in ipairs(names) do -- skills are sorted: o before s
      if add then redis.call('ZADD', P .. 'pair:' .. o .. ' ' .. s, levels[x] * 10 + l, a)
      else redis.call('ZREM', P .. 'pair:' .. o .. ' ' .. s, a) end
    end
    names[#names + 1], levels[#levels + 1] = s, tonumber(l)
  end
end
`},
	{name: "move", deps: []string{"agent", "index", "feed"}, code: `
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
  if from == 'available' then unindex(a) end
  if from == 'logged_out' then staff(a, g, true) end
  if to == 'logged_out' then
    staff(a, g, false)
    purge(a, g)
  end
  if from == 'wrap_up' and g.wrap then
    redis.call('ZREM', P .. 'wrapups', a)
    del[#del + 1] = 'wrap_until'
  end
  set[#set + 1] = 'state'; set[#set + 1] = to
  set[#set + 1] = 'state_since'; set[#set + 1] = int(t)
  if to == 'available' then
    if from ~= 'reserved' then g.idle = idle or t end
    set[#set + 1] = 'idle_since'; set[#set + 1] = int(g.idle)
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
  if to == 'available' then emit('a', aentry(a, g)) elseif from == 'available' then emit('u', a) end
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
-- handle time into the queue's stats, the call dropped unless keep (a
-- transfer: the call goes on with another party).
local function endtalk(c, q, a, answered, t, day, keep)
  local g = getagent(a)
  if g.state ~= 'on_call' or g.call ~= c then
    fail('ACDINVARIANT', 'call ' .. c .. ' talking with ' .. a .. ' which is ' .. g.state .. ' on ' .. tostring(g.call))
  end
  local wrap = tonumber(redis.call('HGET', P .. 'queue:' .. q, 'wrap')) or 0
  if wrap > 0 then
    move(a, g, 'wrap_up', t, day, {'wrap_until', int(t + wrap)})
    redis.call('ZADD', P .. 'wrapups', int(t + wrap), a)
  else
    move(a, g, 'available', t, day)
  end
  local hk = P .. 'handle:' .. q
  redis.call('LPUSH', hk, int(t - (tonumber(answered) or t) + wrap))
  redis.call('LTRIM', hk, 0, {{HANDLED}} - 1)
  if not keep then dropcall(c) end
  return a
end
`},
}

// header starts every script: the prefix, errors and the Redis clock.
const header = `local P = ARGV[1]
local function fail(code, msg) error({err = code .. ' ' .. msg}) end
-- int renders an integer for a command: Redis 7.0 formats Lua numbers with
-- %.17g, slow for the 16-digit microsecond times.
local function int(x) return string.format('%d', x) end
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2]), math.floor(tonumber(t[1]) / 86400)
end
`

// handled is how many handle times a queue keeps for its mean.
const handled = 50

// script builds a script from the header, the snippets it needs and body.
func script(body string, needs ...string) *redis.Script {
	return redis.NewScript(scriptSource(body, needs...))
}

func scriptSource(body string, needs ...string) string {
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
	return strings.NewReplacer(
		"{{MAX}}", fmt.Sprint(acd.MaxLevel),
		"{{TRANSITIONS}}", luaTransitions(),
		"{{HANDLED}}", fmt.Sprint(handled),
		"{{RETRY}}", fmt.Sprint(defaultRetry.Microseconds()),
		"{{FEEDLEN}}", fmt.Sprint(feedLen),
	).Replace(b.String())
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
