package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/cdr"
	"github.com/ccd-platform/ccd/internal/sipcall"
	"github.com/ccd-platform/ccd/test/harness"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// callerNumber gives each test call its own caller number, so events and
// records of one call are told apart from others.
func callerNumber() string { return fmt.Sprintf("138%08d", rand.IntN(100000000)) }

func digits(t *testing.T, spec string) []sipcall.Digit {
	t.Helper()
	d, err := sipcall.ParseDigits(spec, 250*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// waitEnded returns the call's started and ended events and its record.
func waitEnded(t *testing.T, ctx context.Context, caller string) (cti.CallStarted, cti.CallEnded, cdr.Record) {
	t.Helper()
	ev := stack.Events()
	started, err := ev.WaitStarted(ctx, caller)
	if err != nil {
		t.Fatalf("no call.started for caller %s: %v", caller, err)
	}
	env, err := ev.WaitCall(ctx, "call.ended", started.CallID)
	if err != nil {
		t.Fatalf("no call.ended for call %s: %v", started.CallID, err)
	}
	var ended cti.CallEnded
	if err := env.Decode(&ended); err != nil {
		t.Fatal(err)
	}
	rec, err := stack.CCD().Records().Get(ctx, started.CallID)
	if err != nil {
		t.Fatalf("call record: %v", err)
	}
	return started, ended, rec
}

// soundDuration is the length of a GSM prompt in the Asterisk root (33 bytes per 20 ms).
func soundDuration(t *testing.T, name string) time.Duration {
	t.Helper()
	ref := referenceSound(t, name)
	return ref.Duration()
}

// referenceSound decodes an Asterisk prompt to 8 kHz PCM with sox.
func referenceSound(t *testing.T, name string) audio.PCM {
	t.Helper()
	// sounds/en is an absolute symlink inside the root; look in the voice directories.
	matches, _ := filepath.Glob(filepath.Join(stack.Asterisk.Root, "usr/share/asterisk/sounds/*", name+".gsm"))
	if len(matches) == 0 {
		t.Fatalf("prompt %s not found in the Asterisk root %s", name, stack.Asterisk.Root)
	}
	src := matches[0]
	dst := filepath.Join(t.TempDir(), name+".wav")
	out, err := exec.Command("sox", src, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", dst).CombinedOutput()
	if err != nil {
		t.Fatalf("sox %s: %v: %s", src, err, out)
	}
	p, err := audio.ReadWAVFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCallAnsweredGreetingDigitsAndRecord(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	caller := callerNumber()
	wav := filepath.Join(t.TempDir(), "heard.wav")
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: harness.HotlineDID, From: caller,
		// Let the greeting play out, then key the digits.
		Digits:      digits(t, "w2500,4,7,1,1,9,#"),
		MaxDuration: 30 * time.Second,
		RecordPath:  wav,
	})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if !res.Answered {
		t.Fatalf("not answered: %d %s", res.StatusCode, res.Reason)
	}
	if res.HungUpBy != sipcall.HungUpByRemote {
		t.Errorf("hung up by %q, want the hotline to hang up", res.HungUpBy)
	}

	// What the caller heard: the greeting right after the answer, about as
	// long as the prompt, well above the silence around it; and it is the
	// greeting, not just any sound.
	greeting := soundDuration(t, "hello-world")
	segs := audio.ActiveSegments(res.Heard)
	if len(segs) == 0 {
		t.Fatalf("caller heard nothing (%s of audio)", res.Heard.Duration())
	}
	first := segs[0]
	if first.Start > 800*time.Millisecond {
		t.Errorf("greeting started %s after the answer", first.Start)
	}
	if d := first.Duration(); d < greeting*6/10 || d > greeting*14/10 {
		t.Errorf("first sound lasted %s, greeting is %s (segments %v)", d, greeting, segs)
	}
	m, err := audio.CrossCorrelate(res.Heard, referenceSound(t, "hello-world"), greeting/2)
	if err != nil {
		t.Fatal(err)
	}
	if m.Score < 0.6 {
		t.Errorf("heard audio does not match the greeting: correlation %.2f at %s", m.Score, m.Offset)
	}
	if other, err := audio.CrossCorrelate(res.Heard, referenceSound(t, "demo-congrats"), greeting/2); err != nil || other.Score > 0.5 {
		t.Errorf("heard audio also matches an unrelated prompt (%.2f, %v): the comparison proves nothing", other.Score, err)
	}
	t.Logf("greeting heard at %s for %s (prompt %s), correlation %.2f; segments %v", first.Start, first.Duration(), greeting, m.Score, segs)
	if len(segs) < 2 {
		t.Errorf("no goodbye heard after the digits: segments %v", segs)
	}

	started, ended, rec := waitEnded(t, ctx, caller)
	if started.DID != harness.HotlineDID {
		t.Errorf("DID %q", started.DID)
	}
	// Keys arrive in order, one event each.
	var keys []string
	for _, e := range stack.Events().All() {
		var k cti.CallKey
		if e.Type == "call.key" && e.Decode(&k) == nil && k.CallID == started.CallID {
			keys = append(keys, k.Key)
		}
	}
	if got := strings.Join(keys, ""); got != "47119#" {
		t.Errorf("keys in order %q, want 47119#", got)
	}
	if ended.Outcome != "completed" || ended.Digits != "47119" || ended.HangupBy != "system" {
		t.Errorf("call.ended %+v", ended)
	}
	// The call detail record.
	if rec.CallerNumber != caller || rec.DID != harness.HotlineDID || rec.Digits != "47119" || rec.Outcome != "completed" {
		t.Errorf("record %+v", rec)
	}
	if rec.AnsweredAt == nil || rec.EndedAt == nil || rec.AnsweredAt.Before(rec.StartedAt) || rec.EndedAt.Before(*rec.AnsweredAt) {
		t.Errorf("record times start %v answer %v end %v", rec.StartedAt, rec.AnsweredAt, rec.EndedAt)
	}
	if rec.HangupCause == nil || *rec.HangupCause != 16 || rec.HangupBy != "system" {
		t.Errorf("hangup cause %v %q by %q, want 16 Normal Clearing by system", rec.HangupCause, rec.HangupCauseText, rec.HangupBy)
	}
	if rec.ChannelID == "" || rec.Instance != "e2e" {
		t.Errorf("record ids %+v", rec)
	}
}

func TestKeyDuringGreetingStopsItAndIsKept(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	caller := callerNumber()
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: harness.HotlineDID, From: caller,
		Digits:      digits(t, "w400,5,w300,6,#"),
		MaxDuration: 30 * time.Second,
	})
	if err != nil || !res.Answered {
		t.Fatalf("call: %v %+v", err, res)
	}
	_, ended, rec := waitEnded(t, ctx, caller)
	if ended.Digits != "56" || rec.Digits != "56" || rec.Outcome != "completed" {
		t.Errorf("digits %q / record %q %s, want 56 completed", ended.Digits, rec.Digits, rec.Outcome)
	}
	// The greeting stopped at the key: the first sound is shorter than the prompt.
	segs := audio.ActiveSegments(res.Heard)
	if len(segs) == 0 || segs[0].Duration() > soundDuration(t, "hello-world")*8/10 {
		t.Errorf("greeting was not cut short by the key: segments %v", segs)
	}
}

