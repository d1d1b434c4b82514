package redisstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccd-platform/ccd/acd"
)

// TestConcurrentDispatchers runs several dispatchers against one Redis with
// random enqueue, pick, release and hang-up operations and checks that no
// agent ever holds two reservations, no call is ever reserved twice, and the
// final state is consistent.
func TestConcurrentDispatchers(t *testing.T) {
	const (
		workers     = 8
		picksEach   = 2600
		agents      = 200
		skills      = 10
		queues      = 4
		maxHeldEach = 6
	)
	s, rdb := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rnd := rand.New(rand.NewPCG(1, 2))
	for q := 0; q < queues; q++ {
		st := []acd.Strategy{acd.LongestIdle, acd.BestSkill, acd.FewestAnswered, acd.RoundRobin}[q]
		if err := s.SetQueue(ctx, acd.Queue{ID: acd.QueueID("q" + strconv.Itoa(q)), Strategy: st}); err != nil {
			t.Fatal(err)
		}
	}
	agentSkills := map[acd.AgentID]map[acd.Skill]int{}
	for i := 0; i < agents; i++ {
		id := acd.AgentID(fmt.Sprintf("ag%03d", i))
		sk := map[acd.Skill]int{}
		for n := 1 + rnd.IntN(3); len(sk) < n; {
			sk[acd.Skill("s"+strconv.Itoa(rnd.IntN(skills)))] = 1 + rnd.IntN(5)
		}
		agentSkills[id] = sk
		if err := s.Login(ctx, acd.Login{Agent: id, Rank: rnd.IntN(50), Skills: sk}); err != nil {
			t.Fatal(err)
		}
	}

	var pool []map[acd.Skill]int
	for _, sk := range agentSkills {
		pool = append(pool, sk)
	}
	var (
		heldAgents sync.Map // agent → call, while a dispatcher holds its reservation
		heldCalls  sync.Map // call → agent
		answered   sync.Map // call → agent
		nAnswered  atomic.Int64
		nPicks     atomic.Int64
		nAttempts  atomic.Int64
	)
	errc := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			errc <- dispatcher(ctx, s, w, picksEach, queues, pool, maxHeldEach, &heldAgents, &heldCalls, &answered, &nAnswered, &nPicks, &nAttempts)
		}(w)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d picks (%d attempts), %d answered, %d workers", nPicks.Load(), nAttempts.Load(), nAnswered.Load(), workers)
	if nPicks.Load() < 20000 {
		t.Fatalf("only %d picks", nPicks.Load())
	}
	checkFinal(t, s, rdb, agentSkills, nAnswered.Load())
}

func dispatcher(ctx context.Context, s *Store, w, picks, queues int, pool []map[acd.Skill]int, maxHeld int,
	heldAgents, heldCalls, answered *sync.Map, nAnswered, nPicks, nAttempts *atomic.Int64) error {
	rnd := rand.New(rand.NewPCG(uint64(w), 99))
	var held []acd.Assignment
	release := func(i int) error {
		a := held[i]
		held[i] = held[len(held)-1]
		held = held[:len(held)-1]
		// Forget the hold before Redis frees the agent: nobody can pick the
		// agent or call in between, so a later LoadOrStore hit is a real
		// double assignment.
		heldAgents.Delete(a.Agent)
		heldCalls.Delete(a.Call)
		switch r := rnd.IntN(20); {
		case r < 14:
			answered.Store(a.Call, a.Agent)
			nAnswered.Add(1)
			if got, err := s.Release(ctx, a.Call, acd.Answered); err != nil || got != a.Agent {
				return fmt.Errorf("release %s: %s, %v", a.Call, got, err)
			}
			if _, err := s.SetState(ctx, a.Agent, acd.WrapUp); err != nil {
				return err
			}
			_, err := s.SetState(ctx, a.Agent, acd.Available)
			return err
		case r < 17:
			_, err := s.Release(ctx, a.Call, acd.Rejected)
			return err
		case r < 19:
			if _, err := s.Release(ctx, a.Call, acd.NoAnswer); err != nil {
				return err
			}
			_, err := s.SetState(ctx, a.Agent, acd.Available)
			return err
		default: // the caller hangs up during the offer
			got, err := s.Dequeue(ctx, a.Call)
			if err == nil && got != a.Agent {
				err = fmt.Errorf("dequeue %s freed %s, want %s", a.Call, got, a.Agent)
			}
			return err
		}
	}
	seq := 0
	for done := 0; done < picks; {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("dispatcher %d after %d picks: %w", w, done, err)
		}
		q := acd.QueueID("q" + strconv.Itoa(rnd.IntN(queues)))
		if rnd.IntN(3) > 0 {
			c := acd.Call{ID: acd.CallID(fmt.Sprintf("w%d-%d", w, seq)), Queue: q, Priority: rnd.IntN(3)}
			seq++
			// Ask for up to two skills some agent has, at most at its level,
			// so every call can be served.
			n := rnd.IntN(3)
			for sk, lv := range pool[rnd.IntN(len(pool))] {
				if n == 0 {
					break
				}
				n--
				c.Skills = append(c.Skills, acd.Requirement{Skill: sk, MinLevel: 1 + rnd.IntN(lv)})
			}
			if err := s.Enqueue(ctx, c); err != nil {
				return err
			}
		}
		nAttempts.Add(1)
		a, err := s.Pick(ctx, q)
		switch {
		case errors.Is(err, acd.ErrNoAgent), errors.Is(err, acd.ErrNoCall):
		case err != nil:
			return err
		default:
			done++
			nPicks.Add(1)
			if prev, dup := heldAgents.LoadOrStore(a.Agent, a.Call); dup {
				return fmt.Errorf("agent %s reserved for %s while holding %s", a.Agent, a.Call, prev)
			}
			if prev, dup := heldCalls.LoadOrStore(a.Call, a.Agent); dup {
				return fmt.Errorf("call %s reserved for %s while held by %s", a.Call, a.Agent, prev)
			}
			if prev, ok := answered.Load(a.Call); ok {
				return fmt.Errorf("call %s picked again after %s answered it", a.Call, prev)
			}
			held = append(held, a)
		}
		for len(held) > maxHeld || (len(held) > 0 && rnd.IntN(2) == 0) {
			if err := release(rnd.IntN(len(held))); err != nil {
				return err
			}
		}
	}
	for len(held) > 0 {
		if err := release(0); err != nil {
			return err
		}
	}
	return nil
}

