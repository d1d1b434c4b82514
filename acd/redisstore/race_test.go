package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccd-platform/ccd/acd"
)

// consistencyScript checks, atomically, that calls and agents agree: a
// reserved or talking call and its agent name each other, waiting calls
// are in their queue's waiting set and nowhere else, avail holds exactly
// the available agents with their idle times, wrap-ups are indexed.
// Returns the violations.
var consistencyScript = redis.NewScript(`
local P = ARGV[1]
local errs = {}
local function bad(msg) if #errs < 20 then errs[#errs + 1] = msg end end
for _, c in ipairs(redis.call('SMEMBERS', P .. 'calls')) do
  local h = redis.call('HMGET', P .. 'call:' .. c, 'state', 'agent', 'queue', 'score')
  if not h[1] then
    bad('call ' .. c .. ' listed without a hash')
  else
    local inWaiting = redis.call('ZSCORE', P .. 'waiting:' .. h[3], c)
    local inRsv = redis.call('ZSCORE', P .. 'rsv', c)
    if h[1] == 'waiting' then
      if h[2] then bad('waiting call ' .. c .. ' has agent ' .. h[2]) end
      if not inWaiting or tonumber(inWaiting) ~= tonumber(h[4]) then bad('waiting call ' .. c .. ' not in its waiting set at its score') end
      if inRsv then bad('waiting call ' .. c .. ' in rsv') end
    else
      local a = redis.call('HMGET', P .. 'agent:' .. tostring(h[2]), 'state', 'call')
      local want = 'on_call'
      if h[1] == 'reserved' then want = 'reserved' end
      if a[1] ~= want or a[2] ~= c then bad(h[1] .. ' call ' .. c .. ' with agent ' .. tostring(h[2]) .. ' which is ' .. tostring(a[1]) .. ' on ' .. tostring(a[2])) end
      if inWaiting then bad(h[1] .. ' call ' .. c .. ' still waiting') end
      if (h[1] == 'reserved') ~= (inRsv ~= false) then bad(h[1] .. ' call ' .. c .. ' rsv entry mismatch') end
    end
  end
end
for _, a in ipairs(redis.call('SMEMBERS', P .. 'agents')) do
  local g = redis.call('HMGET', P .. 'agent:' .. a, 'state', 'call', 'idle_since', 'wrap_until')
  local av = redis.call('ZSCORE', P .. 'avail', a)
  if (g[1] == 'available') ~= (av ~= false) then bad('agent ' .. a .. ' is ' .. g[1] .. ', in avail: ' .. tostring(av)) end
  if av and tonumber(av) ~= tonumber(g[3]) then bad('agent ' .. a .. ' avail score ' .. av .. ' idle ' .. tostring(g[3])) end
  if g[1] == 'reserved' or (g[1] == 'on_call' and g[2]) then
    local h = redis.call('HMGET', P .. 'call:' .. tostring(g[2]), 'state', 'agent')
    if h[2] ~= a then bad('agent ' .. a .. ' ' .. g[1] .. ' on call ' .. tostring(g[2]) .. ' of agent ' .. tostring(h[2])) end
  elseif g[2] then
    bad('agent ' .. a .. ' ' .. g[1] .. ' keeps call ' .. g[2])
  end
  local w = redis.call('ZSCORE', P .. 'wrapups', a)
  if w and (g[1] ~= 'wrap_up' or tonumber(w) ~= tonumber(g[4])) then bad('agent ' .. a .. ' in wrapups but ' .. g[1]) end
end
return errs
`)

func checkConsistent(ctx context.Context, s *Store) error {
	errs, err := consistencyScript.Run(ctx, s.rdb, nil, s.prefix).StringSlice()
	if err != nil {
		return err
	}
	if len(errs) > 0 {
		return fmt.Errorf("inconsistent state:\n  %s", strings.Join(errs, "\n  "))
	}
	return nil
}

// raceRun is the shared bookkeeping of TestConcurrentDispatchers.
type raceRun struct {
	s          *Store
	others     []*Store // more ccd instances on the same Redis, each with its routing copy
	timer      time.Duration
	queues     []acd.QueueID
	pool       []map[acd.Skill]int
	agents     []acd.AgentID
	heldAgents sync.Map // agent → call, while a dispatcher holds the reservation or the connected call
	heldCalls  sync.Map // call → agent
	ended      sync.Map // calls answered and ended: never to be picked again
	callbacks  sync.Map // calls turned into callbacks
	nAnswered  atomic.Int64
	nPicks     atomic.Int64
	nAttempts  atomic.Int64
	outcomes   sync.Map // name → *atomic.Int64
}