func TestNoInputTimesOut(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	caller := callerNumber()
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: "4006001001", From: caller, Transport: "tcp",
		MaxDuration: 30 * time.Second,
	})
	if err != nil || !res.Answered {
		t.Fatalf("call over TCP: %v %+v", err, res)
	}
	_, ended, rec := waitEnded(t, ctx, caller)
	if ended.Outcome != "no_input" || rec.Outcome != "no_input" || rec.DID != "4006001001" {
		t.Errorf("outcome %q record %+v", ended.Outcome, rec)
	}
}

func TestUnknownSourceRefused(t *testing.T) {
	ctx := ctxFor(t, 30*time.Second)
	caller := callerNumber()
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: harness.HotlineDID, From: caller,
		BindHost: "127.0.0.3", MaxDuration: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("call: %v", err)
	}
	if res.Answered || (res.StatusCode != 401 && res.StatusCode != 403) {
		t.Fatalf("call from an unknown source: answered=%v status %d %s, want 401/403", res.Answered, res.StatusCode, res.Reason)
	}
	// Asterisk refused it before ccd: no event, no record.
	for _, e := range stack.Events().All() {
		var s cti.CallStarted
		if e.Type == "call.started" && e.Decode(&s) == nil && s.Caller == caller {
			t.Fatalf("refused call reached ccd: %+v", s)
		}
	}
	var n int
	if err := stack.DB.QueryRow(ctx, `SELECT count(*) FROM call_records WHERE caller_number = $1`, caller).Scan(&n); err != nil || n != 0 {
		t.Fatalf("records for refused caller: %d (%v)", n, err)
	}

	t.Run("authenticated carrier accepted", func(t *testing.T) {
		caller := callerNumber()
		res, err := sipcall.Call(ctx, sipcall.Options{
			Target: stack.SIPAddr(), DID: harness.HotlineDID, From: caller, BindHost: "127.0.0.3",
			AuthUser: "carrier", AuthPassword: "carrier-secret-e2e",
			Digits: digits(t, "w300,9,#"), MaxDuration: 20 * time.Second,
		})
		if err != nil || !res.Answered {
			t.Fatalf("authenticated call: %v %+v", err, res)
		}
		_, ended, _ := waitEnded(t, ctx, caller)
		if ended.Digits != "9" {
			t.Errorf("digits %q", ended.Digits)
		}
	})
	t.Run("wrong password refused", func(t *testing.T) {
		res, err := sipcall.Call(ctx, sipcall.Options{
			Target: stack.SIPAddr(), DID: harness.HotlineDID, From: callerNumber(), BindHost: "127.0.0.3",
			AuthUser: "carrier", AuthPassword: "wrong", MaxDuration: 10 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Answered || res.StatusCode < 400 {
			t.Fatalf("answered=%v status %d", res.Answered, res.StatusCode)
		}
	})
}

// callGoroutines counts goroutines running a call's flow or waiting on its channel.
func callGoroutines() (int, string) {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	var sample string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "internal/calls.(*Manager).run") || strings.Contains(g, "ivr/arichan.") {
			n++
			sample = g
		}
	}
	return n, sample
}

