package redisstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccd-platform/ccd/acd"
)

// refAgent is an agent as the reference model sees it.
type refAgent struct {
	id     acd.AgentID
	state  acd.State
	idle   int64 // µs
	rank   int
	skills map[acd.Skill]int
	today  int // answered today
}

// snapshot reads every agent's routing state straight from Redis.
func snapshot(t *testing.T, s *Store, ids []acd.AgentID) []refAgent {
	t.Helper()
	ctx := context.Background()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HGetAll(ctx, s.prefix+"agent:"+string(id))
		}
		return nil
	})
	ok(t, err)
	day := strconv.FormatInt(time.Now().Unix()/86400, 10)
	out := make([]refAgent, len(ids))
	for i, c := range cmds {
		m := c.Val()
		a := refAgent{id: ids[i], state: acd.State(m["state"]), skills: decodeSkills(m["skills"])}
		a.idle, _ = strconv.ParseInt(m["idle_since"], 10, 64)
		a.rank, _ = strconv.Atoi(m["rank"])
		if m["answered_day"] == day {
			a.today, _ = strconv.Atoi(m["answered_today"])
		}
		out[i] = a
	}
	return out
}

// refPick is the reference model of every strategy: rank all available
// agents meeting the requirements, exhaustively.
func refPick(agents []refAgent, st acd.Strategy, reqs []acd.Requirement, cursor string) (acd.AgentID, bool) {
	var fit []refAgent
	for _, a := range agents {
		if a.state != acd.Available {
			continue
		}
		good := true
		for _, r := range reqs {
			if a.skills[r.Skill] < r.MinLevel {
				good = false
			}
		}
		if good {
			fit = append(fit, a)
		}
	}
	if len(fit) == 0 {
		return "", false
	}
	sum := func(a refAgent) (n int) {
		for _, r := range reqs {
			n += a.skills[r.Skill]
		}
		return n
	}
	idle := func(a, b refAgent) int { return cmp.Or(cmp.Compare(a.idle, b.idle), cmp.Compare(a.id, b.id)) }
	byRank := func(a, b refAgent) int { return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.id, b.id)) }
	switch st {
	case acd.LongestIdle:
		slices.SortFunc(fit, idle)
	case acd.BestSkill:
		slices.SortFunc(fit, func(a, b refAgent) int { return cmp.Or(cmp.Compare(sum(b), sum(a)), idle(a, b)) })
	case acd.FewestAnswered:
		slices.SortFunc(fit, func(a, b refAgent) int {
			return cmp.Or(cmp.Compare(a.today, b.today), cmp.Compare(a.idle/1000, b.idle/1000), cmp.Compare(a.id, b.id))
		})
	case acd.Linear, acd.RoundRobin:
		slices.SortFunc(fit, byRank)
		if st == acd.RoundRobin && cursor != "" {
			for _, a := range fit {
				if fmt.Sprintf("%010d%s", a.rank+1_000_000_000, a.id) > cursor {
					return a.id, true
				}
			}
		}
	}
	return fit[0].id, true
}

// TestPickMatchesReference drives every strategy through random calls on
// 1,200 agents whose common skills make pair sets too big to read (the
// index walks) and whose rare skills make small ones (the pair path), with
// agents pausing, holding reservations (stale index entries) and finishing
// calls, and checks each Pick, and each PickBatch over several calls,
// against the exhaustive reference model: once deciding in the routing
// copy (mirror.go), once in Redis (pickScript).
func TestPickMatchesReference(t *testing.T) {
	t.Run("copy", func(t *testing.T) { testPickMatchesReference(t, true) })
	t.Run("script", func(t *testing.T) { testPickMatchesReference(t, false) })
}

