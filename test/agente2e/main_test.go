// Package agente2e runs the agent phone (internal/sipagent) against a
// private Asterisk 22: registration with digest auth, calls originated to
// the agent over ARI with audio both ways, offers that time out or are
// refused. Nothing here is skipped: if the stack cannot start, TestMain
// fails the run and says why.
package agente2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/ccd-platform/ccd/test/harness"
)

var stack *harness.Stack

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, "agente2e", &stack, func(s *harness.Stack) error {
		if len(s.Asterisk.Agents) < 3 {
			return fmt.Errorf("the stack has agents %v, the tests need 1001-1003", s.Asterisk.Agents)
		}
		return nil
	}))
}
