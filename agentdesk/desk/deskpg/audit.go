package deskpg

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ccd-platform/ccd/agentdesk/desk"
)

// Audit appends an entry to the audit log.
func (s *Store) Audit(ctx context.Context, e desk.AuditEntry) error {
	var userID *string
	if e.UserID != "" {
		id := string(e.UserID)
		userID = &id
	}
	detail := []byte(e.Detail)
	if len(detail) == 0 {
		detail = []byte(`{}`)
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_log (at, user_id, username, action, target, detail, ip, outcome)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, e.At, userID, e.Username, e.Action, e.Target, string(detail), e.IP, e.Outcome)
	if err != nil {
		return fmt.Errorf("deskpg: audit %s: %w", e.Action, err)
	}
	return nil
}

// likePattern turns "prefix*" into a LIKE prefix pattern and anything else
// into an exact one, escaping LIKE's wildcards.
func likePattern(s string) string {
	prefix, wild := strings.CutSuffix(s, "*")
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	out := r.Replace(prefix)
	if wild {
		out += "%"
	}
	return out
}

// AuditEntries reads the audit log, newest first.
func (s *Store) AuditEntries(ctx context.Context, q desk.AuditQuery) ([]desk.AuditEntry, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
	}
	if !q.From.IsZero() {
		add("at >= ?", q.From)
	}
	if !q.To.IsZero() {
		add("at < ?", q.To)
	}
	if q.Username != "" {
		add("username = ?", q.Username)
	}
	if q.Action != "" {
		add(`action LIKE ? ESCAPE '\'`, likePattern(q.Action))
	}
	if q.Target != "" {
		add(`target LIKE ? ESCAPE '\'`, likePattern(q.Target))
	}
	if q.Outcome != "" {
		add("outcome = ?", q.Outcome)
	}
	if q.BeforeID > 0 {
		add("id < ?", q.BeforeID)
	}
	if q.Limit <= 0 || q.Limit > 1000 {
		q.Limit = 100
	}
	sql := `SELECT id, at, COALESCE(user_id::text, ''), username, action, target, detail::text, ip, outcome FROM audit_log`
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, q.Limit)
	sql += " ORDER BY id DESC LIMIT $" + strconv.Itoa(len(args))
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("deskpg: audit entries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (desk.AuditEntry, error) {
		var e desk.AuditEntry
		var detail string
		err := row.Scan(&e.ID, &e.At, &e.UserID, &e.Username, &e.Action, &e.Target, &detail, &e.IP, &e.Outcome)
		e.Detail = []byte(detail)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("deskpg: audit entries: %w", err)
	}
	return out, nil
}

// FailedLogins returns the times of recent failed logins, newest first: for
// a username those after its last successful login, or from an address.
func (s *Store) FailedLogins(ctx context.Context, q desk.FailedLoginQuery) ([]time.Time, error) {
	var rows pgx.Rows
	var err error
	if q.Username != "" {
		rows, err = s.pool.Query(ctx, `SELECT at FROM audit_log
			WHERE action = $1 AND outcome = 'failed' AND username = $2 AND at > $3
			AND at > COALESCE((SELECT max(at) FROM audit_log WHERE action = $1 AND outcome = 'ok' AND username = $2), '-infinity')
			ORDER BY at DESC LIMIT $4`, desk.ActionLogin, q.Username, q.Since, q.Limit)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT at FROM audit_log
			WHERE action = $1 AND outcome = 'failed' AND ip = $2 AND at > $3
			ORDER BY at DESC LIMIT $4`, desk.ActionLogin, q.IP, q.Since, q.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("deskpg: failed logins: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	if err != nil {
		return nil, fmt.Errorf("deskpg: failed logins: %w", err)
	}
	return out, nil
}
