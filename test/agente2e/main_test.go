// Package agente2e runs the agent phone (internal/sipagent) against a
// private Asterisk 22: registration with digest auth, calls originated to
// the agent over ARI with audio both ways, offers that time out or are
// refused. Nothing here is skipped: if the stack cannot start, TestMain
// fails the run and says why.
package agente2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/test/harness"
)

var stack *harness.Stack

func TestMain(m *testing.M) {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "agente2e: must run as root (Asterisk runs chrooted; PostgreSQL and Redis run as their own users)")
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	start := time.Now()
	s, err := harness.Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "agente2e: the private stack did not start: %v\n", err)
		if s != nil {
			fmt.Fprintf(os.Stderr, "ccd log:\n%s\n", s.LogTail(40))
			s.Close()
		}
		os.Exit(1)
	}
	fmt.Printf("agente2e: private stack up in %s (SIP %s, ARI %s, dir %s)\n",
		time.Since(start).Round(time.Millisecond), s.SIPAddr(), s.Asterisk.ARIURL, s.Dir)
	if len(s.Asterisk.Agents) < 3 {
		fmt.Fprintf(os.Stderr, "agente2e: the stack has agents %v, the tests need 1001-1003\n", s.Asterisk.Agents)
		s.Close()
		os.Exit(1)
	}
	stack = s
	code := m.Run()
	s.Close()
	os.Exit(code)
}
