package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ccd-platform/ccd/acd"
)

// LastAgent returns the agent who last served caller, if that was within
// the given time. An empty caller (withheld number) or a non-positive
// within finds nobody.
func (s *Store) LastAgent(ctx context.Context, caller string, within time.Duration) (acd.AgentID, bool, error) {
	if caller == "" || within <= 0 {
		return "", false, nil
	}
	var agent acd.AgentID
	err := s.pool.QueryRow(ctx, `SELECT agent_id FROM acd_last_agent WHERE caller_number = $1 AND served_at >= $2`,
		caller, time.Now().Add(-within)).Scan(&agent)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("pgstore: last agent of %s: %w", caller, err)
	}
	return agent, true, nil
}

// RememberAgent records that agent served caller in queue at the given time
// (zero: now). A memory older than the one kept is ignored, so late writes
// cannot replace a newer agent. An empty caller (withheld number) is not
// remembered: every anonymous caller would share one agent.
func (s *Store) RememberAgent(ctx context.Context, caller string, agent acd.AgentID, queue acd.QueueID, at time.Time) error {
	if caller == "" {
		return nil
	}
	if agent == "" || queue == "" {
		return fmt.Errorf("%w: remember agent of %s: agent and queue are required", acd.ErrInvalid, caller)
	}
	if at.IsZero() {
		at = time.Now()
	}
	_, err := s.pool.Exec(ctx, `
		INSERT INTO acd_last_agent (caller_number, agent_id, queue_id, served_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (caller_number) DO UPDATE SET agent_id = EXCLUDED.agent_id, queue_id = EXCLUDED.queue_id,
			served_at = EXCLUDED.served_at
		WHERE acd_last_agent.served_at <= EXCLUDED.served_at`, caller, agent, queue, at)
	if err != nil {
		return fmt.Errorf("pgstore: remember agent of %s: %w", caller, err)
	}
	return nil
}

// StateChange is one agent state transition, as logged for reports.
type StateChange struct {
	Agent  acd.AgentID `json:"agent"`
	From   acd.State   `json:"from"`
	To     acd.State   `json:"to"`
	Reason string      `json:"reason,omitempty"` // pause reason, when To is paused
	CallID acd.CallID  `json:"call_id,omitempty"`
	At     time.Time   `json:"at"`
}

// LogState appends a state change to the log (At zero: now). Both states
// must be known (acd.ErrInvalid otherwise).
func (s *Store) LogState(ctx context.Context, c StateChange) error {
	if c.Agent == "" || !c.From.Valid() || !c.To.Valid() {
		return fmt.Errorf("%w: state change of agent %q: %q → %q", acd.ErrInvalid, c.Agent, c.From, c.To)
	}
	if c.At.IsZero() {
		c.At = time.Now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO acd_agent_states (agent_id, from_state, to_state, reason, call_id, at)
		VALUES ($1, $2, $3, $4, $5, $6)`, c.Agent, c.From, c.To, c.Reason, c.CallID, c.At)
	if err != nil {
		return fmt.Errorf("pgstore: log state of agent %s: %w", c.Agent, err)
	}
	return nil
}

// Limits of StateLog.
const (
	DefaultStateLog = 100
	MaxStateLog     = 10000
)

// StateLog returns an agent's latest state changes, newest first: at most
// limit of them (DefaultStateLog when limit <= 0, never more than MaxStateLog).
func (s *Store) StateLog(ctx context.Context, agent acd.AgentID, limit int) ([]StateChange, error) {
	if limit <= 0 {
		limit = DefaultStateLog
	}
	limit = min(limit, MaxStateLog)
	rows, err := s.pool.Query(ctx, `SELECT agent_id, from_state, to_state, reason, call_id, at FROM acd_agent_states
		WHERE agent_id = $1 ORDER BY at DESC, id DESC LIMIT $2`, agent, limit)
	if err != nil {
		return nil, fmt.Errorf("pgstore: state log of agent %s: %w", agent, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (StateChange, error) {
		var c StateChange
		err := row.Scan(&c.Agent, &c.From, &c.To, &c.Reason, &c.CallID, &c.At)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: state log of agent %s: %w", agent, err)
	}
	return out, nil
}
