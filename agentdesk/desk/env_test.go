package desk_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/acd/pgstore"
	"github.com/ccd-platform/ccd/agentdesk"
	"github.com/ccd-platform/ccd/agentdesk/desk"
	"github.com/ccd-platform/ccd/agentdesk/desk/deskpg"
	"github.com/ccd-platform/ccd/agentdesk/desk/desktest"
	"github.com/ccd-platform/ccd/agentdesk/feed"
	"github.com/ccd-platform/ccd/agentdesk/password"
	"github.com/ccd-platform/ccd/internal/cdr"
)

const token = "test-token"

// cheap keeps hashing fast in tests; the code paths are the same.
var cheap = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// People of the test center, with their passwords.
var people = []struct {
	name  string
	role  agentdesk.Role
	agent acd.AgentID
}{
	{"alice", agentdesk.RoleAgent, "1001"},
	{"bob", agentdesk.RoleAgent, "1002"},
	{"tina", agentdesk.RoleTeamLeader, ""},
	{"dan", agentdesk.RoleDutyManager, ""},
	{"root", agentdesk.RoleAdmin, ""},
}

func pw(name string) string { return "secret-of-" + name }

// fakeOwners says which agent handled which call (the lead wires the ACD).
type fakeOwners struct {
	mu sync.Mutex
	m  map[acd.CallID]acd.AgentID
}

func (f *fakeOwners) HandledBy(_ context.Context, call acd.CallID, agent acd.AgentID) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.m[call] == agent && agent != "", nil
}

// fakeControl accepts every agent state change.
type fakeControl struct{}

func (fakeControl) Login(context.Context, acd.AgentID) error         { return nil }
func (fakeControl) Logout(context.Context, acd.AgentID) error        { return nil }
func (fakeControl) Ready(context.Context, acd.AgentID) error         { return nil }
func (fakeControl) Pause(context.Context, acd.AgentID, string) error { return nil }
func (fakeControl) State(_ context.Context, id acd.AgentID) (acd.Agent, error) {
	return acd.Agent{ID: id, State: acd.Available}, nil
}
func (fakeControl) QueueStats(context.Context, acd.QueueID) (acd.QueueStats, error) {
	return acd.QueueStats{}, nil
}

// stubFlows serves an empty flow list; other methods are not called.
type stubFlows struct{ agentdesk.Flows }

func (stubFlows) List(context.Context) ([]agentdesk.FlowSummary, error) { return nil, nil }

type env struct {
	srv    *httptest.Server
	mux    *http.ServeMux
	desk   *desk.Desk
	store  *deskpg.Store
	pool   *pgxpool.Pool
	clock  *desktest.Clock
	nc     *nats.Conn
	owners *fakeOwners
	calls  map[string]acd.CallID // "alice", "bob": a call each handled
}

// testIP lets a test choose its client address (throttling is per address).
func testIP(r *http.Request) string {
	if ip := r.Header.Get("X-Test-IP"); ip != "" {
		return ip
	}
	return "127.0.0.1"
}