func TestHangupDuringGreetingLeavesNothingBehind(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	caller := callerNumber()
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: harness.HotlineDID, From: caller,
		HangupAfter: 600 * time.Millisecond, MaxDuration: 20 * time.Second,
	})
	if err != nil || !res.Answered {
		t.Fatalf("call: %v %+v", err, res)
	}
	if res.HungUpBy != sipcall.HungUpByCaller {
		t.Fatalf("hung up by %q", res.HungUpBy)
	}
	_, ended, rec := waitEnded(t, ctx, caller)
	if ended.Outcome != "abandoned" || rec.Outcome != "abandoned" || rec.HangupBy != "caller" || rec.EndedAt == nil {
		t.Errorf("ended %+v record %+v", ended, rec)
	}
	err = harness.Eventually(ctx, 5*time.Second, func() error {
		if n := stack.CCD().ActiveCalls(); n != 0 {
			return fmt.Errorf("%d calls still active", n)
		}
		if n, g := callGoroutines(); n != 0 {
			return fmt.Errorf("%d call goroutines left, e.g.\n%s", n, g)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var live int64
	if live, err = stack.RDB.Exists(ctx, "cc:call:"+rec.CallID).Result(); err != nil || live != 0 {
		t.Errorf("live state of the call left in Redis: %d %v", live, err)
	}
}

func TestCCDRestartReconnects(t *testing.T) {
	ctx := ctxFor(t, 90*time.Second)
	if err := stack.RestartCCD(ctx); err != nil {
		t.Fatalf("restart ccd: %v", err)
	}
	caller := callerNumber()
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: harness.HotlineDID, From: caller,
		Digits: digits(t, "w300,3,1,#"), MaxDuration: 20 * time.Second,
	})
	if err != nil || !res.Answered {
		t.Fatalf("call after ccd restart: %v %+v", err, res)
	}
	_, ended, _ := waitEnded(t, ctx, caller)
	if ended.Digits != "31" || ended.Outcome != "completed" {
		t.Errorf("after restart: %+v", ended)
	}
}

func TestAsteriskRestartReconnects(t *testing.T) {
	ctx := ctxFor(t, 120*time.Second)
	if err := stack.Asterisk.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := harness.Eventually(ctx, 10*time.Second, func() error {
		if stack.CCD().ARIConnected() {
			return errors.New("ccd still reports ARI connected")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := stack.Asterisk.Start(ctx); err != nil {
		t.Fatalf("start Asterisk again: %v", err)
	}
	if err := harness.Eventually(ctx, 30*time.Second, func() error {
		if !stack.CCD().ARIConnected() {
			return errors.New("ccd has not reconnected to ARI")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	caller := callerNumber()
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: harness.HotlineDID, From: caller,
		Digits: digits(t, "w300,8,#"), MaxDuration: 20 * time.Second,
	})
	if err != nil || !res.Answered {
		t.Fatalf("call after Asterisk restart: %v %+v", err, res)
	}
	_, ended, _ := waitEnded(t, ctx, caller)
	if ended.Digits != "8" {
		t.Errorf("after Asterisk restart: %+v", ended)
	}
}
