package desk_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/agentdesk"
	"github.com/ccd-platform/ccd/agentdesk/desk"
	"github.com/ccd-platform/ccd/agentdesk/password"
)

func TestLogin(t *testing.T) {
	e := newEnv(t)
	admin := e.bearer()
	admin.must(t, "PUT", "/api/v1/users/bob", `{"role": "agent", "agent_id": "1002", "disabled": true}`, 200)
	c := e.browser(t)
	json := "application/json"
	for _, tt := range []struct {
		name    string
		body    string
		headers []string
		want    int
		answer  string
		outcome desk.Outcome // audited with this outcome ("": not audited)
		reason  string
	}{
		{"form post", `username=alice&password=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, "application/json", "", ""},
		{"cross-origin", `{"username": "alice", "password": "x"}`, []string{"Content-Type", json, "Origin", "https://evil.example"}, 403, "cross-origin", desk.OutcomeDenied, "cross-origin"},
		{"not JSON", `{"username": `, []string{"Content-Type", json}, 400, "body", "", ""},
		{"unknown field", `{"username": "alice", "password": "x", "otp": 1}`, []string{"Content-Type", json}, 400, "otp", "", ""},
		{"no password", `{"username": "alice"}`, []string{"Content-Type", json}, 400, "required", "", ""},
		{"unknown user", `{"username": "mallory", "password": "secret-of-alice"}`, []string{"Content-Type", json}, 401, "wrong username or password", desk.OutcomeFailed, "unknown user"},
		{"wrong password", `{"username": "alice", "password": "secret-of-bob"}`, []string{"Content-Type", json}, 401, "wrong username or password", desk.OutcomeFailed, "wrong password"},
		{"disabled", `{"username": "bob", "password": "secret-of-bob"}`, []string{"Content-Type", json}, 401, "wrong username or password", desk.OutcomeDenied, "disabled"},
		{"right, case and spaces ignored", `{"username": " Alice ", "password": "secret-of-alice"}`, []string{"Content-Type", "application/json; charset=utf-8"}, 200, `"csrf_token"`, desk.OutcomeOK, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			before := len(e.audited(t, desk.AuditQuery{Action: desk.ActionLogin}))
			status, body := c.do(t, "POST", "/api/v1/auth/login", tt.body, tt.headers...)
			if status != tt.want || !strings.Contains(body, tt.answer) {
				t.Fatalf("HTTP %d %s; want %d with %q", status, body, tt.want, tt.answer)
			}
			after := e.audited(t, desk.AuditQuery{Action: desk.ActionLogin})
			if tt.outcome == "" {
				if len(after) != before {
					t.Fatalf("audited: %+v", after[0])
				}
				return
			}
			if len(after) != before+1 || after[0].Outcome != tt.outcome || !strings.Contains(string(after[0].Detail), tt.reason) {
				t.Fatalf("audit %+v (%s); want %s %s", after[0], after[0].Detail, tt.outcome, tt.reason)
			}
		})
	}

	t.Run("cookie", func(t *testing.T) {
		resp := e.browser(t).raw(t, "POST", "/api/v1/auth/login", `{"username": "alice", "password": "secret-of-alice"}`, "Content-Type", json)
		resp.Body.Close()
		cookies := resp.Cookies()
		if len(cookies) != 1 {
			t.Fatalf("cookies %v", cookies)
		}
		ck := cookies[0]
		if ck.Name != "ccd_session" || !ck.HttpOnly || ck.Secure || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" || ck.MaxAge != 24*3600 || len(ck.Value) < 40 {
			t.Fatalf("cookie over plain HTTP: %+v", ck)
		}
		// Over TLS the cookie is Secure, with the __Host- prefix.
		req := httptest.NewRequest("POST", "https://ccd.example/api/v1/auth/login", strings.NewReader(`{"username": "alice", "password": "secret-of-alice"}`))
		req.Header.Set("Content-Type", json)
		req.Header.Set("Origin", "https://ccd.example")
		rec := httptest.NewRecorder()
		e.mux.ServeHTTP(rec, req)
		cookies = rec.Result().Cookies()
		if rec.Code != 200 || len(cookies) != 1 || cookies[0].Name != "__Host-ccd_session" || !cookies[0].Secure || !cookies[0].HttpOnly {
			t.Fatalf("TLS login: HTTP %d, cookies %+v", rec.Code, cookies)
		}
	})

	t.Run("login again ends the old session", func(t *testing.T) {
		a := e.login(t, "alice")
		old := a.clone(t)
		if status, _ := old.do(t, "GET", "/api/v1/me", ""); status != 200 {
			t.Fatalf("copied session: HTTP %d", status)
		}
		if status, _ := a.login(t, "alice", pw("alice")); status != 200 {
			t.Fatalf("second login: HTTP %d", status)
		}
		if status, _ := old.do(t, "GET", "/api/v1/me", ""); status != 401 {
			t.Fatalf("session before the second login: HTTP %d", status)
		}
	})

	t.Run("me and logout", func(t *testing.T) {
		a := e.login(t, "alice")
		body := a.must(t, "GET", "/api/v1/me", "", 200)
		for _, want := range []string{`"username": "alice"`, `"role": "agent"`, `"agent_id": "1001"`, a.csrf, `"idle_timeout_s": 28800`} {
			if !strings.Contains(body, want) {
				t.Errorf("/me lacks %s: %s", want, body)
			}
		}
		if strings.Contains(body, "argon2") || strings.Contains(body, "password") {
			t.Errorf("/me shows the password hash: %s", body)
		}
		if status, _ := a.do(t, "POST", "/api/v1/auth/logout", "", "X-CSRF-Token", ""); status != 403 {
			t.Fatalf("logout without CSRF token: %d", status)
		}
		stolen := a.clone(t) // the session cookie, as an attacker would keep it
		a.must(t, "POST", "/api/v1/auth/logout", "", 204)
		if status, _ := a.do(t, "GET", "/api/v1/me", ""); status != 401 {
			t.Fatalf("/me after logout: %d", status)
		}
		if status, _ := stolen.do(t, "GET", "/api/v1/me", ""); status != 401 {
			t.Fatalf("replayed session after logout: %d", status)
		}
		if got := e.audited(t, desk.AuditQuery{Action: desk.ActionLogout, Username: "alice"}); len(got) != 1 || got[0].Outcome != desk.OutcomeOK {
			t.Fatalf("logout audit: %+v", got)
		}
		if body := admin.must(t, "GET", "/api/v1/me", "", 200); !strings.Contains(body, `"bearer": true`) {
			t.Fatalf("bearer /me: %s", body)
		}
		if status, body := e.browser(t).do(t, "GET", "/api/v1/me", ""); status != 401 || !strings.Contains(body, "not logged in") {
			t.Fatalf("/me without a session: %d %s", status, body)
		}
	})
}

// TestAccessControl: each role reaches what it may and is refused (403,
// audited as denied) the rest; an agent acts on their own seat and calls only.
func TestAccessControl(t *testing.T) {
	e := newEnv(t)
	as := map[string]*client{"bearer": e.bearer()}
	for _, p := range people {
		as[p.name] = e.login(t, p.name)
	}
	aliceCall, bobCall := "/api/v1/calls/"+string(e.calls["alice"]), "/api/v1/calls/"+string(e.calls["bob"])
	wrap := `{"disposition": "resolved"}`
	for _, tt := range []struct {
		who, method, path, body string
		want                    int
	}{
		// An agent on their own seat and calls.
		{"alice", "POST", "/api/v1/agents/1001/ready", "", 200},
		{"alice", "POST", "/api/v1/agents/1001/pause", `{"reason": "lunch"}`, 200},
		{"alice", "GET", "/api/v1/agents/1001/state", "", 200},
		{"alice", "GET", "/api/v1/agents/1001", "", 200},
		{"alice", "GET", "/api/v1/agents/1001/calls", "", 200},
		{"alice", "GET", aliceCall, "", 200},
		{"alice", "POST", aliceCall + "/wrapup", wrap, 201},
		// ... and not on another agent's.
		{"alice", "POST", "/api/v1/agents/1002/ready", "", 403},
		{"alice", "POST", "/api/v1/agents/1002/logout", "", 403},
		{"alice", "GET", "/api/v1/agents/1002/state", "", 403},
		{"alice", "GET", "/api/v1/agents/1002/calls", "", 403},
		{"alice", "GET", bobCall, "", 403},
		{"alice", "POST", bobCall + "/wrapup", wrap, 403},
		// Routes opened with Desk.Allow, and routes without a rule.
		{"alice", "POST", aliceCall + "/hold", "", 204},
		{"alice", "POST", bobCall + "/hold", "", 403},
		{"tina", "POST", bobCall + "/hold", "", 204},
		{"tina", "POST", bobCall + "/barge", "", 403},
		{"dan", "POST", bobCall + "/barge", "", 403},
		{"root", "POST", bobCall + "/barge", "", 204},
		// Shared reads every role has.
		{"alice", "GET", "/api/v1/queues", "", 200},
		{"alice", "GET", "/api/v1/pause-reasons", "", 200},
		{"alice", "GET", "/api/v1/customers?phone=13800000001", "", 200},
		// Supervision and administration are closed to agents.
		{"alice", "GET", "/api/v1/calls", "", 403},
		{"alice", "GET", "/api/v1/agents", "", 403},
		{"alice", "GET", "/api/v1/flows", "", 403},
		{"alice", "PUT", "/api/v1/queues/q1", `{}`, 403},
		{"alice", "PUT", "/api/v1/agents/1001", `{"device": "PJSIP/1001"}`, 403},
		{"alice", "DELETE", "/api/v1/agents/1002", "", 403},
		{"alice", "GET", "/api/v1/users", "", 403},
		{"alice", "PUT", "/api/v1/users/alice", `{"role": "admin", "password": "0123456789ab"}`, 403},
		{"alice", "GET", "/api/v1/audit", "", 403},
		// A team leader supervises agents but does not configure or audit.
		{"tina", "POST", "/api/v1/agents/1002/ready", "", 200},
		{"tina", "GET", "/api/v1/agents/1002/calls", "", 200},
		{"tina", "GET", bobCall, "", 200},
		{"tina", "GET", "/api/v1/calls", "", 200},
		{"tina", "GET", "/api/v1/agents", "", 200},
		{"tina", "POST", bobCall + "/wrapup", wrap, 403}, // only the agent who handled it
		{"tina", "GET", "/api/v1/audit", "", 403},
		{"tina", "PUT", "/api/v1/queues/q1", `{}`, 403},
		{"tina", "GET", "/api/v1/flows", "", 403},
		// A duty manager reads the audit log.
		{"dan", "GET", "/api/v1/audit", "", 200},
		{"dan", "GET", "/api/v1/users", "", 403},
		// An admin configures.
		{"root", "PUT", "/api/v1/queues/q1", `{}`, 201},
		{"root", "GET", "/api/v1/flows", "", 200},
		{"root", "GET", "/api/v1/users", "", 200},
		{"root", "GET", "/api/v1/audit", "", 200},
		{"root", "POST", aliceCall + "/wrapup", wrap, 403},
		// The bearer token is admin, without CSRF.
		{"bearer", "PUT", "/api/v1/queues/q2", `{}`, 201},
		{"bearer", "GET", "/api/v1/agents/1002/calls", "", 200},
		{"bearer", "POST", bobCall + "/wrapup", `{"disposition": "resolved", "agent_id": "1002"}`, 201},
	} {
		t.Run(tt.who+" "+tt.method+" "+tt.path, func(t *testing.T) {
			c := as[tt.who]
			status, body := c.do(t, tt.method, tt.path, tt.body)
			if status != tt.want {
				t.Fatalf("HTTP %d, want %d: %s", status, tt.want, body)
			}
			path, _, _ := strings.Cut(tt.path, "?")
			denied := e.audited(t, desk.AuditQuery{Username: tt.who, Target: path, Outcome: desk.OutcomeDenied})
			if tt.want == 403 && (len(denied) != 1 || !strings.HasPrefix(denied[0].Action, tt.method+" /api/v1/")) {
				t.Fatalf("refusal audited as %+v", denied)
			}
			if tt.want != 403 && len(denied) != 0 {
				t.Fatalf("allowed request audited as denied: %+v", denied)
			}
			if tt.want < 300 && tt.method != "GET" {
				user := tt.who
				if user == "bearer" {
					user = "admin"
				}
				last := e.audited(t, desk.AuditQuery{Limit: 1})
				if len(last) != 1 || last[0].Username != user || last[0].Outcome != desk.OutcomeOK {
					t.Fatalf("state change audited as %+v", last)
				}
			}
		})
	}
	// The bearer's act is audited with the token as its means.
	if got := e.audited(t, desk.AuditQuery{Target: "/api/v1/queues/q2"}); len(got) != 1 || got[0].Username != "admin" || !strings.Contains(string(got[0].Detail), `"via": "token"`) {
		t.Fatalf("bearer audit: %+v", got)
	}
}

func TestCSRF(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice")
	for _, tt := range []struct {
		name   string
		c      *client
		method string
		csrf   string // "-": the client's own token
		want   int
	}{
		{"missing", alice, "POST", "", 403},
		{"wrong", alice, "POST", "not-the-token", 403},
		{"another session's", alice, "POST", e.login(t, "alice").csrf, 403},
		{"right", alice, "POST", "-", 200},
		{"reads need none", alice, "GET", "", 200},
		{"bearer needs none", e.bearer(), "POST", "", 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := "/api/v1/agents/1001/ready"
			if tt.method == "GET" {
				path = "/api/v1/agents/1001/state"
			}
			csrf := tt.csrf
			if csrf == "-" {
				csrf = tt.c.csrf
			}
			before := len(e.audited(t, desk.AuditQuery{Outcome: desk.OutcomeDenied}))
			status, body := tt.c.do(t, tt.method, path, "", "X-CSRF-Token", csrf)
			if status != tt.want {
				t.Fatalf("HTTP %d, want %d: %s", status, tt.want, body)
			}
			denied := e.audited(t, desk.AuditQuery{Outcome: desk.OutcomeDenied})
			if tt.want == 403 && (len(denied) != before+1 || !strings.Contains(string(denied[0].Detail), "X-CSRF-Token")) {
				t.Fatalf("CSRF refusal not audited: %+v", denied)
			}
		})
	}
}

// TestThrottle: failed logins lock a username (and an address) for the
// window; the clock is moved, nothing sleeps.
func TestThrottle(t *testing.T) {
	e := newEnv(t)
	from := func(ip string) *client { c := e.browser(t); c.ip = ip; return c }
	attacker := from("10.1.0.1")
	for i := range 5 {
		if status, _ := attacker.login(t, "alice", "guess"); status != 401 {
			t.Fatalf("failure %d: HTTP %d", i+1, status)
		}
		e.clock.Advance(10 * time.Second)
	}
	// Locked now, even with the right password and from elsewhere, until
	// the first failure is 5 minutes old.
	for _, c := range []*client{attacker, from("10.1.0.2")} {
		resp := c.raw(t, "POST", "/api/v1/auth/login", `{"username": "alice", "password": "secret-of-alice"}`, "Content-Type", "application/json")
		resp.Body.Close()
		if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "250" {
			t.Fatalf("locked login: HTTP %d, Retry-After %q; want 429, 250", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	throttled := e.audited(t, desk.AuditQuery{Action: desk.ActionLogin, Outcome: desk.OutcomeDenied})
	if len(throttled) != 2 || !strings.Contains(string(throttled[0].Detail), "throttled") {
		t.Fatalf("throttled logins audited as %+v", throttled)
	}
	// Other users are not locked.
	if status, _ := from("10.1.0.3").login(t, "bob", pw("bob")); status != 200 {
		t.Fatalf("bob: HTTP %d", status)
	}
	e.clock.Advance(250*time.Second - time.Second)
	if status, _ := attacker.login(t, "alice", pw("alice")); status != 429 {
		t.Fatalf("a second before the window ends: HTTP %d", status)
	}
	e.clock.Advance(time.Second)
	if status, body := attacker.login(t, "alice", pw("alice")); status != 200 {
		t.Fatalf("after the window: HTTP %d %s", status, body)
	}
	// A success starts the count again: four more failures do not lock.
	for range 4 {
		attacker.login(t, "alice", "guess")
	}
	if status, _ := attacker.login(t, "alice", pw("alice")); status != 200 {
		t.Fatalf("after a success and 4 failures: HTTP %d", status)
	}

	// Twenty failures from one address, over any usernames, lock the address.
	spray := from("10.2.0.1")
	for i := range 20 {
		if status, _ := spray.login(t, "user"+string(rune('a'+i)), "guess"); status != 401 {
			t.Fatalf("spray %d: HTTP %d", i, status)
		}
	}
	if status, _ := spray.login(t, "bob", pw("bob")); status != 429 {
		t.Fatalf("bob from a locked address: HTTP %d", status)
	}
	if status, _ := from("10.2.0.2").login(t, "bob", pw("bob")); status != 200 {
		t.Fatalf("bob from elsewhere: HTTP %d", status)
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	t.Run("absolute limit", func(t *testing.T) {
		a := e.login(t, "alice")
		for i := range 3 { // used every 7h59m: never idle
			e.clock.Advance(7*time.Hour + 59*time.Minute)
			if status, _ := a.do(t, "GET", "/api/v1/me", ""); status != 200 {
				t.Fatalf("use %d: HTTP %d", i+1, status)
			}
		}
		e.clock.Advance(4 * time.Minute) // 24h01m after login
		if status, body := a.do(t, "GET", "/api/v1/me", ""); status != 401 || !strings.Contains(body, "session ended") {
			t.Fatalf("after 24h: HTTP %d %s", status, body)
		}
	})
	t.Run("idle limit", func(t *testing.T) {
		a := e.login(t, "alice")
		e.clock.Advance(8 * time.Hour)
		if status, _ := a.do(t, "GET", "/api/v1/agents/1001/state", ""); status != 401 {
			t.Fatalf("after 8h idle: HTTP %d", status)
		}
	})
	t.Run("disabled user", func(t *testing.T) {
		b := e.login(t, "bob")
		e.bearer().must(t, "PUT", "/api/v1/users/bob", `{"role": "agent", "agent_id": "1002", "disabled": true}`, 200)
		if status, _ := b.do(t, "GET", "/api/v1/me", ""); status != 401 {
			t.Fatalf("disabled: HTTP %d", status)
		}
		e.bearer().must(t, "PUT", "/api/v1/users/bob", `{"role": "agent", "agent_id": "1002"}`, 200)
	})
	t.Run("password changed", func(t *testing.T) {
		b := e.login(t, "bob")
		e.bearer().must(t, "PUT", "/api/v1/users/bob", `{"role": "agent", "agent_id": "1002", "password": "secret-of-bob"}`, 200)
		if status, _ := b.do(t, "GET", "/api/v1/me", ""); status != 401 {
			t.Fatalf("after a password change: HTTP %d", status)
		}
	})
	t.Run("prune", func(t *testing.T) {
		e.login(t, "dan")
		e.clock.Advance(25 * time.Hour)
		if n, err := e.desk.Prune(context.Background()); err != nil || n == 0 {
			t.Fatalf("Prune = %d, %v", n, err)
		}
	})
}

func TestUsersAPI(t *testing.T) {
	e := newEnv(t)
	root := e.login(t, "root")
	if body := root.must(t, "GET", "/api/v1/users", "", 200); strings.Count(body, `"username"`) != 5 || strings.Contains(body, "argon2") {
		t.Fatalf("users: %s", body)
	}
	for _, st := range []struct {
		name, method, path, body string
		want                     int
		answer                   string
	}{
		{"agent without seat", "PUT", "/api/v1/users/carol", `{"role": "agent", "password": "0123456789"}`, 422, "agent_id"},
		{"unknown seat", "PUT", "/api/v1/users/carol", `{"role": "agent", "agent_id": "9999", "password": "0123456789"}`, 422, "no ACD agent"},
		{"seat taken", "PUT", "/api/v1/users/carol", `{"role": "agent", "agent_id": "1001", "password": "0123456789"}`, 409, "already belongs"},
		{"short password", "PUT", "/api/v1/users/carol", `{"role": "team_leader", "password": "short"}`, 422, "password"},
		{"new without password", "PUT", "/api/v1/users/carol", `{"role": "team_leader"}`, 422, "needs a password"},
		{"bad role", "PUT", "/api/v1/users/carol", `{"role": "boss", "password": "0123456789"}`, 422, "role"},
		{"bad name", "PUT", "/api/v1/users/Carol", `{"role": "admin", "password": "0123456789"}`, 422, "username"},
		{"name mismatch", "PUT", "/api/v1/users/carol", `{"username": "dave", "role": "admin", "password": "0123456789"}`, 422, "differs"},
		{"unknown field", "PUT", "/api/v1/users/carol", `{"roles": "admin"}`, 400, "roles"},
		{"create", "PUT", "/api/v1/users/carol", `{"role": "team_leader", "display_name": "Carol", "password": "carol-pass-1"}`, 201, `"username": "carol"`},
		{"replace, password kept", "PUT", "/api/v1/users/carol", `{"role": "duty_manager", "display_name": "Carol W"}`, 200, `"role": "duty_manager"`},
		{"read", "GET", "/api/v1/users/carol", "", 200, `"display_name": "Carol W"`},
		{"demote the only admin", "PUT", "/api/v1/users/root", `{"role": "team_leader"}`, 409, "no enabled admin"},
		{"delete the only admin", "DELETE", "/api/v1/users/root", "", 409, "no enabled admin"},
	} {
		t.Run(st.name, func(t *testing.T) {
			status, body := root.do(t, st.method, st.path, st.body)
			if status != st.want || !strings.Contains(body, st.answer) {
				t.Fatalf("HTTP %d %s; want %d with %q", status, body, st.want, st.answer)
			}
		})
	}
	carol := e.browser(t)
	if status, _ := carol.login(t, "carol", "carol-pass-1"); status != 200 {
		t.Fatalf("carol's login: HTTP %d", status)
	}
	root.must(t, "DELETE", "/api/v1/users/carol", "", 204)
	root.must(t, "GET", "/api/v1/users/carol", "", 404)
	if status, _ := carol.do(t, "GET", "/api/v1/me", ""); status != 401 {
		t.Fatalf("deleted user's session: HTTP %d", status)
	}
	puts := e.audited(t, desk.AuditQuery{Action: "user.*", Username: "root", Target: "carol"})
	if len(puts) < 3 {
		t.Fatalf("user changes audited: %+v", puts)
	}
	for _, a := range e.audited(t, desk.AuditQuery{}) {
		if strings.Contains(string(a.Detail), "carol-pass") || strings.Contains(string(a.Detail), "argon2") {
			t.Fatalf("a password reached the audit log: %+v", a)
		}
	}
	var replaced desk.AuditEntry
	for _, a := range puts {
		if a.Action == "user.put" && strings.Contains(string(a.Detail), `"changed"`) {
			replaced = a
		}
	}
	if !strings.Contains(string(replaced.Detail), `"role"`) || !strings.Contains(string(replaced.Detail), `"display_name"`) {
		t.Fatalf("replacement audited as %s", replaced.Detail)
	}

	t.Run("rehash on login", func(t *testing.T) {
		old := cheap
		old.Time = 2
		h, err := password.Hash("dora-pass-12", old)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.store.PutUser(context.Background(), desk.User{Username: "dora", Role: agentdesk.RoleTeamLeader}, h); err != nil {
			t.Fatal(err)
		}
		if status, _ := e.browser(t).login(t, "dora", "dora-pass-12"); status != 200 {
			t.Fatalf("login: HTTP %d", status)
		}
		u, err := e.store.User(context.Background(), "dora")
		if err != nil {
			t.Fatal(err)
		}
		if p, _, _, err := password.Decode(u.PasswordHash); err != nil || p != cheap {
			t.Fatalf("hash after login has %+v, %v; want %+v", p, err, cheap)
		}
		if status, _ := e.browser(t).login(t, "dora", "dora-pass-12"); status != 200 {
			t.Fatalf("login after rehash: HTTP %d", status)
		}
	})
}

func TestCustomersAPI(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice")
	body := alice.must(t, "POST", "/api/v1/customers", `{"name": "Wang Fang", "level": "vip", "company": "Green Farm",
		"phones": ["138-0000-0009", "+86 (10) 8888 6666", "13800000009"], "contacts": [{"name": "Zhang Wei", "phone": "139 0000 0002", "email": "zw@farm.example"}]}`, 201)
	var c desk.Customer
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		t.Fatal(err)
	}
	if c.ID == "" || strings.Join(c.Phones, ",") != "13800000009,+861088886666" || c.Contacts[0].Phone != "13900000002" {
		t.Fatalf("created %+v", c)
	}
	c.Notes = "prefers mornings"
	update, _ := json.Marshal(c)
	for _, st := range []struct {
		name, method, path, body string
		want                     int
		answer                   string
	}{
		{"by phone", "GET", "/api/v1/customers?phone=%2B86%201088886666", "", 200, `"name": "Wang Fang"`},
		{"by unknown phone", "GET", "/api/v1/customers?phone=13900000000", "", 200, `"customers": []`},
		{"by bad phone", "GET", "/api/v1/customers?phone=call-me", "", 422, "phone"},
		{"update", "PUT", "/api/v1/customers/" + string(c.ID), string(update), 200, "prefers mornings"},
		{"read", "GET", "/api/v1/customers/" + string(c.ID), "", 200, "prefers mornings"},
		{"unknown id", "PUT", "/api/v1/customers/5b0f3f0e-9d6c-4a1e-8f7e-2f1a7c9b0d11", `{"name": "x"}`, 404, "customer"},
		{"not an id", "GET", "/api/v1/customers/42", "", 404, "customer"},
		{"id mismatch", "PUT", "/api/v1/customers/" + string(c.ID), `{"id": "5b0f3f0e-9d6c-4a1e-8f7e-2f1a7c9b0d11", "name": "x"}`, 422, "differs"},
		{"bad level", "POST", "/api/v1/customers", `{"name": "x", "level": "gold"}`, 422, "level"},
		{"no name", "POST", "/api/v1/customers", `{"level": "vip"}`, 422, "name is required"},
		{"bad contact", "POST", "/api/v1/customers", `{"name": "x", "contacts": [{"name": "y", "email": "nope"}]}`, 422, "contacts[0].email"},
		{"id given", "POST", "/api/v1/customers", `{"id": "5b0f3f0e-9d6c-4a1e-8f7e-2f1a7c9b0d11", "name": "x"}`, 422, "id"},
		{"unknown field", "POST", "/api/v1/customers", `{"name": "x", "vip": true}`, 400, "vip"},
		{"NUL", "POST", "/api/v1/customers", `{"name": "x\u0000y"}`, 422, "NUL"},
	} {
		t.Run(st.name, func(t *testing.T) {
			status, body := alice.do(t, st.method, st.path, st.body)
			if status != st.want || !strings.Contains(body, st.answer) {
				t.Fatalf("HTTP %d %s; want %d with %q", status, body, st.want, st.answer)
			}
		})
	}
	created := e.audited(t, desk.AuditQuery{Action: "customer.create", Username: "alice", Outcome: desk.OutcomeOK})
	updated := e.audited(t, desk.AuditQuery{Action: "customer.update", Username: "alice", Target: string(c.ID), Outcome: desk.OutcomeOK})
	if len(created) != 1 || created[0].Target != string(c.ID) || len(updated) != 1 || !strings.Contains(string(updated[0].Detail), `"changed": ["notes"]`) {
		t.Fatalf("audit: created %+v, updated %+v", created, updated)
	}
	if strings.Contains(string(created[0].Detail), "Wang") {
		t.Fatalf("personal data in the audit log: %s", created[0].Detail)
	}
}

func TestWrapup(t *testing.T) {
	e := newEnv(t)
	alice, bearer := e.login(t, "alice"), e.bearer()
	own := "/api/v1/calls/" + string(e.calls["alice"]) + "/wrapup"
	for _, st := range []struct {
		name string
		c    *client
		path string
		body string
		want int
	}{
		{"first", alice, own, `{"disposition": "resolved", "notes": "trace code read back"}`, 201},
		{"replaced", alice, own, `{"disposition": "callback_needed", "notes": "call back at 3pm"}`, 200},
		{"bad disposition", alice, own, `{"disposition": "Not A Code"}`, 422},
		{"someone else's name", alice, own, `{"disposition": "resolved", "agent_id": "1002"}`, 422},
		{"own name", alice, own, `{"disposition": "resolved", "agent_id": "1001", "notes": "trace code read back"}`, 200},
		{"bearer without agent", bearer, own, `{"disposition": "resolved"}`, 422},
		{"bearer, unknown call", bearer, "/api/v1/calls/5b0f3f0e-9d6c-4a1e-8f7e-2f1a7c9b0d11/wrapup", `{"disposition": "resolved", "agent_id": "1001"}`, 404},
		{"bearer, not a call id", bearer, "/api/v1/calls/42/wrapup", `{"disposition": "resolved", "agent_id": "1001"}`, 404},
	} {
		t.Run(st.name, func(t *testing.T) {
			if status, body := st.c.do(t, "POST", st.path, st.body); status != st.want {
				t.Fatalf("HTTP %d, want %d: %s", status, st.want, body)
			}
		})
	}
	body := alice.must(t, "GET", "/api/v1/agents/1001/calls", "", 200)
	if !strings.Contains(body, `"disposition": "resolved"`) || !strings.Contains(body, "trace code read back") || !strings.Contains(body, string(e.calls["alice"])) {
		t.Fatalf("history: %s", body)
	}
	if got := e.audited(t, desk.AuditQuery{Action: "call.wrapup", Username: "alice", Outcome: desk.OutcomeOK}); len(got) != 3 {
		t.Fatalf("wrap-ups audited: %+v", got)
	}
}

func TestScreenPop(t *testing.T) {
	e := newEnv(t)
	alice := e.login(t, "alice")
	caller := "13800001001" // the number of alice's call
	alice.must(t, "POST", "/api/v1/customers", `{"name": "Wang Fang", "level": "vip", "phones": ["138 0000 1001"]}`, 201)
	alice.must(t, "POST", "/api/v1/calls/"+string(e.calls["alice"])+"/wrapup", `{"disposition": "resolved", "notes": "pork batch 42 ok"}`, 201)
	ivr := map[string]string{"menu_path": "1>3", "lang": "zh", "trace_code": "1234567890", "trace_result": "found"}
	for _, tt := range []struct {
		name         string
		caller       string
		wantCustomer bool
		wantHistory  int
		wantPriority int
	}{
		{"known customer", caller, true, 1, 10},
		{"new caller", "13999999999", false, 0, 0},
		{"withheld number", "anonymous", false, 0, 0},
		{"new caller with past calls", "13800001002", false, 1, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sp, err := e.desk.ScreenPop(context.Background(), tt.caller, "4006001001", ivr, "trace", 42*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if (sp.Customer != nil) != tt.wantCustomer || sp.NewCaller == tt.wantCustomer || len(sp.History) != tt.wantHistory || sp.Priority != tt.wantPriority {
				t.Fatalf("screen pop %+v", sp)
			}
			if sp.Caller != tt.caller || sp.DID != "4006001001" || sp.Queue != "trace" || sp.WaitedS != 42 || sp.IVR["trace_code"] != "1234567890" {
				t.Fatalf("screen pop context %+v", sp)
			}
		})
	}
	sp, _ := e.desk.ScreenPop(context.Background(), caller, "4006001001", nil, "trace", 0)
	h := sp.History[0]
	if h.Agent != "1001" || h.AgentName != "Agent 1001" || h.Disposition != "resolved" || h.Notes != "pork batch 42 ok" || h.Call != e.calls["alice"] {
		t.Fatalf("history entry %+v", h)
	}
	if p, err := e.desk.CallerPriority(context.Background(), caller); err != nil || p != 10 {
		t.Fatalf("CallerPriority = %d, %v", p, err)
	}
}

func TestLevelPriority(t *testing.T) {
	for _, tt := range []struct {
		level desk.Level
		want  int
	}{{desk.LevelVIP, 10}, {desk.LevelCompany, 5}, {desk.LevelIndividual, 2}, {desk.LevelPotential, 0}, {"", 0}, {"gold", 0}} {
		if got := desk.LevelPriority(tt.level); got != tt.want || got > acd.MaxPriority {
			t.Errorf("LevelPriority(%q) = %d, want %d (at most acd.MaxPriority)", tt.level, got, tt.want)
		}
	}
}

func TestAuditAPI(t *testing.T) {
	e := newEnv(t)
	e.browser(t).login(t, "alice", "wrong")
	dan := e.login(t, "dan")
	for _, tt := range []struct {
		query  string
		want   int
		answer []string
		not    []string
	}{
		{"?action=auth.login&outcome=failed", 200, []string{`"username": "alice"`, `"wrong password"`}, []string{`"outcome": "ok"`}},
		{"?action=auth.*&user=dan", 200, []string{`"username": "dan"`, `"outcome": "ok"`}, []string{`"username": "alice"`}},
		{"?action=user.put&limit=2", 200, []string{`"action": "user.put"`}, nil},
		{"?outcome=maybe", 422, []string{"outcome"}, nil},
		{"?since=forever", 422, []string{"since"}, nil},
		{"?limit=0", 422, []string{"limit"}, nil},
		{"?to=2000-01-01T00:00:00Z", 200, []string{`"entries": []`}, nil},
	} {
		t.Run(tt.query, func(t *testing.T) {
			status, body := dan.do(t, "GET", "/api/v1/audit"+tt.query, "")
			if status != tt.want {
				t.Fatalf("HTTP %d, want %d: %s", status, tt.want, body)
			}
			for _, s := range tt.answer {
				if !strings.Contains(body, s) {
					t.Errorf("lacks %s: %s", s, body)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(body, s) {
					t.Errorf("has %s: %s", s, body)
				}
			}
		})
	}
	if body := dan.must(t, "GET", "/api/v1/audit?action=user.put&limit=2", "", 200); strings.Count(body, `"action"`) != 2 {
		t.Fatalf("limit: %s", body)
	}
}