// newEnv serves the whole API (flows, records, ACD, desk) with the desk as
// gate, on a fresh PostgreSQL and an embedded NATS, and seeds agents,
// people and a call handled by each agent.
func newEnv(t testing.TB, tweak ...func(*desk.Options)) *env {
	t.Helper()
	e := &env{pool: desktest.Postgres(t), nc: desktest.NATS(t), clock: desktest.NewClock(time.Now().UTC().Truncate(time.Second)),
		owners: &fakeOwners{m: map[acd.CallID]acd.AgentID{}}, calls: map[string]acd.CallID{}}
	e.store = deskpg.New(e.pool)
	o := desk.Options{Logger: zap.NewNop(), Now: e.clock.Now, NATS: e.nc, Password: cheap, ClientIP: testIP,
		Feed: feed.Options{CheckInterval: 20 * time.Millisecond}}
	for _, fn := range tweak {
		fn(&o)
	}
	d, err := desk.New(e.store, e.owners, o)
	if err != nil {
		t.Fatal(err)
	}
	e.desk = d
	e.mux = http.NewServeMux()
	// Call control as the lead adds it: hold opened to the call's agent and
	// supervisors, barge-in left without a rule (admins only).
	callControl := func(mux *http.ServeMux, auth func(http.HandlerFunc) http.HandlerFunc) {
		for _, p := range []string{"POST /api/v1/calls/{id}/hold", "POST /api/v1/calls/{id}/barge"} {
			mux.HandleFunc(p, auth(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
		}
	}
	d.Allow("POST /api/v1/calls/{id}/hold", desk.Rule{Min: agentdesk.RoleTeamLeader, Own: desk.OwnCall})
	agentdesk.New(agentdesk.Options{Token: token, Flows: stubFlows{}, Gate: d,
		Extra: agentdesk.JoinRoutes(agentdesk.RecordRoutes(cdr.New(e.pool), nil),
			agentdesk.ACDRoutes(pgstore.New(e.pool), fakeControl{}, nil), d.Routes(), callControl)}).Register(e.mux)
	e.srv = httptest.NewServer(e.mux)
	t.Cleanup(e.srv.Close)
	t.Cleanup(d.Close) // before the server closes: streams end first

	admin := e.bearer()
	for _, id := range []string{"1001", "1002"} {
		admin.must(t, "PUT", "/api/v1/agents/"+id, fmt.Sprintf(`{"name": "Agent %s", "device": "PJSIP/%s"}`, id, id), 201)
	}
	for _, p := range people {
		body := fmt.Sprintf(`{"role": %q, "agent_id": %q, "password": %q, "display_name": "%s"}`, p.role, p.agent, pw(p.name), strings.ToUpper(p.name))
		admin.must(t, "PUT", "/api/v1/users/"+p.name, body, 201)
	}
	ctx := context.Background()
	for _, who := range []struct {
		name  string
		agent acd.AgentID
	}{{"alice", "1001"}, {"bob", "1002"}} {
		id := uuid.NewString()
		at := e.clock.Now().Add(-time.Hour)
		end := at.Add(time.Minute)
		records := cdr.New(e.pool)
		if err := records.Start(ctx, cdr.Record{CallID: id, ChannelID: "ch-" + id, Instance: "test", CallerNumber: "1380000" + string(who.agent), DID: "4006001001", StartedAt: at}); err != nil {
			t.Fatal(err)
		}
		if err := records.Finish(ctx, cdr.Record{CallID: id, EndedAt: &end, Outcome: "agent"}); err != nil {
			t.Fatal(err)
		}
		if err := pgstore.New(e.pool).LogState(ctx, pgstore.StateChange{Agent: who.agent, From: acd.Reserved, To: acd.OnCall, CallID: acd.CallID(id), At: at}); err != nil {
			t.Fatal(err)
		}
		e.calls[who.name] = acd.CallID(id)
		e.owners.m[acd.CallID(id)] = who.agent
	}
	return e
}

// client is a browser (cookie jar, CSRF token) or an integration (bearer).
type client struct {
	e      *env
	hc     *http.Client
	csrf   string
	bearer string
	ip     string
}

func (e *env) bearer() *client { return &client{e: e, hc: e.srv.Client(), bearer: token} }

func (e *env) browser(t testing.TB) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := *e.srv.Client()
	hc.Jar = jar
	return &client{e: e, hc: &hc}
}

// clone is another browser holding the same cookies and CSRF token.
func (c *client) clone(t testing.TB) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(c.e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	jar.SetCookies(u, c.hc.Jar.Cookies(u))
	hc := *c.hc
	hc.Jar = jar
	cp := *c
	cp.hc = &hc
	return &cp
}

// login logs a new browser in as name, failing the test otherwise.
func (e *env) login(t testing.TB, name string) *client {
	t.Helper()
	c := e.browser(t)
	status, body := c.login(t, name, pw(name))
	if status != 200 {
		t.Fatalf("login %s: HTTP %d: %s", name, status, body)
	}
	var ans struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.Unmarshal([]byte(body), &ans); err != nil || ans.CSRF == "" {
		t.Fatalf("login %s: no CSRF token in %s", name, body)
	}
	c.csrf = ans.CSRF
	return c
}

func (c *client) login(t testing.TB, name, password string) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": name, "password": password})
	return c.do(t, "POST", "/api/v1/auth/login", string(body), "Content-Type", "application/json")
}

// do sends a request; headers come as name, value pairs. A browser sends
// its CSRF token with every state-changing request unless a header
// X-CSRF-Token is given (empty: none).
func (c *client) do(t testing.TB, method, path, body string, headers ...string) (int, string) {
	t.Helper()
	resp := c.raw(t, method, path, body, headers...)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

func (c *client) raw(t testing.TB, method, path, body string, headers ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, c.e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.csrf != "" && method != "GET" {
		req.Header.Set("X-CSRF-Token", c.csrf)
	}
	if c.ip != "" {
		req.Header.Set("X-Test-IP", c.ip)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// must sends a request and fails the test unless the status is want.
func (c *client) must(t testing.TB, method, path, body string, want int) string {
	t.Helper()
	status, got := c.do(t, method, path, body)
	if status != want {
		t.Fatalf("%s %s: HTTP %d, want %d: %s", method, path, status, want, got)
	}
	return got
}

// audited reports the audit entries matching q.
func (e *env) audited(t testing.TB, q desk.AuditQuery) []desk.AuditEntry {
	t.Helper()
	q.From = e.clock.Now().Add(-365 * 24 * time.Hour)
	list, err := e.store.AuditEntries(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	return list
}
