package harness

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// Main starts a private stack for a test package, runs its tests and stops
// the stack; use it as `func TestMain(m *testing.M) { os.Exit(harness.Main(m, "e2e", &stack, nil)) }`.
// Nothing is skipped: if the stack cannot start, the run fails and says why.
// ready, if set, runs after the stack is up (further setup); an error fails the run.
func Main(m *testing.M, name string, into **Stack, ready func(*Stack) error) int {
	if os.Geteuid() != 0 {
		fmt.Fprintf(os.Stderr, "%s: must run as root (Asterisk runs chrooted; PostgreSQL and Redis run as their own users)\n", name)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	start := time.Now()
	s, err := Start(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: the private stack did not start: %v\n", name, err)
		if s != nil {
			fmt.Fprintf(os.Stderr, "ccd log:\n%s\n", s.LogTail(40))
			s.Close()
		}
		return 1
	}
	defer s.Close()
	fmt.Printf("%s: private stack up in %s (SIP %s, ARI %s, Redis %s, dir %s)\n", name,
		time.Since(start).Round(time.Millisecond), s.SIPAddr(), s.Asterisk.ARIURL, s.Redis.Addr, s.Dir)
	if ready != nil {
		if err := ready(s); err != nil {
			fmt.Fprintf(os.Stderr, "%s: setup: %v\n", name, err)
			return 1
		}
	}
	*into = s
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "ccd log (tail):\n%s\n", s.LogTail(60))
	}
	return code
}
