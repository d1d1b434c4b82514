package agentdesk_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/acd/pgstore"
	"github.com/ccd-platform/ccd/agentdesk"
	"github.com/ccd-platform/ccd/internal/db"
	"github.com/ccd-platform/ccd/internal/localstack/localstacktest"
)

// The PostgreSQL store is the API's configuration backend.
var _ agentdesk.ACDConfig = (*pgstore.Store)(nil)

const token = "test-token"

// fakeControl keeps agents' states in memory and follows the acd transition
// table; only the agents it was given exist.
type fakeControl struct {
	mu     sync.Mutex
	agents map[acd.AgentID]*acd.Agent
}

func newFakeControl(ids ...acd.AgentID) *fakeControl {
	f := &fakeControl{agents: map[acd.AgentID]*acd.Agent{}}
	for _, id := range ids {
		f.agents[id] = &acd.Agent{ID: id, State: acd.LoggedOut}
	}
	return f
}

func (f *fakeControl) move(id acd.AgentID, to acd.State, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.agents[id]
	if !ok {
		return fmt.Errorf("%w: agent %s", acd.ErrNotFound, id)
	}
	if !acd.CanTransition(a.State, to) {
		return acd.IllegalTransition(id, a.State, to)
	}
	a.State, a.Reason, a.StateSince = to, reason, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	return nil
}

func (f *fakeControl) Login(_ context.Context, id acd.AgentID) error {
	f.mu.Lock()
	a, ok := f.agents[id]
	in := ok && a.State != acd.LoggedOut
	f.mu.Unlock()
	if in {
		return nil // as the ACD: logged in already, nothing changes
	}
	return f.move(id, acd.Available, "")
}
func (f *fakeControl) Logout(_ context.Context, id acd.AgentID) error {
	return f.move(id, acd.LoggedOut, "")
}
func (f *fakeControl) Ready(_ context.Context, id acd.AgentID) error {
	return f.move(id, acd.Available, "")
}
func (f *fakeControl) Pause(_ context.Context, id acd.AgentID, reason string) error {
	return f.move(id, acd.Paused, reason)
}

func (f *fakeControl) State(_ context.Context, id acd.AgentID) (acd.Agent, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a, ok := f.agents[id]
	if !ok {
		return acd.Agent{}, fmt.Errorf("%w: agent %s", acd.ErrNotFound, id)
	}
	return *a, nil
}

func (f *fakeControl) QueueStats(_ context.Context, q acd.QueueID) (acd.QueueStats, error) {
	return acd.QueueStats{Waiting: 3, Staffed: 2, Available: 1, AvgHandle: 90 * time.Second, Handled: 12}, nil
}

