package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/acd"
)

// pickIs picks from q and checks the call and agent ("" agent: expect err).
func pickIs(t *testing.T, s *Store, q acd.QueueID, call acd.CallID, agent acd.AgentID, err error) {
	t.Helper()
	got, e := s.Pick(context.Background(), q)
	if err != nil {
		if !errors.Is(e, err) {
			t.Fatalf("pick %s: %+v, %v; want %v", q, got, e, err)
		}
		return
	}
	if e != nil || got.Call != call || got.Agent != agent {
		t.Fatalf("pick %s: %+v, %v; want %s for %s", q, got, e, agent, call)
	}
}

func TestExpansion(t *testing.T) {
	ctx := context.Background()
	const stage = 300 * time.Millisecond
	tests := []struct {
		name   string
		call   acd.Call
		agents []agentSpec
		before acd.AgentID // "" : nobody fits before the stage
		after  acd.AgentID
	}{
		{
			name:   "lower level after the stage",
			call:   acd.Call{Skills: []acd.Requirement{req("en", 5)}, Expansion: []acd.Stage{{After: stage, Skills: []acd.Requirement{req("en", 2)}}}},
			agents: []agentSpec{{"a1", 0, map[acd.Skill]int{"en": 2}}},
			after:  "a1",
		},
		{
			name:   "other skill after the stage",
			call:   acd.Call{Skills: []acd.Requirement{req("fr", 1)}, Expansion: []acd.Stage{{After: stage, Skills: []acd.Requirement{req("en", 1), req("de", 1)}}}},
			agents: []agentSpec{{"a1", 0, map[acd.Skill]int{"en": 2}}, {"a2", 0, map[acd.Skill]int{"en": 1, "de": 3}}},
			after:  "a2",
		},
		{
			name: "latest stage reached applies: anyone at the end",
			call: acd.Call{Skills: []acd.Requirement{req("fr", 1)}, Expansion: []acd.Stage{
				{After: stage / 3, Skills: []acd.Requirement{req("de", 1)}},
				{After: stage, Skills: nil},
			}},
			agents: []agentSpec{{"a1", 0, map[acd.Skill]int{"en": 2}}},
			after:  "a1",
		},
		{
			name:   "a stage can also tighten",
			call:   acd.Call{Skills: []acd.Requirement{req("en", 1)}, Expansion: []acd.Stage{{After: stage, Skills: []acd.Requirement{req("en", 4)}}}},
			agents: []agentSpec{{"a1", 0, map[acd.Skill]int{"en": 2}}},
			before: "a1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			login(t, s, tt.agents...)
			c := tt.call
			c.ID, c.Queue = "c1", "q"
			start := time.Now()
			enqueue(t, s, c)
			if tt.before != "" {
				pickIs(t, s, "q", "c1", tt.before, nil)
				return
			}
			pickIs(t, s, "q", "", "", acd.ErrNoAgent)
			var got acd.Assignment
			eventually(t, 10*stage, "expanded call picked", func() bool {
				a, err := s.Pick(ctx, "q")
				if err != nil && !errors.Is(err, acd.ErrNoAgent) {
					t.Fatal(err)
				}
				got = a
				return err == nil
			})
			if got.Agent != tt.after {
				t.Fatalf("picked %s, want %s", got.Agent, tt.after)
			}
			if waited := time.Since(start); waited < stage {
				t.Fatalf("picked after %v, before the stage at %v", waited, stage)
			}
		})
	}
}

