package sipcall_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/sipgo/sip"

	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/leakcheck"
	"github.com/ccd-platform/ccd/internal/sipcall"
	"github.com/ccd-platform/ccd/internal/sipcall/sipcalltest"
)

const q850Normal = `Q.850;cause=16;text="Normal Clearing"`

// greeting is what the answering side plays: 1 s of 440 Hz.
var greeting = audio.Tone(440, time.Second, -6, audio.Rate)

// toneThenDigits answers, plays the greeting, collects n digits, reports
// them and hangs up with a Q.850 reason.
func toneThenDigits(t *testing.T, n int, digits chan<- string) func(d *diago.DialogServerSession) {
	return func(d *diago.DialogServerSession) {
		_ = d.Trying()
		_ = d.Ringing()
		// Ring a little: sipgo handles each response in its own
		// goroutine, so a 180 sent together with the 200 can be
		// processed after it and dropped.
		time.Sleep(100 * time.Millisecond)
		if err := d.Answer(); err != nil {
			t.Errorf("answer: %v", err)
			return
		}
		if err := sipcalltest.Play(d, greeting); err != nil {
			t.Errorf("play: %v", err)
			return
		}
		got, err := sipcalltest.ReadDigits(d, n, 10*time.Second)
		if err != nil {
			t.Errorf("read digits: %v", err)
		}
		digits <- got
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := sipcalltest.HangupWithReason(ctx, d, q850Normal); err != nil {
			t.Errorf("hangup: %v", err)
		}
	}
}

func mustDigits(t *testing.T, spec string, gap time.Duration) []sipcall.Digit {
	t.Helper()
	d, err := sipcall.ParseDigits(spec, gap)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func eventTypes(events []sipcall.Event) []sipcall.EventType {
	var out []sipcall.EventType
	for _, e := range events {
		out = append(out, e.Type)
	}
	return out
}

func TestCallHearsGreetingSendsDigitsRemoteHangsUp(t *testing.T) {
	tests := []struct {
		name      string
		transport string
		codecs    []string
		wantCodec string
	}{
		{"udp PCMU", "udp", nil, "PCMU"},
		{"udp PCMA", "udp", []string{"PCMA"}, "PCMA"},
		{"tcp PCMU", "tcp", nil, "PCMU"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			digits := make(chan string, 1)
			srv := sipcalltest.Start(t, tt.transport, toneThenDigits(t, 4, digits))
			wav := filepath.Join(t.TempDir(), "heard.wav")
			var streamed bytes.Buffer
			var live []sipcall.Event
			res, err := sipcall.Call(t.Context(), sipcall.Options{
				Target:      srv.Addr,
				Transport:   tt.transport,
				DID:         "4006001000",
				From:        "13800138000",
				Codecs:      tt.codecs,
				Digits:      mustDigits(t, "w1200,1,2,#,*", 100*time.Millisecond),
				MaxDuration: 20 * time.Second,
				RecordPath:  wav,
				RecordTo:    &streamed,
				OnEvent:     func(e sipcall.Event) { live = append(live, e) },
			})
			if err != nil {
				t.Fatal(err)
			}

			if got := <-digits; got != "12#*" {
				t.Errorf("far end got digits %q, want %q", got, "12#*")
			}
			if !res.Answered || res.StatusCode != 200 || res.Codec != tt.wantCodec {
				t.Errorf("answered %v status %d codec %q, want true 200 %s", res.Answered, res.StatusCode, res.Codec, tt.wantCodec)
			}
			if res.HungUpBy != sipcall.HungUpByRemote || res.RemoteReason != q850Normal {
				t.Errorf("hung up by %q reason %q, want remote %q", res.HungUpBy, res.RemoteReason, q850Normal)
			}
			if res.DigitsSent != "12#*" {
				t.Errorf("DigitsSent %q", res.DigitsSent)
			}
			// The far end hangs up as soon as the last key's first end
			// packet arrives, which can beat the caller noting that
			// key as sent: digits are checked apart from the rest.
			want := []sipcall.EventType{sipcall.EventInviteSent, sipcall.EventProvisional, sipcall.EventAnswered, sipcall.EventHangupReceived}
			types := eventTypes(res.Events)
			if i, j := slices.Index(types, sipcall.EventAnswered), slices.Index(types, sipcall.EventDigitSent); j < i {
				t.Errorf("digit sent before the answer: %v", res.Events)
			}
			types = slices.DeleteFunc(types, func(e sipcall.EventType) bool { return e == sipcall.EventDigitSent })
			if got := slices.Compact(types); !slices.Equal(got, want) {
				t.Errorf("events %v, want %v; %v", got, want, res.Events)
			}
			if len(live) != len(res.Events) {
				t.Errorf("OnEvent saw %d events, Result has %d", len(live), len(res.Events))
			}

			// What was heard: about one second of tone, starting at
			// the answer, matching the greeting.
			segs := audio.ActiveSegments(res.Heard)
			if len(segs) != 1 {
				t.Fatalf("active segments %v, want one", segs)
			}
			if d := segs[0].Duration(); d < 900*time.Millisecond || d > 1100*time.Millisecond {
				t.Errorf("active audio %v, want about 1s", d)
			}
			if segs[0].Start > 200*time.Millisecond {
				t.Errorf("greeting starts %v after answer", segs[0].Start)
			}
			m, err := audio.CrossCorrelate(res.Heard, greeting, 0)
			if err != nil {
				t.Fatal(err)
			}
			if m.Score < 0.95 {
				t.Errorf("heard audio correlates %.3f with the greeting", m.Score)
			}

			fromFile, err := audio.ReadWAVFile(wav)
			if err != nil {
				t.Fatal(err)
			}
			fromStream, err := audio.ReadWAV(&streamed)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(fromFile.Samples, res.Heard.Samples) || !slices.Equal(fromStream.Samples, res.Heard.Samples) {
				t.Error("recordings differ from Result.Heard")
			}
		})
	}
}

