package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/ccd-platform/ccd/acd"
)

// Login brings an agent into routing (available, or paused) with its skills
// and rank (at most ±999,999,999). An agent not logged out is refused with
// ErrIllegalTransition.
func (s *Store) Login(ctx context.Context, l acd.Login) error {
	if err := acd.ValidateLogin(l); err != nil {
		return err
	}
	if l.Rank < -maxRank || l.Rank > maxRank {
		return fmt.Errorf("%w: rank %d out of ±%d", acd.ErrInvalid, l.Rank, maxRank)
	}
	return mapErr(s.run(ctx, loginScript, string(l.Agent), l.Rank, boolArg(l.Paused), encodeSkills(l.Skills)).Err())
}

// SetState moves an agent to another state if the transition table allows
// it, timestamped with the Redis clock, and returns the previous state.
// Reservations begin only through Pick and end only through Release or
// Dequeue (ErrReserved otherwise); an agent connected to a queued call
// leaves on_call only through Finish, Requeue or Dequeue
// (ErrIllegalTransition). Leaving paused clears the pause reason; resuming
// to available also clears the miss count.
func (s *Store) SetState(ctx context.Context, agent acd.AgentID, to acd.State) (acd.State, error) {
	return s.setState(ctx, agent, to, "")
}

// Pause pauses an agent with a reason code, as SetState(paused) does.
func (s *Store) Pause(ctx context.Context, agent acd.AgentID, reason string) (acd.State, error) {
	return s.setState(ctx, agent, acd.Paused, reason)
}

func (s *Store) setState(ctx context.Context, agent acd.AgentID, to acd.State, reason string) (acd.State, error) {
	if !to.Valid() {
		return "", fmt.Errorf("%w: state %q", acd.ErrInvalid, to)
	}
	from, err := s.run(ctx, setStateScript, string(agent), string(to), reason).Text()
	if err != nil {
		return "", mapErr(err)
	}
	return acd.State(from), nil
}

// Logout takes an agent out of routing.
func (s *Store) Logout(ctx context.Context, agent acd.AgentID) error {
	_, err := s.SetState(ctx, agent, acd.LoggedOut)
	return err
}

// Agent reads an agent's state.
func (s *Store) Agent(ctx context.Context, agent acd.AgentID) (acd.Agent, error) {
	m, err := s.rdb.HGetAll(ctx, s.prefix+"agent:"+string(agent)).Result()
	if err != nil {
		return acd.Agent{}, fmt.Errorf("acd: agent %s: %w", agent, err)
	}
	if len(m) == 0 {
		return acd.Agent{}, fmt.Errorf("%w: agent %s", acd.ErrNotFound, agent)
	}
	a := acd.Agent{
		ID: agent, State: acd.State(m["state"]), Call: acd.CallID(m["call"]), Reason: m["reason"],
		StateSince: usTime(m["state_since"]), IdleSince: usTime(m["idle_since"]), WrapUntil: usTime(m["wrap_until"]),
		Skills: decodeSkills(m["skills"]),
	}
	a.Rank, _ = strconv.Atoi(m["rank"])
	a.Misses, _ = strconv.Atoi(m["misses"])
	if day, _ := strconv.ParseInt(m["answered_day"], 10, 64); day == time.Now().Unix()/86400 {
		a.AnsweredToday, _ = strconv.Atoi(m["answered_today"])
	}
	return a, nil
}

// AgentIDs lists every agent that ever logged in, sorted.
func (s *Store) AgentIDs(ctx context.Context) ([]acd.AgentID, error) {
	ids, err := s.rdb.SMembers(ctx, s.prefix+"agents").Result()
	if err != nil {
		return nil, fmt.Errorf("acd: agent ids: %w", err)
	}
	slices.Sort(ids)
	out := make([]acd.AgentID, len(ids))
	for i, id := range ids {
		out[i] = acd.AgentID(id)
	}
	return out, nil
}