func TestPreferredAgent(t *testing.T) {
	ctx := context.Background()
	en := map[acd.Skill]int{"en": 3}
	const wait = 300 * time.Millisecond

	t.Run("available preferred agent gets the call before the longest idle", func(t *testing.T) {
		s, _ := newStore(t)
		login(t, s, agentSpec{"a1", 0, en}, agentSpec{"a2", 0, en}, agentSpec{"a3", 0, en})
		enqueue(t, s, acd.Call{ID: "c1", Queue: "q", PreferAgent: "a3", PreferWait: time.Minute})
		pickIs(t, s, "q", "c1", "a3", nil)
	})

	t.Run("busy preferred agent: the call waits for it, calls behind it do not", func(t *testing.T) {
		s, _ := newStore(t)
		login(t, s, agentSpec{"a1", 0, en}, agentSpec{"a2", 0, en}, agentSpec{"a3", 0, en})
		must[acd.State](t)(s.Pause(ctx, "a3", "lunch"))
		start := time.Now()
		enqueue(t, s, acd.Call{ID: "c1", Queue: "q", Priority: 5, PreferAgent: "a3", PreferWait: wait}, acd.Call{ID: "c2", Queue: "q"})
		pickIs(t, s, "q", "c2", "a1", nil)
		pickIs(t, s, "q", "", "", acd.ErrNoAgent)
		var got acd.Assignment
		eventually(t, 10*wait, "call served after the preference", func() bool {
			a, err := s.Pick(ctx, "q")
			got = a
			return err == nil
		})
		if got.Call != "c1" || got.Agent != "a2" || time.Since(start) < wait {
			t.Fatalf("after the preference: %+v at %v", got, time.Since(start))
		}
	})

	t.Run("preferred agent lacking the skills is not offered the call", func(t *testing.T) {
		s, _ := newStore(t)
		login(t, s, agentSpec{"a1", 0, en}, agentSpec{"a2", 0, map[acd.Skill]int{"en": 1}})
		enqueue(t, s, acd.Call{ID: "c1", Queue: "q", Skills: []acd.Requirement{req("en", 2)}, PreferAgent: "a2", PreferWait: wait})
		pickIs(t, s, "q", "", "", acd.ErrNoAgent)
		eventually(t, 10*wait, "call served by a1", func() bool {
			a, err := s.Pick(ctx, "q")
			return err == nil && a.Agent == "a1"
		})
	})

	t.Run("preferred agent declining ends the preference", func(t *testing.T) {
		s, _ := newStore(t)
		login(t, s, agentSpec{"a1", 0, en}, agentSpec{"a2", 0, en})
		enqueue(t, s, acd.Call{ID: "c1", Queue: "q", PreferAgent: "a2", PreferWait: time.Hour})
		pickIs(t, s, "q", "c1", "a2", nil)
		must[acd.AgentID](t)(s.Release(ctx, "c1", acd.Rejected))
		pickIs(t, s, "q", "c1", "a1", nil)
	})
}

func TestRetryDelay(t *testing.T) {
	ctx := context.Background()
	en := map[acd.Skill]int{"en": 3}
	const retry = 300 * time.Millisecond
	tests := []struct {
		name     string
		outcomes [2]acd.Outcome // of a1, then a2
	}{
		{"both declined", [2]acd.Outcome{acd.Rejected, acd.Rejected}},
		{"both missed", [2]acd.Outcome{acd.NoAnswer, acd.NoAnswer}},
		{"one of each", [2]acd.Outcome{acd.NoAnswer, acd.Rejected}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			ok(t, s.SetQueue(ctx, acd.Queue{ID: "q", RetryDelay: retry}))
			login(t, s, agentSpec{"a1", 0, en}, agentSpec{"a2", 0, en})
			enqueue(t, s, acd.Call{ID: "c1", Queue: "q"})
			start := time.Now()
			pickIs(t, s, "q", "c1", "a1", nil)
			must[acd.AgentID](t)(s.Release(ctx, "c1", tt.outcomes[0]))
			pickIs(t, s, "q", "c1", "a2", nil)
			must[acd.AgentID](t)(s.Release(ctx, "c1", tt.outcomes[1]))
			pickIs(t, s, "q", "", "", acd.ErrNoAgent)
			// Another call is served meanwhile.
			enqueue(t, s, acd.Call{ID: "c2", Queue: "q"})
			pickIs(t, s, "q", "c2", "a1", nil)
			var got acd.Assignment
			eventually(t, 10*retry, "call offered again", func() bool {
				a, err := s.Pick(ctx, "q")
				got = a
				return err == nil
			})
			if got.Call != "c1" || got.Agent != "a2" || time.Since(start) < retry {
				t.Fatalf("after the retry delay: %+v at %v", got, time.Since(start))
			}
		})
	}

	t.Run("default retry delay is 10s", func(t *testing.T) {
		s, rdb := newStore(t)
		ok(t, s.SetQueue(ctx, acd.Queue{ID: "q"}))
		login(t, s, agentSpec{"a1", 0, en})
		enqueue(t, s, acd.Call{ID: "c1", Queue: "q"})
		must[acd.Assignment](t)(s.Pick(ctx, "q"))
		before := time.Now()
		must[acd.AgentID](t)(s.Release(ctx, "c1", acd.Rejected))
		until := must[float64](t)(rdb.ZScore(ctx, s.prefix+"excl:c1", "a1").Result())
		if d := time.UnixMicro(int64(until)).Sub(before); d < 9*time.Second || d > 11*time.Second {
			t.Fatalf("excluded for %v", d)
		}
	})
}

