package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/acd"
)

// pickOne picks in q and checks the pair.
func pickOne(t *testing.T, s *Store, q acd.QueueID, call acd.CallID, agent acd.AgentID) {
	t.Helper()
	a, err := s.Pick(context.Background(), q)
	if err != nil || a.Call != call || a.Agent != agent {
		t.Fatalf("pick: %+v, %v; want call %s to %s", a, err, call, agent)
	}
}

// The copy follows the feed through a trim that leaves nothing of it:
// Redis keeps the feed's last id, the entries after it come as usual.
func TestRoutingCopyFeedTrimmed(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	ok(t, s.SetQueue(ctx, acd.Queue{ID: "q"}))
	login(t, s, agentSpec{id: "a1", skills: map[acd.Skill]int{"x": 1}})
	enqueue(t, s, acd.Call{ID: "c1", Queue: "q"})
	pickOne(t, s, "q", "c1", "a1")

	ok(t, rdb.XTrimMaxLen(ctx, s.prefix+"feed", 0).Err())
	login(t, s, agentSpec{id: "a2", skills: map[acd.Skill]int{"x": 1}})
	enqueue(t, s, acd.Call{ID: "c2", Queue: "q"})
	pickOne(t, s, "q", "c2", "a2")
	if rc := s.RoutingCounts(); rc.Copy != 2 || rc.Reads != 1 {
		t.Fatalf("routing %+v: both picks from the copy, read once", rc)
	}
}

// The copy notices a feed removed and begun anew (its entries numbered
// from 1 again) and reads the state afresh: no call waits on it.
func TestRoutingCopyFeedRemoved(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	ok(t, s.SetQueue(ctx, acd.Queue{ID: "q"}))
	for _, a := range []acd.AgentID{"a1", "a2", "a3", "a4"} {
		login(t, s, agentSpec{id: a, skills: map[acd.Skill]int{"x": 1}})
	}
	for _, a := range []acd.AgentID{"a1", "a2", "a3", "a4"} {
		must[acd.State](t)(s.Pause(ctx, a, "break"))
	}
	enqueue(t, s, acd.Call{ID: "c1", Queue: "q"})
	must[acd.State](t)(s.SetState(ctx, "a1", acd.Available))
	pickOne(t, s, "q", "c1", "a1")

	ok(t, rdb.Del(ctx, s.prefix+"feed").Err())
	must[acd.State](t)(s.SetState(ctx, "a2", acd.Available))
	enqueue(t, s, acd.Call{ID: "c2", Queue: "q"})
	pickOne(t, s, "q", "c2", "a2")
	must[acd.State](t)(s.SetState(ctx, "a3", acd.Available))
	enqueue(t, s, acd.Call{ID: "c3", Queue: "q"})
	pickOne(t, s, "q", "c3", "a3") // at once, not a second later
	if rc := s.RoutingCounts(); rc.Reads != 2 {
		t.Fatalf("routing %+v: the copy should have been read again", rc)
	}
}

// A copy that finds nothing is confirmed by pickScript at most once a
// second per queue; in between it answers itself, and right.
func TestRoutingCopyEmpty(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	ok(t, s.SetQueue(ctx, acd.Queue{ID: "q"}))
	_, err := s.Pick(ctx, "q")
	wantErr(t, err, acd.ErrNoCall, "queue q")
	enqueue(t, s, acd.Call{ID: "c1", Queue: "q", Skills: []acd.Requirement{req("x", 3)}})
	login(t, s, agentSpec{id: "a1", skills: map[acd.Skill]int{"x": 2}})
	for range 5 {
		_, err = s.Pick(ctx, "q")
		wantErr(t, err, acd.ErrNoAgent, "queue q")
	}
	if rc := s.RoutingCounts(); rc.Script != 1 {
		t.Fatalf("routing %+v: one confirmation by the script", rc)
	}
	login(t, s, agentSpec{id: "a2", skills: map[acd.Skill]int{"x": 4}})
	pickOne(t, s, "q", "c1", "a2")
}

// A pair the copy chose is refused when the agent was taken meanwhile by
// another instance; the pick then goes to pickScript and is right.
func TestRoutingCopyRefused(t *testing.T) {
	ctx := context.Background()
	s, rdb := newStore(t)
	other, err := New(rdb)
	ok(t, err)
	ok(t, s.SetQueue(ctx, acd.Queue{ID: "q"}))
	login(t, s, agentSpec{id: "a1", skills: map[acd.Skill]int{"x": 1}})
	time.Sleep(time.Millisecond) // a2 idle for less time
	login(t, s, agentSpec{id: "a2", skills: map[acd.Skill]int{"x": 1}})
	enqueue(t, s, acd.Call{ID: "c1", Queue: "q"}, acd.Call{ID: "c2", Queue: "q"})
	ok(t, s.syncCopy(ctx))

	// The copy's plan for c1 is a1; before it reaches Redis, the other
	// instance takes c1 with a1.
	m := s.mir
	m.mu.Lock()
	ok(t, s.loadQueue(ctx, "q"))
	pairs, cursor, fine := m.plan(m.queue("q"), 1, s.lookahead, time.Now().UnixMicro())
	m.mu.Unlock()
	if !fine || len(pairs) != 1 || pairs[0].c.id != "c1" || pairs[0].a.id != "a1" {
		t.Fatalf("plan %v %v", pairs, fine)
	}
	pickOne(t, other, "q", "c1", "a1")
	m.mu.Lock()
	got, stale, err := s.reserve(ctx, m.queue("q"), "q", pairs, cursor, false)
	m.mu.Unlock()
	if err != nil || stale || len(got) != 0 || s.RoutingCounts().Refused != 1 {
		t.Fatalf("reserve after the other instance: %v stale %v %v, %+v", got, stale, err, s.RoutingCounts())
	}
	// Strict, the same plan is found stale and the copy brought up to date.
	m.mu.Lock()
	_, stale, err = s.reserve(ctx, m.queue("q"), "q", pairs, cursor, true)
	m.mu.Unlock()
	if err != nil || !stale {
		t.Fatalf("strict reserve: stale %v, %v", stale, err)
	}
	pickOne(t, s, "q", "c2", "a2")
	_, err = s.Pick(ctx, "q")
	if !errors.Is(err, acd.ErrNoCall) {
		t.Fatalf("pick with no call left: %v", err)
	}
}

// Between picks the copy reads the feed by itself, so a pick finds it
// nearly current.
func TestRoutingCopyFollowsFeed(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	ok(t, s.SetQueue(ctx, acd.Queue{ID: "q"}))
	_, err := s.Pick(ctx, "q") // starts the reader
	wantErr(t, err, acd.ErrNoCall, "queue q")
	login(t, s, agentSpec{id: "a1", skills: map[acd.Skill]int{"x": 1}})
	enqueue(t, s, acd.Call{ID: "c1", Queue: "q"})
	want, err := s.feedLast(ctx)
	ok(t, err)
	eventually(t, 5*time.Second, "the copy reads the feed", func() bool {
		s.mir.mu.Lock()
		defer s.mir.mu.Unlock()
		return s.mir.last == want && s.mir.agents["a1"] != nil && s.mir.calls["c1"] != nil
	})
}
