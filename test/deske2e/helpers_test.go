package deske2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/sipcall"
	"github.com/ccd-platform/ccd/test/harness"
)

// callerNumber is a fresh mobile number, so no earlier call or customer
// of another run is linked to it.
func callerNumber() string { return fmt.Sprintf("139%08d", rand.IntN(100000000)) }

// api calls the admin API and returns the status and body.
func api(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	return stack.API(t, method, path, body)
}

// mustAPI calls the admin API and fails the test on a status above 299.
func mustAPI(t *testing.T, method, path string, body any) []byte {
	t.Helper()
	return stack.MustAPI(t, method, path, body)
}

// logoutEventually logs an agent out once their last call and wrap-up are
// over; for t.Cleanup.
func logoutEventually(t *testing.T, id string) {
	t.Helper()
	stack.LogoutEventually(t, id, 40*time.Second)
}

// agentState is an agent's live state in the ACD.
func agentState(t *testing.T, id string) acd.State {
	t.Helper()
	var st struct {
		State acd.State `json:"state"`
	}
	if err := json.Unmarshal(mustAPI(t, http.MethodGet, "/api/v1/agents/"+id+"/state", nil), &st); err != nil {
		t.Fatal(err)
	}
	return st.State
}

// waitEvent waits for an event of type typ that match accepts and decodes
// its payload into v (if not nil).
func waitEvent(t *testing.T, ctx context.Context, typ string, match func(cti.Envelope) bool, v any) {
	t.Helper()
	env, err := stack.Events().Wait(ctx, typ, func(e cti.Envelope) bool { return e.Type == typ && match(e) })
	if err != nil {
		t.Fatalf("%s: %v\n%s", typ, err, stack.LogTail(60))
	}
	if v != nil {
		if err := env.Decode(v); err != nil {
			t.Fatal(err)
		}
	}
}

func ofCall(id string) func(cti.Envelope) bool {
	return func(e cti.Envelope) bool {
		var p struct {
			CallID string `json:"call_id"`
		}
		return e.Decode(&p) == nil && p.CallID == id
	}
}

// heard is what the caller heard from wall-clock time from to to, once the
// caller's recording covers it.
func heard(t *testing.T, ctx context.Context, s *sipcall.Session, from, to time.Time) audio.PCM {
	t.Helper()
	at := func(w time.Time) int { return int(w.Sub(s.AnsweredAt()) * audio.Rate / time.Second) }
	lo, hi := max(0, at(from)), at(to)
	var p audio.PCM
	err := harness.Eventually(ctx, time.Until(to)+5*time.Second, func() error {
		p = s.Heard()
		if len(p.Samples) < hi {
			return fmt.Errorf("the caller's recording ends at %s, want %s", time.Duration(len(p.Samples))*time.Second/audio.Rate, time.Duration(hi)*time.Second/audio.Rate)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return audio.PCM{Rate: p.Rate, Samples: p.Samples[lo:hi]}
}

// A tone is there when most of the audio's energy is the tone and it is not
// faint; it is absent when it is a small part of what is there.
const (
	presentShare = 0.6
	presentDBFS  = -45.0
	absentShare  = 0.2
)

func present(m audio.ToneMeasure) bool { return m.Share >= presentShare && m.ToneDBFS >= presentDBFS }
func absent(m audio.ToneMeasure) bool  { return m.Share <= absentShare }

// waitTone waits until the last second of what the caller heard is mostly
// a tone of hz (the media path is up) and returns when it was.
func waitTone(t *testing.T, ctx context.Context, s *sipcall.Session, hz float64, within time.Duration, what string) (time.Time, audio.ToneMeasure) {
	t.Helper()
	var m audio.ToneMeasure
	var at time.Time
	err := harness.Eventually(ctx, within, func() error {
		p := s.Heard()
		n := audio.Rate // one second
		if len(p.Samples) < n {
			return fmt.Errorf("the caller heard %d samples so far", len(p.Samples))
		}
		p.Samples = p.Samples[len(p.Samples)-n:]
		m = audio.ToneIn(p, hz)
		if !present(m) {
			return fmt.Errorf("the last second the caller heard: %v", m)
		}
		at = time.Now()
		return nil
	})
	if err != nil {
		t.Fatalf("the caller never heard %s: %v", what, err)
	}
	return at, m
}
