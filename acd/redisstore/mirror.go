package redisstore

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccd-platform/ccd/acd"
)

// The routing copy. Choosing the agent for a call inside Redis costs tens
// of microseconds of Redis's single thread per decision (index walks,
// membership checks), which caps one Redis near 20,000 decisions a second.
// So each Store keeps a copy of what routing needs — the available agents
// with their skills, idle times, ranks and answered counts, the waiting
// calls in queue order, each queue's strategy and round robin cursor — and
// chooses there, with the same rules as pickScript. Redis then only checks
// and reserves the chosen pairs (reserveScript): a pair whose call or agent
// changed in between is refused, so the copy never causes a double
// assignment, whatever its lag.
//
// Every script that changes routing state appends to the routing feed (a
// stream, P feed), which a reader goroutine applies to the copy as it
// grows. The reservation names the last entry the copy had; if the feed
// has gone further (other than by this copy's own reservations), Redis
// reserves nothing and returns the entries missed, and the dispatcher
// decides again. So the choices are exactly pickScript's on the state as
// it is, in one round trip when nothing else changed. A call whose routing
// depends on the time just now (a preferred agent's wait, offers refused
// or missed, an expansion step, fewest answered at midnight) goes to
// pickScript, as does a batch after refusals. When the copy finds nothing
// to pick, pickScript confirms it at most once a second per queue, so a
// copy gone wrong delays calls by a second at worst.

// timeMargin is how close to now a time-dependent routing threshold makes
// the copy hand the call to pickScript: the copy's clock is the machine's,
// the script's is Redis's, and the reservation comes a round trip after the
// decision. Only the choice is at stake, not safety: reserveScript checks
// preference, exclusions and expansion steps on Redis's clock.
const timeMargin = int64(2 * time.Millisecond / time.Microsecond)

// feedLen is about how many entries the routing feed keeps: a copy that
// falls further behind reads the state again.
const feedLen = 100000

// confirmEvery is how often, per queue, pickScript checks a copy that
// finds nothing to pick.
const confirmEvery = time.Second

// WithRoutingCopy turns the routing copy on (the default) or off; off,
// every decision is made inside Redis by pickScript.
func WithRoutingCopy(on bool) Option {
	return func(s *Store) {
		if on {
			s.mir = newMirror()
		} else {
			s.mir = nil
		}
	}
}

// RoutingCounts says how a Store's routing decisions were made.
type RoutingCounts struct {
	Copy    int64 // decisions chosen in the copy and reserved
	Script  int64 // PickBatch calls that ran pickScript
	Refused int64 // pairs from the copy that Redis refused
	Reads   int64 // full reads of the routing state (start, feed gap)
}

// RoutingCounts returns the counts since the Store was made.
func (s *Store) RoutingCounts() RoutingCounts {
	if s.mir == nil {
		return RoutingCounts{Script: s.scriptPicks.Load()}
	}
	m := s.mir
	return RoutingCounts{Copy: m.nCopy.Load(), Script: s.scriptPicks.Load(), Refused: m.nRefused.Load(), Reads: m.nReads.Load()}
}

type mSkill struct {
	name  string
	level int
}

type mAgent struct {
	id     string
	idle   int64 // µs
	rank   int64
	ans    int64 // answered on ansday
	ansday int64
	skills []mSkill // sorted by name
	lkeys  []string // byLevel list keys: "skill level"
	raw    string   // skills as the agent's hash has them
	rk     string   // rank key, as the rank index orders agents
}

func (a *mAgent) level(s string) int {
	for _, k := range a.skills {
		if k.name == s {
			return k.level
		}
	}
	return 0
}

type mCall struct {
	id, queue   string
	score, enq  int64
	req, stages string
	prefer      string
	pu, eu      int64            // prefer_until, excl_until (µs)
	excl        map[string]int64 // agents not to offer it to, until (µs)
}

func parseExcl(v string) map[string]int64 {
	f := strings.Fields(v)
	if len(f) == 0 {
		return nil
	}
	m := make(map[string]int64, len(f)/2)
	for i := 0; i+1 < len(f); i += 2 {
		m[f[i]], _ = strconv.ParseInt(f[i+1], 10, 64)
	}
	return m
}

type mQueue struct {
	loaded   bool
	strategy acd.Strategy
	rr       string
	waiting  []*mCall // in queue order
}

