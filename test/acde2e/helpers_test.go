package acde2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/internal/sipagent"
	"github.com/ccd-platform/ccd/internal/sipcall"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// callerNumber is a fresh mobile number, so last-agent memory never links tests.
func callerNumber() string { return fmt.Sprintf("138%08d", rand.IntN(100000000)) }

// api calls the admin API and returns the status and body.
func api(t *testing.T, method, path string, body any) (int, []byte) {
	t.Helper()
	return stack.API(t, method, path, body)
}

// mustAPI calls the admin API and fails the test on a status above 299.
func mustAPI(t *testing.T, method, path string, body any) []byte {
	t.Helper()
	return stack.MustAPI(t, method, path, body)
}

// testQueue is a queue with the settings tests start from: quick offers, no
// wrap-up, no announcements.
func testQueue(id string) acd.QueueConfig {
	return acd.QueueConfig{ID: acd.QueueID(id), Name: id, Strategy: acd.LongestIdle,
		OfferTimeout: 8, RetryDelay: 2, WrapUp: 0, MaxMisses: 3}
}

func putQueue(t *testing.T, q acd.QueueConfig) {
	t.Helper()
	mustAPI(t, http.MethodPut, "/api/v1/queues/"+string(q.ID), q)
}

// putAgent configures an agent on its own SIP endpoint.
func putAgent(t *testing.T, id string, rank int, skills map[acd.Skill]int) {
	t.Helper()
	mustAPI(t, http.MethodPut, "/api/v1/agents/"+id, acd.AgentConfig{ID: acd.AgentID(id), Name: "Agent " + id,
		Team: "e2e", Device: "PJSIP/" + id, Skills: skills, Rank: rank})
}

// login logs an agent in (available) and logs them out when the test ends.
func login(t *testing.T, id string) {
	t.Helper()
	mustAPI(t, http.MethodPost, "/api/v1/agents/"+id+"/login", nil)
	t.Cleanup(func() { logoutEventually(t, id) })
}

func pause(t *testing.T, id, reason string) {
	t.Helper()
	mustAPI(t, http.MethodPost, "/api/v1/agents/"+id+"/pause", map[string]string{"reason": reason})
}

func ready(t *testing.T, id string) {
	t.Helper()
	mustAPI(t, http.MethodPost, "/api/v1/agents/"+id+"/ready", nil)
}

// logoutEventually logs an agent out once their last call is over.
func logoutEventually(t *testing.T, id string) {
	t.Helper()
	stack.LogoutEventually(t, id, 15*time.Second)
}

// agentState reads an agent's live state.
func agentState(t *testing.T, id string) acd.Agent {
	t.Helper()
	var a struct {
		State  acd.State  `json:"state"`
		Reason string     `json:"reason"`
		Misses int        `json:"misses"`
		Call   acd.CallID `json:"call_id"`
	}
	if err := json.Unmarshal(mustAPI(t, http.MethodGet, "/api/v1/agents/"+id+"/state", nil), &a); err != nil {
		t.Fatal(err)
	}
	return acd.Agent{ID: acd.AgentID(id), State: a.State, Reason: a.Reason, Misses: a.Misses, Call: a.Call}
}

// queueFlow publishes a flow that queues callers to DID did in queue, with a
// priority (a number, or ${var}).
func queueFlow(t *testing.T, did, queue, priority string) {
	t.Helper()
	name := "q-" + strings.ReplaceAll(did, "+", "")
	src := fmt.Sprintf(`name: %s
languages: [en]
default_language: en
start: wait
nodes:
  wait: {type: queue, queue: %s, priority: %q, next: full, message_next: msg}
  msg:
    type: message
    prompt: {text: {en: "Please leave your message after the tone."}}
    next: bye
  full:
    type: hangup
    prompt: {text: {en: "All our agents are busy. Please call again later."}}
  bye: {type: hangup}
`, name, queue, priority)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := stack.PublishFlow(ctx, name, []byte(src), did); err != nil {
		t.Fatalf("publish flow for %s: %v", did, err)
	}
}

// startAgent registers agent id from 127.0.0.2 and closes it when the test ends.
func startAgent(t *testing.T, ctx context.Context, id string, b sipagent.Behaviour) *sipagent.Agent {
	t.Helper()
	return startPhone(t, ctx, sipagent.Options{User: id, Behaviour: b})
}

