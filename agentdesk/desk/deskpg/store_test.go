package deskpg_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/acd/pgstore"
	"github.com/ccd-platform/ccd/agentdesk"
	"github.com/ccd-platform/ccd/agentdesk/desk"
	"github.com/ccd-platform/ccd/agentdesk/desk/deskpg"
	"github.com/ccd-platform/ccd/agentdesk/desk/desktest"
	"github.com/ccd-platform/ccd/agentdesk/password"
	"github.com/ccd-platform/ccd/internal/cdr"
)

var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func hash(t *testing.T, pw string) string {
	t.Helper()
	h, err := password.Hash(pw, cheap)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func setup(t *testing.T) (*pgxpool.Pool, *deskpg.Store) {
	t.Helper()
	pool := desktest.Postgres(t)
	acds := pgstore.New(pool)
	for _, id := range []acd.AgentID{"1001", "1002"} {
		if _, err := acds.PutAgent(ctxT(t), acd.AgentConfig{ID: id, Name: "Agent " + string(id), Device: "PJSIP/" + string(id)}); err != nil {
			t.Fatal(err)
		}
	}
	return pool, deskpg.New(pool)
}

func TestSchema(t *testing.T) {
	pool, store := setup(t)
	ctx := ctxT(t)
	if err := store.Audit(ctx, desk.AuditEntry{Action: "test", Outcome: desk.OutcomeOK, Username: "x"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, sql string }{
		{"audit rows cannot change", `UPDATE audit_log SET username = 'someone else'`},
		{"audit rows cannot go", `DELETE FROM audit_log`},
		{"unknown outcome", `INSERT INTO audit_log (action, outcome) VALUES ('x', 'maybe')`},
		{"unknown role", `INSERT INTO users (username, role, password_hash) VALUES ('x', 'boss', '$argon2id$')`},
		{"plain password", `INSERT INTO users (username, role, password_hash) VALUES ('x', 'agent', 'secret')`},
		{"unknown level", `INSERT INTO customers (name, level) VALUES ('x', 'gold')`},
		{"wrap-up of no call", `INSERT INTO wrapups (call_id, agent_id, disposition, at) VALUES (gen_random_uuid(), '1001', 'ok', now())`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := pool.Exec(ctx, tt.sql); err == nil {
				t.Fatalf("%s: accepted", tt.sql)
			}
		})
	}
	var gin string
	if err := pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE indexname = 'customers_phones'`).Scan(&gin); err != nil || !strings.Contains(gin, "gin") {
		t.Fatalf("customers_phones index: %q, %v", gin, err)
	}
}

func TestUsers(t *testing.T) {
	_, store := setup(t)
	ctx := ctxT(t)
	put := func(u desk.User, pw string) (desk.User, bool, error) {
		h := ""
		if pw != "" {
			h = hash(t, pw)
		}
		return store.PutUser(ctx, u, h)
	}
	steps := []struct {
		name        string
		user        desk.User
		password    string
		wantErr     error
		wantCreated bool
	}{
		{"admin", desk.User{Username: "root", Role: agentdesk.RoleAdmin}, "pw-root-123", nil, true},
		{"new user without password", desk.User{Username: "nopw", Role: agentdesk.RoleAdmin}, "", desk.ErrInvalid, false},
		{"agent", desk.User{Username: "alice", Role: agentdesk.RoleAgent, Agent: "1001", DisplayName: "Alice"}, "pw-alice-123", nil, true},
		{"unknown ACD agent", desk.User{Username: "carol", Role: agentdesk.RoleAgent, Agent: "9999"}, "pw-carol-123", desk.ErrInvalid, false},
		{"seat taken", desk.User{Username: "bob", Role: agentdesk.RoleAgent, Agent: "1001"}, "pw-bob-1234", desk.ErrConflict, false},
		{"bad username", desk.User{Username: "Bob!", Role: agentdesk.RoleAgent}, "pw-bob-1234", desk.ErrInvalid, false},
		{"replace keeps password", desk.User{Username: "alice", Role: agentdesk.RoleTeamLeader, Agent: "1001"}, "", nil, false},
		{"demote the only admin", desk.User{Username: "root", Role: agentdesk.RoleAgent, Agent: "1002"}, "", desk.ErrConflict, false},
		{"disable the only admin", desk.User{Username: "root", Role: agentdesk.RoleAdmin, Disabled: true}, "", desk.ErrConflict, false},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			u, created, err := put(st.user, st.password)
			if !errors.Is(err, st.wantErr) || (err == nil && created != st.wantCreated) {
				t.Fatalf("PutUser = %+v, %v, %v; want created %v, %v", u, created, err, st.wantCreated, st.wantErr)
			}
			if err == nil && (u.ID == "" || u.Role != st.user.Role || u.Agent != st.user.Agent || u.PasswordHash == "") {
				t.Fatalf("stored %+v", u)
			}
		})
	}
	alice, err := store.User(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, _ := password.Verify("pw-alice-123", alice.PasswordHash, cheap); !ok {
		t.Fatal("replacing alice without a password changed her password")
	}
	if _, err := store.DeleteUser(ctx, "root"); !errors.Is(err, desk.ErrConflict) {
		t.Fatalf("delete the only admin: %v", err)
	}
	if _, err := store.DeleteUser(ctx, "nobody"); !errors.Is(err, desk.ErrNotFound) {
		t.Fatalf("delete unknown: %v", err)
	}
	if list, err := store.Users(ctx); err != nil || len(list) != 2 || list[0].Username != "alice" {
		t.Fatalf("Users = %+v, %v", list, err)
	}

	// Sessions: a new password ends them; a rehash does not.
	now := time.Now().UTC().Truncate(time.Microsecond)
	newSession := func(id string) {
		t.Helper()
		if err := store.CreateSession(ctx, desk.Session{ID: id, User: alice.ID, CSRF: "c", CreatedAt: now, ExpiresAt: now.Add(time.Hour), LastSeenAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	sid := func(c byte) string {
		b := make([]byte, 64)
		for i := range b {
			b[i] = c
		}
		return string(b)
	}
	newSession(sid('a'))
	s, u, err := store.Session(ctx, sid('a'))
	if err != nil || s.User != alice.ID || u.Username != "alice" || !s.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("Session = %+v, %+v, %v", s, u, err)
	}
	if err := store.TouchSession(ctx, sid('a'), now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if s, _, _ := store.Session(ctx, sid('a')); !s.LastSeenAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("last seen %v after touch", s.LastSeenAt)
	}
	if err := store.SetPasswordHash(ctx, alice.ID, hash(t, "pw-alice-123")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Session(ctx, sid('a')); err != nil {
		t.Fatalf("rehash ended the session: %v", err)
	}
	if _, _, err := put(desk.User{Username: "alice", Role: agentdesk.RoleAgent, Agent: "1001"}, "pw-alice-456"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.Session(ctx, sid('a')); !errors.Is(err, desk.ErrNotFound) {
		t.Fatalf("session after a password change: %v", err)
	}
	// Pruning: idle and expired sessions go, the live one stays.
	newSession(sid('b'))
	if n, err := store.PruneSessions(ctx, "", now.Add(30*time.Minute), time.Hour); err != nil || n != 0 {
		t.Fatalf("prune live: %d, %v", n, err)
	}
	if n, err := store.PruneSessions(ctx, alice.ID, now.Add(time.Hour), 8*time.Hour); err != nil || n != 1 {
		t.Fatalf("prune expired: %d, %v", n, err)
	}
}

func TestAuditAndFailedLogins(t *testing.T) {
	_, store := setup(t)
	ctx := ctxT(t)
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	add := func(min int, user, action, ip string, outcome desk.Outcome) {
		t.Helper()
		err := store.Audit(ctx, desk.AuditEntry{At: t0.Add(time.Duration(min) * time.Minute), Username: user, Action: action,
			Target: "/x/" + user, IP: ip, Outcome: outcome, Detail: json.RawMessage(`{"k": 1}`)})
		if err != nil {
			t.Fatal(err)
		}
	}
	add(0, "alice", desk.ActionLogin, "10.0.0.1", desk.OutcomeFailed)
	add(1, "alice", desk.ActionLogin, "10.0.0.1", desk.OutcomeFailed)
	add(2, "alice", desk.ActionLogin, "10.0.0.1", desk.OutcomeOK)
	add(3, "alice", desk.ActionLogin, "10.0.0.2", desk.OutcomeFailed)
	add(4, "bob", desk.ActionLogin, "10.0.0.1", desk.OutcomeFailed)
	add(5, "bob", "user.put", "10.0.0.1", desk.OutcomeOK)
	add(6, "bob", "user.delete", "10.0.0.1", desk.OutcomeDenied)
	add(7, "bob_x", "user_put", "10.0.0.1", desk.OutcomeOK)

	for _, tt := range []struct {
		name string
		q    desk.FailedLoginQuery
		want int
	}{
		{"user: only after the last success", desk.FailedLoginQuery{Username: "alice", Since: t0.Add(-time.Hour), Limit: 10}, 1},
		{"ip: all in the window", desk.FailedLoginQuery{IP: "10.0.0.1", Since: t0.Add(-time.Hour), Limit: 10}, 3},
		{"ip: window", desk.FailedLoginQuery{IP: "10.0.0.1", Since: t0.Add(90 * time.Second), Limit: 10}, 1},
		{"limit", desk.FailedLoginQuery{IP: "10.0.0.1", Since: t0.Add(-time.Hour), Limit: 2}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := store.FailedLogins(ctx, tt.q)
			if err != nil || len(got) != tt.want {
				t.Fatalf("FailedLogins = %v, %v; want %d", got, err, tt.want)
			}
			for i := 1; i < len(got); i++ {
				if got[i].After(got[i-1]) {
					t.Fatalf("not newest first: %v", got)
				}
			}
		})
	}
	for _, tt := range []struct {
		name string
		q    desk.AuditQuery
		want int
	}{
		{"all", desk.AuditQuery{}, 8},
		{"by user", desk.AuditQuery{Username: "bob"}, 3},
		{"action prefix", desk.AuditQuery{Action: "user.*"}, 2}, // "user_put" is not user.*: _ is literal
		{"exact action", desk.AuditQuery{Action: "user.put"}, 1},
		{"outcome", desk.AuditQuery{Outcome: desk.OutcomeFailed}, 4},
		{"target prefix", desk.AuditQuery{Target: "/x/bob*"}, 4},
		{"time range", desk.AuditQuery{From: t0.Add(3 * time.Minute), To: t0.Add(5 * time.Minute)}, 2},
		{"limit", desk.AuditQuery{Limit: 3}, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := store.AuditEntries(ctx, tt.q)
			if err != nil || len(got) != tt.want {
				t.Fatalf("AuditEntries = %d entries, %v; want %d: %+v", len(got), err, tt.want, got)
			}
			if len(got) > 0 && string(got[0].Detail) != `{"k": 1}` {
				t.Fatalf("detail %s", got[0].Detail)
			}
		})
	}
	page, err := store.AuditEntries(ctx, desk.AuditQuery{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	next, err := store.AuditEntries(ctx, desk.AuditQuery{BeforeID: page[2].ID, Limit: 100})
	if err != nil || len(next) != 5 || next[0].ID >= page[2].ID {
		t.Fatalf("next page: %d entries, %v", len(next), err)
	}
}

func TestCustomersAndCalls(t *testing.T) {
	pool, store := setup(t)
	ctx := ctxT(t)
	c, err := store.CreateCustomer(ctx, desk.Customer{Name: "Wang Fang", Level: desk.LevelVIP, Phones: []string{"13800000001", "+861088886666"},
		Contacts: []desk.Contact{{Name: "Zhang Wei", Phone: "13900000002", Company: "Green Farm"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateCustomer(ctx, desk.Customer{Name: "Other", Level: desk.LevelPotential}); err != nil {
		t.Fatal(err)
	}
	found, err := store.CustomersByPhone(ctx, "+861088886666", 10)
	if err != nil || len(found) != 1 || found[0].ID != c.ID || found[0].Contacts[0].Company != "Green Farm" {
		t.Fatalf("by phone: %+v, %v", found, err)
	}
	if found, _ := store.CustomersByPhone(ctx, "1380000000", 10); len(found) != 0 {
		t.Fatalf("a prefix matched: %+v", found)
	}
	c.Level, c.Notes = desk.LevelCompany, "prefers mornings"
	if u, err := store.UpdateCustomer(ctx, c); err != nil || u.Level != desk.LevelCompany || u.Notes != c.Notes || u.UpdatedAt.Before(c.CreatedAt) {
		t.Fatalf("update: %+v, %v", u, err)
	}
	missing := c
	missing.ID = desk.CustomerID(uuid.NewString())
	if _, err := store.UpdateCustomer(ctx, missing); !errors.Is(err, desk.ErrNotFound) {
		t.Fatalf("update unknown: %v", err)
	}
	if _, err := store.Customer(ctx, "not-a-uuid"); !errors.Is(err, desk.ErrNotFound) {
		t.Fatalf("customer not-a-uuid: %v", err)
	}

	// Six calls from the customer, one still in progress; 1001 talked on
	// the even ones, 1002 on the odd ones; 1001 wrapped up two.
	records, acds := cdr.New(pool), pgstore.New(pool)
	t0 := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	var calls []acd.CallID
	for i := range 7 {
		id := uuid.NewString()
		calls = append(calls, acd.CallID(id))
		at := t0.Add(time.Duration(i) * time.Minute)
		if err := records.Start(ctx, cdr.Record{CallID: id, ChannelID: "ch", Instance: "test", CallerNumber: "13800000001", DID: "4006001001", StartedAt: at}); err != nil {
			t.Fatal(err)
		}
		if i == 6 {
			break // in progress
		}
		end := at.Add(30 * time.Second)
		if err := records.Finish(ctx, cdr.Record{CallID: id, EndedAt: &end, Outcome: "agent"}); err != nil {
			t.Fatal(err)
		}
		agent := acd.AgentID("1001")
		if i%2 == 1 {
			agent = "1002"
		}
		if err := acds.LogState(ctx, pgstore.StateChange{Agent: agent, From: acd.Reserved, To: acd.OnCall, CallID: acd.CallID(id), At: at}); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{2, 4} {
		created, err := store.PutWrapup(ctx, desk.Wrapup{Call: calls[i], Agent: "1001", Disposition: "resolved", Notes: "call " + string(rune('0'+i)), At: t0.Add(time.Hour)})
		if err != nil || !created {
			t.Fatalf("wrap-up: %v, %v", created, err)
		}
	}
	if created, err := store.PutWrapup(ctx, desk.Wrapup{Call: calls[4], Agent: "1001", Disposition: "callback_needed", At: t0.Add(time.Hour)}); err != nil || created {
		t.Fatalf("second wrap-up: created %v, %v", created, err)
	}
	if _, err := store.PutWrapup(ctx, desk.Wrapup{Call: acd.CallID(uuid.NewString()), Agent: "1001", Disposition: "x", At: t0}); !errors.Is(err, desk.ErrNotFound) {
		t.Fatalf("wrap-up of unknown call: %v", err)
	}

	hist, err := store.Interactions(ctx, []string{"13800000001"}, 5)
	if err != nil || len(hist) != 5 {
		t.Fatalf("interactions: %d, %v", len(hist), err)
	}
	if hist[0].Call != calls[5] || hist[0].Agent != "1002" || hist[0].AgentName != "Agent 1002" {
		t.Fatalf("newest interaction: %+v", hist[0])
	}
	if hist[1].Call != calls[4] || hist[1].Disposition != "callback_needed" || hist[1].Agent != "1001" {
		t.Fatalf("second interaction: %+v", hist[1])
	}

	mine, err := store.AgentHistory(ctx, "1001", t0.Add(-time.Hour), 50)
	if err != nil || len(mine) != 3 || mine[0].Call != calls[4] || mine[1].Notes != "call 2" {
		t.Fatalf("history of 1001: %+v, %v", mine, err)
	}
	for _, tt := range []struct {
		call  acd.CallID
		agent acd.AgentID
		want  bool
	}{
		{calls[0], "1001", true}, {calls[0], "1002", false}, {calls[1], "1002", true}, {"", "1001", false}, {"junk", "1001", false},
	} {
		if got, err := store.HandledBy(ctx, tt.call, tt.agent); err != nil || got != tt.want {
			t.Errorf("HandledBy(%s, %s) = %v, %v; want %v", tt.call, tt.agent, got, err, tt.want)
		}
	}
}