func TestMissedOffers(t *testing.T) {
	ctx := context.Background()
	en := map[acd.Skill]int{"en": 3}
	tests := []struct {
		name      string
		maxMisses int
		outcomes  []acd.Outcome
		want      acd.State
		misses    int
		reason    string
	}{
		{"one miss of two", 2, []acd.Outcome{acd.NoAnswer}, acd.Available, 1, ""},
		{"two misses pause", 2, []acd.Outcome{acd.NoAnswer, acd.NoAnswer}, acd.Paused, 2, acd.PauseMissedOffers},
		{"declines are no misses", 2, []acd.Outcome{acd.NoAnswer, acd.Rejected, acd.Rejected}, acd.Available, 1, ""},
		{"an answer resets the count", 2, []acd.Outcome{acd.NoAnswer, acd.Answered, acd.NoAnswer}, acd.Available, 1, ""},
		{"no maximum never pauses", 0, []acd.Outcome{acd.NoAnswer, acd.NoAnswer, acd.NoAnswer}, acd.Available, 3, ""},
		{"one miss pauses at maximum one", 1, []acd.Outcome{acd.NoAnswer}, acd.Paused, 1, acd.PauseMissedOffers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t)
			ok(t, s.SetQueue(ctx, acd.Queue{ID: "q", MaxMisses: tt.maxMisses, RetryDelay: time.Millisecond}))
			login(t, s, agentSpec{"a1", 0, en})
			for i, o := range tt.outcomes {
				c := acd.CallID("c" + strconv.Itoa(i))
				enqueue(t, s, acd.Call{ID: c, Queue: "q"})
				a := must[acd.Assignment](t)(s.Pick(ctx, "q"))
				must[acd.AgentID](t)(s.Release(ctx, a.Call, o))
				if o == acd.Answered {
					must[acd.AgentID](t)(s.Finish(ctx, a.Call))
				} else {
					must[acd.AgentID](t)(s.Dequeue(ctx, a.Call))
				}
			}
			got := agentState(t, s, "a1")
			if got.State != tt.want || got.Misses != tt.misses || got.Reason != tt.reason {
				t.Fatalf("agent %s misses %d reason %q; want %s %d %q", got.State, got.Misses, got.Reason, tt.want, tt.misses, tt.reason)
			}
			if got.State == acd.Paused {
				must[acd.State](t)(s.SetState(ctx, "a1", acd.Available))
				if got := agentState(t, s, "a1"); got.Misses != 0 || got.Reason != "" {
					t.Fatalf("resumed agent keeps misses %d reason %q", got.Misses, got.Reason)
				}
			}
		})
	}
}

func TestPause(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	login(t, s, agentSpec{"a1", 0, map[acd.Skill]int{"en": 1}})
	if from := must[acd.State](t)(s.Pause(ctx, "a1", "lunch")); from != acd.Available {
		t.Fatalf("paused from %s", from)
	}
	if a := agentState(t, s, "a1"); a.State != acd.Paused || a.Reason != "lunch" {
		t.Fatalf("paused agent %+v", a)
	}
	enqueue(t, s, acd.Call{ID: "c1", Queue: "q"})
	pickIs(t, s, "q", "", "", acd.ErrNoAgent)
	_, err := s.Pause(ctx, "a1", "coffee")
	wantErr(t, err, acd.ErrIllegalTransition, "paused → paused")
	ok(t, s.Logout(ctx, "a1"))
	if a := agentState(t, s, "a1"); a.State != acd.LoggedOut || a.Reason != "" {
		t.Fatalf("logged out agent %+v", a)
	}
	ok(t, s.Login(ctx, acd.Login{Agent: "a1", Skills: map[acd.Skill]int{"en": 1}, Paused: true}))
	if a := agentState(t, s, "a1"); a.State != acd.Paused || a.Reason != "" {
		t.Fatalf("logged in paused %+v", a)
	}
	must[acd.State](t)(s.SetState(ctx, "a1", acd.Available))
	pickIs(t, s, "q", "c1", "a1", nil)
	_, err = s.Pause(ctx, "a1", "lunch")
	wantErr(t, err, acd.ErrReserved, "reserved → paused")
}

