package sipcall_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emiago/diago"

	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/sipcall"
	"github.com/ccd-platform/ccd/internal/sipcall/sipcalltest"
)

// recordCaller answers and records what the caller sends until the call
// ends, then hands the recording over.
func recordCaller(t *testing.T, recs chan<- *sipcalltest.Recording) func(d *diago.DialogServerSession) {
	return func(d *diago.DialogServerSession) {
		if err := d.Answer(); err != nil {
			t.Errorf("answer: %v", err)
			return
		}
		rec := sipcalltest.Record(d)
		select {
		case <-rec.Done():
		case <-time.After(20 * time.Second):
			t.Error("call did not end")
		}
		recs <- rec
	}
}

// findSaid checks that said is in heard, correlating at least 0.9, starting
// within 100 ms of at.
func findSaid(t *testing.T, heard, said audio.PCM, at time.Duration) {
	t.Helper()
	m, err := audio.CrossCorrelate(heard, said, 0)
	if err != nil {
		t.Fatal(err)
	}
	if m.Score < 0.9 {
		t.Errorf("far end heard what was said correlating %.3f, want ≥ 0.9", m.Score)
	}
	if abs(m.Offset-at) > 100*time.Millisecond {
		t.Errorf("far end heard it %v after the answer, want about %v", m.Offset, at)
	}
}

func TestSayUtterances(t *testing.T) {
	tests := []struct {
		name      string
		transport string
		codecs    []string
	}{
		{"udp PCMU", "udp", nil},
		{"udp PCMA", "udp", []string{"PCMA"}},
		{"tcp PCMU", "tcp", nil},
	}
	say := []sipcall.Utterance{
		{After: 1600 * time.Millisecond, Audio: audio.Tone(600, 500*time.Millisecond, -6, audio.Rate)},
		{After: 300 * time.Millisecond, Audio: audio.Tone(1000, 700*time.Millisecond, -6, audio.Rate)},
		// Due while the one before is said: follows it.
		{After: 1700 * time.Millisecond, Audio: audio.Tone(800, 300*time.Millisecond, -6, audio.Rate)},
	}
	wantAt := []time.Duration{1600 * time.Millisecond, 300 * time.Millisecond, 2100 * time.Millisecond}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs := make(chan *sipcalltest.Recording, 1)
			srv := sipcalltest.Start(t, tt.transport, recordCaller(t, recs))
			res, err := sipcall.Call(t.Context(), sipcall.Options{
				Target:      srv.Addr,
				Transport:   tt.transport,
				DID:         "1",
				Codecs:      tt.codecs,
				Say:         say,
				Digits:      mustDigits(t, "w1200,4", 0), // between two utterances
				HangupAfter: 2800 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.DigitsSent != "4" {
				t.Errorf("DigitsSent %q", res.DigitsSent)
			}
			rec := <-recs
			heard := rec.Audio()
			for i, u := range say {
				findSaid(t, heard, u.Audio, wantAt[i])
			}
			if got := rec.Digits(); got != "4" {
				t.Errorf("far end got digits %q, want 4", got)
			}
			// Silence elsewhere: the first utterance, then the other two
			// back to back.
			if segs := (audio.Activity{MaxGap: -1}).Segments(heard); len(segs) != 2 {
				t.Errorf("active segments %v, want 2", segs)
			}
		})
	}
}

func TestSessionSay(t *testing.T) {
	recs := make(chan *sipcalltest.Recording, 1)
	srv := sipcalltest.Start(t, "udp", recordCaller(t, recs))
	s, err := sipcall.Dial(t.Context(), sipcall.Options{Target: srv.Addr, DID: "1", MaxDuration: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}

	if err := s.Say(t.Context(), audio.PCM{Rate: 16000, Samples: make([]int16, 160)}); !errors.Is(err, sipcall.ErrInvalidAudio) {
		t.Errorf("Say at 16 kHz: %v, want ErrInvalidAudio", err)
	}

	// Said now; Say returns once it is all sent.
	tone := audio.Tone(900, 600*time.Millisecond, -6, audio.Rate)
	at := time.Since(s.AnsweredAt())
	if err := s.Say(t.Context(), tone); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(s.AnsweredAt()) - at; took < tone.Duration()-40*time.Millisecond {
		t.Errorf("Say returned after %v, before %v of audio went out", took, tone.Duration())
	}

	// Cut short by its context: the rest is not sent.
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	cutAt := time.Since(s.AnsweredAt())
	if err := s.Say(ctx, audio.Tone(500, 3*time.Second, -6, audio.Rate)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Say with a 200ms deadline: %v, want DeadlineExceeded", err)
	}

	s.Hangup()
	if _, err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	if err := s.Say(t.Context(), tone); !errors.Is(err, sipcall.ErrCallEnded) {
		t.Errorf("Say after the end: %v, want ErrCallEnded", err)
	}

	heard := (<-recs).Audio()
	findSaid(t, heard, tone, at)
	segs := audio.Activity{MaxGap: -1}.Segments(heard)
	if len(segs) != 2 {
		t.Fatalf("active segments %v, want the tone and the cut one", segs)
	}
	if cut := segs[1]; abs(cut.Start-cutAt) > 100*time.Millisecond || cut.Duration() > 300*time.Millisecond {
		t.Errorf("cut speech heard %v, said from %v for 200ms", cut, cutAt)
	}
}

// TestSayWithDigits sends a key in the middle of an utterance: the key goes
// out in the same stream and the speech resumes after it, whole.
func TestSayWithDigits(t *testing.T) {
	recs := make(chan *sipcalltest.Recording, 1)
	srv := sipcalltest.Start(t, "udp", recordCaller(t, recs))
	tone := audio.Tone(700, time.Second, -6, audio.Rate)
	res, err := sipcall.Call(t.Context(), sipcall.Options{
		Target:      srv.Addr,
		DID:         "1",
		Say:         []sipcall.Utterance{{After: 200 * time.Millisecond, Audio: tone}},
		Digits:      mustDigits(t, "w600,7", 0),
		HangupAfter: 2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.DigitsSent != "7" {
		t.Errorf("DigitsSent %q", res.DigitsSent)
	}
	rec := <-recs
	if got := rec.Digits(); got != "7" {
		t.Errorf("far end got digits %q, want 7", got)
	}
	heard := rec.Audio()
	segs := audio.Activity{MaxGap: -1}.Segments(heard)
	if len(segs) != 2 {
		t.Fatalf("active segments %v, want speech, the key's pause, speech", segs)
	}
	if total := segs[0].Duration() + segs[1].Duration(); abs(total-tone.Duration()) > 60*time.Millisecond {
		t.Errorf("heard %v of speech around the key, said %v", total, tone.Duration())
	}
	if gap := segs[1].Start - segs[0].End; gap < 80*time.Millisecond || gap > 300*time.Millisecond {
		t.Errorf("speech paused %v for the key", gap)
	}
	if abs(segs[0].Start-200*time.Millisecond) > 100*time.Millisecond {
		t.Errorf("speech heard from %v, said from 200ms", segs[0].Start)
	}
	for _, s := range segs {
		part := audio.PCM{Rate: audio.Rate, Samples: heard.Samples[int(s.Start*audio.Rate/time.Second):int(s.End*audio.Rate/time.Second)]}
		if m, err := audio.CrossCorrelate(part, tone, part.Duration()); err != nil || m.Score < 0.9 {
			t.Errorf("speech in %v correlates %.3f with what was said (%v)", s, m.Score, err)
		}
	}
}
