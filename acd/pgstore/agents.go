package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ccd-platform/ccd/acd"
)

const agentColumns = `id, name, team, device, skills, rank`

func scanAgent(row pgx.Row) (acd.AgentConfig, error) {
	var a acd.AgentConfig
	err := row.Scan(&a.ID, &a.Name, &a.Team, &a.Device, &a.Skills, &a.Rank)
	return a, err
}

// Agents lists every agent, ordered by rank then id.
func (s *Store) Agents(ctx context.Context) ([]acd.AgentConfig, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+agentColumns+` FROM acd_agents ORDER BY rank, id`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list agents: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (acd.AgentConfig, error) { return scanAgent(row) })
	if err != nil {
		return nil, fmt.Errorf("pgstore: list agents: %w", err)
	}
	return out, nil
}

// Agent reads one agent; acd.ErrNotFound if there is none with this id.
func (s *Store) Agent(ctx context.Context, id acd.AgentID) (acd.AgentConfig, error) {
	a, err := scanAgent(s.pool.QueryRow(ctx, `SELECT `+agentColumns+` FROM acd_agents WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return a, fmt.Errorf("%w: agent %s", acd.ErrNotFound, id)
	}
	if err != nil {
		return a, fmt.Errorf("pgstore: read agent %s: %w", id, err)
	}
	return a, nil
}

// PutAgent creates or replaces an agent after validating it (acd.ErrInvalid).
// created tells whether the agent is new.
func (s *Store) PutAgent(ctx context.Context, a acd.AgentConfig) (created bool, err error) {
	if err := a.Validate(); err != nil {
		return false, err
	}
	skills := a.Skills
	if skills == nil {
		skills = map[acd.Skill]int{}
	}
	err = s.pool.QueryRow(ctx, `
		INSERT INTO acd_agents (id, name, team, device, skills, rank) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, team = EXCLUDED.team, device = EXCLUDED.device,
			skills = EXCLUDED.skills, rank = EXCLUDED.rank, updated_at = now()
		RETURNING xmax = 0`, a.ID, a.Name, a.Team, a.Device, skills, a.Rank).Scan(&created)
	if err != nil {
		return false, fmt.Errorf("pgstore: write agent %s: %w", a.ID, err)
	}
	return created, nil
}

// DeleteAgent removes an agent and the callers' memory of them (a caller
// they served is no longer held for them). acd.ErrNotFound if there is no
// such agent. Their state log stays for reports.
func (s *Store) DeleteAgent(ctx context.Context, id acd.AgentID) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM acd_agents WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: agent %s", acd.ErrNotFound, id)
		}
		_, err = tx.Exec(ctx, `DELETE FROM acd_last_agent WHERE agent_id = $1`, id)
		return err
	})
	if err != nil && !errors.Is(err, acd.ErrNotFound) {
		return fmt.Errorf("pgstore: delete agent %s: %w", id, err)
	}
	return err
}