func TestWrapUp(t *testing.T) {
	ctx := context.Background()
	en := map[acd.Skill]int{"en": 3}
	const wrap = 300 * time.Millisecond

	t.Run("agent wraps up, Reap ends it", func(t *testing.T) {
		s, _ := newStore(t)
		ok(t, s.SetQueue(ctx, acd.Queue{ID: "q", WrapUp: wrap}))
		login(t, s, agentSpec{"a1", 0, en}, agentSpec{"a2", 0, en})
		enqueue(t, s, acd.Call{ID: "c1", Queue: "q"}, acd.Call{ID: "c2", Queue: "q"}, acd.Call{ID: "c3", Queue: "q"})
		a := must[acd.Assignment](t)(s.Pick(ctx, "q"))
		must[acd.AgentID](t)(s.Release(ctx, a.Call, acd.Answered))
		ended := time.Now()
		must[acd.AgentID](t)(s.Finish(ctx, a.Call))
		got := agentState(t, s, "a1")
		if got.State != acd.WrapUp || got.Call != "" {
			t.Fatalf("after finish: %+v", got)
		}
		if d := got.WrapUntil.Sub(ended); d < wrap-50*time.Millisecond || d > wrap+time.Second {
			t.Fatalf("wrap until %v, %v after the end", got.WrapUntil, d)
		}
		pickIs(t, s, "q", "c2", "a2", nil)
		pickIs(t, s, "q", "", "", acd.ErrNoAgent)
		eventually(t, 10*wrap, "wrap-up reaped", func() bool { return must[int](t)(s.Reap(ctx)) == 1 })
		if time.Now().Before(got.WrapUntil) {
			t.Fatalf("wrap-up ended before %v", got.WrapUntil)
		}
		after := agentState(t, s, "a1")
		if after.State != acd.Available || !after.WrapUntil.IsZero() || !after.IdleSince.Equal(got.WrapUntil) {
			t.Fatalf("after the wrap-up: %+v, wrap until was %v", after, got.WrapUntil)
		}
		pickIs(t, s, "q", "c3", "a1", nil)
		if n := must[int](t)(s.Reap(ctx)); n != 0 {
			t.Fatalf("reaped %d more", n)
		}
	})

	t.Run("agent ends the wrap-up early", func(t *testing.T) {
		s, _ := newStore(t)
		ok(t, s.SetQueue(ctx, acd.Queue{ID: "q", WrapUp: time.Hour}))
		login(t, s, agentSpec{"a1", 0, en})
		enqueue(t, s, acd.Call{ID: "c1", Queue: "q"})
		finish(t, s, must[acd.Assignment](t)(s.Pick(ctx, "q")))
		must[acd.State](t)(s.SetState(ctx, "a1", acd.Available))
		if got := agentState(t, s, "a1"); got.State != acd.Available || !got.WrapUntil.IsZero() {
			t.Fatalf("%+v", got)
		}
		enqueue(t, s, acd.Call{ID: "c2", Queue: "q"})
		pickIs(t, s, "q", "c2", "a1", nil)
	})

	t.Run("no wrap-up: available at once", func(t *testing.T) {
		s, _ := newStore(t)
		login(t, s, agentSpec{"a1", 0, en})
		enqueue(t, s, acd.Call{ID: "c1", Queue: "q"})
		finish(t, s, must[acd.Assignment](t)(s.Pick(ctx, "q")))
		if got := agentState(t, s, "a1"); got.State != acd.Available || got.AnsweredToday != 1 || got.Misses != 0 {
			t.Fatalf("%+v", got)
		}
	})
}