// An order is one of the agent orders the strategies walk; the copy keeps
// the available agents in each order in use, overall and per skill (per
// skill and level for best skill), as pickScript's indexes do.
type order int

const (
	byIdle   order = iota // idle since, agent: longest idle
	byLevel               // per skill and level, idle since, agent: best skill
	byRank                // rank key: linear, round robin
	byFewest              // answered today (capped), idle ms, agent: fewest answered
	orders
)

type mirror struct {
	mu     sync.Mutex
	synced bool
	last   uint64 // sequence of the last feed entry applied
	agents map[string]*mAgent
	lists  [orders]map[string][]*mAgent // by key: "" (all), skill, or "skill level" (byLevel)
	inUse  [orders]bool
	whole  [orders]bool // keeping the list of all agents ("") too: calls without skills
	day    int64        // the UTC day byFewest counts answers of
	calls  map[string]*mCall
	queues map[string]*mQueue
	busyA  map[string]bool // in a reservation on its way to Redis
	busyC  map[string]bool
	asked  map[string]time.Time // per queue: pickScript last confirmed "nothing"
	tail   sync.Once            // starts the feed reader
	id     string               // tags this copy's reservations in the feed

	nCopy, nRefused, nReads atomic.Int64
}

func newMirror() *mirror {
	var b [8]byte
	_, _ = rand.Read(b[:])
	m := &mirror{busyA: map[string]bool{}, busyC: map[string]bool{}, asked: map[string]time.Time{}, id: hex.EncodeToString(b[:])}
	m.reset()
	return m
}

func (m *mirror) reset() {
	m.synced, m.last = false, 0
	m.agents = map[string]*mAgent{}
	for o := range orders {
		m.lists[o] = map[string][]*mAgent{}
		m.inUse[o] = o == byIdle
		m.whole[o] = false
	}
	m.calls = map[string]*mCall{}
	m.queues = map[string]*mQueue{}
}

// compare orders two agents in order o.
func (m *mirror) compare(o order, x, y *mAgent) int {
	switch o {
	case byRank:
		return strings.Compare(x.rk, y.rk)
	case byFewest:
		return cmp.Or(cmp.Compare(m.answered(x), m.answered(y)), cmp.Compare(x.idle/1000, y.idle/1000), strings.Compare(x.id, y.id))
	}
	return cmp.Or(cmp.Compare(x.idle, y.idle), strings.Compare(x.id, y.id))
}

// answered is what fewest answered counts for an agent: answers today,
// capped as pickScript's scores are.
func (m *mirror) answered(a *mAgent) int64 {
	if a.ansday != m.day {
		return 0
	}
	return min(a.ans, 2047)
}

// keys calls fn with each list key of order o holding agent a.
func (m *mirror) keys(o order, a *mAgent, fn func(string)) {
	if m.whole[o] {
		fn("")
	}
	for i, k := range a.skills {
		if o == byLevel {
			fn(a.lkeys[i])
		} else {
			fn(k.name)
		}
	}
}

func (m *mirror) insert(o order, a *mAgent) {
	m.keys(o, a, func(k string) {
		l := m.lists[o][k]
		i, _ := slices.BinarySearchFunc(l, a, func(x, y *mAgent) int { return m.compare(o, x, y) })
		m.lists[o][k] = slices.Insert(l, i, a)
	})
}

func (m *mirror) remove(o order, a *mAgent) {
	m.keys(o, a, func(k string) {
		l := m.lists[o][k]
		i, found := slices.BinarySearchFunc(l, a, func(x, y *mAgent) int { return m.compare(o, x, y) })
		if !found || l[i] != a {
			i = slices.Index(l, a)
		}
		if i >= 0 {
			m.lists[o][k] = slices.Delete(l, i, i+1)
		}
	})
}

// use starts keeping order o (or, for byFewest, counting another day).
func (m *mirror) use(o order, day int64) {
	if m.inUse[o] && (o != byFewest || m.day == day) {
		return
	}
	m.inUse[o] = true
	if o == byFewest {
		m.day = day
	}
	l := map[string][]*mAgent{}
	for _, a := range m.agents {
		m.keys(o, a, func(k string) { l[k] = append(l[k], a) })
	}
	for _, x := range l {
		slices.SortFunc(x, func(x, y *mAgent) int { return m.compare(o, x, y) })
	}
	m.lists[o] = l
}

