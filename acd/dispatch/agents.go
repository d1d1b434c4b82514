package dispatch

import (
	"context"
	"errors"
	"fmt"

	"github.com/ccd-platform/ccd/acd"
)

// Login brings a configured agent into routing, available.
func (r *Router) Login(ctx context.Context, id acd.AgentID) error {
	a, err := r.cfg.Agent(ctx, id)
	if err != nil {
		return err
	}
	if a.Device == "" {
		return fmt.Errorf("%w: agent %s has no device to ring", acd.ErrInvalid, id)
	}
	if cur, err := r.store.Agent(ctx, id); err == nil && cur.State != acd.LoggedOut {
		return nil // logged in already: nothing changes
	}
	if err := r.store.Login(ctx, acd.Login{Agent: id, Rank: a.Rank, Skills: a.Skills}); err != nil {
		return err
	}
	r.agentState(id, acd.LoggedOut, acd.Available, "", "")
	r.Wake()
	return nil
}

// Logout takes an agent out of routing. An agent with a call offered or in
// progress cannot log out (ErrIllegalTransition or ErrReserved).
func (r *Router) Logout(ctx context.Context, id acd.AgentID) error {
	from, err := r.store.SetState(ctx, id, acd.LoggedOut)
	if err != nil {
		return err
	}
	r.agentState(id, from, acd.LoggedOut, "", "")
	return nil
}

// Ready makes an agent available (after a pause or before wrap-up ends).
func (r *Router) Ready(ctx context.Context, id acd.AgentID) error {
	from, err := r.store.SetState(ctx, id, acd.Available)
	if err != nil {
		return err
	}
	if from != acd.Available {
		r.agentState(id, from, acd.Available, "", "")
	}
	r.Wake()
	return nil
}

// Pause pauses an agent with one of the configured reason codes.
func (r *Router) Pause(ctx context.Context, id acd.AgentID, reason string) error {
	reasons, err := r.cfg.PauseReasons(ctx)
	if err != nil {
		return err
	}
	known := false
	for _, p := range reasons {
		known = known || p.Code == reason
	}
	if !known {
		return fmt.Errorf("%w: pause reason %q is not configured", acd.ErrInvalid, reason)
	}
	from, err := r.store.Pause(ctx, id, reason)
	if err != nil {
		return err
	}
	r.agentState(id, from, acd.Paused, reason, "")
	return nil
}

// State reads an agent's live state.
//
// A configured agent who never logged in (or whose live state was reset)
// is logged out; an agent that is not configured is not found.
func (r *Router) State(ctx context.Context, id acd.AgentID) (acd.Agent, error) {
	a, err := r.store.Agent(ctx, id)
	if errors.Is(err, acd.ErrNotFound) {
		if _, cerr := r.cfg.Agent(ctx, id); cerr == nil {
			return acd.Agent{ID: id, State: acd.LoggedOut}, nil
		}
	}
	return a, err
}

// QueueStats reads a queue's live figures.
func (r *Router) QueueStats(ctx context.Context, id acd.QueueID) (acd.QueueStats, error) {
	if _, ok := r.queue(id); !ok {
		return acd.QueueStats{}, fmt.Errorf("%w: queue %s", acd.ErrNotFound, id)
	}
	return r.store.Stats(ctx, id)
}