func TestHandleTimes(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const wrap = 20 * time.Millisecond
	ok(t, s.SetQueue(ctx, acd.Queue{ID: "q", WrapUp: wrap}))
	login(t, s, agentSpec{"a1", 0, nil})
	if st := must[acd.QueueStats](t)(s.Stats(ctx, "q")); st.Handled != 0 || st.AvgHandle != 0 {
		t.Fatalf("no calls yet: %+v", st)
	}
	var talk time.Duration
	const calls = handled + 5
	for i := range calls {
		c := acd.CallID("c" + strconv.Itoa(i))
		enqueue(t, s, acd.Call{ID: c, Queue: "q"})
		must[acd.Assignment](t)(s.Pick(ctx, "q"))
		must[acd.AgentID](t)(s.Release(ctx, c, acd.Answered))
		answered := must[acd.QueuedCall](t)(s.Call(ctx, c)).AnsweredAt
		if i == calls-1 {
			time.Sleep(10 * time.Millisecond) // one longer call, to be seen in the mean
		}
		must[acd.AgentID](t)(s.Finish(ctx, c))
		if i >= calls-handled {
			talk += time.Since(answered)
		}
		must[acd.State](t)(s.SetState(ctx, "a1", acd.Available))
	}
	st := must[acd.QueueStats](t)(s.Stats(ctx, "q"))
	if st.Handled != handled {
		t.Fatalf("handled %d, want the last %d", st.Handled, handled)
	}
	// Each handle time is talk + wrap; the client measured a little more talk.
	want := talk/handled + wrap
	if st.AvgHandle < wrap+10*time.Millisecond/handled || st.AvgHandle > want {
		t.Fatalf("mean handle %v, want about %v (at most)", st.AvgHandle, want)
	}
}

func TestCallbacks(t *testing.T) {
	ctx := context.Background()
	en := map[acd.Skill]int{"en": 3}
	s, _ := newStore(t)
	ok(t, s.SetQueue(ctx, acd.Queue{ID: "q", WrapUp: time.Hour}))
	enqueue(t, s, acd.Call{ID: "c1", Queue: "q", Owner: "ccd-1", Channel: "PJSIP/a-1"},
		acd.Call{ID: "c2", Queue: "q", Owner: "ccd-1", Channel: "PJSIP/a-2"},
		acd.Call{ID: "c3", Queue: "q", Owner: "ccd-1", Channel: "PJSIP/a-3"})
	ok(t, s.SetCallback(ctx, "c2", "+15550002"))
	c2 := must[acd.QueuedCall](t)(s.Call(ctx, "c2"))
	if c2.Callback != "+15550002" || c2.Owner != "" || c2.Channel != "" || c2.State != acd.CallWaiting {
		t.Fatalf("callback %+v", c2)
	}
	if p := must[int](t)(s.Position(ctx, "c2")); p != 2 {
		t.Fatalf("callback at %d, want its place 2", p)
	}
	if err := s.SetCallback(ctx, "c2", ""); !errors.Is(err, acd.ErrInvalid) {
		t.Fatalf("empty number: %v", err)
	}
	if err := s.SetCallback(ctx, "nope", "+1555"); !errors.Is(err, acd.ErrNotFound) {
		t.Fatalf("unknown call: %v", err)
	}

	login(t, s, agentSpec{"a1", 0, en})
	must[acd.AgentID](t)(s.Dequeue(ctx, "c1"))
	pickIs(t, s, "q", "c2", "a1", nil)
	must[acd.AgentID](t)(s.Release(ctx, "c2", acd.Answered))
	// The customer does not answer the callback.
	if a := must[acd.AgentID](t)(s.Requeue(ctx, "c2")); a != "a1" {
		t.Fatalf("requeue freed %s", a)
	}
	if a := agentState(t, s, "a1"); a.State != acd.Available || a.Call != "" {
		t.Fatalf("agent after requeue (no wrap-up): %+v", a)
	}
	c2 = must[acd.QueuedCall](t)(s.Call(ctx, "c2"))
	if c2.State != acd.CallWaiting || c2.Attempts != 1 || c2.Agent != "" || !c2.AnsweredAt.IsZero() || c2.Callback != "+15550002" {
		t.Fatalf("requeued callback %+v", c2)
	}
	if p := must[int](t)(s.Position(ctx, "c2")); p != 1 {
		t.Fatalf("requeued callback at %d, want first again", p)
	}
	pickIs(t, s, "q", "c2", "a1", nil)
}