func (m *mirror) queue(id string) *mQueue {
	q := m.queues[id]
	if q == nil {
		q = &mQueue{strategy: acd.LongestIdle}
		m.queues[id] = q
	}
	return q
}

func (m *mirror) setAgent(a *mAgent) {
	m.delAgent(a.id)
	m.agents[a.id] = a
	for o := range orders {
		if m.inUse[o] {
			m.insert(o, a)
		}
	}
}

func (m *mirror) delAgent(id string) {
	a := m.agents[id]
	if a == nil {
		return
	}
	delete(m.agents, id)
	for o := range orders {
		if m.inUse[o] {
			m.remove(o, a)
		}
	}
}

// callOrder is the queue order: score, then call ID (as Redis orders the
// waiting set's members).
func callOrder(x, y *mCall) int {
	return cmp.Or(cmp.Compare(x.score, y.score), strings.Compare(x.id, y.id))
}

// replyStr is a field of a Redis reply, "" when missing.
func replyStr(x any) string { s, _ := x.(string); return s }

// replyInt is a numeric field of a Redis reply, def when missing.
func replyInt(x any, def int64) int64 {
	n, err := strconv.ParseInt(replyStr(x), 10, 64)
	if err != nil {
		return def
	}
	return n
}

func (m *mirror) setCall(c *mCall) {
	m.delCall(c.id)
	m.calls[c.id] = c
	q := m.queue(c.queue)
	i, _ := slices.BinarySearchFunc(q.waiting, c, callOrder)
	q.waiting = slices.Insert(q.waiting, i, c)
}

func (m *mirror) delCall(id string) {
	c := m.calls[id]
	if c == nil {
		return
	}
	delete(m.calls, id)
	q := m.queues[c.queue]
	if q == nil {
		return
	}
	if i, found := slices.BinarySearchFunc(q.waiting, c, callOrder); found {
		q.waiting = slices.Delete(q.waiting, i, i+1)
	}
}

func rankKey(rank int64, id string) string {
	return fmt.Sprintf("%010d%s", rank+1_000_000_000, id)
}

func parseAgent(id string, idle, rank, ans, ansday int64, skills string) *mAgent {
	a := &mAgent{id: id, idle: idle, rank: rank, ans: ans, ansday: ansday, raw: skills}
	f := strings.Fields(skills)
	for i := 0; i+1 < len(f); i += 2 {
		n, _ := strconv.Atoi(f[i+1])
		a.skills = append(a.skills, mSkill{f[i], n})
	}
	slices.SortFunc(a.skills, func(x, y mSkill) int { return strings.Compare(x.name, y.name) })
	for _, k := range a.skills {
		a.lkeys = append(a.lkeys, k.name+" "+strconv.Itoa(k.level))
	}
	a.rk = rankKey(rank, id)
	return a
}

// apply applies one feed entry.
func (m *mirror) apply(kind, v string) error {
	f := strings.Split(v, "\t")
	num := func(i int) int64 {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		return n
	}
	switch {
	case kind == "a" && len(f) == 6:
		m.setAgent(parseAgent(f[0], num(1), num(2), num(3), num(4), f[5]))
	case kind == "u" && len(f) == 1:
		m.delAgent(f[0])
	case kind == "w" && len(f) == 10:
		m.setCall(&mCall{id: f[0], queue: f[1], score: num(2), enq: num(3), req: f[4], stages: f[5], prefer: f[6], pu: num(7), eu: num(8),
			excl: parseExcl(f[9])})
	case kind == "r" && len(f) == 1:
		m.delCall(f[0])
	case kind == "i": // the copy that made a reservation
	case kind == "q" && len(f) == 3:
		q := m.queue(f[0])
		q.strategy, q.rr = acd.Strategy(f[1]), f[2]
		if q.strategy == "" {
			q.strategy = acd.LongestIdle
		}
	default:
		return fmt.Errorf("acd: routing feed: bad entry %s %q", kind, v)
	}
	return nil
}

var errFeedGap = errors.New("acd: routing feed: entries missing")

// follow brings the copy up to date: a full read the first time and after
// a gap, else the feed's new entries. m.mu is held.
func (s *Store) follow(ctx context.Context) error {
	m := s.mir
	if !m.synced {
		return s.readAll(ctx)
	}
	err := s.catchUp(ctx)
	if errors.Is(err, errFeedGap) {
		return s.readAll(ctx)
	}
	return err
}