// startAPI serves the ACD routes on a fresh PostgreSQL schema.
func startAPI(t *testing.T) *httptest.Server {
	t.Helper()
	pg := localstacktest.StartPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := db.Open(ctx, pg.DSN, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	mux := http.NewServeMux()
	agentdesk.New(agentdesk.Options{
		Token: token,
		Extra: agentdesk.JoinRoutes(nil, agentdesk.ACDRoutes(pgstore.New(pool), newFakeControl("1001", "1002"), zap.NewNop())),
	}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestACDAPI(t *testing.T) {
	srv := startAPI(t)
	// The steps run in order; each builds on the state the earlier ones left.
	steps := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		want       []string // in the answer
	}{
		{"no queues yet", "GET", "/api/v1/queues", "", 200, []string{`"queues": []`}},
		{"create queue", "PUT", "/api/v1/queues/aftersales", `{"name": "After-sales", "skills": [{"skill": "aftersales", "min_level": 2}], "announce_every_s": 30}`,
			201, []string{`"id": "aftersales"`, `"offer_timeout_s": 15`, `"strategy": "longest_idle"`}},
		{"replace queue", "PUT", "/api/v1/queues/aftersales", `{"id": "aftersales", "name": "After sales", "skills": [{"skill": "aftersales", "min_level": 2}]}`,
			200, []string{`"name": "After sales"`}},
		{"overflow to it", "PUT", "/api/v1/queues/trace", `{"skills": [{"skill": "trace", "min_level": 1}], "max_wait_s": 60, "overflow": "queue:aftersales"}`,
			201, []string{`"overflow": "queue:aftersales"`}},
		{"unknown field", "PUT", "/api/v1/queues/trace", `{"skils": []}`, 400, []string{`unknown field \"skils\"`}},
		{"wrong type", "PUT", "/api/v1/queues/trace", `{"max_wait_s": "long"}`, 400, []string{"max_wait_s"}},
		{"trailing data", "PUT", "/api/v1/queues/trace", `{} {}`, 400, []string{"data after the JSON object"}},
		{"empty body", "PUT", "/api/v1/queues/trace", ``, 400, []string{"body is empty"}},
		{"id mismatch", "PUT", "/api/v1/queues/trace", `{"id": "other"}`, 422, []string{`\"other\" in the body differs from \"trace\"`}},
		{"invalid queue", "PUT", "/api/v1/queues/trace", `{"strategy": "random", "announce_every_s": 5}`, 422, []string{`strategy \"random\"`, "announce_every_s 5"}},
		{"overflow to nothing", "PUT", "/api/v1/queues/q2", `{"overflow": "queue:nope"}`, 422, []string{"there is no queue nope"}},
		{"list queues", "GET", "/api/v1/queues", "", 200, []string{`"id": "aftersales"`, `"id": "trace"`}},
		{"show queue", "GET", "/api/v1/queues/trace", "", 200, []string{`"max_wait_s": 60`}},
		{"unknown queue", "GET", "/api/v1/queues/nope", "", 404, []string{"queue nope"}},
		{"delete overflow target", "DELETE", "/api/v1/queues/aftersales", "", 422, []string{"overflow of queue trace"}},
		{"queue stats", "GET", "/api/v1/queues/trace/stats", "", 200, []string{`"waiting": 3`, `"avg_handle_s": 90`, `"queue": "trace"`}},
		{"stats of unknown queue", "GET", "/api/v1/queues/nope/stats", "", 404, nil},

		{"create agent", "PUT", "/api/v1/agents/1001", `{"name": "Li Na", "device": "PJSIP/1001", "skills": {"trace": 3}, "rank": 1}`,
			201, []string{`"id": "1001"`, `"trace": 3`}},
		{"invalid agent", "PUT", "/api/v1/agents/1002", `{"device": "nowhere", "skills": {"trace": 7}}`, 422, []string{`device \"nowhere\"`, "level 7"}},
		{"agent unknown field", "PUT", "/api/v1/agents/1002", `{"skill": {}}`, 400, []string{`unknown field \"skill\"`}},
		{"list agents", "GET", "/api/v1/agents", "", 200, []string{`"name": "Li Na"`}},
		{"show agent", "GET", "/api/v1/agents/1001", "", 200, []string{`"device": "PJSIP/1001"`}},
		{"unknown agent", "GET", "/api/v1/agents/9999", "", 404, nil},

		{"seeded pause reasons", "GET", "/api/v1/pause-reasons", "", 200, []string{`"code": "back_office"`, `"code": "missed_offers"`}},
		{"show pause reason", "GET", "/api/v1/pause-reasons/training", "", 200, []string{`"productive": true`}},
		{"new pause reason", "PUT", "/api/v1/pause-reasons/coaching", `{"label": "Coaching", "productive": true}`, 201, []string{`"code": "coaching"`}},
		{"pause reason without label", "PUT", "/api/v1/pause-reasons/x", `{}`, 422, []string{"label is required"}},
		{"delete missed_offers", "DELETE", "/api/v1/pause-reasons/missed_offers", "", 422, []string{"set by the ACD itself"}},
		{"delete pause reason", "DELETE", "/api/v1/pause-reasons/coaching", "", 204, nil},
		{"deleted pause reason", "GET", "/api/v1/pause-reasons/coaching", "", 404, nil},

		{"state logged out", "GET", "/api/v1/agents/1001/state", "", 200, []string{`"state": "logged_out"`}},
		{"ready while logged out", "POST", "/api/v1/agents/1001/ready", "", 200, []string{`"state": "available"`}},
		{"login twice", "POST", "/api/v1/agents/1001/login", "", 200, []string{`"state": "available"`}},
		{"pause", "POST", "/api/v1/agents/1001/pause", `{"reason": "lunch"}`, 200, []string{`"state": "paused"`, `"reason": "lunch"`}},
		{"pause twice", "POST", "/api/v1/agents/1001/pause", `{"reason": "break"}`, 409, nil},
		{"pause unknown reason", "POST", "/api/v1/agents/1001/pause", `{"reason": "nap"}`, 422, []string{`unknown pause reason \"nap\"`}},
		{"pause missed_offers by hand", "POST", "/api/v1/agents/1001/pause", `{"reason": "missed_offers"}`, 422, nil},
		{"pause without reason", "POST", "/api/v1/agents/1001/pause", `{}`, 422, []string{"reason"}},
		{"pause unknown field", "POST", "/api/v1/agents/1001/pause", `{"why": "lunch"}`, 400, []string{`unknown field \"why\"`}},
		{"ready", "POST", "/api/v1/agents/1001/ready", "", 200, []string{`"state": "available"`}},
		{"logout", "POST", "/api/v1/agents/1001/logout", "", 200, []string{`"state": "logged_out"`}},
		{"login unknown agent", "POST", "/api/v1/agents/9999/login", "", 404, nil},

		{"delete agent", "DELETE", "/api/v1/agents/1001", "", 204, nil},
		{"delete agent again", "DELETE", "/api/v1/agents/1001", "", 404, nil},
		{"delete referring queue", "DELETE", "/api/v1/queues/trace", "", 204, nil},
		{"delete target queue", "DELETE", "/api/v1/queues/aftersales", "", 204, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			status, body := call(t, srv, st.method, st.path, st.body, token)
			if status != st.wantStatus {
				t.Fatalf("%s %s: HTTP %d, want %d\n%s", st.method, st.path, status, st.wantStatus, body)
			}
			for _, w := range st.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s %s: answer lacks %s:\n%s", st.method, st.path, w, body)
				}
			}
		})
	}
}

