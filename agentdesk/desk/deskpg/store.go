// Package deskpg keeps the agent desktop's data in PostgreSQL (tables of
// migration 0007_desk): users, sessions, the append-only audit log, customer
// profiles and wrap-ups, and reads call history from the call records and
// the ACD's agent state log. Errors wrap desk.ErrNotFound, desk.ErrInvalid
// and desk.ErrConflict.
package deskpg

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/agentdesk/desk"
)

// Store is the desk's PostgreSQL store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

var (
	_ desk.Store         = (*Store)(nil)
	_ desk.CallOwnership = (*Store)(nil)
)

// New returns a store on pool; the schema must be migrated (internal/db).
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// usersLock serialises user changes across ccd instances, so that two
// concurrent changes cannot both remove the last enabled admin.
const usersLock = 0x75736572 // "user"

const userCols = `id::text, username, display_name, role, COALESCE(agent_id, ''), password_hash, disabled, created_at, updated_at`

func scanUser(row pgx.Row) (desk.User, error) {
	var u desk.User
	err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.Agent, &u.PasswordHash, &u.Disabled, &u.CreatedAt, &u.UpdatedAt)
	return u, err
}

// pgCode returns the SQLSTATE of a PostgreSQL error, or "".
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func constraint(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.ConstraintName
	}
	return ""
}

// User reads a user by username.
func (s *Store) User(ctx context.Context, username string) (desk.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE username = $1`, username))
	if errors.Is(err, pgx.ErrNoRows) {
		return u, fmt.Errorf("%w: user %q", desk.ErrNotFound, username)
	}
	if err != nil {
		return u, fmt.Errorf("deskpg: user %q: %w", username, err)
	}
	return u, nil
}

// Users lists the users by username.
func (s *Store) Users(ctx context.Context) ([]desk.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userCols+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("deskpg: users: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (desk.User, error) { return scanUser(row) })
	if err != nil {
		return nil, fmt.Errorf("deskpg: users: %w", err)
	}
	return out, nil
}

// PutUser creates or replaces a user (desk.Users).
func (s *Store) PutUser(ctx context.Context, u desk.User, hash string) (desk.User, bool, error) {
	var stored desk.User
	var created bool
	err := s.adminSafe(ctx, func(tx pgx.Tx) error {
		var id string
		err := tx.QueryRow(ctx, `SELECT id::text FROM users WHERE username = $1 FOR UPDATE`, u.Username).Scan(&id)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if hash == "" {
				return fmt.Errorf("%w: a new user needs a password", desk.ErrInvalid)
			}
			created = true
			stored, err = scanUser(tx.QueryRow(ctx, `INSERT INTO users (username, display_name, role, agent_id, password_hash, disabled)
				VALUES ($1, $2, $3, NULLIF($4, ''), $5, $6) RETURNING `+userCols,
				u.Username, u.DisplayName, u.Role, u.Agent, hash, u.Disabled))
		case err != nil:
			return err
		default:
			stored, err = scanUser(tx.QueryRow(ctx, `UPDATE users SET display_name = $2, role = $3, agent_id = NULLIF($4, ''),
				disabled = $5, password_hash = COALESCE(NULLIF($6, ''), password_hash), updated_at = now()
				WHERE id = $1 RETURNING `+userCols, id, u.DisplayName, u.Role, u.Agent, u.Disabled, hash))
			if err == nil && (hash != "" || u.Disabled) {
				_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
			}
		}
		return err
	})
	switch code := pgCode(err); {
	case code == "23503":
		return stored, false, fmt.Errorf("%w: there is no ACD agent %q (PUT /api/v1/agents/%s first)", desk.ErrInvalid, u.Agent, u.Agent)
	case code == "23505" && constraint(err) == "users_agent":
		return stored, false, fmt.Errorf("%w: agent %s already belongs to another user", desk.ErrConflict, u.Agent)
	case code == "23505":
		return stored, false, fmt.Errorf("%w: user %q was changed at the same time: try again", desk.ErrConflict, u.Username)
	case code == "23514" || code == "22P02":
		return stored, false, fmt.Errorf("%w: user %q: %v", desk.ErrInvalid, u.Username, err)
	case err != nil && code != "":
		return stored, false, fmt.Errorf("deskpg: put user %q: %w", u.Username, err)
	}
	return stored, created, err
}

// DeleteUser removes a user and their sessions.
func (s *Store) DeleteUser(ctx context.Context, username string) (desk.User, error) {
	var u desk.User
	err := s.adminSafe(ctx, func(tx pgx.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRow(ctx, `DELETE FROM users WHERE username = $1 RETURNING `+userCols, username))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: user %q", desk.ErrNotFound, username)
		}
		return err
	})
	return u, err
}

// adminSafe runs fn in a transaction that fails with desk.ErrConflict when
// it would leave no enabled admin where there was one.
func (s *Store) adminSafe(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, usersLock); err != nil {
			return err
		}
		count := func() (n int, err error) {
			err = tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND NOT disabled`).Scan(&n)
			return n, err
		}
		before, err := count()
		if err != nil {
			return err
		}
		if err := fn(tx); err != nil {
			return err
		}
		after, err := count()
		if err != nil {
			return err
		}
		if before > 0 && after == 0 {
			return fmt.Errorf("%w: that would leave no enabled admin", desk.ErrConflict)
		}
		return nil
	})
}

