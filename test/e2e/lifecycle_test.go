package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/ariconn"
	"github.com/ccd-platform/ccd/internal/sipcall"
	"github.com/ccd-platform/ccd/test/harness"
)

func readyz(t *testing.T) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + stack.CCD().HTTPAddr() + "/readyz")
	if err != nil {
		t.Fatalf("readyz: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestReadiness(t *testing.T) {
	code, body := readyz(t)
	if code != http.StatusOK {
		t.Fatalf("readyz %d: %s", code, body)
	}
	for _, dep := range []string{`"ari":"ok"`, `"redis":"ok"`, `"postgres":"ok"`, `"nats":"ok"`} {
		if !strings.Contains(body, dep) {
			t.Errorf("readyz lacks %s: %s", dep, body)
		}
	}
}

// The first SIGTERM: calls in progress finish, new calls are refused, and
// ccd stops being ready.
func TestDrainLetsCallsFinishAndRefusesNewOnes(t *testing.T) {
	ctx := ctxFor(t, 90*time.Second)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := stack.RestartCCD(ctx); err != nil {
			t.Errorf("restart ccd after drain: %v", err)
		}
	})
	first := callerNumber()
	inProgress, err := sipcall.Dial(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: harness.HotlineDID, From: first,
		Digits: digits(t, "w2500,2,w300,2,#"), MaxDuration: 30 * time.Second,
	})
	if err != nil {
		t.Fatalf("first call: %v", err)
	}
	if _, err := stack.Events().WaitStarted(ctx, first); err != nil {
		t.Fatal(err)
	}
	app := stack.CCD()
	drained := make(chan error, 1)
	go func() { drained <- app.Drain(ctx) }()
	if err := harness.Eventually(ctx, 5*time.Second, func() error {
		if code, _ := readyz(t); code != http.StatusServiceUnavailable {
			return fmt.Errorf("readyz %d while draining", code)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}

	refused := callerNumber()
	res, err := sipcall.Call(ctx, sipcall.Options{
		Target: stack.SIPAddr(), DID: harness.HotlineDID, From: refused, MaxDuration: 15 * time.Second,
	})
	if err != nil {
		t.Fatalf("second call: %v", err)
	}
	if res.Answered || res.StatusCode < 400 {
		t.Errorf("call during drain: answered=%v status %d %s, want refused", res.Answered, res.StatusCode, res.Reason)
	}

	r, err := inProgress.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if r.HungUpBy != sipcall.HungUpByRemote {
		t.Errorf("call in progress was ended by %q, want it to finish its flow", r.HungUpBy)
	}
	select {
	case err := <-drained:
		if err != nil {
			t.Errorf("drain: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("drain did not finish")
	}
	var outcome, digits string
	if err := stack.DB.QueryRow(ctx, `SELECT outcome, digits FROM call_records WHERE caller_number = $1`, first).Scan(&outcome, &digits); err != nil {
		t.Fatal(err)
	}
	if outcome != "completed" || digits != "22" {
		t.Errorf("call in progress during drain: %s %q", outcome, digits)
	}
	if err := harness.Eventually(ctx, 5*time.Second, func() error {
		return stack.DB.QueryRow(ctx, `SELECT outcome FROM call_records WHERE caller_number = $1 AND outcome = 'rejected'`, refused).Scan(&outcome)
	}); err != nil {
		t.Errorf("no rejected record for the call refused during drain: %v", err)
	}
}

// Credentials that do not match are reported as such, not as a generic
// connection error.
func TestWrongARICredentialsNamed(t *testing.T) {
	ctx := ctxFor(t, 30*time.Second)
	c, err := ariconn.New(ariconn.Options{
		URL: stack.Asterisk.ARIURL, User: stack.Asterisk.ARIUser, Password: "not-the-password", App: "ccd-wrong",
	})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	if err := harness.Eventually(ctx, 10*time.Second, func() error {
		_, _, last := c.Status()
		if !errors.Is(last, ariconn.ErrUnauthorized) {
			return fmt.Errorf("last error %v", last)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, _, last := c.Status()
	if !strings.Contains(last.Error(), "credentials") || c.Connected() {
		t.Errorf("error %q does not say the credentials are wrong", last)
	}
}
