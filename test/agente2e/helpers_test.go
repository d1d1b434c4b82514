package agente2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/CyCoreSystems/ari/v5"

	"github.com/ccd-platform/ccd/internal/ariconn"
	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/sipagent"
	"github.com/ccd-platform/ccd/test/harness"
)

// testApp is the Stasis application the tests originate into, so that ccd's
// own application never takes these channels.
const testApp = "agente2e"

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// startAgent registers agent id from 127.0.0.2 and closes it when the test
// ends.
func startAgent(t *testing.T, ctx context.Context, id string, o sipagent.Options) *sipagent.Agent {
	t.Helper()
	o.Registrar = stack.SIPAddr()
	o.User = id
	if o.Password == "" {
		o.Password = stack.Asterisk.AgentPasswords[id]
	}
	a, err := sipagent.Start(ctx, o)
	if err != nil {
		t.Fatalf("agent %s: %v", id, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Close(ctx); err != nil {
			t.Errorf("close agent %s: %v", id, err)
		}
	})
	return a
}

// ariApp is an ARI client of the test application that keeps every event.
type ariApp struct {
	*ariconn.Client
	harness.Log[ari.Event]
}

func startARI(t *testing.T) *ariApp {
	t.Helper()
	app := &ariApp{}
	c, err := ariconn.New(ariconn.Options{
		URL: stack.Asterisk.ARIURL, User: stack.Asterisk.ARIUser, Password: stack.Asterisk.ARIPassword,
		App: testApp, OnEvent: app.Add,
	})
	if err != nil {
		t.Fatal(err)
	}
	app.Client = c
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(10 * time.Second)
	for !c.Connected() {
		if time.Now().After(deadline) {
			_, _, err := c.Status()
			t.Fatalf("ARI application %s not connected: %v", testApp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return app
}

func (a *ariApp) waitStasisStart(t *testing.T, ctx context.Context, channelID string) {
	t.Helper()
	if _, err := a.Wait(ctx, "StasisStart of "+channelID, func(e ari.Event) bool {
		s, ok := e.(*ari.StasisStart)
		return ok && s.Channel.ID == channelID
	}); err != nil {
		t.Fatal(err)
	}
}

func (a *ariApp) waitDestroyed(t *testing.T, ctx context.Context, channelID string) *ari.ChannelDestroyed {
	t.Helper()
	e, err := a.Wait(ctx, "ChannelDestroyed of "+channelID, func(e ari.Event) bool {
		d, ok := e.(*ari.ChannelDestroyed)
		return ok && d.Channel.ID == channelID
	})
	if err != nil {
		t.Fatal(err)
	}
	return e.(*ari.ChannelDestroyed)
}

// originate dials an agent's endpoint into the test application.
func (a *ariApp) originate(t *testing.T, ctx context.Context, agent string, timeout time.Duration) string {
	t.Helper()
	ch, err := a.Originate(ctx, ariconn.OriginateOptions{
		Endpoint: "PJSIP/" + agent, App: testApp, AppArgs: "agent-test",
		CallerID: `"Hotline" <4006001000>`, Timeout: timeout,
	})
	if err != nil {
		t.Fatalf("originate to %s: %v", agent, err)
	}
	return ch.ID
}

// contacts is what `pjsip show contacts` prints.
func contacts(t *testing.T, ctx context.Context) string {
	t.Helper()
	out, err := stack.Asterisk.CLI(ctx, "pjsip show contacts")
	if err != nil {
		t.Fatalf("pjsip show contacts: %v", err)
	}
	return out
}

// contactOf is the contact line of an agent, "" when it has none.
func contactOf(out, agent string) string {
	for line := range strings.SplitSeq(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Contact:" && strings.HasPrefix(f[1], agent+"/") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// referenceSound decodes an Asterisk prompt to 8 kHz PCM with sox.
func referenceSound(t *testing.T, name string) audio.PCM {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(stack.Asterisk.Root, "usr/share/asterisk/sounds/*", name+".gsm"))
	if len(matches) == 0 {
		t.Fatalf("prompt %s not found in the Asterisk root %s", name, stack.Asterisk.Root)
	}
	dst := filepath.Join(t.TempDir(), name+".wav")
	out, err := exec.Command("sox", matches[0], "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", dst).CombinedOutput()
	if err != nil {
		t.Fatalf("sox %s: %v: %s", matches[0], err, out)
	}
	p, err := audio.ReadWAVFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// toneScore is how well a 200 ms sine of hz matches somewhere in p.
func toneScore(t *testing.T, p audio.PCM, hz float64) float64 {
	t.Helper()
	m, err := audio.CrossCorrelate(p, audio.Tone(hz, 200*time.Millisecond, -12, audio.Rate), 0)
	if err != nil {
		t.Fatal(err)
	}
	return m.Score
}

func eventTypes(events []sipagent.Event) []sipagent.EventType {
	var out []sipagent.EventType
	for _, e := range events {
		out = append(out, e.Type)
	}
	return out
}
