package feed_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"

	"github.com/ccd-platform/ccd/agentdesk/desk/desktest"
	"github.com/ccd-platform/ccd/agentdesk/feed"
	"github.com/ccd-platform/ccd/cti"
)

// server serves the hub; the query chooses the filter (the desk derives it
// from the session instead).
type testServer struct {
	*httptest.Server
	hub   *feed.Hub
	alive atomic.Bool
}

func startHub(t *testing.T, nc *nats.Conn, o feed.Options) *testServer {
	t.Helper()
	hub, err := feed.New(nc, o)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{hub: hub}
	ts.alive.Store(true)
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		hub.Serve(w, r, feed.Subscriber{
			Filter: feed.Filter{All: q.Get("all") == "1", Agent: q.Get("agent")},
			Keys:   []string{"session:" + q.Get("session")},
			Alive: func(context.Context) error {
				if !ts.alive.Load() {
					return errors.New("session expired")
				}
				return nil
			},
		})
	}))
	t.Cleanup(ts.Close)
	t.Cleanup(hub.Close)
	return ts
}

func dial(t *testing.T, ts *testServer, query string, origin string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/?"+query, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

func publish(t *testing.T, nc *nats.Conn, ev cti.Event) cti.Envelope {
	t.Helper()
	env, err := cti.Wrap("test", ev)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(env)
	if err := nc.Publish(ev.Subject(), data); err != nil {
		t.Fatal(err)
	}
	return env
}

// readUntil reads envelopes until the one with id last, returning their types
// joined with the call or agent they concern.
func readUntil(t *testing.T, c *websocket.Conn, last string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []string
	for {
		_, data, err := c.Read(ctx)
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
			return got
		}
	}
}

func TestFilter(t *testing.T) {
	nc := desktest.NATS(t)
	ts := startHub(t, nc, feed.Options{PingInterval: 5 * time.Millisecond}) // pings run while the test reads
	conns := map[string]*websocket.Conn{
		"1001":       dial(t, ts, "agent=1001&session=a", ""),
		"1002":       dial(t, ts, "agent=1002&session=b", ts.URL),
		"supervisor": dial(t, ts, "all=1&session=c", ts.URL),
		"no seat":    dial(t, ts, "session=d", ts.URL),
	}
	desktest.Eventually(t, "4 browsers registered", func() bool { return ts.hub.Clients() == 4 })

	at := time.Now()
	events := []cti.Event{
		cti.AgentStateChanged{Agent: "1001", From: "logged_out", To: "available", At: at},
		cti.AgentStateChanged{Agent: "1002", From: "logged_out", To: "available", At: at},
		cti.CallStarted{CallID: "c1", Caller: "13800000001", DID: "4006001001", StartedAt: at},
		cti.CallQueued{CallID: "c1", Queue: "trace", At: at},
		cti.CallOffered{CallID: "c1", Queue: "trace", Agent: "1002", At: at},
		cti.CallOfferEnded{CallID: "c1", Queue: "trace", Agent: "1002", Outcome: "no_answer", At: at},
		cti.CallKey{CallID: "c1", Key: "1"}, // after 1002's offer ended: not theirs
		cti.CallOffered{CallID: "c1", Queue: "trace", Agent: "1001", At: at},
		cti.CallConnected{CallID: "c1", Queue: "trace", Agent: "1001", At: at},
		cti.CallKey{CallID: "c1", Key: "2"},
		cti.CallQueued{CallID: "c2", Queue: "trace", At: at},
		cti.CallLeftQueue{CallID: "c2", Queue: "trace", Reason: "abandoned", At: at},
		cti.CallEnded{CallID: "c1", Outcome: "agent"},
		cti.CallKey{CallID: "c1", Key: "3"}, // after the end: forgotten
	}
	for _, ev := range events {
		publish(t, nc, ev)
	}
	// A last event tells a browser it has everything.
	all := publish(t, nc, cti.AgentStateChanged{Agent: "end", At: at}).ID

	want := map[string][]string{
		"1001": {"agent.state 1001", "queue.offered c11001", "queue.connected c11001", "call.key c1", "call.ended c1"},
		"1002": {"agent.state 1002", "queue.offered c11002", "queue.offer_ended c11002"},
	}
	for who, c := range conns {
		t.Run(who, func(t *testing.T) {
			if who == "supervisor" {
				got := readUntil(t, c, all)
				if len(got) != len(events)+1 {
					t.Fatalf("supervisor got %d events, want all %d: %v", len(got), len(events)+1, got)
				}
				return
			}
			if who == "no seat" {
				// Nothing at all reaches a person without an agent seat;
				// kicking them ends the stream.
				ts.hub.Kick("session:d")
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				_, data, err := c.Read(ctx)
				if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
					t.Fatalf("read %q, %v; want close with policy violation", data, err)
				}
				return
			}
			// The agent's own next state change marks the end.
			end := publish(t, nc, cti.AgentStateChanged{Agent: who, From: "available", To: "paused", At: at}).ID
			got := readUntil(t, c, end)
			got = got[:len(got)-1]
			if strings.Join(got, "|") != strings.Join(want[who], "|") {
				t.Fatalf("agent %s got\n  %v\nwant\n  %v", who, got, want[who])
			}
		})
	}
}