func TestPosition(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	enqueue(t, s, acd.Call{ID: "c1", Queue: "q"}, acd.Call{ID: "c2", Queue: "q"}, acd.Call{ID: "vip", Queue: "q", Priority: 3},
		acd.Call{ID: "other", Queue: "q2"})
	tests := []struct {
		call acd.CallID
		want int
	}{{"vip", 1}, {"c1", 2}, {"c2", 3}, {"other", 1}}
	for _, tt := range tests {
		t.Run(string(tt.call), func(t *testing.T) {
			if got := must[int](t)(s.Position(ctx, tt.call)); got != tt.want {
				t.Fatalf("position %d, want %d", got, tt.want)
			}
		})
	}
	login(t, s, agentSpec{"a1", 0, nil})
	pickIs(t, s, "q", "vip", "a1", nil)
	if p := must[int](t)(s.Position(ctx, "vip")); p != 0 {
		t.Fatalf("reserved call at %d", p)
	}
	if p := must[int](t)(s.Position(ctx, "c2")); p != 2 {
		t.Fatalf("c2 at %d after the pick", p)
	}
	if _, err := s.Position(ctx, "nope"); !errors.Is(err, acd.ErrNotFound) {
		t.Fatalf("unknown call: %v", err)
	}
}

func TestStats(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	login(t, s,
		agentSpec{"a1", 0, map[acd.Skill]int{"en": 5, "fr": 2}},
		agentSpec{"a2", 0, map[acd.Skill]int{"en": 2, "fr": 4}},
		agentSpec{"a3", 0, map[acd.Skill]int{"en": 4}},
		agentSpec{"a4", 0, map[acd.Skill]int{"fr": 5}},
		agentSpec{"a5", 0, map[acd.Skill]int{"en": 5, "fr": 5}},
	)
	must[acd.State](t)(s.Pause(ctx, "a3", "break"))
	must[acd.State](t)(s.SetState(ctx, "a5", acd.LoggedOut))
	enqueue(t, s, acd.Call{ID: "c1", Queue: "q"}, acd.Call{ID: "c2", Queue: "q"})
	tests := []struct {
		name   string
		skills []acd.Requirement
		want   acd.QueueStats
	}{
		{"no skills: every agent", nil, acd.QueueStats{Waiting: 2, Staffed: 4, Available: 3}},
		{"one skill", []acd.Requirement{req("en", 1)}, acd.QueueStats{Waiting: 2, Staffed: 3, Available: 2}},
		{"one skill at a level", []acd.Requirement{req("en", 4)}, acd.QueueStats{Waiting: 2, Staffed: 2, Available: 1}},
		{"two skills", []acd.Requirement{req("en", 1), req("fr", 1)}, acd.QueueStats{Waiting: 2, Staffed: 2, Available: 2}},
		{"two skills at levels", []acd.Requirement{req("en", 2), req("fr", 3)}, acd.QueueStats{Waiting: 2, Staffed: 1, Available: 1}},
		{"nobody", []acd.Requirement{req("de", 1)}, acd.QueueStats{Waiting: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok(t, s.SetQueueSkills(ctx, "q", tt.skills))
			if got := must[acd.QueueStats](t)(s.Stats(ctx, "q")); got != tt.want {
				t.Fatalf("stats %+v, want %+v", got, tt.want)
			}
		})
	}
	if err := s.SetQueueSkills(ctx, "q", []acd.Requirement{req("en", 9)}); !errors.Is(err, acd.ErrInvalid) {
		t.Fatalf("bad level: %v", err)
	}
}

func TestListings(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	login(t, s, agentSpec{"b", 0, nil}, agentSpec{"a", 0, nil}, agentSpec{"c", 0, nil})
	must[acd.State](t)(s.SetState(ctx, "c", acd.LoggedOut))
	if ids := must[[]acd.AgentID](t)(s.AgentIDs(ctx)); fmt.Sprint(ids) != "[a b c]" {
		t.Fatalf("agent ids %v", ids)
	}
	enqueue(t, s, acd.Call{ID: "w", Queue: "q", Owner: "ccd-1", Channel: "PJSIP/1"},
		acd.Call{ID: "r", Queue: "q", Priority: 2}, acd.Call{ID: "t", Queue: "q", Priority: 4})
	pickIs(t, s, "q", "t", "b", nil) // b logged in first: idle longest
	must[acd.AgentID](t)(s.Release(ctx, "t", acd.Answered))
	pickIs(t, s, "q", "r", "a", nil)
	calls := must[[]acd.QueuedCall](t)(s.Calls(ctx))
	got := ""
	for _, c := range calls {
		got += fmt.Sprintf("%s:%s:%s:%d:%s ", c.ID, c.State, c.Agent, c.Priority, c.Owner)
		if c.EnqueuedAt.IsZero() || (c.State == acd.CallTalking) == c.AnsweredAt.IsZero() {
			t.Fatalf("call times %+v", c)
		}
	}
	if want := "r:reserved:a:2: t:talking:b:4: w:waiting::0:ccd-1 "; got != want {
		t.Fatalf("calls %q, want %q", got, want)
	}
}

