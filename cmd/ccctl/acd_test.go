package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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

// fakeControl keeps agents' live states in memory, following the acd
// transition table; only the agents it was given exist.
type fakeControl struct {
	mu     sync.Mutex
	agents map[acd.AgentID]*acd.Agent
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
	a.State, a.Reason, a.StateSince = to, reason, time.Now()
	return nil
}

func (f *fakeControl) Login(_ context.Context, id acd.AgentID) error {
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
	if a, ok := f.agents[id]; ok {
		return *a, nil
	}
	return acd.Agent{}, fmt.Errorf("%w: agent %s", acd.ErrNotFound, id)
}

func (f *fakeControl) QueueStats(context.Context, acd.QueueID) (acd.QueueStats, error) {
	return acd.QueueStats{Waiting: 4, Staffed: 3, Available: 1, AvgHandle: 95 * time.Second, Handled: 20}, nil
}

// startACDAPI serves ccd's ACD API on a private PostgreSQL and returns the
// flags that point ccctl at it.
func startACDAPI(t *testing.T) []string {
	t.Helper()
	pg := localstacktest.StartPostgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := db.Open(ctx, pg.DSN, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	ctl := &fakeControl{agents: map[acd.AgentID]*acd.Agent{}}
	for _, id := range []acd.AgentID{"1001", "1002", "1003"} {
		ctl.agents[id] = &acd.Agent{ID: id, State: acd.LoggedOut}
	}
	mux := http.NewServeMux()
	agentdesk.New(agentdesk.Options{Token: "tok", Extra: agentdesk.ACDRoutes(pgstore.New(pool), ctl, nil)}).Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return []string{"--api", srv.URL, "--token", "tok"}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestACDCommands drives the queue, agent and pause-reason commands against
// the real API and store, loading the sample files of acd/samples. The steps
// run in order, each on the state the earlier ones left.
func TestACDCommands(t *testing.T) {
	api := startACDAPI(t)
	queues, agents := filepath.Join("..", "..", "acd", "samples", "queues.yaml"), filepath.Join("..", "..", "acd", "samples", "agents.yaml")
	// The same queue in JSON, overflowing to one defined after it in the file.
	jsonQueues := writeFile(t, "queues.json", `[
		{"id": "night", "overflow": "queue:general", "max_wait_s": 60},
		{"id": "general", "name": "General", "skills": [{"skill": "general", "min_level": 1}]}
	]`)
	unknownKey := writeFile(t, "bad.yaml", "id: q\nskils:\n  - {skill: trace, min_level: 1}\n")
	unknownJSON := writeFile(t, "bad.json", `{"id": "1009", "device": "PJSIP/1009", "skils": {}}`)
	invalid := writeFile(t, "invalid.yaml", "- id: ok\n- id: bad\n  announce_every_s: 5\n")
	docs := writeFile(t, "reasons.yaml", "code: coaching\nlabel: Coaching\nproductive: true\n---\n- {code: prayer, label: Prayer}\n")
	dupes := writeFile(t, "dupes.yaml", "- {id: \"1001\"}\n- {id: \"1001\"}\n")

	steps := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  []string // in stdout
		wantErr  string   // in stderr
	}{
		{"put sample queues", []string{"queue", "put", queues}, 0, []string{"queue trace: created", "queue aftersales: created"}, ""},
		{"put them again", []string{"queue", "put", queues}, 0, []string{"queue trace: updated", "queue aftersales: updated"}, ""},
		{"put json queues, targets first", []string{"queue", "put", jsonQueues}, 0, []string{"queue general: created\nqueue night: created"}, ""},
		{"list queues", []string{"queue", "list"}, 0, []string{"QUEUE", "trace ", "best_skill", "trace>=1", "30s: general>=1", "aftersales>=2", "7d, wait 10s", "queue:general"}, ""},
		{"show queue", []string{"queue", "show", "aftersales"}, 0, []string{"id: aftersales", "callback_allowed: true", "last_agent_days: 7", "overflow: message", "offer_timeout_s: 20"}, ""},
		{"show -json", []string{"queue", "show", "trace", "-json"}, 0, []string{`"id": "trace"`, `"after_s": 30`}, ""},
		{"unknown queue", []string{"queue", "show", "nope"}, 1, nil, "queue nope"},
		{"unknown key refused", []string{"queue", "put", unknownKey}, 1, nil, "field skils not found"},
		{"invalid queue refused before sending", []string{"queue", "put", invalid}, 1, nil, "queue 2: acd: invalid argument: queue bad: announce_every_s 5"},
		{"nothing of it stored", []string{"queue", "show", "ok"}, 1, nil, "queue ok"},
		{"delete overflow target", []string{"queue", "delete", "general"}, 1, nil, "overflow of queue night"},
		{"delete queue", []string{"queue", "delete", "night"}, 0, []string{"queue night: deleted"}, ""},
		{"queue stats", []string{"queue", "stats", "trace"}, 0, []string{"waiting:", "4", "mean handle:", "1m35s (last 20 calls)"}, ""},
		{"queue stats -json", []string{"queue", "stats", "-json", "trace"}, 0, []string{`"staffed": 3`}, ""},

		{"put sample agents", []string{"agent", "put", agents}, 0, []string{"agent 1001: created", "agent 1002: created", "agent 1003: created"}, ""},
		{"list agents", []string{"agent", "list"}, 0, []string{"AGENT", "Li Na", "PJSIP/1002", "aftersales:2 general:1 trace:2"}, ""},
		{"show agent", []string{"agent", "show", "1001"}, 0, []string{`id: "1001"`, "device: PJSIP/1001", "trace: 4"}, ""},
		{"json unknown field refused", []string{"agent", "put", unknownJSON}, 1, nil, `unknown field "skils"`},
		{"duplicate ids refused", []string{"agent", "put", dupes}, 1, nil, "agent 1001 appears twice"},
		{"login", []string{"agent", "login", "1001"}, 0, []string{"agent 1001: available since"}, ""},
		{"login twice", []string{"agent", "login", "1001"}, 1, nil, "available → available"},
		{"pause", []string{"agent", "pause", "1001", "lunch"}, 0, []string{"agent 1001: paused (lunch) since"}, ""},
		{"pause unknown reason", []string{"agent", "pause", "1001", "nap"}, 1, nil, `unknown pause reason "nap"`},
		{"state", []string{"agent", "state", "1001"}, 0, []string{"state:", "paused (lunch)", "answered today:"}, ""},
		{"state -json", []string{"agent", "state", "1001", "-json"}, 0, []string{`"state": "paused"`}, ""},
		{"ready", []string{"agent", "ready", "1001"}, 0, []string{"agent 1001: available"}, ""},
		{"logout", []string{"agent", "logout", "1001"}, 0, []string{"agent 1001: logged_out"}, ""},
		{"login unknown agent", []string{"agent", "login", "9999"}, 1, nil, "agent 9999"},
		{"delete agent", []string{"agent", "delete", "1003"}, 0, []string{"agent 1003: deleted"}, ""},

		{"seeded pause reasons", []string{"pause-reason", "list"}, 0, []string{"CODE", "back_office", "Back office", "yes", "missed_offers"}, ""},
		{"put pause reasons from two documents", []string{"pause-reason", "put", docs}, 0, []string{"pause reason coaching: created", "pause reason prayer: created"}, ""},
		{"delete missed_offers refused", []string{"pause-reason", "delete", "missed_offers"}, 1, nil, "set by the ACD itself"},
		{"delete pause reason", []string{"pause-reason", "delete", "prayer"}, 0, []string{"pause reason prayer: deleted"}, ""},
		{"pause-reason list -json", []string{"pause-reason", "list", "-json"}, 0, []string{`"code": "coaching"`}, ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			code, out, errOut := run(t, append(st.args, api...)...)
			if code != st.wantCode || !strings.Contains(errOut, st.wantErr) {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, st.wantCode, out, errOut)
			}
			for _, w := range st.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

// TestReadItemsRoundTrip: what show prints, put reads back unchanged.
func TestReadItemsRoundTrip(t *testing.T) {
	qs, err := readItems[acd.QueueConfig](filepath.Join("..", "..", "acd", "samples", "queues.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		t.Run(string(q.ID), func(t *testing.T) {
			var o strings.Builder
			stdout = &o
			t.Cleanup(func() { stdout = nil })
			if err := printYAML(q); err != nil {
				t.Fatal(err)
			}
			back, err := parseItems[acd.QueueConfig]([]byte(o.String()))
			if err != nil || len(back) != 1 {
				t.Fatalf("read back: %v, %d items\n%s", err, len(back), o.String())
			}
			if fmt.Sprintf("%+v", back[0]) != fmt.Sprintf("%+v", q) {
				t.Fatalf("round trip changed the queue:\n%+v\n%+v", q, back[0])
			}
		})
	}
}

func TestParseItems(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    []string // codes
		wantErr string
	}{
		{"yaml mapping", "code: a\nlabel: A\n", []string{"a"}, ""},
		{"yaml list", "- {code: a, label: A}\n- {code: b, label: B}\n", []string{"a", "b"}, ""},
		{"yaml documents", "---\ncode: a\nlabel: A\n---\n# nothing\n---\n- {code: b, label: B}\n", []string{"a", "b"}, ""},
		{"json object", `{"code": "a", "label": "A"}`, []string{"a"}, ""},
		{"json list", ` [{"code": "a", "label": "A"}, {"code": "b", "label": "B"}]`, []string{"a", "b"}, ""},
		{"yaml unknown key", "code: a\nlable: A\n", nil, "line 2: field lable not found"},
		{"json unknown key", `{"code": "a", "lable": "A"}`, nil, `unknown field "lable"`},
		{"json trailing data", `{"code": "a"} x`, nil, "data after the JSON value"},
		{"yaml scalar", "just text\n", nil, "neither a mapping nor a list"},
		{"yaml syntax", "code: [a\n", nil, "yaml:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			items, err := parseItems[acd.PauseReason]([]byte(tt.src))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range items {
				got = append(got, it.Code)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("codes %v, want %v", got, tt.want)
			}
		})
	}
}