func feedSeq(id string) (uint64, error) {
	ms, seq, ok := strings.Cut(id, "-")
	if !ok || ms != "0" {
		return 0, fmt.Errorf("acd: routing feed: entry id %q", id)
	}
	return strconv.ParseUint(seq, 10, 64)
}

// applyEntries applies feed entries (XRANGE or XREAD reply) past m.last,
// which must follow it without a gap.
func (m *mirror) applyEntries(res []any) error {
	for _, e := range res {
		ent, ok := e.([]any)
		if !ok || len(ent) != 2 {
			return fmt.Errorf("acd: routing feed: entry %v", e)
		}
		id, _ := ent[0].(string)
		seq, err := feedSeq(id)
		if err != nil {
			return err
		}
		if seq <= m.last {
			continue
		}
		if seq != m.last+1 {
			return errFeedGap
		}
		kv, _ := ent[1].([]any)
		for j := 0; j+1 < len(kv); j += 2 {
			k, _ := kv[j].(string)
			v, _ := kv[j+1].(string)
			if err := m.apply(k, v); err != nil {
				return err
			}
		}
		m.last = seq
	}
	return nil
}

// tail reads the feed as it grows and applies it, so a pick finds the copy
// nearly current and its own read of the feed short. It ends when the
// Redis client is closed.
func (s *Store) tail() {
	ctx := context.Background()
	m := s.mir
	for {
		m.mu.Lock()
		last, synced := m.last, m.synced
		m.mu.Unlock()
		if !synced {
			time.Sleep(100 * time.Millisecond) // the next pick reads the state
			continue
		}
		res, err := s.rdb.Do(ctx, "XREAD", "COUNT", 256, "BLOCK", 1000, "STREAMS", s.prefix+"feed", "0-"+strconv.FormatUint(last, 10)).Result()
		switch {
		case errors.Is(err, redis.Nil):
			continue
		case errors.Is(err, redis.ErrClosed):
			return
		case err != nil:
			time.Sleep(100 * time.Millisecond)
			continue
		}
		var ents []any
		switch v := res.(type) {
		case map[any]any: // RESP3: stream → entries
			ents, _ = v[s.prefix+"feed"].([]any)
		case []any: // RESP2: [[stream, entries]]
			if len(v) == 1 {
				if st, ok := v[0].([]any); ok && len(st) == 2 {
					ents, _ = st[1].([]any)
				}
			}
		}
		m.mu.Lock()
		if m.synced && m.last >= last {
			if err := m.applyEntries(ents); err != nil {
				m.synced = false
			}
		}
		m.mu.Unlock()
		// Picks read the feed themselves: this reader only keeps their reads
		// short, so it reads in batches rather than after every entry.
		time.Sleep(2 * time.Millisecond)
	}
}

// catchUp applies the feed entries after m.last.
func (s *Store) catchUp(ctx context.Context) error {
	m := s.mir
	const page = 4096
	for {
		res, err := s.rdb.Do(ctx, "XRANGE", s.prefix+"feed", "(0-"+strconv.FormatUint(m.last, 10), "+", "COUNT", page).Slice()
		if err != nil {
			return fmt.Errorf("acd: routing feed: %w", err)
		}
		if err := m.applyEntries(res); err != nil {
			return err
		}
		if len(res) < page {
			return nil
		}
	}
}

// readAll reads the available agents afresh; queues are read when first
// picked from. The feed position is taken first, so the state read is at
// least that new and the entries after it bring the copy forward.
func (s *Store) readAll(ctx context.Context) error {
	m := s.mir
	m.reset()
	m.nReads.Add(1)
	last, err := s.feedLast(ctx)
	if err != nil {
		return err
	}
	av, err := s.rdb.ZRangeWithScores(ctx, s.prefix+"avail", 0, -1).Result()
	if err != nil {
		return fmt.Errorf("acd: read available agents: %w", err)
	}
	for from := 0; from < len(av); from += 1000 {
		part := av[from:min(from+1000, len(av))]
		cmds := make([]*redis.SliceCmd, len(part))
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, z := range part {
				cmds[i] = p.HMGet(ctx, s.prefix+"agent:"+z.Member.(string), "state", "skills", "rank", "answered_today", "answered_day")
			}
			return nil
		}); err != nil {
			return fmt.Errorf("acd: read available agents: %w", err)
		}
		for i, z := range part {
			v := cmds[i].Val()
			if len(v) != 5 || v[0] != string(acd.Available) {
				continue // changed since: the feed says how
			}
			m.setAgent(parseAgent(z.Member.(string), int64(z.Score), replyInt(v[2], 0), replyInt(v[3], 0), replyInt(v[4], -1), replyStr(v[1])))
		}
	}
	m.last, m.synced = last, true
	return s.catchUp(ctx)
}