func TestCallRejected(t *testing.T) {
	reasons := map[int]string{
		sip.StatusForbidden:          "Forbidden",
		sip.StatusNotFound:           "Not Found",
		sip.StatusBusyHere:           "Busy Here",
		sip.StatusServiceUnavailable: "Service Unavailable",
	}
	for code, reason := range reasons {
		t.Run(reason, func(t *testing.T) {
			srv := sipcalltest.Start(t, "udp", func(d *diago.DialogServerSession) {
				_ = d.Respond(code, reason, nil)
			})
			o := sipcall.Options{Target: srv.Addr, DID: "4006001000", MaxDuration: 10 * time.Second}

			res, err := sipcall.Call(t.Context(), o)
			if err != nil {
				t.Fatalf("Call: %v (a refusal is a result, not an error)", err)
			}
			if res.Answered || res.StatusCode != code || res.HungUpBy != "" {
				t.Errorf("answered %v status %d hung up by %q, want false %d \"\"", res.Answered, res.StatusCode, res.HungUpBy, code)
			}
			if last := res.Events[len(res.Events)-1]; last.Type != sipcall.EventFailed || last.StatusCode != code {
				t.Errorf("last event %+v, want failed %d", last, code)
			}

			_, err = sipcall.Dial(t.Context(), o)
			var rej *sipcall.RejectedError
			if !errors.Is(err, sipcall.ErrRejected) || !errors.As(err, &rej) || rej.StatusCode != code || rej.Result == nil {
				t.Fatalf("Dial err = %v, want *RejectedError %d with a Result", err, code)
			}
		})
	}
}