func testPickMatchesReference(t *testing.T, useCopy bool) {
	const (
		agents = 1200
		rounds = 200
	)
	ctx := context.Background()
	s, _ := newStore(t, WithRoutingCopy(useCopy))
	rnd := rand.New(rand.NewPCG(3, 4))
	skill := func() acd.Skill {
		if rnd.IntN(3) > 0 {
			return acd.Skill("common" + strconv.Itoa(rnd.IntN(3)))
		}
		return acd.Skill("rare" + strconv.Itoa(rnd.IntN(20)))
	}
	ids := make([]acd.AgentID, agents)
	for i := range ids {
		ids[i] = acd.AgentID(fmt.Sprintf("ag%04d", rnd.IntN(10000)*agents+i)) // ids not in login order
		sk := map[acd.Skill]int{}
		for n := 2 + rnd.IntN(3); len(sk) < n; {
			sk[skill()] = 1 + rnd.IntN(5)
		}
		ok(t, s.Login(ctx, acd.Login{Agent: ids[i], Rank: rnd.IntN(21) - 5, Skills: sk}))
	}
	if n := s.rdb.ZCard(ctx, s.prefix+"pair:common0 common1").Val(); n <= 256 {
		t.Fatalf("pair of common skills holds %d agents: the walk for big pairs is not tested", n)
	}
	if n := s.rdb.ZCard(ctx, s.prefix+"pair:common0 rare1").Val(); n == 0 || n > 256 {
		t.Fatalf("pair of a common and a rare skill holds %d agents", n)
	}
	seq := 0
	paths := map[string]int{} // assignments per path: one skill, big pair (walk), small pair; batch: PickBatch calls
	for _, st := range benchStrategies {
		t.Run(string(st), func(t *testing.T) {
			q := acd.QueueID(st)
			ok(t, s.SetQueue(ctx, acd.Queue{ID: q, Strategy: st}))
			var held []acd.Assignment
			for round := range rounds {
				// Mostly one call and Pick; sometimes several and one PickBatch.
				var calls []acd.Call
				for n := 1 + max(0, rnd.IntN(8)-4); len(calls) < n; {
					c := acd.Call{ID: acd.CallID("c" + strconv.Itoa(seq)), Queue: q}
					seq++
					k := 1 + rnd.IntN(3)
					if rnd.IntN(10) == 0 {
						k = 0 // any agent will do
					}
					for len(c.Skills) < k {
						if sk := skill(); !slices.ContainsFunc(c.Skills, func(r acd.Requirement) bool { return r.Skill == sk }) {
							c.Skills = append(c.Skills, req(sk, 1+rnd.IntN(3)))
						}
					}
					enqueue(t, s, c)
					calls = append(calls, c)
				}
				cursor, _ := s.rdb.HGet(ctx, s.prefix+"queue:"+string(q), "rr").Result()
				snap := snapshot(t, s, ids)
				var want []acd.Assignment // the reference, call by call
				for _, c := range calls {
					a, found := refPick(snap, st, c.Skills, cursor)
					if !found {
						continue
					}
					want = append(want, acd.Assignment{Queue: q, Call: c.ID, Agent: a})
					for i := range snap {
						if snap[i].id == a {
							snap[i].state = acd.Reserved
							cursor = fmt.Sprintf("%010d%s", snap[i].rank+1_000_000_000, a)
						}
					}
				}
				var got []acd.Assignment
				var err error
				if len(calls) == 1 {
					var a acd.Assignment
					if a, err = s.Pick(ctx, q); err == nil {
						got = []acd.Assignment{a}
					}
				} else {
					got, err = s.PickBatch(ctx, q, len(calls))
				}
				switch {
				case len(want) == 0:
					if !errors.Is(err, acd.ErrNoAgent) {
						t.Fatalf("round %d, %+v: picked %+v, %v; the reference finds nobody", round, calls, got, err)
					}
				case err != nil || fmt.Sprint(got) != fmt.Sprint(want):
					t.Fatalf("round %d, %+v: picked %+v, %v; the reference picks %+v", round, calls, got, err, want)
				}
				if len(calls) > 1 {
					paths["batch"]++
				}
				for _, a := range got {
					held = append(held, a)
					var c acd.Call
					for _, x := range calls {
						if x.ID == a.Call {
							c = x
						}
					}
					common := 0
					for _, r := range c.Skills {
						if r.Skill[0] == 'c' {
							common++
						}
					}
					switch {
					case len(c.Skills) == 0:
						paths["no skill"]++
					case len(c.Skills) == 1:
						paths["one skill"]++
					case common == len(c.Skills):
						paths["big pair"]++
					default:
						paths["small pair"]++
					}
				}
				for _, c := range calls {
					if !slices.ContainsFunc(got, func(a acd.Assignment) bool { return a.Call == c.ID }) {
						must[acd.AgentID](t)(s.Dequeue(ctx, c.ID))
					}
				}
				// Hold some reservations, end others; pause and resume agents.
				for len(held) > 0 && (len(held) > 20 || rnd.IntN(2) == 0) {
					i := rnd.IntN(len(held))
					a := held[i]
					held = slices.Delete(held, i, i+1)
					if rnd.IntN(3) > 0 {
						finish(t, s, a)
					} else {
						must[acd.AgentID](t)(s.Dequeue(ctx, a.Call))
					}
				}
				a := ids[rnd.IntN(len(ids))]
				switch agentState(t, s, a).State {
				case acd.Available:
					must[acd.State](t)(s.Pause(ctx, a, "break"))
				case acd.Paused:
					must[acd.State](t)(s.SetState(ctx, a, acd.Available))
				}
			}
			for _, a := range held {
				finish(t, s, a)
			}
		})
	}
	rc := s.RoutingCounts()
	t.Logf("picks per path: %v; routing: %+v", paths, rc)
	total := paths["no skill"] + paths["one skill"] + paths["big pair"] + paths["small pair"]
	if useCopy && (rc.Copy < int64(total)*9/10 || rc.Refused > 0) || !useCopy && rc.Copy > 0 {
		t.Errorf("routing %+v for %d assignments: not the path under test", rc, total)
	}
	for _, p := range []string{"no skill", "one skill", "big pair", "small pair", "batch"} {
		if paths[p] < 10 {
			t.Errorf("only %d picks through the %s path", paths[p], p)
		}
	}
}
