// Package pgstore keeps the ACD's configuration in PostgreSQL (queues,
// agents, pause reasons; tables of migration 0005_acd), with the last-agent
// memory and the append-only log of agent state changes that reports read.
// The live routing state is elsewhere (acd/redisstore).
//
// Errors wrap acd.ErrNotFound and acd.ErrInvalid; configurations are checked
// with their Validate methods before anything is written.
package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ccd-platform/ccd/acd"
)

// Store is the ACD configuration in PostgreSQL. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a store on pool; the schema must be migrated (internal/db).
func New(pool *pgxpool.Pool) *Store {
	return &Store{pool: pool}
}

// queueLock serialises queue writes across ccd instances, so that two
// concurrent changes can neither create an overflow cycle nor point a queue
// at one being deleted.
const queueLock = 0x61636471 // "acdq"

// Queues lists every queue, ordered by id.
func (s *Store) Queues(ctx context.Context) ([]acd.QueueConfig, error) {
	rows, err := s.pool.Query(ctx, `SELECT config FROM acd_queues ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list queues: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (acd.QueueConfig, error) {
		var q acd.QueueConfig
		err := row.Scan(&q)
		return q, err
	})
	if err != nil {
		return nil, fmt.Errorf("pgstore: list queues: %w", err)
	}
	return out, nil
}

// Queue reads one queue; acd.ErrNotFound if there is none with this id.
func (s *Store) Queue(ctx context.Context, id acd.QueueID) (acd.QueueConfig, error) {
	var q acd.QueueConfig
	err := s.pool.QueryRow(ctx, `SELECT config FROM acd_queues WHERE id = $1`, id).Scan(&q)
	if errors.Is(err, pgx.ErrNoRows) {
		return q, fmt.Errorf("%w: queue %s", acd.ErrNotFound, id)
	}
	if err != nil {
		return q, fmt.Errorf("pgstore: read queue %s: %w", id, err)
	}
	return q, nil
}

// PutQueue creates or replaces a queue, with the defaults applied. It is
// refused (acd.ErrInvalid) when the configuration does not validate, when an
// overflow "queue:<id>" names a queue that does not exist, or when the
// overflow would close a cycle of queues. created tells whether the queue is new.
func (s *Store) PutQueue(ctx context.Context, q acd.QueueConfig) (created bool, err error) {
	q.Defaults()
	if err := q.Validate(); err != nil {
		return false, err
	}
	kind, target, _ := acd.ParseOverflow(q.Overflow) // Validate checked it
	var overflow *acd.QueueID
	if kind == acd.OverflowQueue {
		t := acd.QueueID(target)
		overflow = &t
	}
	doc, err := json.Marshal(q)
	if err != nil {
		return false, fmt.Errorf("pgstore: encode queue %s: %w", q.ID, err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, queueLock); err != nil {
			return err
		}
		if overflow != nil {
			if err := checkOverflow(ctx, tx, q.ID, *overflow); err != nil {
				return err
			}
		}
		return tx.QueryRow(ctx, `
			INSERT INTO acd_queues (id, name, config, overflow_queue) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, config = EXCLUDED.config,
				overflow_queue = EXCLUDED.overflow_queue, updated_at = now()
			RETURNING xmax = 0`, q.ID, q.Name, doc, overflow).Scan(&created)
	})
	if err != nil {
		return false, queueErr(q.ID, "write", err)
	}
	return created, nil
}

// checkOverflow makes sure queue id may overflow to target: target exists
// and its own overflow chain does not lead back to id.
func checkOverflow(ctx context.Context, tx pgx.Tx, id, target acd.QueueID) error {
	chain := []string{string(id)}
	for cur := target; ; {
		chain = append(chain, string(cur))
		if cur == id {
			return fmt.Errorf("%w: queue %s: overflow queue:%s would make a cycle (%s)", acd.ErrInvalid, id, target, strings.Join(chain, " → "))
		}
		var next *acd.QueueID
		err := tx.QueryRow(ctx, `SELECT overflow_queue FROM acd_queues WHERE id = $1`, cur).Scan(&next)
		if errors.Is(err, pgx.ErrNoRows) {
			if cur == target {
				return fmt.Errorf("%w: queue %s: overflow queue:%s: there is no queue %s (create it first)", acd.ErrInvalid, id, target, target)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if next == nil || len(chain) > 1000 {
			return nil
		}
		cur = *next
	}
}

// DeleteQueue removes a queue. It is refused with ErrInUse when another
// queue overflows to it; acd.ErrNotFound when there is no such queue.
func (s *Store) DeleteQueue(ctx context.Context, id acd.QueueID) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, queueLock); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT id FROM acd_queues WHERE overflow_queue = $1 ORDER BY id`, id)
		if err != nil {
			return err
		}
		users, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return fmt.Errorf("%w: queue %s is the overflow of queue %s: change their overflow first",
				ErrInUse, id, strings.Join(users, ", "))
		}
		tag, err := tx.Exec(ctx, `DELETE FROM acd_queues WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: queue %s", acd.ErrNotFound, id)
		}
		return nil
	})
	if err != nil {
		return queueErr(id, "delete", err)
	}
	return nil
}

// queueErr keeps the acd errors as they are, names the queue in others, and
// turns a foreign-key violation (the lock should make it impossible) into
// ErrInUse or acd.ErrInvalid rather than an internal error.
func queueErr(id acd.QueueID, what string, err error) error {
	if errors.Is(err, acd.ErrInvalid) || errors.Is(err, acd.ErrNotFound) {
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" { // foreign_key_violation
		if what == "delete" {
			return fmt.Errorf("%w: queue %s is another queue's overflow", ErrInUse, id)
		}
		return fmt.Errorf("%w: queue %s: the overflow queue does not exist", acd.ErrInvalid, id)
	}
	return fmt.Errorf("pgstore: %s queue %s: %w", what, id, err)
}
