// Package cdr keeps call detail records in PostgreSQL.
package cdr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ccd-platform/ccd/internal/db"
)

// Record is one call's detail record.
type Record struct {
	CallID          string
	ChannelID       string
	Instance        string
	CallerNumber    string
	CallerName      string
	DID             string
	Flow            string
	FlowVersion     *int
	StartedAt       time.Time
	AnsweredAt      *time.Time
	EndedAt         *time.Time
	Digits          string
	Outcome         string
	HangupCause     *int
	HangupCauseText string
	HangupBy        string
	Error           string
}

// Store writes and reads records.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a store on pool (migrated by db.Open).
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Start inserts the record of a call that has just arrived.
func (s *Store) Start(ctx context.Context, r Record) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO call_records
		(call_id, channel_id, instance, caller_number, caller_name, did, started_at, flow, flow_version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		r.CallID, r.ChannelID, r.Instance, r.CallerNumber, r.CallerName, r.DID, r.StartedAt, r.Flow, r.FlowVersion)
	if err != nil {
		return fmt.Errorf("cdr: start %s: %w", r.CallID, err)
	}
	return nil
}

// Answered stamps the answer time.
func (s *Store) Answered(ctx context.Context, callID string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE call_records SET answered_at = $2 WHERE call_id = $1`, callID, at)
	if err != nil {
		return fmt.Errorf("cdr: answered %s: %w", callID, err)
	}
	return nil
}

// Finish completes the record when the call has ended.
func (s *Store) Finish(ctx context.Context, r Record) error {
	tag, err := s.pool.Exec(ctx, `UPDATE call_records SET
		answered_at = COALESCE(answered_at, $2), ended_at = $3, digits = $4, outcome = $5,
		hangup_cause = $6, hangup_cause_text = $7, hangup_by = $8, error = $9, flow = $10, flow_version = $11
		WHERE call_id = $1`,
		r.CallID, r.AnsweredAt, r.EndedAt, r.Digits, r.Outcome,
		r.HangupCause, r.HangupCauseText, r.HangupBy, r.Error, r.Flow, r.FlowVersion)
	if err != nil {
		return fmt.Errorf("cdr: finish %s: %w", r.CallID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("cdr: finish %s: %w", r.CallID, db.ErrNotFound)
	}
	return nil
}

const selectCols = `call_id::text, channel_id, instance, caller_number, caller_name, did, flow, flow_version, started_at,
	answered_at, ended_at, digits, outcome, hangup_cause, hangup_cause_text, hangup_by, error`

func scan(row pgx.Row) (Record, error) {
	var r Record
	err := row.Scan(&r.CallID, &r.ChannelID, &r.Instance, &r.CallerNumber, &r.CallerName, &r.DID, &r.Flow, &r.FlowVersion, &r.StartedAt,
		&r.AnsweredAt, &r.EndedAt, &r.Digits, &r.Outcome, &r.HangupCause, &r.HangupCauseText, &r.HangupBy, &r.Error)
	return r, err
}

// Get reads one record.
func (s *Store) Get(ctx context.Context, callID string) (Record, error) {
	if _, err := uuid.Parse(callID); err != nil {
		return Record{}, fmt.Errorf("cdr: call %q: %w", callID, db.ErrNotFound)
	}
	r, err := scan(s.pool.QueryRow(ctx, `SELECT `+selectCols+` FROM call_records WHERE call_id = $1`, callID))
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("cdr: call %s: %w", callID, db.ErrNotFound)
	}
	return r, err
}

// Query selects records by time range and, optionally, caller number, newest first.
type Query struct {
	From, To time.Time
	Caller   string
	Limit    int
}

// List returns the records matching q.
func (s *Store) List(ctx context.Context, q Query) ([]Record, error) {
	if q.To.IsZero() {
		q.To = time.Now().Add(time.Hour)
	}
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT `+selectCols+` FROM call_records
		WHERE started_at >= $1 AND started_at < $2 AND ($3 = '' OR caller_number = $3)
		ORDER BY started_at DESC LIMIT $4`, q.From, q.To, q.Caller, q.Limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CloseOrphans marks records of this instance still in progress as failed:
// calls that a crash cut off. It runs at start, before new calls arrive.
// Calls in keep (still queued or talking, to be taken over) are left open.
func (s *Store) CloseOrphans(ctx context.Context, instance string, at time.Time, keep ...string) (int64, error) {
	if keep == nil {
		keep = []string{}
	}
	tag, err := s.pool.Exec(ctx, `UPDATE call_records SET outcome = 'failed', ended_at = $2,
		error = 'ccd stopped before the call ended' WHERE instance = $1 AND outcome = 'in_progress'
		AND NOT (call_id::text = ANY($3))`, instance, at, keep)
	if err != nil {
		return 0, fmt.Errorf("cdr: close orphans: %w", err)
	}
	return tag.RowsAffected(), nil
}