// loadQueue reads a queue's configuration and waiting calls into the copy
// (m.mu held, the copy just brought up to date).
func (s *Store) loadQueue(ctx context.Context, id string) error {
	m := s.mir
	var cfg *redis.SliceCmd
	var ws *redis.ZSliceCmd
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		cfg = p.HMGet(ctx, s.prefix+"queue:"+id, "strategy", "rr")
		ws = p.ZRangeWithScores(ctx, s.prefix+"waiting:"+id, 0, -1)
		return nil
	}); err != nil {
		return fmt.Errorf("acd: read queue %s: %w", id, err)
	}
	waiting := ws.Val()
	cmds := make([]*redis.SliceCmd, len(waiting))
	if len(waiting) > 0 {
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, z := range waiting {
				cmds[i] = p.HMGet(ctx, s.prefix+"call:"+z.Member.(string), "queue", "score", "enq", "req", "stages", "prefer", "prefer_until", "excl_until")
			}
			return nil
		}); err != nil {
			return fmt.Errorf("acd: read queue %s: %w", id, err)
		}
	}
	excl := map[string]*redis.Cmd{}
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, z := range waiting {
			if v := cmds[i].Val(); len(v) == 8 && replyStr(v[7]) != "" {
				c := z.Member.(string)
				excl[c] = p.Do(ctx, "ZRANGE", s.prefix+"excl:"+c, 0, -1, "WITHSCORES")
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("acd: read queue %s: %w", id, err)
	}
	q := m.queue(id)
	for _, c := range slices.Clone(q.waiting) {
		m.delCall(c.id)
	}
	for i, z := range waiting {
		v := cmds[i].Val()
		if len(v) != 8 || replyStr(v[0]) != id {
			continue
		}
		c := &mCall{id: z.Member.(string), queue: id, score: int64(z.Score), enq: replyInt(v[2], 0), req: replyStr(v[3]),
			stages: replyStr(v[4]), prefer: replyStr(v[5]), pu: replyInt(v[6], 0), eu: replyInt(v[7], 0)}
		if x := excl[c.id]; x != nil {
			v, _ := x.StringSlice()
			c.excl = parseExcl(strings.Join(v, " "))
		}
		m.setCall(c)
	}
	c := cfg.Val()
	q.strategy, q.rr = acd.LongestIdle, ""
	if st := replyStr(c[0]); st != "" {
		q.strategy = acd.Strategy(st)
	}
	q.rr = replyStr(c[1])
	q.loaded = true
	return nil
}

type mReq struct {
	skill string
	min   int
}

func parseReqs(rs string) []mReq {
	f := strings.Fields(rs)
	out := make([]mReq, 0, len(f)/2)
	for i := 0; i+1 < len(f); i += 2 {
		n, _ := strconv.Atoi(f[i+1])
		out = append(out, mReq{f[i], n})
	}
	return out
}

// routing returns what routes the call at now, as pickScript reads it: its
// requirements (at the expansion step reached), the agents it is not to be
// offered to, and the only agent it may go to while it waits for a
// preferred one. ok is false when one of these changes too close to now to
// tell on this clock (reserveScript checks them on Redis's).
func (c *mCall) routing(now int64) (rs string, excl map[string]bool, only string, ok bool) {
	near := func(at int64) bool { return at > now-timeMargin && at <= now+timeMargin }
	if c.prefer != "" && c.pu > 0 {
		if near(c.pu) {
			return "", nil, "", false
		}
		if c.pu > now {
			only = c.prefer
		}
	}
	if c.eu > 0 {
		if near(c.eu) {
			return "", nil, "", false
		}
		if c.eu > now {
			excl = map[string]bool{}
			for a, until := range c.excl {
				if near(until) {
					return "", nil, "", false
				}
				if until > now {
					excl[a] = true
				}
			}
		}
	}
	rs = c.req
	if c.stages == "" {
		return rs, excl, only, true
	}
	for _, line := range strings.Split(c.stages, "\n") {
		after, rest, _ := strings.Cut(line, " ")
		n, err := strconv.ParseInt(after, 10, 64)
		if err != nil {
			return "", nil, "", false
		}
		at := c.enq + n
		if near(at) {
			return "", nil, "", false
		}
		if at > now {
			break
		}
		rs = rest
	}
	return rs, excl, only, true
}

