package deskpg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/agentdesk/desk"
)

const customerCols = `id::text, name, level, company, phones, contacts, notes, created_at, updated_at`

func scanCustomer(row pgx.Row) (desk.Customer, error) {
	var c desk.Customer
	err := row.Scan(&c.ID, &c.Name, &c.Level, &c.Company, &c.Phones, &c.Contacts, &c.Notes, &c.CreatedAt, &c.UpdatedAt)
	if c.Phones == nil {
		c.Phones = []string{}
	}
	if c.Contacts == nil {
		c.Contacts = []desk.Contact{}
	}
	return c, err
}

func contacts(c desk.Customer) []desk.Contact {
	if c.Contacts == nil {
		return []desk.Contact{}
	}
	return c.Contacts
}

func phones(c desk.Customer) []string {
	if c.Phones == nil {
		return []string{}
	}
	return c.Phones
}

// CustomersByPhone finds the profiles with a number (normalised), most
// recently updated first; the GIN index on phones serves it.
func (s *Store) CustomersByPhone(ctx context.Context, phone string, limit int) ([]desk.Customer, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+customerCols+` FROM customers WHERE phones @> ARRAY[$1]::text[]
		ORDER BY updated_at DESC, id LIMIT $2`, phone, limit)
	if err != nil {
		return nil, fmt.Errorf("deskpg: customers by phone: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (desk.Customer, error) { return scanCustomer(row) })
	if err != nil {
		return nil, fmt.Errorf("deskpg: customers by phone: %w", err)
	}
	return out, nil
}

// Customer reads one profile.
func (s *Store) Customer(ctx context.Context, id desk.CustomerID) (desk.Customer, error) {
	c, err := scanCustomer(s.pool.QueryRow(ctx, `SELECT `+customerCols+` FROM customers WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) || pgCode(err) == "22P02" {
		return c, fmt.Errorf("%w: customer %s", desk.ErrNotFound, id)
	}
	if err != nil {
		return c, fmt.Errorf("deskpg: customer %s: %w", id, err)
	}
	return c, nil
}

// CreateCustomer stores a new profile; the id is made here.
func (s *Store) CreateCustomer(ctx context.Context, c desk.Customer) (desk.Customer, error) {
	out, err := scanCustomer(s.pool.QueryRow(ctx, `INSERT INTO customers (name, level, company, phones, contacts, notes)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+customerCols, c.Name, c.Level, c.Company, phones(c), contacts(c), c.Notes))
	if err != nil {
		return out, customerErr("create customer", err)
	}
	return out, nil
}

// UpdateCustomer replaces a profile.
func (s *Store) UpdateCustomer(ctx context.Context, c desk.Customer) (desk.Customer, error) {
	out, err := scanCustomer(s.pool.QueryRow(ctx, `UPDATE customers SET name = $2, level = $3, company = $4, phones = $5,
		contacts = $6, notes = $7, updated_at = now() WHERE id = $1 RETURNING `+customerCols,
		c.ID, c.Name, c.Level, c.Company, phones(c), contacts(c), c.Notes))
	if errors.Is(err, pgx.ErrNoRows) || pgCode(err) == "22P02" {
		return out, fmt.Errorf("%w: customer %s", desk.ErrNotFound, c.ID)
	}
	if err != nil {
		return out, customerErr("update customer "+string(c.ID), err)
	}
	return out, nil
}

func customerErr(op string, err error) error {
	if pgCode(err) == "23514" {
		return fmt.Errorf("%w: %s: %v", desk.ErrInvalid, op, err)
	}
	return fmt.Errorf("deskpg: %s: %w", op, err)
}

// PutWrapup stores an agent's wrap-up of a call, replacing theirs.
func (s *Store) PutWrapup(ctx context.Context, w desk.Wrapup) (bool, error) {
	var created bool
	err := s.pool.QueryRow(ctx, `INSERT INTO wrapups (call_id, agent_id, disposition, notes, at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (call_id, agent_id) DO UPDATE SET disposition = EXCLUDED.disposition, notes = EXCLUDED.notes, at = EXCLUDED.at
		RETURNING xmax = 0`, w.Call, w.Agent, w.Disposition, w.Notes, w.At).Scan(&created)
	switch pgCode(err) {
	case "":
	case "23503", "22P02":
		return false, fmt.Errorf("%w: call %s", desk.ErrNotFound, w.Call)
	case "23514":
		return false, fmt.Errorf("%w: wrap-up of call %s: %v", desk.ErrInvalid, w.Call, err)
	}
	if err != nil {
		return false, fmt.Errorf("deskpg: wrap-up of call %s: %w", w.Call, err)
	}
	return created, nil
}

// uuidOf casts text to uuid where it is one (NULL otherwise), so that a text
// call id from the agent state log can use call_records' primary key.
const uuidOf = `CASE WHEN %s ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN %s::uuid END`

func scanInteraction(row pgx.CollectableRow) (desk.Interaction, error) {
	var i desk.Interaction
	err := row.Scan(&i.Call, &i.At, &i.Caller, &i.DID, &i.Outcome, &i.Agent, &i.AgentName, &i.Disposition, &i.Notes)
	return i, err
}

// Interactions are the finished calls from any of numbers, newest first,
// with the agent who took each (by its wrap-up, else the agent state log)
// and the latest wrap-up.
func (s *Store) Interactions(ctx context.Context, numbers []string, limit int) ([]desk.Interaction, error) {
	rows, err := s.pool.Query(ctx, `SELECT cr.call_id::text, cr.started_at, cr.caller_number, cr.did, cr.outcome,
			COALESCE(w.agent_id, st.agent_id, ''), COALESCE(a.name, ''), COALESCE(w.disposition, ''), COALESCE(w.notes, '')
		FROM call_records cr
		LEFT JOIN LATERAL (SELECT agent_id, disposition, notes FROM wrapups
			WHERE call_id = cr.call_id ORDER BY at DESC LIMIT 1) w ON true
		LEFT JOIN LATERAL (SELECT agent_id FROM acd_agent_states
			WHERE call_id = cr.call_id::text AND call_id <> '' AND to_state = 'on_call' ORDER BY at DESC LIMIT 1) st ON true
		LEFT JOIN acd_agents a ON a.id = COALESCE(w.agent_id, st.agent_id)
		WHERE cr.caller_number = ANY($1) AND cr.outcome <> 'in_progress'
		ORDER BY cr.started_at DESC LIMIT $2`, numbers, limit)
	if err != nil {
		return nil, fmt.Errorf("deskpg: interactions: %w", err)
	}
	out, err := pgx.CollectRows(rows, scanInteraction)
	if err != nil {
		return nil, fmt.Errorf("deskpg: interactions: %w", err)
	}
	return out, nil
}

// AgentHistory are the calls an agent talked on (agent state log) or
// wrapped up since from, newest first, with the agent's wrap-up.
func (s *Store) AgentHistory(ctx context.Context, agent acd.AgentID, from time.Time, limit int) ([]desk.Interaction, error) {
	rows, err := s.pool.Query(ctx, `WITH handled AS (
			SELECT call_id FROM acd_agent_states WHERE agent_id = $1 AND to_state = 'on_call' AND call_id <> '' AND at >= $2
			UNION
			SELECT call_id::text FROM wrapups WHERE agent_id = $1 AND at >= $2
		)
		SELECT cr.call_id::text, cr.started_at, cr.caller_number, cr.did, cr.outcome,
			$1, COALESCE(a.name, ''), COALESCE(w.disposition, ''), COALESCE(w.notes, '')
		FROM handled h
		JOIN call_records cr ON cr.call_id = `+fmt.Sprintf(uuidOf, "h.call_id", "h.call_id")+`
		LEFT JOIN wrapups w ON w.call_id = cr.call_id AND w.agent_id = $1
		LEFT JOIN acd_agents a ON a.id = $1
		ORDER BY cr.started_at DESC LIMIT $3`, agent, from, limit)
	if err != nil {
		return nil, fmt.Errorf("deskpg: history of agent %s: %w", agent, err)
	}
	out, err := pgx.CollectRows(rows, scanInteraction)
	if err != nil {
		return nil, fmt.Errorf("deskpg: history of agent %s: %w", agent, err)
	}
	return out, nil
}