func TestACDAPINeedsToken(t *testing.T) {
	mux := http.NewServeMux()
	agentdesk.New(agentdesk.Options{Token: token, Extra: agentdesk.ACDRoutes(nil, newFakeControl("1001"), nil)}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", 401},
		{"wrong token", "nope", 401},
		{"right token", token, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if status, body := call(t, srv, "POST", "/api/v1/agents/1001/login", "", tt.token); status != tt.want {
				t.Fatalf("HTTP %d, want %d: %s", status, tt.want, body)
			}
		})
	}
	// Without a configuration store, configuration routes are not served.
	if status, _ := call(t, srv, "GET", "/api/v1/queues", "", token); status != 404 {
		t.Fatalf("GET /api/v1/queues without a store: HTTP %d, want 404", status)
	}
}

func call(t *testing.T, srv *httptest.Server, method, path, body, tok string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(data)
}

// validatingConfig stores nothing: PutQueue only validates. The other
// methods are not called.
type validatingConfig struct{ agentdesk.ACDConfig }

func (validatingConfig) PutQueue(_ context.Context, q acd.QueueConfig) (bool, error) {
	q.Defaults()
	return true, q.Validate()
}

// FuzzPutQueueBody: whatever the body, the answer is 201, 400 or 422, never
// a server error.
func FuzzPutQueueBody(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `{"id": "q"}`, `{"id": "other"}`, `{"skils": []}`, `{} {}`, `[1, 2]`, `null`,
		`{"strategy": "best_skill", "skills": [{"skill": "trace", "min_level": 1}], "expansion": [{"after_s": 30, "skills": [{"skill": "general", "min_level": 1}]}]}`,
		`{"max_wait_s": 1e400}`, `{"max_wait_s": -1, "overflow": "queue:q"}`, `{"overflow": "flow:"}`,
	} {
		f.Add(s)
	}
	mux := http.NewServeMux()
	agentdesk.New(agentdesk.Options{Token: token, Extra: agentdesk.ACDRoutes(validatingConfig{}, nil, nil)}).Register(mux)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("PUT", "/api/v1/queues/q", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusCreated, http.StatusBadRequest, http.StatusUnprocessableEntity:
		default:
			t.Fatalf("body %q: HTTP %d: %s", body, rec.Code, rec.Body)
		}
	})
}