type mPair struct {
	c *mCall
	a *mAgent
}

// plan makes up to max decisions for queue q as pickScript would: the
// calls in queue order within the lookahead (which grows by one with each
// decision), each given the best agent by the queue's strategy among the
// available agents meeting its requirements; a requirement list that found
// nobody is not tried again. At a call only pickScript can decide (see
// routing) the plan stops: ok is false, and pairs are those decided before.
func (m *mirror) plan(q *mQueue, max, look int, now int64) (pairs []mPair, cursor string, ok bool) {
	const dayUS = 86_400_000_000
	switch q.strategy {
	case acd.BestSkill:
		m.use(byLevel, 0)
	case acd.Linear, acd.RoundRobin:
		m.use(byRank, 0)
	case acd.FewestAnswered:
		if in := now % dayUS; in < timeMargin || in > dayUS-timeMargin {
			return nil, "", false
		}
		m.use(byFewest, now/dayUS)
	}
	cursor, ok = q.rr, true
	taken := map[string]bool{}
	failed := map[string]bool{}
	seen := 0
	for _, c := range q.waiting {
		if seen >= look+len(pairs) {
			break
		}
		if m.busyC[c.id] {
			continue
		}
		seen++
		rs, excl, only, fine := c.routing(now)
		if !fine {
			ok = false
			break
		}
		var a *mAgent
		switch {
		case only != "":
			a = m.preferred(only, parseReqs(rs), taken, excl)
		case excl != nil || !failed[rs]:
			a = m.choose(parseReqs(rs), q.strategy, cursor, taken, excl)
			if a == nil && excl == nil {
				failed[rs] = true
			}
		}
		if a == nil {
			continue
		}
		taken[a.id] = true
		pairs = append(pairs, mPair{c, a})
		if q.strategy == acd.RoundRobin && only == "" {
			cursor = a.rk
		}
		if len(pairs) >= max {
			break
		}
	}
	if q.strategy != acd.RoundRobin {
		cursor = ""
	}
	return pairs, cursor, ok
}

// choose returns the best agent for the requirements by the strategy: the
// first fitting agent in the strategy's order, walking the list of the
// requirement with the fewest available agents; best skill walks that
// skill level by level, highest first, and stops once no later agent can
// have a higher sum of levels.
func (m *mirror) choose(req []mReq, st acd.Strategy, cursor string, taken, excl map[string]bool) *mAgent {
	o := byIdle
	switch st {
	case acd.Linear, acd.RoundRobin:
		o = byRank
	case acd.FewestAnswered:
		o = byFewest
	}
	drive := -1 // the requirement with the fewest agents
	for i, r := range req {
		n := len(m.lists[byIdle][r.skill])
		if n == 0 {
			return nil
		}
		if drive < 0 || n < len(m.lists[byIdle][req[drive].skill]) {
			drive = i
		}
	}
	fits := func(a *mAgent, skip int) bool {
		for i, r := range req {
			if i != skip && a.level(r.skill) < r.min {
				return false
			}
		}
		return !taken[a.id] && !m.busyA[a.id] && !excl[a.id]
	}
	if st == acd.BestSkill && drive >= 0 {
		return m.bestSkill(req, drive, fits)
	}
	key := ""
	if drive >= 0 {
		key = req[drive].skill
	} else if !m.whole[o] {
		// The first call without skills: from now on keep all agents in one
		// list too (for each skill only, a change moves fewer entries).
		m.whole[o] = true
		l := make([]*mAgent, 0, len(m.agents))
		for _, a := range m.agents {
			l = append(l, a)
		}
		slices.SortFunc(l, func(x, y *mAgent) int { return m.compare(o, x, y) })
		m.lists[o][""] = l
	}
	l := m.lists[o][key]
	from := 0
	if st == acd.RoundRobin && cursor != "" {
		from, _ = slices.BinarySearchFunc(l, cursor, func(a *mAgent, c string) int { return strings.Compare(a.rk, c) })
		if from < len(l) && l[from].rk == cursor {
			from++
		}
	}
	for i := range l {
		if a := l[(from+i)%len(l)]; fits(a, -1) {
			return a
		}
	}
	return nil
}

