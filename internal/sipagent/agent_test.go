package sipagent_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/leakcheck"
	"github.com/ccd-platform/ccd/internal/sipagent"
	"github.com/ccd-platform/ccd/internal/sipcall"
)

// These tests call the phone straight at its address with the project's
// SIP caller: real SIP and RTP over loopback, no registrar. Registration
// against Asterisk is covered by test/agente2e.

func start(t *testing.T, o sipagent.Options) *sipagent.Agent {
	t.Helper()
	a, err := sipagent.Start(t.Context(), o)
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return a
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitCall(t *testing.T, ctx context.Context, a *sipagent.Agent) *sipagent.Call {
	t.Helper()
	c, err := a.WaitCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wait(t *testing.T, ctx context.Context, c *sipagent.Call) sipagent.Outcome {
	t.Helper()
	o, err := c.Wait(ctx)
	if err != nil {
		t.Fatalf("call %s not over: %v", c.ID(), err)
	}
	return o
}

func types(events []sipagent.Event) []sipagent.EventType {
	var out []sipagent.EventType
	for _, e := range events {
		out = append(out, e.Type)
	}
	return out
}

// toneScore is how well a 200 ms sine of hz matches somewhere in p.
func toneScore(t *testing.T, p audio.PCM, hz float64) float64 {
	t.Helper()
	m, err := audio.CrossCorrelate(p, audio.Tone(hz, 200*time.Millisecond, -12, audio.Rate), 0)
	if err != nil {
		t.Fatal(err)
	}
	return m.Score
}

func mustDigits(t *testing.T, spec string) []sipcall.Digit {
	t.Helper()
	d, err := sipcall.ParseDigits(spec, 200*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// cancelWhenRinging places a call and cancels it once the 180 arrived, so
// that the phone sees a CANCEL however long the 180 took.
func cancelWhenRinging(ctx context.Context, o sipcall.Options) (*sipcall.Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	o.OnEvent = func(e sipcall.Event) {
		if e.Type == sipcall.EventProvisional && e.StatusCode == 180 {
			cancel()
		}
	}
	return sipcall.Call(ctx, o)
}

func TestAnswersPlaysToneAndHearsDigits(t *testing.T) {
	ctx := ctxFor(t, 20*time.Second)
	a := start(t, sipagent.Options{
		Behaviour: sipagent.Behaviour{AnswerAfter: 300 * time.Millisecond},
		Play:      sipagent.ToneBursts(1300),
	})
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: a.Addr(), DID: "1001", From: "13800138000",
		Digits: mustDigits(t, "w500,4,2,#"), HangupAfter: 2 * time.Second,
	})
	if err != nil || !res.Answered {
		t.Fatalf("call: %v %+v", err, res)
	}
	c := waitCall(t, ctx, a)
	if o := wait(t, ctx, c); o != sipagent.OutcomeRemoteHangup {
		t.Errorf("outcome %s", o)
	}

	if c.From() != "13800138000" || c.To() != "1001" || c.Codec() != res.Codec || c.StatusCode() != 200 {
		t.Errorf("from %q to %q codec %q/%q status %d", c.From(), c.To(), c.Codec(), res.Codec, c.StatusCode())
	}
	if ring := c.AnsweredAt().Sub(c.ReceivedAt()); ring < 250*time.Millisecond || ring > time.Second {
		t.Errorf("rang %v, want about 300ms", ring)
	}
	if got := c.Digits(); got != "42#" {
		t.Errorf("agent got digits %q, want 42#", got)
	}
	// The caller heard the agent's tone, and not some other one.
	if s := toneScore(t, res.Heard, 1300); s < 0.8 {
		t.Errorf("caller does not hear the agent's 1300 Hz tone: %.2f", s)
	}
	if s := toneScore(t, res.Heard, 700); s > 0.5 {
		t.Errorf("caller's recording also matches 700 Hz (%.2f): the check proves nothing", s)
	}
	if segs := audio.ActiveSegments(res.Heard); len(segs) < 2 {
		t.Errorf("want one burst per second, got segments %v", segs)
	}
	// The agent heard the caller's stream (silence) for the whole call.
	if d := c.Heard().Duration(); d < 1500*time.Millisecond || d > 3500*time.Millisecond {
		t.Errorf("agent heard %v of audio, call lasted about 2s", d)
	}
	want := []sipagent.EventType{
		sipagent.EventIncoming, sipagent.EventAnswered,
		sipagent.EventDigit, sipagent.EventDigit, sipagent.EventDigit,
		sipagent.EventHangupReceived, sipagent.EventEnded,
	}
	if got := types(c.Events()); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestRejectsWithStatus(t *testing.T) {
	ctx := ctxFor(t, 10*time.Second)
	a := start(t, sipagent.Options{Behaviour: sipagent.Behaviour{Reject: 486, AnswerAfter: 200 * time.Millisecond}})
	res, err := sipcall.Call(ctx, sipcall.Options{Target: a.Addr(), DID: "1001"})
	if err != nil || res.StatusCode != 486 {
		t.Fatalf("call: %v %+v", err, res)
	}
	c := waitCall(t, ctx, a)
	if o := wait(t, ctx, c); o != sipagent.OutcomeRejected || c.StatusCode() != 486 || c.Answered() {
		t.Errorf("outcome %s status %d answered %v", o, c.StatusCode(), c.Answered())
	}
	if err := c.WaitAnswered(ctx); !errors.Is(err, sipagent.ErrCallEnded) {
		t.Errorf("WaitAnswered on a rejected call: %v", err)
	}
}

func TestCallerCancelsWhileRinging(t *testing.T) {
	ctx := ctxFor(t, 10*time.Second)
	a := start(t, sipagent.Options{Behaviour: sipagent.Behaviour{NoAnswer: true}})
	_, err := cancelWhenRinging(ctx, sipcall.Options{Target: a.Addr(), DID: "1001"})
	if !errors.Is(err, sipcall.ErrNoAnswer) {
		t.Fatalf("call: %v", err)
	}
	c := waitCall(t, ctx, a)
	if o := wait(t, ctx, c); o != sipagent.OutcomeCancelled || c.StatusCode() != 487 {
		t.Errorf("outcome %s status %d", o, c.StatusCode())
	}
	want := []sipagent.EventType{sipagent.EventIncoming, sipagent.EventCancelled, sipagent.EventEnded}
	if got := types(c.Events()); !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

func TestAgentHangsUp(t *testing.T) {
	ctx := ctxFor(t, 10*time.Second)
	a := start(t, sipagent.Options{Behaviour: sipagent.Behaviour{HangupAfter: 400 * time.Millisecond}})
	res, err := sipcall.Call(ctx, sipcall.Options{Target: a.Addr(), DID: "1001"})
	if err != nil || res.HungUpBy != sipcall.HungUpByRemote {
		t.Fatalf("call: %v %+v", err, res)
	}
	c := waitCall(t, ctx, a)
	if o := wait(t, ctx, c); o != sipagent.OutcomeAgentHangup {
		t.Errorf("outcome %s", o)
	}
	ev := c.Events()
	if i := slices.IndexFunc(ev, func(e sipagent.Event) bool { return e.Type == sipagent.EventHangupSent }); i < 0 || ev[i].StatusCode != 200 || ev[i].Detail != "hangup-after" {
		t.Errorf("events %v", ev)
	}
}

// A test drives the phone by hand and changes its behaviour between calls.
func TestManualAnswerAndSetBehaviour(t *testing.T) {
	ctx := ctxFor(t, 15*time.Second)
	a := start(t, sipagent.Options{Behaviour: sipagent.Behaviour{NoAnswer: true}})

	var wg sync.WaitGroup
	var res *sipcall.Result
	var err error
	wg.Go(func() {
		res, err = sipcall.Call(ctx, sipcall.Options{Target: a.Addr(), DID: "1001", HangupAfter: 300 * time.Millisecond})
	})
	c := waitCall(t, ctx, a)
	time.Sleep(200 * time.Millisecond) // let it ring
	if c.Answered() {
		t.Fatal("answered by itself with NoAnswer")
	}
	c.Answer()
	if err := c.WaitAnswered(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if err != nil || !res.Answered {
		t.Fatalf("first call: %v %+v", err, res)
	}

	if err := a.SetBehaviour(sipagent.Behaviour{Reject: 99}); !errors.Is(err, sipagent.ErrInvalidOptions) {
		t.Errorf("reject 99 accepted: %v", err)
	}
	if err := a.SetBehaviour(sipagent.Behaviour{Reject: 480}); err != nil {
		t.Fatal(err)
	}
	res, err = sipcall.Call(ctx, sipcall.Options{Target: a.Addr(), DID: "1001"})
	if err != nil || res.StatusCode != 480 {
		t.Fatalf("second call: %v %+v", err, res)
	}
	if c2 := waitCall(t, ctx, a); wait(t, ctx, c2) != sipagent.OutcomeRejected || c2.Behaviour().Reject != 480 {
		t.Errorf("second call %s with %+v", c2.Outcome(), c2.Behaviour())
	}

	// Hangup while ringing declines.
	if err := a.SetBehaviour(sipagent.Behaviour{NoAnswer: true}); err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { res, err = sipcall.Call(ctx, sipcall.Options{Target: a.Addr(), DID: "1001"}) })
	c3 := waitCall(t, ctx, a)
	c3.Hangup()
	wg.Wait()
	if err != nil || res.StatusCode != 603 {
		t.Errorf("declined call: %v %+v", err, res)
	}
}

// Close ends a ringing call with 480 and an answered one with BYE, and
// closes Calls.
func TestCloseEndsCalls(t *testing.T) {
	ctx := ctxFor(t, 15*time.Second)
	a, err := sipagent.Start(ctx, sipagent.Options{Behaviour: sipagent.Behaviour{NoAnswer: true}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var ringing, talking *sipcall.Result
	var errRinging, errTalking error
	wg.Go(func() { ringing, errRinging = sipcall.Call(ctx, sipcall.Options{Target: a.Addr(), DID: "1"}) })
	c1 := waitCall(t, ctx, a)
	wg.Go(func() { talking, errTalking = sipcall.Call(ctx, sipcall.Options{Target: a.Addr(), DID: "2"}) })
	c2 := waitCall(t, ctx, a)
	c2.Answer()
	if err := c2.WaitAnswered(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(a.Active()); n != 2 {
		t.Errorf("%d active calls", n)
	}

	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if errRinging != nil || ringing.StatusCode != 480 {
		t.Errorf("ringing call: %v %+v", errRinging, ringing)
	}
	if errTalking != nil || talking.HungUpBy != sipcall.HungUpByRemote {
		t.Errorf("answered call: %v %+v", errTalking, talking)
	}
	if c1.Outcome() != sipagent.OutcomeRejected || c2.Outcome() != sipagent.OutcomeAgentHangup {
		t.Errorf("outcomes %s, %s", c1.Outcome(), c2.Outcome())
	}
	if _, ok := <-a.Calls(); ok {
		t.Error("Calls still open")
	}
	if _, err := a.WaitCall(ctx); !errors.Is(err, sipagent.ErrClosed) {
		t.Errorf("WaitCall after close: %v", err)
	}
	if err := a.Close(ctx); err != nil {
		t.Errorf("second close: %v", err)
	}
}

func TestInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		o    sipagent.Options
	}{
		{"registrar without user", sipagent.Options{Registrar: "127.0.0.1:5060"}},
		{"bad registrar", sipagent.Options{Registrar: "127.0.0.1:x", User: "1001"}},
		{"transport", sipagent.Options{Transport: "sctp"}},
		{"bind host", sipagent.Options{BindHost: "0.0.0.0"}},
		{"user", sipagent.Options{User: "10 01"}},
		{"reject", sipagent.Options{Behaviour: sipagent.Behaviour{Reject: 200}}},
		{"negative answer", sipagent.Options{Behaviour: sipagent.Behaviour{AnswerAfter: -1}}},
		{"refresh too late", sipagent.Options{Expiry: time.Minute, RefreshEvery: time.Minute}},
		{"play rate", sipagent.Options{Play: audio.Tone(440, time.Second, -6, 16000)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := sipagent.Start(t.Context(), tt.o)
			if !errors.Is(err, sipagent.ErrInvalidOptions) {
				t.Errorf("got %v", err)
				if a != nil {
					_ = a.Close(t.Context())
				}
			}
		})
	}
}

// TestNoLeaks runs phones through every kind of call and checks that once
// they are closed no goroutine or file descriptor is left behind.
func TestNoLeaks(t *testing.T) {
	run := func() {
		ctx := ctxFor(t, 20*time.Second)
		a, err := sipagent.Start(ctx, sipagent.Options{Behaviour: sipagent.Behaviour{HangupAfter: 300 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		tcp, err := sipagent.Start(ctx, sipagent.Options{Transport: "tcp", Behaviour: sipagent.Behaviour{Reject: 486}})
		if err != nil {
			t.Fatal(err)
		}
		silent, err := sipagent.Start(ctx, sipagent.Options{Behaviour: sipagent.Behaviour{NoAnswer: true}})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				res, err := sipcall.Call(ctx, sipcall.Options{Target: a.Addr(), DID: "1", Digits: mustDigits(t, "1")})
				if err != nil || res.HungUpBy != sipcall.HungUpByRemote {
					t.Errorf("call %d: %v %+v", i, err, res)
				}
			})
		}
		wg.Go(func() {
			res, err := sipcall.Call(ctx, sipcall.Options{Target: tcp.Addr(), Transport: "tcp", DID: "1"})
			if err != nil || res.StatusCode != 486 {
				t.Errorf("tcp call: %v %+v", err, res)
			}
		})
		// One call is cancelled while ringing; the next one is still
		// ringing when its phone closes.
		cancelled := make(chan struct{})
		wg.Go(func() {
			defer close(cancelled)
			if _, err := cancelWhenRinging(ctx, sipcall.Options{Target: silent.Addr(), DID: "1"}); !errors.Is(err, sipcall.ErrNoAnswer) {
				t.Errorf("cancelled call: %v", err)
			}
		})
		wg.Go(func() {
			<-cancelled
			res, err := sipcall.Call(ctx, sipcall.Options{Target: silent.Addr(), DID: "1"})
			if err != nil || res.StatusCode != 480 {
				t.Errorf("call cut by close: %v %+v", err, res)
			}
		})
		<-(<-silent.Calls()).Done()
		<-silent.Calls()
		// Wait for the answered calls to end before closing their phone.
		for range 3 {
			c := <-a.Calls()
			<-c.Done()
		}
		<-(<-tcp.Calls()).Done()
		for _, ag := range []*sipagent.Agent{a, tcp, silent} {
			if err := ag.Close(ctx); err != nil {
				t.Error(err)
			}
		}
		wg.Wait()
	}

	leakcheck.Run(t, run)
}
