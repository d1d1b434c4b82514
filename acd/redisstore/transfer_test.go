package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/acd"
)

// talking sets up call c1 in queue q talking with agent a1 (a2 and a3 are
// logged in and available).
func talking(t *testing.T, wrap time.Duration) *Store {
	t.Helper()
	ctx := context.Background()
	s, _ := newStore(t)
	ok(t, s.SetQueue(ctx, acd.Queue{ID: "q", Strategy: acd.LongestIdle, WrapUp: wrap}))
	login(t, s, agentSpec{id: "a1"})
	enqueue(t, s, acd.Call{ID: "c1", Queue: "q"})
	pickIs(t, s, "q", "c1", "a1", nil)
	must[acd.AgentID](t)(s.Release(ctx, "c1", acd.Answered))
	login(t, s, agentSpec{id: "a2"}, agentSpec{id: "a3"})
	return s
}

func states(t *testing.T, s *Store, want map[acd.AgentID]acd.State) {
	t.Helper()
	for a, st := range want {
		if got := agentState(t, s, a); got.State != st {
			t.Fatalf("agent %s is %s, want %s", a, got.State, st)
		}
	}
}

func TestRedirect(t *testing.T) {
	ctx := context.Background()
	s := talking(t, 10*time.Second)
	from := must[acd.AgentID](t)(s.Redirect(ctx, "c1", "a2"))
	if from != "a1" {
		t.Fatalf("redirect from %s, want a1", from)
	}
	states(t, s, map[acd.AgentID]acd.State{"a1": acd.WrapUp, "a2": acd.Reserved, "a3": acd.Available})
	c := must[acd.QueuedCall](t)(s.Call(ctx, "c1"))
	if c.State != acd.CallReserved || c.Agent != "a2" {
		t.Fatalf("call after redirect: %+v", c)
	}
	// The new agent does not answer: the call waits again, a2 is excluded.
	must[acd.AgentID](t)(s.Release(ctx, "c1", acd.NoAnswer))
	states(t, s, map[acd.AgentID]acd.State{"a2": acd.Available})
	pickIs(t, s, "q", "c1", "a3", nil)
	must[acd.AgentID](t)(s.Release(ctx, "c1", acd.Answered))
	// Busy targets are refused and change nothing.
	login(t, s, agentSpec{id: "a4"})
	_, err := s.Pause(ctx, "a4", "lunch")
	ok(t, err)
	_, err = s.Redirect(ctx, "c1", "a4")
	wantErr(t, err, acd.ErrIllegalTransition, "a4")
	_, err = s.Redirect(ctx, "c1", "a3")
	wantErr(t, err, acd.ErrInvalid, "already with agent a3")
	_, err = s.Redirect(ctx, "nope", "a2")
	wantErr(t, err, acd.ErrNotFound, "nope")
	states(t, s, map[acd.AgentID]acd.State{"a3": acd.OnCall, "a4": acd.Paused})
}

func TestPartyConsultAndHandover(t *testing.T) {
	ctx := context.Background()
	s := talking(t, 10*time.Second)
	party := func(a acd.AgentID, op acd.PartyOp) {
		t.Helper()
		if got := must[acd.AgentID](t)(s.Party(ctx, "c1", a, op)); got == "" {
			t.Fatalf("%s %s: no call agent", op, a)
		}
	}
	// A ring that is not answered leaves the consulted agent available.
	party("a2", acd.PartyClaim)
	states(t, s, map[acd.AgentID]acd.State{"a1": acd.OnCall, "a2": acd.Reserved})
	if st := must[acd.QueueStats](t)(s.Stats(ctx, "q")); st.Available != 1 {
		t.Fatalf("available agents while a2 is consulted: %d, want 1 (a3)", st.Available)
	}
	party("a2", acd.PartyEnd)
	states(t, s, map[acd.AgentID]acd.State{"a2": acd.Available})
	// Answered then left: wrap-up.
	party("a2", acd.PartyClaim)
	party("a2", acd.PartyAnswer)
	party("a2", acd.PartyEnd)
	states(t, s, map[acd.AgentID]acd.State{"a1": acd.OnCall, "a2": acd.WrapUp})
	// Consult a3 and hand the call over.
	party("a3", acd.PartyClaim)
	_, err := s.Party(ctx, "c1", "a3", acd.PartyHandover)
	wantErr(t, err, acd.ErrIllegalTransition, "a3")
	party("a3", acd.PartyAnswer)
	party("a3", acd.PartyHandover)
	states(t, s, map[acd.AgentID]acd.State{"a1": acd.WrapUp, "a3": acd.OnCall})
	c := must[acd.QueuedCall](t)(s.Call(ctx, "c1"))
	if c.Agent != "a3" || c.State != acd.CallTalking {
		t.Fatalf("call after handover: %+v", c)
	}
	if got := must[acd.AgentID](t)(s.Finish(ctx, "c1")); got != "a3" {
		t.Fatalf("finish: %s, want a3", got)
	}
	states(t, s, map[acd.AgentID]acd.State{"a3": acd.WrapUp})
	// Refusals.
	_, err = s.Party(ctx, "c1", "a3", acd.PartyClaim)
	wantErr(t, err, acd.ErrNotFound, "c1")
	_, err = s.Party(ctx, "c1", "a3", "bogus")
	wantErr(t, err, acd.ErrInvalid, "bogus")
}

func TestPartyRefusesAgentsNotFree(t *testing.T) {
	ctx := context.Background()
	s := talking(t, 0)
	_, err := s.Party(ctx, "c1", "a1", acd.PartyClaim)
	wantErr(t, err, acd.ErrInvalid, "already with agent a1")
	_, err = s.Party(ctx, "c1", "a2", acd.PartyAnswer)
	wantErr(t, err, acd.ErrInvalid, "not on call c1")
	_, err = s.Pause(ctx, "a2", "lunch")
	ok(t, err)
	_, err = s.Party(ctx, "c1", "a2", acd.PartyClaim)
	wantErr(t, err, acd.ErrIllegalTransition, "a2")
	// Without wrap-up time the consulted agent is available at once.
	must[acd.AgentID](t)(s.Party(ctx, "c1", "a3", acd.PartyClaim))
	must[acd.AgentID](t)(s.Party(ctx, "c1", "a3", acd.PartyAnswer))
	must[acd.AgentID](t)(s.Party(ctx, "c1", "a3", acd.PartyEnd))
	states(t, s, map[acd.AgentID]acd.State{"a3": acd.Available, "a1": acd.OnCall})
}
