// Package e2e runs the platform end to end: real SIP calls over loopback into
// a private Asterisk 22, driven by ccd over ARI, with Redis, PostgreSQL and
// NATS. Nothing here is skipped: if a component cannot start, TestMain fails
// the run and says which.
package e2e

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
		fmt.Fprintln(os.Stderr, "e2e: must run as root (Asterisk runs chrooted; PostgreSQL and Redis run as their own users)")
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	start := time.Now()
	s, err := harness.Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: the private stack did not start: %v\n", err)
		if s != nil {
			fmt.Fprintf(os.Stderr, "ccd log:\n%s\n", s.LogTail(40))
			s.Close()
		}
		os.Exit(1)
	}
	fmt.Printf("e2e: private stack up in %s (SIP %s, ARI %s, Redis %s, dir %s)\n",
		time.Since(start).Round(time.Millisecond), s.SIPAddr(), s.Asterisk.ARIURL, s.Redis.Addr, s.Dir)
	stack = s
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "ccd log (tail):\n%s\n", s.LogTail(60))
	}
	s.Close()
	os.Exit(code)
}
