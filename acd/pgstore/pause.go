package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ccd-platform/ccd/acd"
)

func scanPauseReason(row pgx.Row) (acd.PauseReason, error) {
	var p acd.PauseReason
	err := row.Scan(&p.Code, &p.Label, &p.Productive)
	return p, err
}

// PauseReasons lists every pause reason, ordered by code. The migration
// seeds break, lunch, training, meeting, back_office and missed_offers.
func (s *Store) PauseReasons(ctx context.Context) ([]acd.PauseReason, error) {
	rows, err := s.pool.Query(ctx, `SELECT code, label, productive FROM acd_pause_reasons ORDER BY code`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list pause reasons: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (acd.PauseReason, error) { return scanPauseReason(row) })
	if err != nil {
		return nil, fmt.Errorf("pgstore: list pause reasons: %w", err)
	}
	return out, nil
}

// PauseReason reads one pause reason; acd.ErrNotFound if the code is unknown.
func (s *Store) PauseReason(ctx context.Context, code string) (acd.PauseReason, error) {
	p, err := scanPauseReason(s.pool.QueryRow(ctx, `SELECT code, label, productive FROM acd_pause_reasons WHERE code = $1`, code))
	if errors.Is(err, pgx.ErrNoRows) {
		return p, fmt.Errorf("%w: pause reason %s", acd.ErrNotFound, code)
	}
	if err != nil {
		return p, fmt.Errorf("pgstore: read pause reason %s: %w", code, err)
	}
	return p, nil
}

// PutPauseReason creates or replaces a pause reason after validating it
// (acd.ErrInvalid). The Mandarin label of a seeded reason is kept. created
// tells whether the reason is new.
func (s *Store) PutPauseReason(ctx context.Context, p acd.PauseReason) (created bool, err error) {
	if err := p.Validate(); err != nil {
		return false, err
	}
	err = s.pool.QueryRow(ctx, `
		INSERT INTO acd_pause_reasons (code, label, productive) VALUES ($1, $2, $3)
		ON CONFLICT (code) DO UPDATE SET label = EXCLUDED.label, productive = EXCLUDED.productive, updated_at = now()
		RETURNING xmax = 0`, p.Code, p.Label, p.Productive).Scan(&created)
	if err != nil {
		return false, fmt.Errorf("pgstore: write pause reason %s: %w", p.Code, err)
	}
	return created, nil
}

// DeletePauseReason removes a pause reason. The reasons the ACD sets itself
// (acd.PauseMissedOffers) are refused with ErrInUse; an unknown code gives
// acd.ErrNotFound. Logged state changes keep the code.
func (s *Store) DeletePauseReason(ctx context.Context, code string) error {
	var automatic bool
	err := s.pool.QueryRow(ctx, `
		WITH r AS (SELECT code, automatic FROM acd_pause_reasons WHERE code = $1),
		     d AS (DELETE FROM acd_pause_reasons p USING r WHERE p.code = r.code AND NOT r.automatic)
		SELECT automatic FROM r`, code).Scan(&automatic)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: pause reason %s", acd.ErrNotFound, code)
	case err != nil:
		return fmt.Errorf("pgstore: delete pause reason %s: %w", code, err)
	case automatic:
		return fmt.Errorf("%w: pause reason %s is set by the ACD itself and cannot be deleted", ErrInUse, code)
	}
	return nil
}