func checkFinal(t *testing.T, s *Store, rdb *redis.Client, agentSkills map[acd.AgentID]map[acd.Skill]int, answered int64) {
	t.Helper()
	ctx := context.Background()
	p := s.prefix
	var total int64
	for id, sk := range agentSkills {
		a := must[acd.Agent](t)(s.Agent(ctx, id))
		if a.State != acd.Available || a.Call != "" {
			t.Errorf("agent %s ends %s with call %q", id, a.State, a.Call)
		}
		total += int64(a.AnsweredToday)
		if _, err := rdb.ZScore(ctx, p+"avail", string(id)).Result(); err != nil {
			t.Errorf("agent %s missing from avail: %v", id, err)
		}
		for skill := range sk {
			if _, err := rdb.ZScore(ctx, p+"avail:"+string(skill), string(id)).Result(); err != nil {
				t.Errorf("agent %s missing from avail:%s: %v", id, skill, err)
			}
		}
	}
	if n := rdb.ZCard(ctx, p+"avail").Val(); n != int64(len(agentSkills)) {
		t.Errorf("avail holds %d agents, want %d", n, len(agentSkills))
	}
	if total != answered {
		t.Errorf("answered_today sums to %d, want %d", total, answered)
	}
	if n := rdb.ZCard(ctx, p+"rsv").Val(); n != 0 {
		t.Errorf("%d reservations left", n)
	}
	if keys := rdb.Keys(ctx, p+"rsv:*").Val(); len(keys) != 0 {
		t.Errorf("reservation keys left: %v", keys[:min(5, len(keys))])
	}
	// Every call hash left is waiting in its queue, and vice versa.
	calls := rdb.Keys(ctx, p+"call:*").Val()
	waiting := 0
	for _, k := range calls {
		if len(k) > 5 && k[len(k)-5:] == ":excl" {
			continue
		}
		h := rdb.HGetAll(ctx, k).Val()
		c := k[len(p+"call:"):]
		if h["state"] != "waiting" {
			t.Errorf("call %s left in state %q", c, h["state"])
		}
		if _, err := rdb.ZScore(ctx, p+"waiting:"+h["queue"], c).Result(); err != nil {
			t.Errorf("call %s not in waiting:%s", c, h["queue"])
		}
		waiting++
	}
	var inSets int64
	for q := 0; q < 4; q++ {
		inSets += rdb.ZCard(ctx, p+"waiting:q"+strconv.Itoa(q)).Val()
	}
	if inSets != int64(waiting) {
		t.Errorf("waiting sets hold %d calls, call hashes %d", inSets, waiting)
	}
	t.Logf("final: %d calls still waiting, consistent", waiting)
}