// preferred returns agent p if it is available, free and fit for req.
func (m *mirror) preferred(p string, req []mReq, taken, excl map[string]bool) *mAgent {
	a := m.agents[p]
	if a == nil || taken[p] || m.busyA[p] || excl[p] {
		return nil
	}
	for _, r := range req {
		if a.level(r.skill) < r.min {
			return nil
		}
	}
	return a
}

func (m *mirror) bestSkill(req []mReq, drive int, fits func(*mAgent, int) bool) *mAgent {
	s, lo := req[drive].skill, req[drive].min
	var best *mAgent
	bsum := 0
	for lv := acd.MaxLevel; lv >= lo; lv-- {
		top := lv + acd.MaxLevel*(len(req)-1) // the best sum an agent at this level can have
		if best != nil && bsum > top {
			break
		}
		for _, a := range m.lists[byLevel][s+" "+strconv.Itoa(lv)] {
			if best != nil && bsum >= top && m.compare(byIdle, a, best) > 0 {
				break // idle order: nobody later at this level wins
			}
			if !fits(a, drive) {
				continue
			}
			sum := lv
			for i, r := range req {
				if i != drive {
					sum += a.level(r.skill)
				}
			}
			if best == nil || sum > bsum || (sum == bsum && m.compare(byIdle, a, best) < 0) {
				best, bsum = a, sum
			}
		}
	}
	return best
}

// distrust is called when pickScript found work where the copy, read up
// to the feed's end, had none. Mostly a change came in between; but if the
// feed is behind the copy, it was removed and begun anew, and the copy
// reads the routing state afresh at the next pick.
func (s *Store) distrust(ctx context.Context) {
	last, err := s.feedLast(ctx)
	m := s.mir
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil || last < m.last {
		m.reset()
	}
}

// feedLast is the id of the feed's last entry, which Redis keeps when
// entries are trimmed; 0 with no feed.
func (s *Store) feedLast(ctx context.Context) (uint64, error) {
	info, err := s.rdb.Do(ctx, "XINFO", "STREAM", s.prefix+"feed").Result()
	if err != nil && !strings.Contains(err.Error(), "no such key") {
		return 0, fmt.Errorf("acd: routing feed: %w", err)
	}
	var id any // a map in RESP3, pairs in RESP2
	switch v := info.(type) {
	case map[any]any:
		id = v["last-generated-id"]
	case []any:
		for i := 0; i+1 < len(v); i += 2 {
			if v[i] == "last-generated-id" {
				id = v[i+1]
			}
		}
	}
	if id, ok := id.(string); ok {
		return feedSeq(id)
	}
	return 0, nil
}

// syncCopy brings the routing copy up to date.
func (s *Store) syncCopy(ctx context.Context) error {
	if s.mir == nil {
		return nil
	}
	s.mir.mu.Lock()
	defer s.mir.mu.Unlock()
	return s.follow(ctx)
}