func (r *raceRun) count(name string) {
	v, _ := r.outcomes.LoadOrStore(name, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// held is one assignment a dispatcher holds.
type held struct {
	acd.Assignment
	talking bool
}

// TestConcurrentDispatchers runs 12 dispatchers against one Redis with
// random enqueues, picks and every way a reservation or a call ends, on
// queues of every strategy (with wrap-up, missed-offer pauses, a short
// retry delay, expansion and preferred agents), while an agent desktop
// pauses and resumes agents and a reaper ends wrap-ups. No agent may ever
// be held for two calls nor a call for two agents, the stored state is
// checked atomically throughout, and at the end every agent, call and
// index entry must be consistent.
//
// The dispatchers are spread over three Stores, as over three ccd
// instances, each deciding in its routing copy, so the copies race each
// other for the same calls and agents; calls near a time only pickScript
// decides (the timers are 20 ms) take the script path, so both paths run
// side by side.
func TestConcurrentDispatchers(t *testing.T) {
	const timer = 20 * time.Millisecond
	const (
		workers     = 12
		picksEach   = 2500
		nAgents     = 200
		skills      = 10
		maxHeldEach = 6
	)
	s, rdb := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rnd := rand.New(rand.NewPCG(1, 2))
	r := &raceRun{s: s, timer: timer}
	for range 2 {
		o, err := New(rdb)
		ok(t, err)
		r.others = append(r.others, o)
	}
	for i, st := range benchStrategies {
		q := acd.Queue{ID: acd.QueueID("q" + strconv.Itoa(i)), Strategy: st, RetryDelay: timer, MaxMisses: 3}
		if i%2 == 0 {
			q.WrapUp = 2 * time.Millisecond
		}
		ok(t, s.SetQueue(ctx, q))
		r.queues = append(r.queues, q.ID)
	}
	agentSkills := map[acd.AgentID]map[acd.Skill]int{}
	for i := 0; i < nAgents; i++ {
		id := acd.AgentID(fmt.Sprintf("ag%03d", i))
		sk := map[acd.Skill]int{}
		for n := 1 + rnd.IntN(3); len(sk) < n; {
			sk[acd.Skill("s"+strconv.Itoa(rnd.IntN(skills)))] = 1 + rnd.IntN(5)
		}
		agentSkills[id] = sk
		r.pool = append(r.pool, sk)
		r.agents = append(r.agents, id)
		ok(t, s.Login(ctx, acd.Login{Agent: id, Rank: rnd.IntN(50), Skills: sk}))
	}

	stop := make(chan struct{})
	var bg sync.WaitGroup
	bgErr := make(chan error, 3)
	background := func(every time.Duration, f func(*rand.Rand) error) {
		bg.Add(1)
		go func() {
			defer bg.Done()
			rnd := rand.New(rand.NewPCG(uint64(every), 5))
			for {
				select {
				case <-stop:
					return
				case <-time.After(every):
				}
				if err := f(rnd); err != nil {
					bgErr <- err
					return
				}
			}
		}()
	}
	background(time.Millisecond, func(*rand.Rand) error { _, err := s.Reap(ctx); return err })
	background(50*time.Millisecond, func(*rand.Rand) error { return checkConsistent(ctx, s) })
	background(5*time.Millisecond, func(rnd *rand.Rand) error { return r.desktop(ctx, rnd) })

	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errc <- r.dispatcher(ctx, w, picksEach, maxHeldEach)
		}()
	}
	wg.Wait()
	close(stop)
	bg.Wait()
	close(errc)
	close(bgErr)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	for err := range bgErr {
		t.Fatal(err)
	}
	var outcomes []string
	r.outcomes.Range(func(k, v any) bool {
		outcomes = append(outcomes, fmt.Sprintf("%s=%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	var rc RoutingCounts
	for _, x := range append([]*Store{s}, r.others...) {
		c := x.RoutingCounts()
		rc.Copy, rc.Script, rc.Refused, rc.Reads = rc.Copy+c.Copy, rc.Script+c.Script, rc.Refused+c.Refused, rc.Reads+c.Reads
	}
	t.Logf("%d picks (%d attempts), %d answered, %d workers; %v; routing: %+v", r.nPicks.Load(), r.nAttempts.Load(), r.nAnswered.Load(), workers, outcomes, rc)
	if r.nPicks.Load() < workers*picksEach { // batches may overshoot
		t.Fatalf("only %d picks", r.nPicks.Load())
	}
	if n := r.nPicks.Load(); rc.Copy < n/10 || rc.Script < n/20 || rc.Refused == 0 {
		t.Fatalf("routing %+v of %d picks: both paths should have made many, and the copies should have raced (refusals)", rc, n)
	}
	// Wrap-ups end, paused agents resume: all available.
	eventually(t, 10*time.Second, "wrap-ups reaped", func() bool {
		must[int](t)(s.Reap(ctx))
		return s.rdb.ZCard(ctx, s.prefix+"wrapups").Val() == 0
	})
	for _, id := range r.agents {
		if agentState(t, s, id).State == acd.Paused {
			must[acd.State](t)(s.SetState(ctx, id, acd.Available))
		}
	}
	ok(t, checkConsistent(ctx, s))
	checkFinal(t, s, agentSkills, r.nAnswered.Load())
}

// desktop pauses an available agent or resumes a paused one, as agents do;
// losing a race with a pick or another change is fine.
func (r *raceRun) desktop(ctx context.Context, rnd *rand.Rand) error {
	id := r.agents[rnd.IntN(len(r.agents))]
	a, err := r.s.Agent(ctx, id)
	if err != nil {
		return err
	}
	switch a.State {
	case acd.Available:
		_, err = r.s.Pause(ctx, id, "break")
	case acd.Paused:
		_, err = r.s.SetState(ctx, id, acd.Available)
	}
	if errors.Is(err, acd.ErrIllegalTransition) || errors.Is(err, acd.ErrReserved) {
		return nil
	}
	return err
}

func (r *raceRun) dispatcher(ctx context.Context, w, picks, maxHeld int) error {
	s := r.s // every third dispatcher is on each instance
	if i := w % (len(r.others) + 1); i > 0 {
		s = r.others[i-1]
	}
	rnd := rand.New(rand.NewPCG(uint64(w), 99))
	var hold []held
	var mine []acd.CallID // calls this dispatcher queued, for callbacks
	// unhold forgets a hold before Redis frees the agent and call: nobody can
	// pick them in between, so a later LoadOrStore hit is a real double
	// assignment.
	unhold := func(a acd.Assignment) {
		r.heldAgents.Delete(a.Agent)
		r.heldCalls.Delete(a.Call)
	}
	resume := func(agent acd.AgentID) error { // after a miss that may have paused the agent
		a, err := s.Agent(ctx, agent)
		if err != nil || a.State != acd.Paused || a.Reason != acd.PauseMissedOffers {
			return err
		}
		if _, err := s.SetState(ctx, agent, acd.Available); err != nil && !errors.Is(err, acd.ErrIllegalTransition) {
			return err
		}
		return nil
	}
	release := func(i int) error {
		h := hold[i]
		a := h.Assignment
		done := func() { hold[i] = hold[len(hold)-1]; hold = hold[:len(hold)-1] }
		var got acd.AgentID
		var err error
		if !h.talking {
			switch x := rnd.IntN(20); {
			case x < 12:
				r.count("answered")
				r.nAnswered.Add(1)
				got, err = s.Release(ctx, a.Call, acd.Answered)
				hold[i].talking = true // still held: connected
			case x < 15:
				r.count("rejected")
				done()
				unhold(a)
				got, err = s.Release(ctx, a.Call, acd.Rejected)
			case x < 18:
				r.count("no_answer")
				done()
				unhold(a)
				if got, err = s.Release(ctx, a.Call, acd.NoAnswer); err == nil {
					err = resume(a.Agent)
				}
			default: // the caller hangs up during the offer
				r.count("dequeue_reserved")
				done()
				unhold(a)
				got, err = s.Dequeue(ctx, a.Call)
			}
		} else {
			_, isCallback := r.callbacks.Load(a.Call)
			done()
			unhold(a)
			switch x := rnd.IntN(10); {
			case isCallback && x < 3:
				r.count("requeue")
				got, err = s.Requeue(ctx, a.Call)
			case x < 8:
				r.count("finish")
				r.ended.Store(a.Call, a.Agent)
				got, err = s.Finish(ctx, a.Call)
			default: // hang-up while talking
				r.count("dequeue_talking")
				r.ended.Store(a.Call, a.Agent)
				got, err = s.Dequeue(ctx, a.Call)
			}
		}
		if err == nil && got != a.Agent {
			err = fmt.Errorf("call %s: agent %s, want %s", a.Call, got, a.Agent)
		}
		if err != nil {
			return fmt.Errorf("release %+v: %w", h, err)
		}
		return nil
	}
	seq := 0
	for done := 0; done < picks; {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("dispatcher %d after %d picks: %w", w, done, err)
		}
		q := r.queues[rnd.IntN(len(r.queues))]
		if rnd.IntN(3) > 0 {
			c := r.call(rnd, acd.CallID(fmt.Sprintf("w%d-%d", w, seq)), q)
			seq++
			if err := s.Enqueue(ctx, c); err != nil {
				return err
			}
			mine = append(mine, c.ID)
		}
		if len(mine) > 0 && rnd.IntN(10) == 0 {
			c := mine[rnd.IntN(len(mine))]
			switch err := s.SetCallback(ctx, c, "+1555"+string(c)); {
			case err == nil:
				r.callbacks.Store(c, true)
				r.count("callback")
			case errors.Is(err, acd.ErrNotFound), errors.Is(err, acd.ErrAlreadyReserved):
			default:
				return err
			}
		}
		r.nAttempts.Add(1)
		var as []acd.Assignment
		var err error
		if rnd.IntN(4) == 0 {
			as, err = s.PickBatch(ctx, q, 2+rnd.IntN(3))
		} else {
			var a acd.Assignment
			if a, err = s.Pick(ctx, q); err == nil {
				as = []acd.Assignment{a}
			}
		}
		switch {
		case errors.Is(err, acd.ErrNoAgent), errors.Is(err, acd.ErrNoCall):
		case err != nil:
			return err
		}
		for _, a := range as {
			done++
			r.nPicks.Add(1)
			if prev, dup := r.heldAgents.LoadOrStore(a.Agent, a.Call); dup {
				return fmt.Errorf("agent %s reserved for %s while holding %s", a.Agent, a.Call, prev)
			}
			if prev, dup := r.heldCalls.LoadOrStore(a.Call, a.Agent); dup {
				return fmt.Errorf("call %s reserved for %s while held by %s", a.Call, a.Agent, prev)
			}
			if prev, ended := r.ended.Load(a.Call); ended {
				return fmt.Errorf("call %s picked again after it ended with %s", a.Call, prev)
			}
			hold = append(hold, held{Assignment: a})
		}
		for len(hold) > maxHeld || (len(hold) > 0 && rnd.IntN(2) == 0) {
			if err := release(rnd.IntN(len(hold))); err != nil {
				return err
			}
		}
	}
	for len(hold) > 0 {
		if err := release(0); err != nil {
			return err
		}
	}
	return nil
}

// call makes a random call some agent can serve: up to two of one agent's
// skills at most at its levels, sometimes relaxed after 20ms, sometimes
// preferring an agent for 20ms.
func (r *raceRun) call(rnd *rand.Rand, id acd.CallID, q acd.QueueID) acd.Call {
	c := acd.Call{ID: id, Queue: q, Priority: rnd.IntN(3)}
	n := rnd.IntN(3)
	for sk, lv := range r.pool[rnd.IntN(len(r.pool))] {
		if n == 0 {
			break
		}
		n--
		c.Skills = append(c.Skills, acd.Requirement{Skill: sk, MinLevel: 1 + rnd.IntN(lv)})
	}
	if rnd.IntN(5) == 0 {
		c.Skills = append(c.Skills, req("s"+acd.Skill(strconv.Itoa(rnd.IntN(10))), 5))
		c.Expansion = []acd.Stage{{After: r.timer, Skills: c.Skills[:len(c.Skills)-1]}}
	}
	if rnd.IntN(5) == 0 {
		c.PreferAgent, c.PreferWait = r.agents[rnd.IntN(len(r.agents))], r.timer
	}
	return c
}

// checkFinal checks the final state, all agents available: agents, calls,
// reservations and every index entry, against what the agents' hashes say.
func checkFinal(t *testing.T, s *Store, agentSkills map[acd.AgentID]map[acd.Skill]int, answered int64) {
	t.Helper()
	ctx := context.Background()
	p := s.prefix
	fam := s.rdb.Get(ctx, p+"fam").Val()
	day := time.Now().Unix() / 86400
	want := map[string]float64{} // key \x00 member → score
	entry := func(key, member string, score float64) { want[key+"\x00"+member] = score }
	var total int64
	for id, sk := range agentSkills {
		a := agentState(t, s, id)
		if a.State != acd.Available || a.Call != "" || !a.WrapUntil.IsZero() || a.Reason != "" {
			t.Errorf("agent %s ends %+v", id, a)
			continue
		}
		if fmt.Sprint(a.Skills) != fmt.Sprint(sk) {
			t.Errorf("agent %s skills %v, want %v", id, a.Skills, sk)
		}
		total += int64(a.AnsweredToday)
		idle := float64(a.IdleSince.UnixMicro())
		rankM := fmt.Sprintf("%010d%s", a.Rank+1_000_000_000, id)
		fewest := float64(min(a.AnsweredToday, 2047))*(1<<41) + float64(a.IdleSince.UnixMicro()/1000) - 1704067200000
		entry("avail", string(id), idle)
		if strings.Contains(fam, "R") {
			entry("rank", rankM, 0)
		}
		if strings.Contains(fam, "F") {
			entry("fewest", string(id), fewest)
		}
		for skill, lv := range sk {
			entry("avail:"+string(skill), string(id), idle)
			if strings.Contains(fam, "B") {
				entry(fmt.Sprintf("best:%s:%d", skill, lv), string(id), idle)
			}
			if strings.Contains(fam, "R") {
				entry("rank:"+string(skill), rankM, 0)
			}
			if strings.Contains(fam, "F") {
				entry("fewest:"+string(skill), string(id), fewest)
			}
			for th := 1; th <= 5; th++ {
				if in := s.rdb.SIsMember(ctx, fmt.Sprintf("%ssk:%s:%d", p, skill, th), string(id)).Val(); in != (th <= lv) {
					t.Errorf("agent %s in sk:%s:%d: %v (level %d)", id, skill, th, in, lv)
				}
			}
		}
	}
	if total != answered {
		t.Errorf("answered_today sums to %d, want %d", total, answered)
	}
	// Every index entry is one we expect, with its score, and vice versa.
	got := map[string]float64{}
	for _, pattern := range []string{"avail", "avail:*", "best:*", "rank", "rank:*", "fewest", "fewest:*"} {
		for _, k := range s.rdb.Keys(ctx, p+pattern).Val() {
			for _, z := range s.rdb.ZRangeWithScores(ctx, k, 0, -1).Val() {
				got[strings.TrimPrefix(k, p)+"\x00"+z.Member.(string)] = z.Score
			}
		}
	}
	for k, sc := range want {
		if g, ok := got[k]; !ok || g != sc {
			t.Errorf("index entry %q: %v (present %v), want %v", k, g, ok, sc)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected index entry %q", k)
		}
	}
	if n := s.rdb.ZCard(ctx, p+"rsv").Val(); n != 0 {
		t.Errorf("%d reservations left", n)
	}
	// Calls left are waiting (the consistency check saw them in their sets).
	calls := must[[]acd.QueuedCall](t)(s.Calls(ctx))
	var inSets int64
	for _, k := range s.rdb.Keys(ctx, p+"waiting:*").Val() {
		inSets += s.rdb.ZCard(ctx, k).Val()
	}
	for _, c := range calls {
		if c.State != acd.CallWaiting || c.Agent != "" {
			t.Errorf("call %+v left", c)
		}
	}
	if inSets != int64(len(calls)) {
		t.Errorf("waiting sets hold %d calls, %d calls listed", inSets, len(calls))
	}
	if day != time.Now().Unix()/86400 {
		t.Log("the day changed during the check; answered counts may differ")
	}
	t.Logf("final: %d calls still waiting, %d index entries, consistent", len(calls), len(got))
}
