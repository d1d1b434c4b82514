// Package deske2e runs the agent desktop end to end, everything real: a
// private Asterisk 22, Redis, PostgreSQL, NATS and ccd with its desk server
// (test/harness), the desktop served by ccd at /desk/ and driven in Debian's
// Chromium (playwright-core, desk.mjs) whose JsSIP softphone registers over
// Asterisk's SIP WebSocket and takes the call over WebRTC with a fake
// microphone playing a tone, a caller (diago) keying a trace code through
// the IVR and asking for an agent, and a second agent on a SIP phone.
//
// Nothing here is skipped: if the stack, node, playwright-core, Chromium or
// the built desktop is missing, TestMain fails the run and says which.
package deske2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/test/harness"
)

var stack *harness.Stack

// tools are what drives the browser.
var tools struct {
	node     string // node binary
	chromium string // Debian's chromium (CHROMIUM overrides)
	webDir   string // agentdesk/web: its node_modules hold playwright-core
	script   string // desk.mjs
}

func TestMain(m *testing.M) {
	if err := findTools(); err != nil {
		fmt.Fprintf(os.Stderr, "deske2e: %v\n", err)
		os.Exit(1)
	}
	os.Exit(harness.Main(m, "deske2e", &stack, func(s *harness.Stack) error {
		for _, a := range []string{browserAgent, phoneAgent} {
			if s.Asterisk.AgentPasswords[a] == "" || s.Asterisk.WebRTCEndpoints[a] == "" {
				return fmt.Errorf("the stack has agents %v, the test needs %s and %s with WebRTC endpoints", s.Asterisk.Agents, browserAgent, phoneAgent)
			}
		}
		return deskServed(s)
	}))
}

// findTools finds node, Chromium, playwright-core and the script, or says
// what is missing and how to get it.
func findTools() error {
	node, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("node is not on PATH: install Node.js 20 or later (deploy/install-deps.sh)")
	}
	tools.node = node
	tools.chromium = os.Getenv("CHROMIUM")
	if tools.chromium == "" {
		tools.chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(tools.chromium); err != nil {
		return fmt.Errorf("no browser at %s: apt-get install chromium (or set CHROMIUM)", tools.chromium)
	}
	web, err := filepath.Abs(filepath.Join("..", "..", "agentdesk", "web"))
	if err != nil {
		return err
	}
	tools.webDir = web
	if _, err := os.Stat(filepath.Join(web, "node_modules", "playwright-core", "package.json")); err != nil {
		return fmt.Errorf("playwright-core is not installed in %s/node_modules: run make web (npm ci)", web)
	}
	if tools.script, err = filepath.Abs("desk.mjs"); err != nil {
		return err
	}
	return nil
}

// deskServed checks that ccd serves the built desktop at /desk/ (a binary
// built before `make web` answers 503).
func deskServed(s *harness.Stack) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Config.HTTP.Listen+"/desk/", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET /desk/: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<script") {
		return fmt.Errorf("ccd does not serve the desktop at /desk/ (HTTP %d: %.80q): run make web before the tests", resp.StatusCode, body)
	}
	return nil
}
