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

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func enqueue(t *testing.T, s *Store, calls ...acd.Call) {
	t.Helper()
	for _, c := range calls {
		if err := s.Enqueue(context.Background(), c); err != nil {
			t.Fatalf("enqueue %s: %v", c.ID, err)
		}
	}
}

func agentState(t *testing.T, s *Store, id acd.AgentID) acd.Agent {
	t.Helper()
	return must[acd.Agent](t)(s.Agent(context.Background(), id))
}

func wantErr(t *testing.T, err, want error, msg string) {
	t.Helper()
	if !errors.Is(err, want) || !strings.Contains(fmt.Sprint(err), msg) {
		t.Fatalf("err = %v, want %v naming %q", err, want, msg)
	}
}

// eventually polls cond until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// finish answers and ends an assigned call, so the agent is available again
// (the queues of these tests have no wrap-up) and idle from now.
func finish(t *testing.T, s *Store, a acd.Assignment) {
	t.Helper()
	ctx := context.Background()
	if got := must[acd.AgentID](t)(s.Release(ctx, a.Call, acd.Answered)); got != a.Agent {
		t.Fatalf("release %s freed %s, want %s", a.Call, got, a.Agent)
	}
	if got := must[acd.AgentID](t)(s.Finish(ctx, a.Call)); got != a.Agent {
		t.Fatalf("finish %s: agent %s, want %s", a.Call, got, a.Agent)
	}
}

func req(s acd.Skill, min int) acd.Requirement { return acd.Requirement{Skill: s, MinLevel: min} }

