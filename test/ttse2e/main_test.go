// Package ttse2e proves text-to-speech end to end: audio rendered by
// espeak-ng, served by ccd's media handler over HTTP, fetched and played by
// a private Asterisk 22 into a real SIP call, and compared with what the
// caller heard. Nothing here is skipped: if espeak-ng or a component of the
// stack is missing, TestMain fails the run and says which.
package ttse2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/ivr/tts"
	"github.com/ccd-platform/ccd/test/harness"
)

var (
	stack *harness.Stack
	// engine renders every test prompt; cacheDir keeps them.
	engine   *tts.Espeak
	cacheDir string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "ttse2e: must run as root (Asterisk runs chrooted; PostgreSQL and Redis run as their own users)")
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var err error
	if engine, err = tts.NewEspeak(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "ttse2e: %v\n", err)
		return 1
	}
	start := time.Now()
	s, err := harness.Start(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ttse2e: the private stack did not start: %v\n", err)
		if s != nil {
			fmt.Fprintf(os.Stderr, "ccd log:\n%s\n", s.LogTail(40))
			s.Close()
		}
		return 1
	}
	defer s.Close()
	fmt.Printf("ttse2e: private stack up in %s (SIP %s, ARI %s, dir %s); TTS engine %s\n",
		time.Since(start).Round(time.Millisecond), s.SIPAddr(), s.Asterisk.ARIURL, s.Dir, engine.Name())
	stack = s
	cacheDir = filepath.Join(s.Dir, "tts")
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "ccd log (tail):\n%s\n", s.LogTail(60))
	}
	return code
}
