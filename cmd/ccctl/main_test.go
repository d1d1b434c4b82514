package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/diago"

	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/sipcall/sipcalltest"
)

// run runs ccctl with args and returns its exit status and output.
func run(t *testing.T, args ...string) (code int, out, errOut string) {
	t.Helper()
	var o, e bytes.Buffer
	stdout, stderr = &o, &e
	t.Cleanup(func() { stdout, stderr = nil, nil })
	code = dispatch(args)
	return code, o.String(), e.String()
}

func TestDispatch(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // in stdout
		wantErr  string // in stderr
	}{
		{"no command", nil, 2, "", "usage: ccctl <command>"},
		{"help lists commands", []string{"help"}, 0, "call ", ""},
		{"--help", []string{"--help"}, 0, "commands:", ""},
		{"help for a command", []string{"help", "call"}, 0, "", "-digits"},
		{"help for unknown command", []string{"help", "nope"}, 2, "", `unknown command "nope"`},
		{"unknown command", []string{"nope"}, 2, "", `unknown command "nope"`},
		{"call -h", []string{"call", "-h"}, 0, "", "usage: ccctl call"},
		{"unknown flag", []string{"call", "--nope"}, 2, "", "flag provided but not defined: -nope"},
		{"bad duration", []string{"call", "--gap", "soon"}, 2, "", `invalid value "soon"`},
		{"positional argument", []string{"call", "extra"}, 2, "", `unexpected argument "extra"`},
		{"bad digits", []string{"call", "--digits", "12x"}, 2, "", `unexpected 'x' at position 3`},
		{"negative wait", []string{"call", "--wait", "-1s"}, 2, "", "must not be negative"},
		{"password without user", []string{"call", "--password", "p"}, 2, "", "--password needs --user"},
		{"bad transport", []string{"call", "--transport", "sctp"}, 2, "", `transport "sctp"`},
		{"help lists other commands", []string{"help"}, 0, "stack ", ""},
		{"help lists acd commands", []string{"help"}, 0, "pause-reason ", ""},
		{"help for agent", []string{"help", "agent"}, 0, "pause ID REASON", ""},
		{"queue without command", []string{"queue"}, 2, "ccctl queue <command>", "missing queue command"},
		{"unknown queue command", []string{"queue", "drop", "x"}, 2, "", `unknown queue command "drop"`},
		{"agent pause without reason", []string{"agent", "pause", "1001"}, 2, "", "usage: ccctl agent pause ID REASON"},
		{"queue list with argument", []string{"queue", "list", "x"}, 2, "", "usage: ccctl queue list"},
		{"pause-reason unknown flag", []string{"pause-reason", "list", "--nope"}, 2, "", "flag provided but not defined: -nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
		})
	}
}

func TestCallAnswered(t *testing.T) {
	srv := sipcalltest.Start(t, "udp", func(d *diago.DialogServerSession) {
		_ = d.Ringing()
		time.Sleep(100 * time.Millisecond) // ring; see sipcall's tests
		if err := d.Answer(); err != nil {
			t.Errorf("answer: %v", err)
			return
		}
		if err := sipcalltest.Play(d, audio.Tone(440, 800*time.Millisecond, -6, audio.Rate)); err != nil {
			t.Errorf("play: %v", err)
		}
		if got, err := sipcalltest.ReadDigits(d, 2, 5*time.Second); err != nil || got != "1#" {
			t.Errorf("digits %q, %v", got, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sipcalltest.HangupWithReason(ctx, d, "Q.850;cause=16")
	})
	wav := filepath.Join(t.TempDir(), "heard.wav")

	code, out, errOut := run(t, "call", "--to", srv.Addr, "--digits", "1#", "--wait", "900ms", "--gap", "100ms", "--record", wav, "--max", "10s")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"INVITE sent to sip:4006001000@" + srv.Addr,
		"180 Ringing",
		"answered: 200 OK, codec PCMU",
		"digit 1 sent", "digit # sent",
		"BYE received, Reason: Q.850;cause=16",
		"answered:    yes (PCMU)",
		"SIP status:  200 OK",
		"hung up by:  remote (Q.850;cause=16)",
		"digits sent: 1#",
		"recording:   " + wav,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "heard:       0.8") && !strings.Contains(out, "heard:       0.7") {
		t.Errorf("output does not report about 0.8s heard:\n%s", out)
	}
	if p, err := audio.ReadWAVFile(wav); err != nil || p.Duration() < 800*time.Millisecond {
		t.Errorf("recording: %v, %v", p.Duration(), err)
	}
}

func TestCallRejectedExitsNonZero(t *testing.T) {
	srv := sipcalltest.Start(t, "tcp", func(d *diago.DialogServerSession) {
		_ = d.Respond(403, "Forbidden", nil)
	})
	code, out, errOut := run(t, "call", "--to", srv.Addr, "--transport", "tcp")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "failed: 403 Forbidden") || !strings.Contains(out, "answered:    no") || !strings.Contains(errOut, "call not answered: 403 Forbidden") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", out, errOut)
	}
}