// TestFewestAnsweredNewDay checks that answered counts restart at 0 each
// UTC day in the fewest-answered index: the day's change is simulated by
// dating the index and one agent's count a day back.
func TestFewestAnsweredNewDay(t *testing.T) {
	ctx := context.Background()
	en := map[acd.Skill]int{"en": 1}
	tests := []struct {
		name   string
		skills []acd.Requirement
	}{
		{"per skill index", []acd.Requirement{req("en", 1)}},
		{"global index", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, rdb := newStore(t)
			ok(t, s.SetQueue(ctx, acd.Queue{ID: "q", Strategy: acd.FewestAnswered}))
			all := []agentSpec{{"a1", 0, en}, {"a2", 0, en}}
			login(t, s, all...)
			warm(t, s, "a1", 2, all)
			yesterday := time.Now().Unix()/86400 - 1
			ok(t, rdb.HSet(ctx, s.prefix+"fewestday", "", yesterday, "en", yesterday).Err())
			ok(t, rdb.HSet(ctx, s.prefix+"agent:a1", "answered_day", yesterday).Err())
			warm(t, s, "a2", 1, all) // today: a2 has one call, a1 none
			enqueue(t, s, acd.Call{ID: "c1", Queue: "q", Skills: tt.skills})
			pickIs(t, s, "q", "c1", "a1", nil)
		})
	}
}

func TestPickBatch(t *testing.T) {
	ctx := context.Background()
	en, fr := map[acd.Skill]int{"en": 1}, []acd.Requirement{req("fr", 1)}
	tests := []struct {
		name    string
		calls   []acd.Call
		max     int
		want    string
		wantErr error
	}{
		{"fewer calls than the batch", []acd.Call{{ID: "c1"}, {ID: "c2"}}, 5, "c1:a1 c2:a2", nil},
		{"the batch limits", []acd.Call{{ID: "c1"}, {ID: "c2"}, {ID: "c3"}}, 2, "c1:a1 c2:a2", nil},
		{"the window grows with each reservation", []acd.Call{{ID: "x", Skills: fr}, {ID: "c1"}, {ID: "c2"}, {ID: "c3"}}, 3, "c1:a1 c2:a2 c3:a3", nil},
		{"nothing serviceable in the window", []acd.Call{{ID: "x", Skills: fr}, {ID: "y", Skills: fr}, {ID: "c1"}}, 3, "", acd.ErrNoAgent},
		{"more calls than agents", []acd.Call{{ID: "c1"}, {ID: "c2"}, {ID: "c3"}, {ID: "c4"}}, 4, "c1:a1 c2:a2 c3:a3", nil},
		{"empty queue", nil, 3, "", acd.ErrNoCall},
		{"no batch", []acd.Call{{ID: "c1"}}, 0, "", acd.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := newStore(t, WithLookahead(2))
			login(t, s, agentSpec{"a1", 0, en}, agentSpec{"a2", 0, en}, agentSpec{"a3", 0, en})
			for _, c := range tt.calls {
				c.Queue = "q"
				enqueue(t, s, c)
			}
			as, err := s.PickBatch(ctx, "q", tt.max)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("batch: %v, %v; want %v", as, err, tt.wantErr)
				}
				return
			}
			var got []string
			for _, a := range as {
				got = append(got, fmt.Sprintf("%s:%s", a.Call, a.Agent))
			}
			if err != nil || strings.Join(got, " ") != tt.want {
				t.Fatalf("batch: %v, %v; want %s", got, err, tt.want)
			}
		})
	}
}