func TestStrategies(t *testing.T) {
	en := func(lv int) map[acd.Skill]int { return map[acd.Skill]int{"en": lv} }
	enfr := func(e, f int) map[acd.Skill]int { return map[acd.Skill]int{"en": e, "fr": f} }
	both := []acd.Requirement{req("en", 1), req("fr", 1)}
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
			name: "longest idle with two skills", strategy: acd.LongestIdle,
			agents: []agentSpec{{"a1", 0, en(5)}, {"a2", 0, enfr(1, 3)}, {"a3", 0, enfr(2, 2)}, {"a4", 0, enfr(2, 5)}},
			steps: []step{
				{skills: []acd.Requirement{req("en", 2), req("fr", 2)}, want: "a3"},
				{skills: both, want: "a2"},
				{skills: both, want: "a4"},
			},
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
			name: "best skill with three skills and equal sums to longest idle", strategy: acd.BestSkill,
			agents: []agentSpec{
				{"a1", 0, map[acd.Skill]int{"en": 5, "fr": 1, "de": 1}},
				{"a2", 0, map[acd.Skill]int{"en": 3, "fr": 3, "de": 3}},
				{"a3", 0, map[acd.Skill]int{"en": 4, "fr": 4, "de": 1}},
				{"a4", 0, map[acd.Skill]int{"en": 5, "fr": 5}},
			},
			steps: []step{
				{skills: []acd.Requirement{req("en", 1), req("fr", 1), req("de", 1)}, want: "a2"}, // 9 before 9, idle
				{skills: []acd.Requirement{req("en", 1), req("fr", 1), req("de", 1)}, want: "a3"},
				{skills: []acd.Requirement{req("en", 1), req("fr", 1), req("de", 1)}, want: "a1"},
			},
		},
		{
			name: "best skill without skills is longest idle", strategy: acd.BestSkill,
			agents: []agentSpec{{"a1", 0, en(1)}, {"a2", 0, en(5)}},
			steps:  []step{{want: "a1"}, {want: "a2"}},
		},
		{
			name: "fewest answered today", strategy: acd.FewestAnswered,
			agents: []agentSpec{{"a1", 0, en(1)}, {"a2", 0, en(1)}, {"a3", 0, en(1)}},
			warm:   map[acd.AgentID]int{"a1": 2, "a2": 1},
			steps:  []step{{want: "a3"}, {want: "a2"}, {want: "a1"}},
		},
		{
			name: "fewest answered with two skills", strategy: acd.FewestAnswered,
			agents: []agentSpec{{"a1", 0, enfr(1, 1)}, {"a2", 0, enfr(1, 1)}, {"a3", 0, en(1)}},
			warm:   map[acd.AgentID]int{"a1": 1},
			steps:  []step{{skills: both, want: "a2"}, {skills: both, want: "a1"}},
		},
		{
			name: "round robin is circular by rank", strategy: acd.RoundRobin,
			agents: []agentSpec{{"c", 3, en(1)}, {"a", 1, en(1)}, {"b", 2, en(1)}},
			steps:  []step{{want: "a", answerNow: true}, {want: "b", answerNow: true}, {want: "c", answerNow: true}, {want: "a", answerNow: true}, {want: "b"}, {want: "c"}, {want: "a"}},
		},
		{
			name: "round robin with two skills, equal ranks by id", strategy: acd.RoundRobin,
			agents: []agentSpec{{"c", 1, enfr(1, 1)}, {"a", 1, enfr(1, 1)}, {"x", 0, en(1)}, {"b", 1, enfr(1, 1)}},
			steps:  []step{{skills: both, want: "a", answerNow: true}, {skills: both, want: "b", answerNow: true}, {skills: both, want: "c", answerNow: true}, {skills: both, want: "a"}},
		},
		{
			name: "linear always lowest rank first", strategy: acd.Linear,
			agents: []agentSpec{{"a1", 2, en(1)}, {"a2", 3, en(1)}, {"a3", 1, en(1)}},
			steps:  []step{{want: "a3", answerNow: true}, {want: "a3"}, {want: "a1"}, {want: "a2"}},
		},
		{
			name: "linear with negative ranks and two skills", strategy: acd.Linear,
			agents: []agentSpec{{"a1", 5, enfr(1, 1)}, {"a2", -7, enfr(1, 1)}, {"a3", -9, en(1)}},
			steps:  []step{{skills: both, want: "a2"}, {skills: both, want: "a1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			ctx := context.Background()
			q := acd.QueueID("q")
			ok(t, s.SetQueue(ctx, acd.Queue{ID: q, Strategy: tt.strategy}))
			login(t, s, tt.agents...)
			for a, n := range tt.warm {
				warm(t, s, a, n, tt.agents)
			}
			for i, st := range tt.steps {
				c := acd.CallID(fmt.Sprintf("c%d", i))
				enqueue(t, s, acd.Call{ID: c, Queue: q, Skills: st.skills})
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
		enqueue(t, s, acd.Call{ID: acd.CallID(fmt.Sprintf("warm-%s-%d", agent, i)), Queue: "warm"})
		finish(t, s, must[acd.Assignment](t)(s.Pick(ctx, "warm")))
	}
	for _, a := range all {
		if a.id != agent {
			must[acd.State](t)(s.SetState(ctx, a.id, acd.Available))
		}
	}
	if got := agentState(t, s, agent); got.AnsweredToday != n {
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
		{acd.Paused, nil, ""},
		{acd.Paused, acd.ErrIllegalTransition, "paused → paused"},
		{acd.LoggedOut, nil, ""},
		{acd.LoggedOut, acd.ErrIllegalTransition, "logged_out → logged_out"},
		{acd.WrapUp, acd.ErrIllegalTransition, "logged_out → wrap_up"},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d-%s", i, tt.to), func(t *testing.T) {
			before := agentState(t, s, "a1")
			_, err := s.SetState(ctx, "a1", tt.to)
			if tt.wantErr == nil {
				ok(t, err)
				after := agentState(t, s, "a1")
				if after.State != tt.to || !after.StateSince.After(before.StateSince) {
					t.Fatalf("after: %+v (before %v)", after, before.StateSince)
				}
				return
			}
			wantErr(t, err, tt.wantErr, tt.msg)
			if after := agentState(t, s, "a1"); after.State != before.State || !after.StateSince.Equal(before.StateSince) {
				t.Fatalf("refused transition changed the agent: %+v", after)
			}
		})
	}
	if _, err := s.SetState(ctx, "nobody", acd.Available); !errors.Is(err, acd.ErrNotFound) {
		t.Fatalf("unknown agent: %v", err)
	}
	if _, err := s.SetState(ctx, "a1", "dancing"); !errors.Is(err, acd.ErrInvalid) {
		t.Fatalf("unknown state: %v", err)
	}
	login(t, s, agentSpec{"a1", 0, nil})
	if err := s.Login(ctx, acd.Login{Agent: "a1"}); !errors.Is(err, acd.ErrIllegalTransition) {
		t.Fatalf("double login: %v", err)
	}
	if err := s.Login(ctx, acd.Login{Agent: "a2", Rank: maxRank + 1}); !errors.Is(err, acd.ErrInvalid) {
		t.Fatalf("rank out of range: %v", err)
	}
}

