// Package e2e runs the platform end to end: real SIP calls over loopback into
// a private Asterisk 22, driven by ccd over ARI, with Redis, PostgreSQL and
// NATS. Nothing here is skipped: if a component cannot start, TestMain fails
// the run and says which.
package e2e

import (
	"os"
	"testing"

	"github.com/ccd-platform/ccd/test/harness"
)

var stack *harness.Stack

func TestMain(m *testing.M) {
	os.Exit(harness.Main(m, "e2e", &stack, nil))
}