func TestOriginChecked(t *testing.T) {
	nc := desktest.NATS(t)
	ts := startHub(t, nc, feed.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := http.Header{"Origin": {"https://evil.example"}}
	_, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/?all=1", &websocket.DialOptions{HTTPHeader: h})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin dial: %v, %v; want 403", resp, err)
	}
}

func TestSlowBrowserDropped(t *testing.T) {
	nc := desktest.NATS(t)
	ts := startHub(t, nc, feed.Options{Buffer: 2})
	slow := dial(t, ts, "all=1", "") // never reads
	_ = slow
	desktest.Eventually(t, "browser registered", func() bool { return ts.hub.Clients() == 1 })
	// Far more than the socket buffers hold: the writer blocks, the queue of
	// 2 fills, and the hub drops the browser instead of waiting.
	big := strings.Repeat("x", 60<<10)
	for i := 0; ts.hub.Clients() > 0; i++ {
		if i > 2000 {
			t.Fatal("a browser that never reads was not dropped")
		}
		publish(t, nc, cti.CallStarted{CallID: "c", CallerName: big})
		if i%50 == 0 {
			_ = nc.Flush()
		}
	}
	// NATS is not held up: a new browser gets new events. (It may be
	// dropped too while the backlog of big events drains: then retry.)
	deadline := time.Now().Add(10 * time.Second)
	for !freshGets(t, ts, nc) {
		if time.Now().After(deadline) {
			t.Fatal("a new browser gets no events after a slow one was dropped")
		}
	}
}

// freshGets reports whether a new browser receives a new event; it keeps
// publishing one until the browser, registered just after its handshake,
// sees it.
func freshGets(t *testing.T, ts *testServer, nc *nats.Conn) bool {
	t.Helper()
	fresh := dial(t, ts, "all=1", "")
	fresh.SetReadLimit(1 << 20)
	env, err := cti.Wrap("test", cti.AgentStateChanged{Agent: "sentinel"})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(env)
	done := make(chan struct{})
	defer close(done)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				_ = nc.Publish(cti.AgentSubject("state", "sentinel"), data)
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, got, err := fresh.Read(ctx)
		if err != nil {
			return false // dropped while the backlog drains
		}
		if strings.Contains(string(got), env.ID) {
			return true
		}
	}
}

func TestStreamEnds(t *testing.T) {
	for _, tt := range []struct {
		name string
		end  func(ts *testServer)
		want websocket.StatusCode
	}{
		{"session kicked", func(ts *testServer) { ts.hub.Kick("session:s1") }, websocket.StatusPolicyViolation},
		{"session no longer alive", func(ts *testServer) { ts.alive.Store(false) }, websocket.StatusPolicyViolation},
		{"hub closed", func(ts *testServer) { ts.hub.Close() }, websocket.StatusGoingAway},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nc := desktest.NATS(t)
			ts := startHub(t, nc, feed.Options{CheckInterval: 5 * time.Millisecond})
			other := dial(t, ts, "all=1&session=s2", "")
			c := dial(t, ts, "all=1&session=s1", "")
			if tt.name != "session kicked" {
				other.CloseRead(context.Background()) // answers the hub's close frame
			}
			desktest.Eventually(t, "browsers registered", func() bool { return ts.hub.Clients() == 2 })
			var wg sync.WaitGroup
			wg.Add(1)
			var err error
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				for err == nil {
					_, _, err = c.Read(ctx)
				}
			}()
			tt.end(ts)
			wg.Wait()
			if got := websocket.CloseStatus(err); got != tt.want {
				t.Fatalf("stream ended with %v (%v), want %v", got, err, tt.want)
			}
			if tt.name == "session kicked" { // the other session goes on
				id := publish(t, nc, cti.AgentStateChanged{Agent: "1001"}).ID
				if got := readUntil(t, other, id); len(got) != 1 {
					t.Fatalf("other session got %v", got)
				}
			}
		})
	}
}
