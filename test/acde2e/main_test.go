// Package acde2e runs the ACD end to end: queues configured through the
// admin API, agent phones (diago, auto-answering) registered to a private
// Asterisk 22, callers dialling in over real SIP and RTP, routing decided by
// ccd with its live state in a real Redis. Nothing here is skipped: if the
// stack cannot start, TestMain fails the run and says why.
package acde2e

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/ccd-platform/ccd/test/harness"
)

var stack *harness.Stack

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, "acde2e", &stack, func(s *harness.Stack) error {
		if len(s.Asterisk.Agents) < 3 {
			return fmt.Errorf("the stack has agents %v, the tests need 1001-1003", s.Asterisk.Agents)
		}
		// Callbacks ring the customer's number as an endpoint of this
		// Asterisk, so an agent phone can play the customer.
		s.Config.ACD.CallbackEndpoint = "PJSIP/{number}"
		return s.RestartCCD(context.Background())
	}))
}
