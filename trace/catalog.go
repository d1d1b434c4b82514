package trace

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Lookup finds the record of a trace code. Errors wrap ErrNotFound (no such
// code) or ErrUnavailable (the lookup could not be made).
type Lookup interface {
	Lookup(ctx context.Context, code Code) (*Record, error)
}

var (
	_ Lookup = (*PGCatalog)(nil)
	_ Lookup = (*HTTPClient)(nil)
)

// DB is what the catalog needs of PostgreSQL: a *pgxpool.Pool, a *pgx.Conn
// or a pgx.Tx.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// PGCatalog is the local catalog in PostgreSQL (table trace_records,
// migration 0003_trace.sql).
type PGCatalog struct {
	db    DB
	rules CodeRules
}

// NewPGCatalog returns the catalog in db. Records stored through it must have
// codes accepted by rules (DefaultCodeRules if none are given).
func NewPGCatalog(db DB, rules ...CodeRules) *PGCatalog {
	c := &PGCatalog{db: db, rules: DefaultCodeRules}
	if len(rules) > 0 {
		c.rules = rules[0]
	}
	return c
}

// Lookup returns the record of code.
func (c *PGCatalog) Lookup(ctx context.Context, code Code) (*Record, error) {
	var r Record
	dest, finish := scanTargets(&r)
	dest = append(dest, &r.UpdatedAt)
	err := c.db.QueryRow(ctx, `SELECT `+columnList("")+`, updated_at FROM trace_records WHERE code = $1`, string(code)).Scan(dest...)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, fmt.Errorf("%w: %s", ErrNotFound, code)
	case err != nil:
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	finish()
	return &r, nil
}

// Upsert validates recs and stores them in one transaction: all or none. A
// code already in the catalog is replaced. The error of an invalid record
// names it and the field (a *FieldError).
func (c *PGCatalog) Upsert(ctx context.Context, recs ...Record) error {
	seen := make(map[Code]int, len(recs))
	i := 0
	src := func() (*Record, error) {
		if i == len(recs) {
			return nil, nil
		}
		r := &recs[i]
		i++
		if err := r.Validate(c.rules); err != nil {
			return nil, fmt.Errorf("record %d (code %q): %w", i, r.Code, err)
		}
		if prev, dup := seen[r.Code]; dup {
			return nil, fmt.Errorf("record %d: code %s is also record %d", i, r.Code, prev)
		}
		seen[r.Code] = i
		return r, nil
	}
	_, err := store(ctx, c.db, src)
	return err
}

// Import loads a CSV file into the catalog (see the package function Import).
func (c *PGCatalog) Import(ctx context.Context, r io.Reader) (int, error) {
	return Import(ctx, c.db, r, WithCodeRules(c.rules))
}

// store copies the records next returns (until nil, nil) into a temporary
// table and merges them into trace_records, in one transaction. An error
// from next rolls everything back and is returned as it is.
func store(ctx context.Context, db DB, next func() (*Record, error)) (n int, err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("trace: store: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit

	if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS pg_temp.trace_import;
		CREATE TEMP TABLE trace_import (LIKE trace_records INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
		if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "42P01" { // undefined_table
			return 0, fmt.Errorf("trace: the database has no table trace_records yet: ccd creates it when it starts (migration 3): %w", err)
		}
		return 0, fmt.Errorf("trace: store: %w", err)
	}
	src := &copySource{next: next}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"trace_import"}, Columns(), src); err != nil {
		if src.err != nil {
			return 0, src.err
		}
		return 0, fmt.Errorf("trace: store: %w", err)
	}
	set := ""
	for _, c := range columns[1:] {
		set += c.name + " = EXCLUDED." + c.name + ", "
	}
	tag, err := tx.Exec(ctx, `INSERT INTO trace_records (`+columnList("")+`)
		SELECT `+columnList("")+` FROM trace_import
		ON CONFLICT (code) DO UPDATE SET `+set+`updated_at = now()`)
	if err != nil {
		return 0, fmt.Errorf("trace: store: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("trace: store: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// copySource feeds records to COPY.
type copySource struct {
	next func() (*Record, error)
	rec  *Record
	err  error
}

func (s *copySource) Next() bool {
	s.rec, s.err = s.next()
	return s.err == nil && s.rec != nil
}

func (s *copySource) Values() ([]any, error) {
	v := make([]any, len(columns))
	for i, c := range columns {
		v[i] = c.value(s.rec)
	}
	return v, nil
}

func (s *copySource) Err() error { return s.err }
