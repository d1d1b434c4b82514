package agente2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/sipagent"
	"github.com/ccd-platform/ccd/test/harness"
)

// Hangup causes (Q.850) Asterisk reports in ChannelDestroyed.
const (
	causeNormal     = 16
	causeBusy       = 17
	causeNoAnswer   = 19
	causeNoResponse = 18
)

func TestRegistersAndUnregisters(t *testing.T) {
	ctx := ctxFor(t, 60*time.Second)
	tests := []struct {
		agent, transport string
	}{
		{"1001", "udp"},
		{"1002", "tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.transport, func(t *testing.T) {
			a, err := sipagent.Start(ctx, sipagent.Options{
				Registrar: stack.SIPAddr(), Transport: tt.transport,
				User: tt.agent, Password: stack.Asterisk.AgentPasswords[tt.agent],
				// Asterisk's shortest registration, renewed every second so
				// the test sees refreshes.
				Expiry: 60 * time.Second, RefreshEvery: time.Second,
			})
			if err != nil {
				t.Fatal(err)
			}
			// Asterisk keeps the source address (rewrite_contact) and
			// names the transport only when it is not UDP.
			want := fmt.Sprintf("%s/sip:%s@127.0.0.2:", tt.agent, tt.agent)
			line := contactOf(contacts(t, ctx), tt.agent)
			tcp := strings.Contains(strings.ToLower(line), "transport=tcp")
			if !strings.Contains(line, want) || tcp != (tt.transport == "tcp") {
				t.Errorf("contact of %s over %s is %q, want %s…", tt.agent, tt.transport, line, want)
			}
			if err := harness.Eventually(ctx, 10*time.Second, func() error {
				n := 0
				for _, e := range a.Events() {
					if e.Type == sipagent.EventRegistered && e.Detail == "refreshed" {
						n++
					}
					if e.Type == sipagent.EventRegistrationFailed {
						return fmt.Errorf("refresh failed: %s", e)
					}
				}
				if n < 2 {
					return fmt.Errorf("%d refreshes", n)
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if line := contactOf(contacts(t, ctx), tt.agent); line == "" {
				t.Errorf("contact gone after refreshes")
			}

			// Logging out and in again, as a desk phone does.
			if err := a.Unregister(ctx); err != nil {
				t.Fatal(err)
			}
			if line := contactOf(contacts(t, ctx), tt.agent); line != "" {
				t.Errorf("still registered after Unregister: %s", line)
			}
			if err := a.Register(ctx); err != nil {
				t.Fatal(err)
			}
			if line := contactOf(contacts(t, ctx), tt.agent); line == "" {
				t.Errorf("not registered again")
			}

			if err := a.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if line := contactOf(contacts(t, ctx), tt.agent); line != "" {
				t.Errorf("still registered after Close: %s", line)
			}
			if a.Registered() {
				t.Error("Registered after Close")
			}
		})
	}
}

func TestWrongPasswordRefused(t *testing.T) {
	ctx := ctxFor(t, 30*time.Second)
	a, err := sipagent.Start(ctx, sipagent.Options{
		Registrar: stack.SIPAddr(), User: "1003", Password: "not-the-password",
	})
	if err == nil {
		_ = a.Close(ctx)
		t.Fatal("registered with a wrong password")
	}
	var rerr *sipagent.RegistrationError
	if !errors.Is(err, sipagent.ErrRegistration) || !errors.As(err, &rerr) || rerr.StatusCode != 401 {
		t.Fatalf("error %v, want a 401 registration error", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "1003") || !strings.Contains(msg, "401") || !strings.Contains(msg, "password") {
		t.Errorf("error %q does not say who was refused and why", msg)
	}
	if line := contactOf(contacts(t, ctx), "1003"); line != "" {
		t.Errorf("contact registered anyway: %s", line)
	}
	t.Logf("refused: %v", err)
}

// An agent answers a call originated to its endpoint and hears the prompt
// Asterisk plays to it, where it was played.
func TestAgentHearsPrompt(t *testing.T) {
	app := startARI(t)
	tests := []struct{ agent, transport string }{
		{"1001", "udp"},
		{"1002", "tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.transport, func(t *testing.T) {
			ctx := ctxFor(t, 60*time.Second)
			a := startAgent(t, ctx, tt.agent, sipagent.Options{
				Transport: tt.transport,
				Behaviour: sipagent.Behaviour{AnswerAfter: 500 * time.Millisecond},
			})
			chID := app.originate(t, ctx, tt.agent, 10*time.Second)
			c, err := a.WaitCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if c.From() != "4006001000" || c.FromName() != "Hotline" {
				t.Errorf("caller %q <%s>", c.FromName(), c.From())
			}
			app.waitStasisStart(t, ctx, chID)
			if err := c.WaitAnswered(ctx); err != nil {
				t.Fatalf("channel up but the agent did not answer: %v", err)
			}
			if ring := c.AnsweredAt().Sub(c.ReceivedAt()); ring < 400*time.Millisecond || ring > 1500*time.Millisecond {
				t.Errorf("rang %v, want about 500ms", ring)
			}

			pb := fmt.Sprintf("agente2e-pb-%d", rand.Uint32())
			playedAt := time.Now()
			if err := app.Play(ctx, chID, pb, "sound:hello-world"); err != nil {
				t.Fatal(err)
			}
			if _, err := app.Wait(ctx, "PlaybackFinished "+pb, func(e ari.Event) bool {
				p, ok := e.(*ari.PlaybackFinished)
				return ok && p.Playback.ID == pb
			}); err != nil {
				t.Fatal(err)
			}
			if err := app.Hangup(ctx, chID, "normal"); err != nil {
				t.Fatal(err)
			}
			if o, err := c.Wait(ctx); err != nil || o != sipagent.OutcomeRemoteHangup {
				t.Fatalf("agent call ended %s, %v", o, err)
			}
			if d := app.waitDestroyed(t, ctx, chID); d.Cause != causeNormal {
				t.Errorf("channel destroyed with cause %d %q", d.Cause, d.CauseTxt)
			}

			hello := referenceSound(t, "hello-world")
			m, err := audio.CrossCorrelate(c.Heard(), hello, hello.Duration()/2)
			if err != nil {
				t.Fatal(err)
			}
			if m.Score < 0.6 {
				t.Errorf("agent did not hear the prompt: correlation %.2f at %v", m.Score, m.Offset)
			}
			if other, err := audio.CrossCorrelate(c.Heard(), referenceSound(t, "demo-congrats"), hello.Duration()/2); err != nil || other.Score > 0.5 {
				t.Errorf("agent's recording also matches an unrelated prompt (%.2f, %v)", other.Score, err)
			}
			// The prompt sits where it was played on the agent's timeline.
			if want := playedAt.Sub(c.AnsweredAt()); m.Offset < want-300*time.Millisecond || m.Offset > want+700*time.Millisecond {
				t.Errorf("prompt heard at %v, played at %v", m.Offset, want)
			}
			t.Logf("agent %s/%s: codec %s, prompt correlation %.2f at %v (played at %v)",
				tt.agent, tt.transport, c.Codec(), m.Score, m.Offset, playedAt.Sub(c.AnsweredAt()).Round(time.Millisecond))
		})
	}
}

// Two agents answer and Asterisk bridges them, as a queue bridges a caller
// and an agent: each hears the other's tone and not its own, so audio flows
// both ways through Asterisk and tells who is connected to whom.
func TestBridgedAgentsHearEachOther(t *testing.T) {
	app := startARI(t)
	ctx := ctxFor(t, 60*time.Second)
	type leg struct {
		agent, transport string
		tone             float64
		a                *sipagent.Agent
		channel          string
		call             *sipagent.Call
	}
	legs := []*leg{{agent: "1001", transport: "udp", tone: 1100}, {agent: "1002", transport: "tcp", tone: 700}}
	for _, l := range legs {
		l.a = startAgent(t, ctx, l.agent, sipagent.Options{Transport: l.transport, Play: sipagent.ToneBursts(l.tone)})
		l.channel = app.originate(t, ctx, l.agent, 10*time.Second)
		app.waitStasisStart(t, ctx, l.channel)
		c, err := l.a.WaitCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l.call = c
	}
	bridge := fmt.Sprintf("agente2e-br-%d", rand.Uint32())
	if err := app.CreateBridge(ctx, bridge, "mixing"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.DestroyBridge(context.Background(), bridge) })
	bridgedAt := time.Now()
	if err := app.AddToBridge(ctx, bridge, legs[0].channel, legs[1].channel); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // let a couple of bursts through
	for _, l := range legs {
		if err := app.Hangup(ctx, l.channel, "normal"); err != nil {
			t.Fatal(err)
		}
	}
	for i, l := range legs {
		if o, err := l.call.Wait(ctx); err != nil || o != sipagent.OutcomeRemoteHangup {
			t.Fatalf("agent %s: call ended %s, %v", l.agent, o, err)
		}
		other := legs[1-i]
		heard := l.call.Heard()
		// Only what was heard once bridged counts.
		skip := min(len(heard.Samples), int(bridgedAt.Sub(l.call.AnsweredAt())*audio.Rate/time.Second))
		heard.Samples = heard.Samples[skip:]
		mine, theirs := toneScore(t, heard, l.tone), toneScore(t, heard, other.tone)
		if theirs < 0.8 {
			t.Errorf("agent %s does not hear agent %s's %v Hz tone: %.2f", l.agent, other.agent, other.tone, theirs)
		}
		if mine > 0.5 {
			t.Errorf("agent %s hears its own %v Hz tone (%.2f): an echo, or the check proves nothing", l.agent, l.tone, mine)
		}
		if segs := audio.ActiveSegments(heard); len(segs) < 2 {
			t.Errorf("agent %s: want a burst per second, heard segments %v", l.agent, segs)
		}
		t.Logf("agent %s (%s) hears %v Hz at %.2f, its own %v Hz at %.2f", l.agent, l.transport, other.tone, theirs, l.tone, mine)
	}
}

// Offers the agent does not take: the phone sees the INVITE, then the
// CANCEL, or refuses with a status; Asterisk reports the matching cause.
func TestOfferNotTaken(t *testing.T) {
	app := startARI(t)
	ctx := ctxFor(t, 60*time.Second)
	a := startAgent(t, ctx, "1003", sipagent.Options{})

	cancelled := []sipagent.EventType{sipagent.EventIncoming, sipagent.EventCancelled, sipagent.EventEnded}
	tests := []struct {
		name      string
		behaviour sipagent.Behaviour
		timeout   time.Duration
		// hangupAfter hangs the ringing channel up over ARI, as a caller
		// who gives up during the offer.
		hangupAfter time.Duration
		outcome     sipagent.Outcome
		events      []sipagent.EventType
		causes      []int
	}{
		{"no answer within the offer timeout", sipagent.Behaviour{NoAnswer: true}, 2 * time.Second, 0,
			sipagent.OutcomeCancelled, cancelled, []int{causeNoAnswer, causeNoResponse}},
		{"caller gives up while ringing", sipagent.Behaviour{NoAnswer: true}, 30 * time.Second, time.Second,
			sipagent.OutcomeCancelled, cancelled, []int{causeNormal}},
		{"busy", sipagent.Behaviour{Reject: 486, AnswerAfter: 300 * time.Millisecond}, 10 * time.Second, 0,
			sipagent.OutcomeRejected, []sipagent.EventType{sipagent.EventIncoming, sipagent.EventRejected, sipagent.EventEnded}, []int{causeBusy}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := a.SetBehaviour(tt.behaviour); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			chID := app.originate(t, ctx, "1003", tt.timeout)
			c, err := a.WaitCall(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tt.hangupAfter > 0 {
				time.Sleep(tt.hangupAfter) // the phone rings meanwhile
				if err := app.Hangup(ctx, chID, "normal"); err != nil {
					t.Fatal(err)
				}
			}
			o, err := c.Wait(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rang := time.Since(start)
			if o != tt.outcome {
				t.Errorf("outcome %s, want %s", o, tt.outcome)
			}
			if got := eventTypes(c.Events()); !slices.Equal(got, tt.events) {
				t.Errorf("agent events %v, want %v", got, tt.events)
			}
			if tt.behaviour.NoAnswer && tt.hangupAfter == 0 && (rang < tt.timeout-200*time.Millisecond || rang > tt.timeout+2*time.Second) {
				t.Errorf("rang %v with an offer timeout of %v", rang, tt.timeout)
			}
			d := app.waitDestroyed(t, ctx, chID)
			if !slices.Contains(tt.causes, d.Cause) {
				t.Errorf("channel destroyed with cause %d %q, want one of %v", d.Cause, d.CauseTxt, tt.causes)
			}
			t.Logf("agent: %v after %v; Asterisk: cause %d %q", eventTypes(c.Events()), rang.Round(time.Millisecond), d.Cause, d.CauseTxt)
		})
	}
}

// Closing an agent after calls of every kind leaves no SIP goroutine and no
// socket on the agent's address.
func TestCloseLeavesNothing(t *testing.T) {
	app := startARI(t)
	run := func() {
		ctx := ctxFor(t, 60*time.Second)
		a, err := sipagent.Start(ctx, sipagent.Options{
			Registrar: stack.SIPAddr(), User: "1001", Password: stack.Asterisk.AgentPasswords["1001"],
		})
		if err != nil {
			t.Fatal(err)
		}
		// Answered, then hung up by Asterisk.
		ch := app.originate(t, ctx, "1001", 10*time.Second)
		c, err := a.WaitCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		app.waitStasisStart(t, ctx, ch)
		if err := app.Hangup(ctx, ch, "normal"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Wait(ctx); err != nil {
			t.Fatal(err)
		}
		// Still ringing when the agent closes.
		if err := a.SetBehaviour(sipagent.Behaviour{NoAnswer: true}); err != nil {
			t.Fatal(err)
		}
		ch = app.originate(t, ctx, "1001", 10*time.Second)
		if _, err := a.WaitCall(ctx); err != nil {
			t.Fatal(err)
		}
		if err := a.Close(ctx); err != nil {
			t.Fatal(err)
		}
		app.waitDestroyed(t, ctx, ch)
	}

	run()
	settle()
	before := runtime.NumGoroutine()
	run()

	deadline := time.Now().Add(5 * time.Second)
	for {
		settle()
		sip, total := sipGoroutines(), runtime.NumGoroutine()
		socks := agentSockets(t)
		if sip == 0 && total <= before && len(socks) == 0 {
			t.Logf("after close: %d goroutines (was %d), none of SIP; no socket on 127.0.0.2", total, before)
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("after close: %d SIP goroutines, %d in all (was %d), sockets on 127.0.0.2: %v\n%s",
				sip, total, before, socks, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func settle() {
	for range 3 {
		runtime.GC()
		runtime.Gosched()
	}
}

// sipGoroutines counts goroutines running SIP or RTP code (sipgo, diago,
// pion, the agent): none may outlive Close, whatever else the process runs.
func sipGoroutines() int {
	buf := make([]byte, 4<<20)
	n := 0
	for g := range strings.SplitSeq(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "github.com/emiago/") || strings.Contains(g, "github.com/pion/") ||
			strings.Contains(g, "internal/sipagent.") {
			n++
		}
	}
	return n
}

// agentSockets lists the UDP and TCP sockets of this process bound to
// 127.0.0.2, the agent's address: entries of /proc/net (local address in
// hex, little-endian 0200007F) whose inode is one of our descriptors.
func agentSockets(t *testing.T) []string {
	t.Helper()
	ours := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatalf("listing sockets needs /proc: %v", err)
	}
	for _, fd := range fds {
		link, err := os.Readlink("/proc/self/fd/" + fd.Name())
		if err == nil && strings.HasPrefix(link, "socket:[") {
			ours[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, f := range []string{"/proc/self/net/udp", "/proc/self/net/tcp"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("listing sockets needs /proc: %v", err)
		}
		for line := range strings.SplitSeq(string(data), "\n") {
			fields := strings.Fields(line)
			if len(fields) > 9 && strings.HasPrefix(fields[1], "0200007F:") && ours[fields[9]] {
				out = append(out, f+" "+fields[1])
			}
		}
	}
	return out
}
