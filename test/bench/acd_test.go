package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/internal/sipagent"
	"github.com/ccd-platform/ccd/internal/sipcall"
	"github.com/ccd-platform/ccd/test/harness"
)

// acdDrainDID is the number whose flow queues callers in the ACD's drain queue.
const acdDrainDID = "4006009100"

// api calls ccd's admin API.
func api(method, path string, body any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+stack.CCD().HTTPAddr()+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+harness.APIToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode > 299 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, out)
	}
	return nil
}

// setupACDDrain configures the drain queue, the bench agents and the flow.
func setupACDDrain(b *testing.B) {
	b.Helper()
	q := acd.QueueConfig{ID: "drain", Name: "Drain benchmark", Strategy: acd.LongestIdle, OfferTimeout: 15, RetryDelay: 1}
	if err := api(http.MethodPut, "/api/v1/queues/drain", q); err != nil {
		b.Fatal(err)
	}
	for _, id := range stack.Asterisk.Agents {
		a := acd.AgentConfig{ID: acd.AgentID(id), Name: "Bench " + id, Device: "PJSIP/" + id, Skills: map[acd.Skill]int{"general": 3}}
		if err := api(http.MethodPut, "/api/v1/agents/"+id, a); err != nil {
			b.Fatal(err)
		}
	}
	src := []byte(`name: drain
languages: [en]
default_language: en
start: wait
nodes:
  wait: {type: queue, queue: drain, next: bye}
  bye: {type: hangup}
`)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := stack.PublishFlow(ctx, "drain", src, acdDrainDID); err != nil {
		b.Fatal(err)
	}
}

// loginAgents logs the registered agent phones into the ACD before the
// callers dial, and out again when the benchmark ends.
func loginAgents(b *testing.B) drainHook {
	return func(ctx context.Context, agents []string) error {
		for _, id := range agents {
			if err := api(http.MethodPost, "/api/v1/agents/"+id+"/login", nil); err != nil {
				return err
			}
			b.Cleanup(func() {
				deadline := time.Now().Add(10 * time.Second)
				for api(http.MethodPost, "/api/v1/agents/"+id+"/logout", nil) != nil && time.Now().Before(deadline) {
					time.Sleep(100 * time.Millisecond)
				}
			})
		}
		return nil
	}
}

// BenchmarkAvailableToOffered measures how soon a waiting call is offered
// once an agent becomes available: from the agent's "ready" request to the
// INVITE at the agent's phone, and to the ACD's queue.offered event.
func BenchmarkAvailableToOffered(b *testing.B) {
	const rounds = 30
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	setupACDDrain(b)
	id := stack.Asterisk.Agents[0]
	phone, err := sipagent.Start(ctx, sipagent.Options{Registrar: stack.SIPAddr(), User: id,
		Password: stack.Asterisk.AgentPasswords[id], Behaviour: sipagent.Behaviour{HangupAfter: 50 * time.Millisecond}})
	if err != nil {
		b.Fatal(err)
	}
	defer phone.Close(context.Background())
	if err := api(http.MethodPost, "/api/v1/agents/"+id+"/login", nil); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = api(http.MethodPost, "/api/v1/agents/"+id+"/logout", nil) }()
	var toInvite, toEvent []time.Duration
	for i := range rounds {
		if err := waitAgent(ctx, id, acd.Available); err != nil {
			b.Fatal(err)
		}
		if err := api(http.MethodPost, "/api/v1/agents/"+id+"/pause", map[string]string{"reason": "break"}); err != nil {
			b.Fatal(err)
		}
		from := fmt.Sprintf("1390000%04d", i)
		caller, err := sipcall.Dial(ctx, sipcall.Options{Target: stack.SIPAddr(), DID: acdDrainDID, From: from, MaxDuration: 30 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		cs, err := stack.Events().WaitStarted(ctx, from)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := stack.Events().WaitCall(ctx, "queue.joined", cs.CallID); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if err := api(http.MethodPost, "/api/v1/agents/"+id+"/ready", nil); err != nil {
			b.Fatal(err)
		}
		call, err := phone.WaitCall(ctx)
		if err != nil {
			b.Fatal(err)
		}
		toInvite = append(toInvite, call.ReceivedAt().Sub(start))
		ev, err := stack.Events().WaitCall(ctx, "queue.offered", cs.CallID)
		if err != nil {
			b.Fatal(err)
		}
		toEvent = append(toEvent, ev.Time.Sub(start))
		if _, err := caller.Wait(); err != nil {
			b.Fatal(err)
		}
	}
	p := func(ds []time.Duration, q float64) string {
		return percentile(ds, q).Round(100 * time.Microsecond).String()
	}
	b.ReportMetric(float64(percentile(toInvite, 0.99).Microseconds())/1000, "invite-p99-ms")
	b.ReportMetric(float64(percentile(toEvent, 0.99).Microseconds())/1000, "offered-p99-ms")
	repMu.Lock()
	defer repMu.Unlock()
	fmt.Fprintf(&report, "\n## Agent available → call offered\n\n"+
		"One call waits; its only agent goes from paused to ready through the API (`POST /api/v1/agents/{id}/ready`), %d rounds. "+
		"Measured from the ready request to the ACD's queue.offered event and to the INVITE at the agent's phone (diago).\n\n"+
		"| to | p50 | p99 | max |\n|---|---|---|---|\n"+
		"| queue.offered event | %s | %s | %s |\n| INVITE at the phone | %s | %s | %s |\n",
		rounds, p(toEvent, 0.5), p(toEvent, 0.99), p(toEvent, 1), p(toInvite, 0.5), p(toInvite, 0.99), p(toInvite, 1))
}

// waitAgent waits until an agent is in state want.
func waitAgent(ctx context.Context, id string, want acd.State) error {
	return harness.Eventually(ctx, 15*time.Second, func() error {
		a, err := stack.CCD().Router().State(ctx, acd.AgentID(id))
		if err != nil {
			return err
		}
		if a.State != want {
			return fmt.Errorf("agent %s is %s", id, a.State)
		}
		return nil
	})
}