// startPhone registers the phone o describes (its registrar and password
// filled in) and closes it when the test ends.
func startPhone(t *testing.T, ctx context.Context, o sipagent.Options) *sipagent.Agent {
	t.Helper()
	id := o.User
	o.Registrar, o.Password = stack.SIPAddr(), stack.Asterisk.AgentPasswords[id]
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

// dial places a call to did from number; the caller stays until the far end
// hangs up (or max).
func dial(t *testing.T, ctx context.Context, from, did string, max time.Duration, digits string) *sipcall.Session {
	t.Helper()
	o := sipcall.Options{Target: stack.SIPAddr(), DID: did, From: from, MaxDuration: max}
	if digits != "" {
		d, err := sipcall.ParseDigits(digits, 300*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		o.Digits = d
	}
	s, err := sipcall.Dial(ctx, o)
	if err != nil {
		t.Fatalf("call %s from %s: %v", did, from, err)
	}
	t.Cleanup(func() {
		s.Hangup()
		<-s.Done()
	})
	return s
}

// claimed lists the call IDs callID has handed out: a caller number may call
// again (or in another test), and each call is claimed once.
var (
	claimedMu sync.Mutex
	claimed   = map[string]bool{}
)

// callID waits for the next call from caller to start and returns its call ID.
func callID(t *testing.T, ctx context.Context, caller string) string {
	t.Helper()
	var id string
	_, err := stack.Events().Wait(ctx, "a new call from "+caller, func(e cti.Envelope) bool {
		var p cti.CallStarted
		if e.Type != "call.started" || e.Decode(&p) != nil || p.Caller != caller {
			return false
		}
		claimedMu.Lock()
		defer claimedMu.Unlock()
		if claimed[p.CallID] {
			return false
		}
		claimed[p.CallID] = true
		id = p.CallID
		return true
	})
	if err != nil {
		t.Fatalf("call from %s never started: %v\n%s", caller, err, stack.LogTail(40))
	}
	return id
}

// waitQueueEvent waits for a queue or agent event of type typ about call
// (or agent) id and decodes it into v.
func waitQueueEvent(t *testing.T, ctx context.Context, typ string, match func(cti.Envelope) bool, v any) {
	t.Helper()
	env, err := stack.Events().Wait(ctx, typ, func(e cti.Envelope) bool { return e.Type == typ && match(e) })
	if err != nil {
		t.Fatalf("%s: %v\n%s", typ, err, stack.LogTail(60))
	}
	if v != nil {
		if err := env.Decode(v); err != nil {
			t.Fatal(err)
		}
	}
}

func ofCall(id string) func(cti.Envelope) bool {
	return func(e cti.Envelope) bool {
		var p struct {
			CallID string `json:"call_id"`
		}
		return e.Decode(&p) == nil && p.CallID == id
	}
}

func ofAgent(id, to string) func(cti.Envelope) bool {
	return func(e cti.Envelope) bool {
		var p cti.AgentStateChanged
		return e.Decode(&p) == nil && p.Agent == id && (to == "" || p.To == to)
	}
}

// connected waits until the call is connected to an agent and returns the agent.
func connected(t *testing.T, ctx context.Context, call string) cti.CallConnected {
	t.Helper()
	var c cti.CallConnected
	waitQueueEvent(t, ctx, "queue.connected", ofCall(call), &c)
	return c
}

// connectedTo waits until the call is connected to agent (after a transfer,
// say) and returns the event.
func connectedTo(t *testing.T, ctx context.Context, call, agent string) cti.CallConnected {
	t.Helper()
	var c cti.CallConnected
	waitQueueEvent(t, ctx, "queue.connected", func(e cti.Envelope) bool {
		return ofCall(call)(e) && e.Decode(&c) == nil && c.Agent == agent
	}, nil)
	return c
}

// queued waits until the call is in its queue.
func queued(t *testing.T, ctx context.Context, call string) cti.CallQueued {
	t.Helper()
	var q cti.CallQueued
	waitQueueEvent(t, ctx, "queue.joined", ofCall(call), &q)
	return q
}
