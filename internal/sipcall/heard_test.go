package sipcall_test

import (
	"context"
	"testing"
	"time"

	"github.com/emiago/diago"

	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/sipcall"
	"github.com/ccd-platform/ccd/internal/sipcall/sipcalltest"
)

// abs is |d|.
func abs(d time.Duration) time.Duration { return max(d, -d) }

// TestHeardUnderJitter has the far end send its packets late, in order, with
// the timestamps they would have had on time: most a little late, some held
// up to 250 ms with the ones behind them then leaving in a burst. That is
// what a caller sees when it, the far end or the network is under load. Each tone must be heard whole, without gaps, and the far end's real
// pauses must stay where they were: within one stream across which the
// timestamps advance, and before a new stream (another SSRC).
func TestHeardUnderJitter(t *testing.T) {
	const jitter = 250 * time.Millisecond // see sipcalltest.NewStream
	const pause = 500 * time.Millisecond
	tones := []audio.PCM{
		audio.Tone(440, time.Second, -6, audio.Rate),
		audio.Tone(1000, 600*time.Millisecond, -6, audio.Rate),
		audio.Tone(700, 800*time.Millisecond, -6, audio.Rate),
	}
	starts := make(chan []time.Duration, 1)
	srv := sipcalltest.Start(t, "udp", func(d *diago.DialogServerSession) {
		if err := d.Answer(); err != nil {
			t.Errorf("answer: %v", err)
			return
		}
		answered := time.Now()
		first, err := sipcalltest.NewStream(d, jitter, 1)
		if err != nil {
			t.Error(err)
			return
		}
		second, err := sipcalltest.NewStream(d, jitter, 2)
		if err != nil {
			t.Error(err)
			return
		}
		var at []time.Duration
		for i, s := range []*sipcalltest.Stream{first, first, second} {
			if i > 0 {
				// The far end stops sending for a while.
				select {
				case <-time.After(pause):
				case <-d.Context().Done():
					t.Error("call ended while playing")
					return
				}
			}
			at = append(at, time.Since(answered))
			if err := s.Play(tones[i]); err != nil {
				t.Errorf("play %d: %v", i, err)
				return
			}
		}
		starts <- at
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := sipcalltest.HangupWithReason(ctx, d, q850Normal); err != nil {
			t.Errorf("hangup: %v", err)
		}
	})

	res, err := sipcall.Call(t.Context(), sipcall.Options{Target: srv.Addr, DID: "1", MaxDuration: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var at []time.Duration
	select {
	case at = <-starts:
	default:
		t.Fatalf("far end did not play everything; events %v", res.Events)
	}

	for i, tone := range tones {
		m, err := audio.CrossCorrelate(res.Heard, tone, 0)
		if err != nil {
			t.Fatal(err)
		}
		if m.Score < 0.95 {
			t.Errorf("tone %d correlates %.3f with what was heard, want ≥ 0.95", i, m.Score)
		}
		// A stream starts where its first packet arrived, up to jitter
		// late.
		if m.Offset < at[i]-50*time.Millisecond || m.Offset > at[i]+jitter+50*time.Millisecond {
			t.Errorf("tone %d heard at %v, sent at %v", i, m.Offset, at[i])
		}
	}
	segs := audio.Activity{MaxGap: -1}.Segments(res.Heard)
	if len(segs) != len(tones) {
		t.Fatalf("active segments %v, want %d (one per tone, no gaps)", segs, len(tones))
	}
	for i, s := range segs {
		if d := s.Duration() - tones[i].Duration(); abs(d) > 40*time.Millisecond {
			t.Errorf("tone %d heard for %v, sent for %v", i, s.Duration(), tones[i].Duration())
		}
	}
	for i := 1; i < len(segs); i++ {
		want := at[i] - at[i-1] - tones[i-1].Duration()
		if got := segs[i].Start - segs[i-1].End; abs(got-want) > jitter+30*time.Millisecond {
			t.Errorf("pause before tone %d heard as %v, far end paused %v", i, got, want)
		}
	}
	if end := res.Duration(); abs(res.Heard.Duration()-end) > 150*time.Millisecond {
		t.Errorf("heard %v of a %v call", res.Heard.Duration(), end)
	}
}
