package ariconn

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"golang.org/x/net/websocket"
)

// fakeARI serves /ari/asterisk/info and an event stream that sends frames,
// noting when it wrote each one.
func fakeARI(t *testing.T, frames []string) (url string, sentAt func(i int) time.Time) {
	t.Helper()
	var mu sync.Mutex
	sent := make([]time.Time, len(frames))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ari/asterisk/info", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"system":{"version":"22.0.0","entity_id":"fake"}}`))
	})
	mux.Handle("/ari/events", websocket.Handler(func(ws *websocket.Conn) {
		for i, f := range frames {
			mu.Lock()
			sent[i] = time.Now()
			mu.Unlock()
			if err := websocket.Message.Send(ws, f); err != nil {
				return
			}
		}
		var discard []byte
		for websocket.Message.Receive(ws, &discard) == nil { // until the client goes
		}
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL, func(i int) time.Time {
		mu.Lock()
		defer mu.Unlock()
		return sent[i]
	}
}

// OnReceived sees every decoded event after OnEvent handled it, with the
// moment its frame was read: after the server wrote it, before OnEvent ran.
// Undecodable frames reach neither.
func TestOnReceived(t *testing.T) {
	frames := []string{
		`{"type":"ChannelDtmfReceived","application":"ccd","digit":"1","channel":{"id":"ch-1"}}`,
		`not json`,
		`{"type":"ChannelDtmfReceived","application":"ccd","digit":"2","channel":{"id":"ch-1"}}`,
		`{"type":"StasisEnd","application":"ccd","channel":{"id":"ch-1"}}`,
	}
	url, sentAt := fakeARI(t, frames)

	type seen struct {
		ev       ari.Event
		handled  time.Time // when OnEvent ran
		received time.Time // what OnReceived was given
		after    bool      // OnReceived ran after OnEvent for this event
	}
	var mu sync.Mutex
	var got []seen
	done := make(chan struct{})
	c, err := New(Options{
		URL: url, User: "u", Password: "p", App: "ccd",
		OnEvent: func(ev ari.Event) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, seen{ev: ev, handled: time.Now()})
		},
		OnReceived: func(ev ari.Event, at time.Time) {
			mu.Lock()
			defer mu.Unlock()
			last := &got[len(got)-1]
			last.received, last.after = at, last.ev == ev
			if len(got) == 3 {
				close(done)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = c.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
	})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("OnReceived was not called for the three events")
	}

	mu.Lock()
	defer mu.Unlock()
	wantTypes := []string{"ChannelDtmfReceived", "ChannelDtmfReceived", "StasisEnd"}
	frameOf := []int{0, 2, 3}
	for i, s := range got {
		if s.ev.GetType() != wantTypes[i] {
			t.Errorf("event %d is %s, want %s", i, s.ev.GetType(), wantTypes[i])
		}
		if !s.after {
			t.Errorf("event %d: OnReceived ran before OnEvent handled it", i)
		}
		if s.received.Before(sentAt(frameOf[i])) || s.received.After(s.handled) {
			t.Errorf("event %d: received at %s, want between the frame's send (%s) and OnEvent (%s)",
				i, s.received.Format(time.StampMicro), sentAt(frameOf[i]).Format(time.StampMicro), s.handled.Format(time.StampMicro))
		}
	}
}