// TestCallTransitions checks that calls move only along waiting → reserved
// → talking and that agents bound to calls leave only through the call.
func TestCallTransitions(t *testing.T) {
	ctx := context.Background()
	en := map[acd.Skill]int{"en": 3}
	setup := func(t *testing.T, state acd.CallState) *Store {
		t.Helper()
		s, _ := newStore(t)
		login(t, s, agentSpec{"a1", 0, en})
		enqueue(t, s, acd.Call{ID: "c1", Queue: "q"})
		if state == acd.CallWaiting {
			return s
		}
		must[acd.Assignment](t)(s.Pick(ctx, "q"))
		if state == acd.CallTalking {
			must[acd.AgentID](t)(s.Release(ctx, "c1", acd.Answered))
		}
		return s
	}
	tests := []struct {
		name  string
		state acd.CallState
		op    func(s *Store) error
		want  error
		msg   string
	}{
		{"release a waiting call", acd.CallWaiting, func(s *Store) error { _, err := s.Release(ctx, "c1", acd.Rejected); return err }, acd.ErrNotReserved, "call c1 is waiting"},
		{"finish a waiting call", acd.CallWaiting, func(s *Store) error { _, err := s.Finish(ctx, "c1"); return err }, acd.ErrNotReserved, "call c1 is waiting"},
		{"requeue a waiting call", acd.CallWaiting, func(s *Store) error { _, err := s.Requeue(ctx, "c1"); return err }, acd.ErrNotReserved, "call c1 is waiting"},
		{"finish a reserved call", acd.CallReserved, func(s *Store) error { _, err := s.Finish(ctx, "c1"); return err }, acd.ErrNotReserved, "call c1 is reserved"},
		{"free a reserved agent", acd.CallReserved, func(s *Store) error { _, err := s.SetState(ctx, "a1", acd.Available); return err }, acd.ErrReserved, "reserved → available"},
		{"callback a reserved call", acd.CallReserved, func(s *Store) error { return s.SetCallback(ctx, "c1", "+15550001") }, acd.ErrAlreadyReserved, "call c1 is reserved"},
		{"enqueue a reserved call again", acd.CallReserved, func(s *Store) error { return s.Enqueue(ctx, acd.Call{ID: "c1", Queue: "q"}) }, acd.ErrAlreadyQueued, "c1"},
		{"release a talking call", acd.CallTalking, func(s *Store) error { _, err := s.Release(ctx, "c1", acd.Answered); return err }, acd.ErrNotReserved, "call c1 is talking"},
		{"wrap up a talking agent", acd.CallTalking, func(s *Store) error { _, err := s.SetState(ctx, "a1", acd.WrapUp); return err }, acd.ErrIllegalTransition, "call c1 is connected"},
		{"free a talking agent", acd.CallTalking, func(s *Store) error { _, err := s.SetState(ctx, "a1", acd.Available); return err }, acd.ErrIllegalTransition, "on_call → available"},
		{"requeue a talking call that is no callback", acd.CallTalking, func(s *Store) error { _, err := s.Requeue(ctx, "c1"); return err }, acd.ErrInvalid, "no callback"},
		{"callback a talking call", acd.CallTalking, func(s *Store) error { return s.SetCallback(ctx, "c1", "+15550001") }, acd.ErrAlreadyReserved, "call c1 is talking"},
		{"unknown outcome", acd.CallReserved, func(s *Store) error { _, err := s.Release(ctx, "c1", "maybe"); return err }, acd.ErrInvalid, "maybe"},
		{"unknown call", acd.CallWaiting, func(s *Store) error { _, err := s.Finish(ctx, "nope"); return err }, acd.ErrNotFound, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := setup(t, tt.state)
			before := must[acd.QueuedCall](t)(s.Call(ctx, "c1"))
			wantErr(t, tt.op(s), tt.want, tt.msg)
			if after := must[acd.QueuedCall](t)(s.Call(ctx, "c1")); after != before {
				t.Fatalf("refused change changed the call: %+v, was %+v", after, before)
			}
		})
	}
}

