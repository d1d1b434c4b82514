// Package webrtce2e checks the server side of the agent desktop's WebRTC
// softphone against a private Asterisk 22: agents register over the SIP
// WebSocket (ws and wss) with digest auth, wrong passwords are refused, and
// an offer to a WebRTC endpoint carries DTLS-SRTP, ICE, AVPF and rtcp-mux
// while an offer to a desk phone carries none of them. Nothing here is
// skipped: if Asterisk cannot start, TestMain fails the run and says why.
package webrtce2e

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/asterisk"
)

// inst is the private Asterisk instance every test uses.
var inst *asterisk.Instance

// agents are the instance's agents: each has a desk endpoint and a WebRTC one.
var agents = []string{"1001", "1002", "1003"}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "webrtce2e: must run as root (Asterisk runs chrooted in a mount namespace)")
		return 1
	}
	dir, err := os.MkdirTemp("", "webrtce2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "webrtce2e: %v\n", err)
		return 1
	}
	i, err := start(dir)
	if i != nil {
		defer func() {
			if err := i.Stop(context.Background()); err != nil {
				fmt.Fprintf(os.Stderr, "webrtce2e: stop Asterisk: %v\n", err)
			}
		}()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "webrtce2e: the private Asterisk did not start (kept %s): %v\n", dir, err)
		return 1
	}
	inst = i
	fmt.Printf("webrtce2e: Asterisk up (SIP %s, SIP WebSocket %s and %s, dir %s)\n",
		inst.SIPAddr, inst.SIPWebSocketURL, inst.SIPSecureWebSocketURL, dir)
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "webrtce2e: kept %s for its logs (log/messages)\n", dir)
		return code
	}
	if err := i.Stop(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "webrtce2e: stop Asterisk: %v\n", err)
		return 1
	}
	_ = os.RemoveAll(dir)
	return 0
}

// start configures and starts an instance in dir on free ports. The trunk
// is 127.0.0.1, where the test's browsers connect from, as a browser on the
// trunk's host would.
func start(dir string) (*asterisk.Instance, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := asterisk.Install(ctx, asterisk.Options{}); err != nil {
		return nil, err
	}
	var ports [3]int
	for n := range ports {
		p, err := asterisk.FreePort()
		if err != nil {
			return nil, err
		}
		ports[n] = p
	}
	i, err := asterisk.Configure(ctx, dir, asterisk.Options{
		SIPPort: ports[0], HTTPPort: ports[1], HTTPSPort: ports[2],
		TrunkAllow: []string{"127.0.0.1/32"},
		Agents:     agents,
	})
	if err != nil {
		return nil, err
	}
	return i, i.Start(ctx)
}
