package desk_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/ccd-platform/ccd/agentdesk/desk"
	"github.com/ccd-platform/ccd/agentdesk/desk/desktest"
	"github.com/ccd-platform/ccd/cti"
)

// stream opens GET /api/v1/events as c's browser would (cookie, Origin).
func (c *client) stream(t *testing.T, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	if c.bearer != "" {
		h.Set("Authorization", "Bearer "+c.bearer)
	}
	conn, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.e.srv.URL, "http")+"/api/v1/events",
		&websocket.DialOptions{HTTPClient: c.hc, HTTPHeader: h})
	if err == nil {
		t.Cleanup(func() { conn.CloseNow() })
	}
	return conn, resp, err
}

func (e *env) publish(t *testing.T, ev cti.Event) string {
	t.Helper()
	env, err := cti.Wrap("test", ev)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(env)
	if err := e.nc.Publish(ev.Subject(), data); err != nil {
		t.Fatal(err)
	}
	return env.ID
}

// received reads envelopes up to the one with id last: "type call_id/agent".
func received(t *testing.T, conn *websocket.Conn, last string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			t.Fatalf("read after %v: %v", got, err)
		}
		var env cti.Envelope
		if err := json.Unmarshal(data, &env); err != nil {
			t.Fatal(err)
		}
		var p struct {
			CallID string `json:"call_id"`
			Agent  string `json:"agent"`
		}
		_ = env.Decode(&p)
		got = append(got, env.Type+" "+p.CallID+p.Agent)
		if env.ID == last {
			return got[:len(got)-1]
		}
	}
}

func TestEventsStream(t *testing.T) {
	e := newEnv(t)
	alice, tina := e.login(t, "alice"), e.login(t, "tina")
	origin := e.srv.URL

	t.Run("not logged in", func(t *testing.T) {
		_, resp, err := e.browser(t).stream(t, origin)
		if err == nil || resp == nil || resp.StatusCode != 401 {
			t.Fatalf("dial without a session: %v, %v", resp, err)
		}
	})
	t.Run("cross-origin", func(t *testing.T) {
		_, resp, err := alice.stream(t, "https://evil.example")
		if err == nil || resp == nil || resp.StatusCode != 403 {
			t.Fatalf("cross-origin dial: %v, %v", resp, err)
		}
		if got := e.audited(t, desk.AuditQuery{Username: "alice", Action: "GET /api/v1/events", Outcome: desk.OutcomeDenied}); len(got) != 1 {
			t.Fatalf("cross-origin dial audited as %+v", got)
		}
	})

	aliceWS, _, err := alice.stream(t, origin)
	if err != nil {
		t.Fatal(err)
	}
	tinaWS, _, err := tina.stream(t, origin)
	if err != nil {
		t.Fatal(err)
	}
	bearerWS, _, err := e.bearer().stream(t, "")
	if err != nil {
		t.Fatal(err)
	}
	// The hub registers a browser just after the handshake.
	desktest.Eventually(t, "3 streams", func() bool { return e.desk.Streams() == 3 })

	events := []cti.Event{
		cti.AgentStateChanged{Agent: "1001", From: "paused", To: "available"},
		cti.AgentStateChanged{Agent: "1002", From: "paused", To: "available"},
		cti.CallStarted{CallID: "c1", Caller: "13800000001"},
		cti.CallOffered{CallID: "c1", Queue: "trace", Agent: "1002"},
		cti.CallStarted{CallID: "c2", Caller: "13800000002"},
		cti.CallOffered{CallID: "c2", Queue: "trace", Agent: "1001"},
		cti.CallConnected{CallID: "c2", Queue: "trace", Agent: "1001"},
		cti.CallKey{CallID: "c1", Key: "1"},
		cti.CallKey{CallID: "c2", Key: "2"},
		cti.CallEnded{CallID: "c2", Outcome: "agent"},
	}
	for _, ev := range events {
		e.publish(t, ev)
	}
	end := e.publish(t, cti.AgentStateChanged{Agent: "1001", From: "available", To: "paused"})

	want := "agent.state 1001|queue.offered c21001|queue.connected c21001|call.key c2|call.ended c2"
	if got := strings.Join(received(t, aliceWS, end), "|"); got != want {
		t.Fatalf("alice (agent 1001) got\n  %s\nwant\n  %s", got, want)
	}
	for name, conn := range map[string]*websocket.Conn{"tina": tinaWS, "bearer": bearerWS} {
		if got := received(t, conn, end); len(got) != len(events) {
			t.Fatalf("%s (supervisor) got %d events, want all %d: %v", name, len(got), len(events), got)
		}
	}

	// Logging out closes the session's stream at once; tina's goes on.
	alice.must(t, "POST", "/api/v1/auth/logout", "", 204)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, _, err := aliceWS.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Fatalf("alice's stream ended with %v, want policy violation", err)
			}
			break
		}
	}
	id := e.publish(t, cti.AgentStateChanged{Agent: "1002"})
	received(t, tinaWS, id)

	// A session that expires ends its stream at the next check.
	tina2 := e.login(t, "tina")
	ws, _, err := tina2.stream(t, origin)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(25 * time.Hour)
	for {
		_, _, err := ws.Read(ctx)
		if err != nil {
			if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
				t.Fatalf("expired stream ended with %v", err)
			}
			break
		}
	}
}
