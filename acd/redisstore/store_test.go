package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/internal/localstack/localstacktest"
)

func newStore(t *testing.T, opts ...Option) (*Store, *redis.Client) {
	t.Helper()
	r := localstacktest.StartRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, PoolSize: 32})
	t.Cleanup(func() { rdb.Close() })
	s, err := New(rdb, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s, rdb
}

type agentSpec struct {
	id     acd.AgentID
	rank   int
	skills map[acd.Skill]int
}

func login(t *testing.T, s *Store, agents ...agentSpec) {
	t.Helper()
	for _, a := range agents {
		if err := s.Login(context.Background(), acd.Login{Agent: a.id, Rank: a.rank, Skills: a.skills}); err != nil {
			t.Fatalf("login %s: %v", a.id, err)
		}
	}
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// finish answers, wraps up and frees an agent's call, so the agent is
// available again and idle from now.
func finish(t *testing.T, s *Store, a acd.Assignment) {
	t.Helper()
	ctx := context.Background()
	must[acd.AgentID](t)(s.Release(ctx, a.Call, acd.Answered))
	must[acd.State](t)(s.SetState(ctx, a.Agent, acd.WrapUp))
	must[acd.State](t)(s.SetState(ctx, a.Agent, acd.Available))
}

func TestStrategies(t *testing.T) {
	en := func(lv int) map[acd.Skill]int { return map[acd.Skill]int{"en": lv} }
	type step struct {
		skills    []acd.Requirement
		want      acd.AgentID
		answerNow bool // finish the call right after the pick (agent available again)
	}
	tests := []struct {
		name     string
		strategy acd.Strategy
		agents   []agentSpec // logged in in this order: a1 idle longest
		warm     map[acd.AgentID]int
		steps    []step
	}{
		{
			name: "longest idle in login order", strategy: acd.LongestIdle,
			agents: []agentSpec{{"a1", 0, en(1)}, {"a2", 0, en(1)}, {"a3", 0, en(1)}},
			steps:  []step{{want: "a1"}, {want: "a2"}, {want: "a3"}},
		},
		{
			name: "longest idle after a call goes last", strategy: acd.LongestIdle,
			agents: []agentSpec{{"a1", 0, en(1)}, {"a2", 0, en(1)}, {"a3", 0, en(1)}},
			steps:  []step{{want: "a1", answerNow: true}, {want: "a2", answerNow: true}, {want: "a3", answerNow: true}, {want: "a1"}},
		},
		{
			name: "longest idle skips missing skill and low level", strategy: acd.LongestIdle,
			agents: []agentSpec{{"a1", 0, map[acd.Skill]int{"fr": 5}}, {"a2", 0, en(2)}, {"a3", 0, map[acd.Skill]int{"en": 4, "fr": 1}}},
			steps:  []step{{skills: []acd.Requirement{req("en", 3)}, want: "a3"}, {skills: []acd.Requirement{req("en", 1)}, want: "a2"}},
		},
		{
			name: "best skill, ties to longest idle", strategy: acd.BestSkill,
			agents: []agentSpec{{"a1", 0, en(2)}, {"a2", 0, en(5)}, {"a3", 0, en(5)}},
			steps:  []step{{skills: []acd.Requirement{req("en", 1)}, want: "a2"}, {skills: []acd.Requirement{req("en", 1)}, want: "a3"}, {skills: []acd.Requirement{req("en", 1)}, want: "a1"}},
		},
		{
			name: "best skill sums required skills", strategy: acd.BestSkill,
			agents: []agentSpec{{"a1", 0, map[acd.Skill]int{"en": 5, "billing": 1}}, {"a2", 0, map[acd.Skill]int{"en": 3, "billing": 4}}, {"a3", 0, en(5)}},
			steps:  []step{{skills: []acd.Requirement{req("en", 1), req("billing", 1)}, want: "a2"}, {skills: []acd.Requirement{req("en", 1), req("billing", 1)}, want: "a1"}},
		},
		{
			name: "fewest answered today", strategy: acd.FewestAnswered,
			agents: []agentSpec{{"a1", 0, en(1)}, {"a2", 0, en(1)}, {"a3", 0, en(1)}},
			warm:   map[acd.AgentID]int{"a1": 2, "a2": 1},
			steps:  []step{{want: "a3"}, {want: "a2"}, {want: "a1"}},
		},
		{
			name: "round robin is circular by rank", strategy: acd.RoundRobin,
			agents: []agentSpec{{"c", 3, en(1)}, {"a", 1, en(1)}, {"b", 2, en(1)}},
			steps:  []step{{want: "a", answerNow: true}, {want: "b", answerNow: true}, {want: "c", answerNow: true}, {want: "a", answerNow: true}, {want: "b"}, {want: "c"}, {want: "a"}},
		},
		{
			name: "linear always lowest rank first", strategy: acd.Linear,
			agents: []agentSpec{{"a1", 2, en(1)}, {"a2", 3, en(1)}, {"a3", 1, en(1)}},
			steps:  []step{{want: "a3", answerNow: true}, {want: "a3"}, {want: "a1"}, {want: "a2"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			ctx := context.Background()
			q := acd.QueueID("q")
			if err := s.SetQueue(ctx, acd.Queue{ID: q, Strategy: tt.strategy}); err != nil {
				t.Fatal(err)
			}
			login(t, s, tt.agents...)
			for a, n := range tt.warm {
				warm(t, s, a, n, tt.agents)
			}
			for i, st := range tt.steps {
				c := acd.CallID(fmt.Sprintf("c%d", i))
				if err := s.Enqueue(ctx, acd.Call{ID: c, Queue: q, Skills: st.skills}); err != nil {
					t.Fatal(err)
				}
				got, err := s.Pick(ctx, q)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if got.Agent != st.want || got.Call != c {
					t.Fatalf("step %d: picked %s for %s, want %s for %s", i, got.Agent, got.Call, st.want, c)
				}
				if st.answerNow {
					finish(t, s, got)
				}
			}
		})
	}
}

// warm gives agent n answered calls, through a side queue, with every other
// agent paused meanwhile. The agent ends available, idle longest order kept
// for the others.
func warm(t *testing.T, s *Store, agent acd.AgentID, n int, all []agentSpec) {
	t.Helper()
	ctx := context.Background()
	for _, a := range all {
		if a.id != agent {
			must[acd.State](t)(s.SetState(ctx, a.id, acd.Paused))
		}
	}
	for i := 0; i < n; i++ {
		c := acd.CallID(fmt.Sprintf("warm-%s-%d", agent, i))
		if err := s.Enqueue(ctx, acd.Call{ID: c, Queue: "warm"}); err != nil {
			t.Fatal(err)
		}
		finish(t, s, must[acd.Assignment](t)(s.Pick(ctx, "warm")))
	}
	for _, a := range all {
		if a.id != agent {
			must[acd.State](t)(s.SetState(ctx, a.id, acd.Available))
		}
	}
	if got := must[acd.Agent](t)(s.Agent(ctx, agent)); got.AnsweredToday != n {
		t.Fatalf("%s answered %d, want %d", agent, got.AnsweredToday, n)
	}
}

func TestIllegalTransitions(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	login(t, s, agentSpec{"a1", 0, map[acd.Skill]int{"en": 1}})
	tests := []struct {
		to      acd.State
		wantErr error
		msg     string
	}{
		{acd.WrapUp, acd.ErrIllegalTransition, "available → wrap_up"},
		{acd.Available, acd.ErrIllegalTransition, "available → available"},
		{acd.Reserved, acd.ErrReserved, "available → reserved"},
		{acd.OnCall, nil, ""},
		{acd.LoggedOut, acd.ErrIllegalTransition, "on_call → logged_out"},
		{acd.Paused, acd.ErrIllegalTransition, "on_call → paused"},
		{acd.WrapUp, nil, ""},
		{acd.OnCall, acd.ErrIllegalTransition, "wrap_up → on_call"},
		{acd.LoggedOut, nil, ""},
		{acd.LoggedOut, acd.ErrIllegalTransition, "logged_out → logged_out"},
		{acd.WrapUp, acd.ErrIllegalTransition, "logged_out → wrap_up"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d-%s", i, tt.to), func(t *testing.T) {
			before := must[acd.Agent](t)(s.Agent(ctx, "a1"))
			_, err := s.SetState(ctx, "a1", tt.to)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				after := must[acd.Agent](t)(s.Agent(ctx, "a1"))
				if after.State != tt.to || !after.StateSince.After(before.StateSince) {
					t.Fatalf("after: %+v (before %v)", after, before.StateSince)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v, want %v naming %q", err, tt.wantErr, tt.msg)
			}
			if after := must[acd.Agent](t)(s.Agent(ctx, "a1")); after.State != before.State || !after.StateSince.Equal(before.StateSince) {
				t.Fatalf("refused transition changed the agent: %+v", after)
			}
		})
	}
	if _, err := s.SetState(ctx, "nobody", acd.Available); !errors.Is(err, acd.ErrNotFound) {
		t.Fatalf("unknown agent: %v", err)
	}
	login(t, s, agentSpec{"a1", 0, nil})
	if err := s.Login(ctx, acd.Login{Agent: "a1"}); !errors.Is(err, acd.ErrIllegalTransition) {
		t.Fatalf("double login: %v", err)
	}
}

func TestQueueing(t *testing.T) {
	ctx := context.Background()
	en := map[acd.Skill]int{"en": 3}

	t.Run("priority before arrival", func(t *testing.T) {
		s, _ := newStore(t)
		login(t, s, agentSpec{"a1", 0, en}, agentSpec{"a2", 0, en}, agentSpec{"a3", 0, en})
		for _, c := range []acd.Call{{ID: "low1", Queue: "q"}, {ID: "high", Queue: "q", Priority: 5}, {ID: "low2", Queue: "q"}} {
			if err := s.Enqueue(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		for _, want := range []acd.CallID{"high", "low1", "low2"} {
			if got := must[acd.Assignment](t)(s.Pick(ctx, "q")); got.Call != want {
				t.Fatalf("picked %s, want %s", got.Call, want)
			}
		}
		if _, err := s.Pick(ctx, "q"); !errors.Is(err, acd.ErrNoCall) {
			t.Fatalf("empty queue: %v", err)
		}
		if err := s.Enqueue(ctx, acd.Call{ID: "low1", Queue: "q"}); !errors.Is(err, acd.ErrAlreadyQueued) {
			t.Fatalf("requeue reserved call: %v", err)
		}
	})

	t.Run("lookahead passes an unservable head", func(t *testing.T) {
		s, _ := newStore(t)
		login(t, s, agentSpec{"a1", 0, en})
		must[struct{}](t)(struct{}{}, s.Enqueue(ctx, acd.Call{ID: "fr", Queue: "q", Priority: 9, Skills: []acd.Requirement{req("fr", 1)}}))
		must[struct{}](t)(struct{}{}, s.Enqueue(ctx, acd.Call{ID: "en", Queue: "q", Skills: []acd.Requirement{req("en", 2)}}))
		if got := must[acd.Assignment](t)(s.Pick(ctx, "q")); got.Call != "en" {
			t.Fatalf("picked %s", got.Call)
		}
		if _, err := s.Pick(ctx, "q"); !errors.Is(err, acd.ErrNoAgent) {
			t.Fatalf("no agent: %v", err)
		}
	})

	t.Run("rejected call keeps its place and skips the agent", func(t *testing.T) {
		s, _ := newStore(t)
		login(t, s, agentSpec{"a1", 0, en}, agentSpec{"a2", 0, en})
		must[struct{}](t)(struct{}{}, s.Enqueue(ctx, acd.Call{ID: "c1", Queue: "q"}))
		must[struct{}](t)(struct{}{}, s.Enqueue(ctx, acd.Call{ID: "c2", Queue: "q"}))
		a := must[acd.Assignment](t)(s.Pick(ctx, "q"))
		if a.Call != "c1" || a.Agent != "a1" {
			t.Fatalf("first pick %+v", a)
		}
		must[acd.AgentID](t)(s.Release(ctx, "c1", acd.Rejected))
		b := must[acd.Assignment](t)(s.Pick(ctx, "q"))
		if b.Call != "c1" || b.Agent != "a2" {
			t.Fatalf("after reject %+v", b)
		}
		c := must[acd.Assignment](t)(s.Pick(ctx, "q"))
		if c.Call != "c2" || c.Agent != "a1" {
			t.Fatalf("rejecting agent keeps its idle place: %+v", c)
		}
		must[acd.AgentID](t)(s.Release(ctx, "c2", acd.NoAnswer))
		if st := must[acd.Agent](t)(s.Agent(ctx, "a1")); st.State != acd.Paused || st.Call != "" {
			t.Fatalf("no answer: %+v", st)
		}
		if _, err := s.Release(ctx, "c2", acd.Answered); !errors.Is(err, acd.ErrNotReserved) {
			t.Fatalf("release waiting call: %v", err)
		}
	})

	t.Run("dequeue a reserved call frees the agent", func(t *testing.T) {
		s, _ := newStore(t)
		login(t, s, agentSpec{"a1", 0, en})
		must[struct{}](t)(struct{}{}, s.Enqueue(ctx, acd.Call{ID: "c1", Queue: "q"}))
		must[acd.Assignment](t)(s.Pick(ctx, "q"))
		if a := must[acd.AgentID](t)(s.Dequeue(ctx, "c1")); a != "a1" {
			t.Fatalf("freed %q", a)
		}
		if st := must[acd.Agent](t)(s.Agent(ctx, "a1")); st.State != acd.Available {
			t.Fatalf("agent %+v", st)
		}
		if _, err := s.Dequeue(ctx, "c1"); !errors.Is(err, acd.ErrNotFound) {
			t.Fatalf("second dequeue: %v", err)
		}
	})

	t.Run("reap ends an expired reservation", func(t *testing.T) {
		s, _ := newStore(t, WithReservationTTL(20*time.Millisecond))
		login(t, s, agentSpec{"a1", 0, en})
		must[struct{}](t)(struct{}{}, s.Enqueue(ctx, acd.Call{ID: "c1", Queue: "q"}))
		must[acd.Assignment](t)(s.Pick(ctx, "q"))
		deadline := time.Now().Add(5 * time.Second)
		for n := 0; n == 0; {
			if time.Now().After(deadline) {
				t.Fatal("reservation never reaped")
			}
			n = must[int](t)(s.Reap(ctx))
		}
		if a := must[acd.Assignment](t)(s.Pick(ctx, "q")); a.Call != "c1" || a.Agent != "a1" {
			t.Fatalf("after reap %+v", a)
		}
	})
}

func req(s acd.Skill, min int) acd.Requirement { return acd.Requirement{Skill: s, MinLevel: min} }