func TestQueueing(t *testing.T) {
	ctx := context.Background()
	en := map[acd.Skill]int{"en": 3}

	t.Run("priority before arrival", func(t *testing.T) {
		s, _ := newStore(t)
		login(t, s, agentSpec{"a1", 0, en}, agentSpec{"a2", 0, en}, agentSpec{"a3", 0, en})
		enqueue(t, s, acd.Call{ID: "low1", Queue: "q"}, acd.Call{ID: "high", Queue: "q", Priority: 5}, acd.Call{ID: "low2", Queue: "q"})
		for _, want := range []acd.CallID{"high", "low1", "low2"} {
			if got := must[acd.Assignment](t)(s.Pick(ctx, "q")); got.Call != want {
				t.Fatalf("picked %s, want %s", got.Call, want)
			}
		}
		if _, err := s.Pick(ctx, "q"); !errors.Is(err, acd.ErrNoCall) {
			t.Fatalf("empty queue: %v", err)
		}
	})

	t.Run("since keeps the original waiting time", func(t *testing.T) {
		s, _ := newStore(t)
		login(t, s, agentSpec{"a1", 0, en})
		since := time.Now().Add(-time.Minute).Truncate(time.Microsecond)
		enqueue(t, s, acd.Call{ID: "new", Queue: "q"}, acd.Call{ID: "moved", Queue: "q", Since: since, Owner: "ccd-2", Channel: "PJSIP/x-1"})
		c := must[acd.QueuedCall](t)(s.Call(ctx, "moved"))
		if !c.EnqueuedAt.Equal(since) || c.Owner != "ccd-2" || c.Channel != "PJSIP/x-1" || c.State != acd.CallWaiting {
			t.Fatalf("moved call %+v, since %v", c, since)
		}
		if got := must[acd.Assignment](t)(s.Pick(ctx, "q")); got.Call != "moved" {
			t.Fatalf("picked %s before the call waiting longer", got.Call)
		}
	})

	t.Run("lookahead passes an unservable head", func(t *testing.T) {
		s, _ := newStore(t)
		login(t, s, agentSpec{"a1", 0, en})
		enqueue(t, s, acd.Call{ID: "fr", Queue: "q", Priority: 9, Skills: []acd.Requirement{req("fr", 1)}},
			acd.Call{ID: "en", Queue: "q", Skills: []acd.Requirement{req("en", 2)}})
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
		enqueue(t, s, acd.Call{ID: "c1", Queue: "q"}, acd.Call{ID: "c2", Queue: "q"})
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
		if st := agentState(t, s, "a1"); st.State != acd.Available || st.Call != "" || st.Misses != 1 {
			t.Fatalf("no answer without MaxMisses: %+v", st)
		}
	})

	t.Run("dequeue wherever the call is", func(t *testing.T) {
		s, _ := newStore(t)
		ok(t, s.SetQueue(ctx, acd.Queue{ID: "q", WrapUp: time.Hour}))
		login(t, s, agentSpec{"a1", 0, en}, agentSpec{"a2", 0, en})
		enqueue(t, s, acd.Call{ID: "waiting", Queue: "q"}, acd.Call{ID: "reserved", Queue: "q"}, acd.Call{ID: "talking", Queue: "q"})
		must[acd.AgentID](t)(s.Dequeue(ctx, "waiting"))
		r := must[acd.Assignment](t)(s.Pick(ctx, "q"))
		tk := must[acd.Assignment](t)(s.Pick(ctx, "q"))
		must[acd.AgentID](t)(s.Release(ctx, tk.Call, acd.Answered))
		if a := must[acd.AgentID](t)(s.Dequeue(ctx, r.Call)); a != r.Agent {
			t.Fatalf("dequeue reserved freed %q, want %s", a, r.Agent)
		}
		if st := agentState(t, s, r.Agent); st.State != acd.Available || st.Call != "" {
			t.Fatalf("reserved agent after dequeue: %+v", st)
		}
		if a := must[acd.AgentID](t)(s.Dequeue(ctx, tk.Call)); a != tk.Agent {
			t.Fatalf("dequeue talking returned %q, want %s", a, tk.Agent)
		}
		if st := agentState(t, s, tk.Agent); st.State != acd.WrapUp || st.Call != "" || st.WrapUntil.IsZero() {
			t.Fatalf("talking agent after dequeue: %+v", st)
		}
		if st := must[acd.QueueStats](t)(s.Stats(ctx, "q")); st.Handled != 1 {
			t.Fatalf("dequeued talking call not in the handle times: %+v", st)
		}
		for _, c := range []acd.CallID{"waiting", "reserved", "talking"} {
			if _, err := s.Dequeue(ctx, c); !errors.Is(err, acd.ErrNotFound) {
				t.Fatalf("second dequeue of %s: %v", c, err)
			}
		}
		if calls := must[[]acd.QueuedCall](t)(s.Calls(ctx)); len(calls) != 0 {
			t.Fatalf("calls left: %+v", calls)
		}
	})

	t.Run("reap ends an expired reservation", func(t *testing.T) {
		s, _ := newStore(t, WithReservationTTL(20*time.Millisecond))
		login(t, s, agentSpec{"a1", 0, en})
		enqueue(t, s, acd.Call{ID: "c1", Queue: "q"})
		must[acd.Assignment](t)(s.Pick(ctx, "q"))
		eventually(t, 5*time.Second, "reservation reaped", func() bool { return must[int](t)(s.Reap(ctx)) > 0 })
		if a := must[acd.Assignment](t)(s.Pick(ctx, "q")); a.Call != "c1" || a.Agent != "a1" {
			t.Fatalf("after reap %+v", a)
		}
	})
}