// answerAndPlay answers and plays a long tone until the caller hangs up;
// it reports whether the call ended by the caller's BYE.
func answerAndPlay(t *testing.T, ended chan<- bool) func(d *diago.DialogServerSession) {
	return func(d *diago.DialogServerSession) {
		if err := d.Answer(); err != nil {
			t.Errorf("answer: %v", err)
			return
		}
		go func() { _ = sipcalltest.Play(d, audio.Tone(440, 10*time.Second, -6, audio.Rate)) }()
		select {
		case <-d.Context().Done():
			ended <- true
		case <-time.After(8 * time.Second):
			ended <- false
		}
	}
}

func TestCallerHangsUpDuringGreeting(t *testing.T) {
	ended := make(chan bool, 1)
	srv := sipcalltest.Start(t, "udp", answerAndPlay(t, ended))

	s, err := sipcall.Dial(t.Context(), sipcall.Options{Target: srv.Addr, DID: "4006001000", MaxDuration: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Hang up once 400 ms of the greeting has been heard.
	waitFor(t, 5*time.Second, func() bool { return audio.ActiveDuration(s.Heard()) >= 400*time.Millisecond })
	s.Hangup()
	res, err := s.Wait()
	if err != nil {
		t.Fatal(err)
	}

	if !<-ended {
		t.Error("far end did not see the call end")
	}
	if _, ok := srv.WaitRequest("BYE", 2*time.Second); !ok {
		t.Error("far end got no BYE")
	}
	if res.HungUpBy != sipcall.HungUpByCaller {
		t.Errorf("hung up by %q, want caller", res.HungUpBy)
	}
	last := res.Events[len(res.Events)-1]
	if last.Type != sipcall.EventHangupSent || last.Detail != "requested" || last.StatusCode != 200 {
		t.Errorf("last event %+v, want hangup-sent requested 200", last)
	}
	if d := audio.ActiveDuration(res.Heard); d < 400*time.Millisecond || d > 900*time.Millisecond {
		t.Errorf("heard %v of greeting, want a little over 400ms", d)
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done not closed after Wait")
	}
	if err := s.SendDigits(t.Context(), mustDigits(t, "1", 0)); !errors.Is(err, sipcall.ErrCallEnded) {
		t.Errorf("SendDigits after the end: %v, want ErrCallEnded", err)
	}
}

func TestCallHangupAfter(t *testing.T) {
	ended := make(chan bool, 1)
	srv := sipcalltest.Start(t, "udp", answerAndPlay(t, ended))
	res, err := sipcall.Call(t.Context(), sipcall.Options{Target: srv.Addr, DID: "1", HangupAfter: 600 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !<-ended || res.HungUpBy != sipcall.HungUpByCaller {
		t.Fatalf("hung up by %q", res.HungUpBy)
	}
	if d := res.Duration(); d < 600*time.Millisecond || d > 1500*time.Millisecond {
		t.Errorf("call lasted %v, want about 600ms", d)
	}
	if e := res.Events[len(res.Events)-1]; e.Detail != "hangup-after" {
		t.Errorf("last event %v", e)
	}
}

func TestSendDigitsMidCall(t *testing.T) {
	digits := make(chan string, 1)
	srv := sipcalltest.Start(t, "udp", func(d *diago.DialogServerSession) {
		if err := d.Answer(); err != nil {
			t.Errorf("answer: %v", err)
			return
		}
		got, _ := sipcalltest.ReadDigits(d, 3, 10*time.Second)
		digits <- got
		<-d.Context().Done()
	})
	s, err := sipcall.Dial(t.Context(), sipcall.Options{Target: srv.Addr, DID: "1"})
	if err != nil {
		t.Fatal(err)
	}
	// Two senders at once are serialized, not interleaved.
	var wg sync.WaitGroup
	for _, spec := range []string{"9", "AB"} {
		wg.Go(func() {
			if err := s.SendDigits(t.Context(), mustDigits(t, spec, 50*time.Millisecond)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got := <-digits
	if got != "9AB" && got != "AB9" {
		t.Errorf("far end got %q, want 9AB or AB9", got)
	}
	s.Hangup()
	if _, err := s.Wait(); err != nil {
		t.Fatal(err)
	}
}

func TestCallFromAnotherLoopbackAddress(t *testing.T) {
	ended := make(chan bool, 1)
	srv := sipcalltest.Start(t, "udp", answerAndPlay(t, ended))
	res, err := sipcall.Call(t.Context(), sipcall.Options{Target: srv.Addr, DID: "1", BindHost: "127.0.0.3", HangupAfter: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	<-ended
	inv, ok := srv.WaitRequest("INVITE", time.Second)
	if !ok || !strings.HasPrefix(inv.Source, "127.0.0.3:") {
		t.Errorf("INVITE came from %q, want 127.0.0.3", inv.Source)
	}
	if !res.Answered {
		t.Error("not answered")
	}
}

func TestCancelWhileRinging(t *testing.T) {
	cancelled := make(chan bool, 1)
	srv := sipcalltest.Start(t, "udp", func(d *diago.DialogServerSession) {
		_ = d.Ringing()
		select {
		case <-d.Context().Done():
			cancelled <- true
		case <-time.After(5 * time.Second):
			cancelled <- false
		}
	})
	res, err := sipcall.Call(t.Context(), sipcall.Options{Target: srv.Addr, DID: "1", MaxDuration: 500 * time.Millisecond})
	if !errors.Is(err, sipcall.ErrNoAnswer) || !errors.Is(err, sipcall.ErrMaxDuration) {
		t.Fatalf("err = %v, want ErrNoAnswer from ErrMaxDuration", err)
	}
	if res == nil || res.Answered || !slices.Contains(eventTypes(res.Events), sipcall.EventCancelSent) {
		t.Fatalf("result %+v, want unanswered with a CANCEL", res)
	}
	// sipgo answers a CANCEL in its transaction layer, so the far end's
	// request log does not show it; its dialog ends instead.
	if !<-cancelled {
		t.Error("far end's call was not cancelled")
	}
}

func TestNoResponse(t *testing.T) {
	// A socket that swallows everything: the caller must give up when
	// its context ends, not after SIP's 32 s transaction timeout.
	addr := silentUDP(t)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	res, err := sipcall.Call(ctx, sipcall.Options{Target: addr, DID: "1"})
	if !errors.Is(err, sipcall.ErrNoAnswer) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrNoAnswer from the deadline", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("gave up after %v", took)
	}
	if res == nil || res.StatusCode != 0 {
		t.Errorf("result %+v", res)
	}
}

func TestDigestAuth(t *testing.T) {
	auth := diago.NewDigestServer()
	t.Cleanup(auth.Close)
	creds := diago.DigestAuth{Username: "trunk", Password: "s3cret", Realm: "ccd"}
	srv := sipcalltest.Start(t, "udp", func(d *diago.DialogServerSession) {
		// AuthorizeDialog does not send the 401 for bad credentials
		// (only for missing ones), so respond here.
		res, _ := auth.AuthorizeRequest(d.InviteRequest, creds)
		if res.StatusCode != sip.StatusOK {
			_ = d.WriteResponse(res)
			return
		}
		if err := d.Answer(); err != nil {
			t.Errorf("answer: %v", err)
			return
		}
		<-d.Context().Done()
	})

	tests := []struct {
		name, user, password string
		wantCode             int
	}{
		{"no credentials", "", "", 401},
		{"good credentials", "trunk", "s3cret", 200},
		{"bad password", "trunk", "wrong", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := sipcall.Call(t.Context(), sipcall.Options{
				Target: srv.Addr, DID: "1", AuthUser: tt.user, AuthPassword: tt.password, HangupAfter: 100 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.wantCode {
				t.Fatalf("status %d, want %d; events %v", res.StatusCode, tt.wantCode, res.Events)
			}
			challenged := slices.Contains(eventTypes(res.Events), sipcall.EventAuthChallenge)
			if challenged != (tt.password != "") {
				t.Errorf("auth-challenge event: %v", challenged)
			}
		})
	}
}

func TestInvalidOptions(t *testing.T) {
	tests := []struct {
		name string
		o    sipcall.Options
	}{
		{"no target", sipcall.Options{DID: "1"}},
		{"bad port", sipcall.Options{Target: "127.0.0.1:x", DID: "1"}},
		{"no DID", sipcall.Options{Target: "127.0.0.1:5060"}},
		{"DID with @", sipcall.Options{Target: "127.0.0.1:5060", DID: "1@x"}},
		{"transport", sipcall.Options{Target: "127.0.0.1:5060", DID: "1", Transport: "tls"}},
		{"codec", sipcall.Options{Target: "127.0.0.1:5060", DID: "1", Codecs: []string{"opus"}}},
		{"bind host", sipcall.Options{Target: "127.0.0.1:5060", DID: "1", BindHost: "localhost"}},
		{"digit", sipcall.Options{Target: "127.0.0.1:5060", DID: "1", Digits: []sipcall.Digit{{Key: 'x'}}}},
		{"negative hangup", sipcall.Options{Target: "127.0.0.1:5060", DID: "1", HangupAfter: -1}},
		{"utterance offset", sipcall.Options{Target: "127.0.0.1:5060", DID: "1", Say: []sipcall.Utterance{{After: -1}}}},
		{"utterance rate", sipcall.Options{Target: "127.0.0.1:5060", DID: "1", Say: []sipcall.Utterance{{Audio: audio.PCM{Rate: 16000, Samples: []int16{1}}}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := sipcall.Call(t.Context(), tt.o)
			if !errors.Is(err, sipcall.ErrInvalidOptions) || res != nil {
				t.Fatalf("Call = %v, %v; want nil, ErrInvalidOptions", res, err)
			}
		})
	}
}

// TestNoLeaks runs calls of every kind concurrently and checks that once
// they are over no goroutine or file descriptor is left behind.
func TestNoLeaks(t *testing.T) {
	digits := make(chan string, 10)
	srv := sipcalltest.Start(t, "udp", toneThenDigits(t, 1, digits))
	reject := sipcalltest.Start(t, "udp", func(d *diago.DialogServerSession) { _ = d.Respond(403, "Forbidden", nil) })
	ended := make(chan bool, 10)
	hold := sipcalltest.Start(t, "tcp", answerAndPlay(t, ended))
	silent := silentUDP(t)

	run := func() {
		var wg sync.WaitGroup
		for i := range 3 {
			wg.Go(func() {
				res, err := sipcall.Call(t.Context(), sipcall.Options{Target: srv.Addr, DID: "1", Digits: mustDigits(t, "w1100,5", 0), MaxDuration: 10 * time.Second})
				if err != nil || res.HungUpBy != sipcall.HungUpByRemote {
					t.Errorf("call %d: %v %+v", i, err, res)
				}
			})
		}
		wg.Go(func() {
			if res, err := sipcall.Call(t.Context(), sipcall.Options{Target: reject.Addr, DID: "1"}); err != nil || res.StatusCode != 403 {
				t.Errorf("rejected call: %v %+v", err, res)
			}
		})
		wg.Go(func() {
			res, err := sipcall.Call(t.Context(), sipcall.Options{Target: hold.Addr, Transport: "tcp", DID: "1", HangupAfter: 300 * time.Millisecond})
			if err != nil || res.HungUpBy != sipcall.HungUpByCaller {
				t.Errorf("tcp call: %v %+v", err, res)
			}
		})
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
			defer cancel()
			if _, err := sipcall.Call(ctx, sipcall.Options{Target: silent, DID: "1"}); !errors.Is(err, sipcall.ErrNoAnswer) {
				t.Errorf("unanswered call: %v", err)
			}
		})
		wg.Wait()
		if !srv.Idle(5*time.Second) || !hold.Idle(5*time.Second) {
			t.Fatal("far end still busy")
		}
	}

	leakcheck.Run(t, run)
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// silentUDP is the address of a UDP socket that reads and never answers.
func silentUDP(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.LocalAddr().String()
}