// SetPasswordHash replaces a user's hash (a rehash at login: sessions stay).
func (s *Store) SetPasswordHash(ctx context.Context, id desk.UserID, hash string) error {
	if _, err := s.pool.Exec(ctx, `UPDATE users SET password_hash = $2 WHERE id = $1`, id, hash); err != nil {
		return fmt.Errorf("deskpg: set password hash: %w", err)
	}
	return nil
}

// CreateSession stores a new session.
func (s *Store) CreateSession(ctx context.Context, ses desk.Session) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (id, user_id, csrf_token, created_at, expires_at, last_seen_at, ip, user_agent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		ses.ID, ses.User, ses.CSRF, ses.CreatedAt, ses.ExpiresAt, ses.LastSeenAt, ses.IP, ses.UserAgent)
	if err != nil {
		return fmt.Errorf("deskpg: create session: %w", err)
	}
	return nil
}

// Session reads a session and its user.
func (s *Store) Session(ctx context.Context, id string) (desk.Session, desk.User, error) {
	var ses desk.Session
	var u desk.User
	err := s.pool.QueryRow(ctx, `SELECT s.id, s.user_id::text, s.csrf_token, s.created_at, s.expires_at, s.last_seen_at, s.ip, s.user_agent,
		u.id::text, u.username, u.display_name, u.role, COALESCE(u.agent_id, ''), u.password_hash, u.disabled, u.created_at, u.updated_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1`, id).Scan(
		&ses.ID, &ses.User, &ses.CSRF, &ses.CreatedAt, &ses.ExpiresAt, &ses.LastSeenAt, &ses.IP, &ses.UserAgent,
		&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.Agent, &u.PasswordHash, &u.Disabled, &u.CreatedAt, &u.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return ses, u, fmt.Errorf("%w: session", desk.ErrNotFound)
	}
	if err != nil {
		return ses, u, fmt.Errorf("deskpg: session: %w", err)
	}
	return ses, u, nil
}

// TouchSession records a use of the session.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $2`, id, at); err != nil {
		return fmt.Errorf("deskpg: touch session: %w", err)
	}
	return nil
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
		return fmt.Errorf("deskpg: delete session: %w", err)
	}
	return nil
}

// PruneSessions deletes the sessions that have ended at now.
func (s *Store) PruneSessions(ctx context.Context, user desk.UserID, now time.Time, idle time.Duration) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE ($1 = '' OR user_id::text = $1)
		AND (expires_at <= $2 OR last_seen_at <= $3)`, string(user), now, now.Add(-idle))
	if err != nil {
		return 0, fmt.Errorf("deskpg: prune sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// HandledBy reports whether the agent talked on the call, by the ACD's agent
// state log (desk.CallOwnership). The log is written as the ACD's events
// arrive; a call connected this very moment may not be there yet.
func (s *Store) HandledBy(ctx context.Context, call acd.CallID, agent acd.AgentID) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM acd_agent_states
		WHERE call_id = $1 AND call_id <> '' AND agent_id = $2 AND to_state = 'on_call')`, call, agent).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("deskpg: handled by: %w", err)
	}
	return ok, nil
}