// copyPick makes the decisions in the copy and has Redis reserve them. done
// is false when pickScript must decide instead; confirm, when it is to
// confirm that the copy, just read up to the feed's end, has nothing.
func (s *Store) copyPick(ctx context.Context, queue acd.QueueID, max int) (as []acd.Assignment, err error, done, confirm bool) {
	m := s.mir
	m.tail.Do(func() { go s.tail() })
	m.mu.Lock()
	locked := true
	defer func() {
		if locked {
			m.mu.Unlock()
		}
	}()
	current := false // read the feed in this pick
	for try := range 2 {
		if !m.synced || !current && !m.queue(string(queue)).loaded {
			if err := s.follow(ctx); err != nil {
				m.reset() // read afresh next time
				return nil, nil, false, false
			}
			current = true
		}
		q := m.queue(string(queue))
		if !q.loaded {
			if err := s.loadQueue(ctx, string(queue)); err != nil {
				m.reset()
				return nil, nil, false, false
			}
		}
		now := time.Now()
		pairs, cursor, ok := m.plan(q, max, s.lookahead, now.UnixMicro())
		if !ok && len(pairs) == 0 {
			return nil, nil, false, false
		}
		if len(pairs) == 0 {
			if !current { // the copy may lag the feed: read it, decide again
				if err := s.follow(ctx); err != nil {
					m.reset()
					return nil, nil, false, false
				}
				current = true
				continue
			}
			if now.Sub(m.asked[string(queue)]) >= confirmEvery {
				m.asked[string(queue)] = now
				return nil, nil, false, true
			}
			for _, c := range q.waiting {
				if !m.busyC[c.id] {
					return nil, fmt.Errorf("%w: queue %s", acd.ErrNoAgent, queue), true, false
				}
			}
			return nil, fmt.Errorf("%w: queue %s", acd.ErrNoCall, queue), true, false
		}
		as, stale, err := s.reserve(ctx, q, queue, pairs, cursor, try == 0)
		if err != nil || !stale {
			if len(as) == 0 && err == nil {
				return nil, nil, false, false // all refused: pickScript decides
			}
			if err == nil && !ok && len(as) < max {
				// The plan stopped at a call for pickScript: it goes on from there.
				m.mu.Unlock()
				locked = false
				more, err := s.scriptPick(ctx, queue, max-len(as))
				if err == nil {
					as = append(as, more...)
				}
			}
			return as, err, true, false
		}
		current = true // reserve applied the entries the copy missed
	}
	return nil, nil, false, false
}

// reserve has Redis check and reserve the pairs (m.mu held on entry and
// exit, released while the script runs). stale: the copy had missed feed
// entries, now applied, and nothing was reserved.
func (s *Store) reserve(ctx context.Context, q *mQueue, queue acd.QueueID, pairs []mPair, cursor string, strict bool) (as []acd.Assignment, stale bool, err error) {
	m := s.mir
	seen := m.last
	args := make([]any, 0, 7+4*len(pairs))
	args = append(args, s.prefix, string(queue), s.ttl.Microseconds(), cursor, seen, boolArg(strict), m.id)
	for _, p := range pairs {
		m.busyA[p.a.id], m.busyC[p.c.id] = true, true
		flag := p.c.stages != "" || p.c.prefer != "" || p.c.eu > 0
		args = append(args, p.c.id, p.a.id, p.a.raw, boolArg(flag))
	}
	m.mu.Unlock()
	res, rerr := reserveScript.Run(ctx, s.rdb, nil, args...).Slice()
	m.mu.Lock()
	for _, p := range pairs {
		delete(m.busyA, p.a.id)
		delete(m.busyC, p.c.id)
	}
	if rerr != nil {
		return nil, false, mapErr(rerr)
	}
	if len(res) == 3 && res[0] == "stale" {
		if !m.synced || m.last < seen {
			return nil, false, nil // read afresh meanwhile
		}
		// A feed behind the copy was removed and begun anew; entries that do
		// not follow the copy's last one were trimmed: either way the copy
		// is read afresh.
		id, _ := res[1].(string)
		head, err := feedSeq(id)
		ents, _ := res[2].([]any)
		if err != nil || head < seen || m.applyEntries(ents) != nil {
			m.reset()
			return nil, false, nil
		}
		return nil, true, nil
	}
	if len(res) < 2 || len(res)%2 != 0 {
		return nil, false, fmt.Errorf("acd: reserve %s: unexpected reply %v", queue, res)
	}
	refused, _ := res[0].(int64)
	if refused > 0 {
		m.nRefused.Add(refused)
	}
	// The entry of the reservation says what it did: applied here, until
	// the copy reads it (unless a read already went past it, with what
	// came after).
	id, _ := res[1].(string)
	seq, _ := feedSeq(id)
	local := seq > m.last
	if seq == m.last+1 {
		m.last = seq
	}
	for i := 2; i+1 < len(res); i += 2 {
		c, _ := res[i].(string)
		a, _ := res[i+1].(string)
		as = append(as, acd.Assignment{Queue: queue, Call: acd.CallID(c), Agent: acd.AgentID(a)})
		if local {
			m.delAgent(a)
			m.delCall(c)
		}
	}
	if local && cursor != "" && len(as) > 0 {
		q.rr = cursor // as the script sets it
	}
	m.nCopy.Add(int64(len(as)))
	return as, false, nil
}