func TestOverflowTargetsFirst(t *testing.T) {
	qs := []acd.QueueConfig{
		{ID: "a", Overflow: "queue:b"},
		{ID: "b", Overflow: "queue:c"},
		{ID: "c", Overflow: "message"},
		{ID: "d", Overflow: "queue:elsewhere"},
		{ID: "x", Overflow: "queue:y"},
		{ID: "y", Overflow: "queue:x"}, // a cycle keeps file order
	}
	var got []string
	for _, q := range overflowTargetsFirst(qs) {
		got = append(got, string(q.ID))
	}
	if s := strings.Join(got, " "); s != "c d b a x y" {
		t.Fatalf("order %s, want c d b a x y", s)
	}
}

// FuzzParseItems: any file content gives items or an error, never a panic,
// and the items of a YAML file survive printing and reading back.
func FuzzParseItems(f *testing.F) {
	for _, s := range []string{
		"code: a\nlabel: A\n", "- {code: a, label: A}\n", "---\n---\ncode: a\n", `{"code": "a"}`, `[{"code": "a"}]`,
		"code: [a\n", "~\n", "- 1\n- 2\n", "code: a\nlable: A\n", "&x a\n", "? a\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		items, err := parseItems[acd.PauseReason]([]byte(src))
		if err != nil {
			return
		}
		for _, it := range items {
			var o strings.Builder
			stdout = &o
			if err := printYAML(it); err != nil {
				t.Fatalf("print %+v: %v", it, err)
			}
			stdout = nil
			back, err := parseItems[acd.PauseReason]([]byte(o.String()))
			if err != nil || len(back) != 1 || back[0] != it {
				t.Fatalf("%+v printed as\n%s\nreads back as %+v, %v", it, o.String(), back, err)
			}
		}
	})
}
