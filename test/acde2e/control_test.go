package acde2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/sipagent"
	"github.com/ccd-platform/ccd/internal/sipcall"
	"github.com/ccd-platform/ccd/test/harness"
)

// Each agent phone of these tests sends its own tone, so what the caller
// heard tells who they were talking to at each moment.
const (
	tone1001 = 700
	tone1002 = 1300
	tone1003 = 1900
)

var tones = map[string]float64{"1001": tone1001, "1002": tone1002, "1003": tone1003}

func startTonedAgent(t *testing.T, ctx context.Context, id string) *sipagent.Agent {
	t.Helper()
	return startPhone(t, ctx, sipagent.Options{User: id, Behaviour: sipagent.Behaviour{AnswerAfter: 200 * time.Millisecond},
		Play: sipagent.ToneBursts(tones[id])})
}

// callFirstAgent puts queue q with toned agents ids (skill general at 3),
// logs in the first one only, and places a call from a fresh number through
// a queue flow on did. It returns the caller's session, the call and its
// connection to the first agent.
func callFirstAgent(t *testing.T, ctx context.Context, q acd.QueueConfig, did string, ids ...string) (*sipcall.Session, string, cti.CallConnected) {
	t.Helper()
	putQueue(t, q)
	for _, id := range ids {
		putAgent(t, id, 0, map[acd.Skill]int{"general": 3})
		startTonedAgent(t, ctx, id)
	}
	login(t, ids[0])
	queueFlow(t, did, string(q.ID), "0")
	from := callerNumber()
	s := dial(t, ctx, from, did, 60*time.Second, "")
	id := callID(t, ctx, from)
	return s, id, connected(t, ctx, id)
}

// control posts a call-control command for agent and returns the status.
func control(t *testing.T, call, agent, verb string, body map[string]string) (int, string) {
	t.Helper()
	if body == nil {
		body = map[string]string{}
	}
	body["agent"] = agent
	code, out := api(t, http.MethodPost, "/api/v1/calls/"+call+"/"+verb, body)
	return code, string(out)
}

func mustControl(t *testing.T, call, agent, verb string, body map[string]string) {
	t.Helper()
	if code, out := control(t, call, agent, verb, body); code != http.StatusOK {
		t.Fatalf("%s %s by %s: %d %s\n%s", verb, call, agent, code, out, stack.LogTail(40))
	}
}

// eventAt waits for an event of typ about call (matching more, when set)
// and returns its time.
func eventAt(t *testing.T, ctx context.Context, typ, call string, more func(json.RawMessage) bool) time.Time {
	t.Helper()
	env, err := stack.Events().Wait(ctx, typ+" of "+call, func(e cti.Envelope) bool {
		return e.Type == typ && ofCall(call)(e) && (more == nil || more(e.Data))
	})
	if err != nil {
		t.Fatalf("%s: %v\n%s", typ, err, stack.LogTail(60))
	}
	return env.Time
}

func field(name, want string) func(json.RawMessage) bool {
	return func(d json.RawMessage) bool {
		var m map[string]any
		return json.Unmarshal(d, &m) == nil && fmt.Sprint(m[name]) == want
	}
}

// span is a stretch of the caller's call, by wall clock.
type span struct {
	name      string
	from, to  time.Time
	hear, not []string // agents whose tone must (must not) be there
	noneHeard bool     // no agent tone at all (music on hold)
}

// checkHeard measures each span of what the caller heard.
func checkHeard(t *testing.T, s *sipcall.Session, heard audio.PCM, spans []span) {
	t.Helper()
	start := s.AnsweredAt()
	for _, sp := range spans {
		a := int(sp.from.Sub(start).Seconds() * float64(heard.Rate))
		b := int(sp.to.Sub(start).Seconds() * float64(heard.Rate))
		if a < 0 || b > len(heard.Samples) || b-a < heard.Rate/2 {
			t.Errorf("%s: span [%v, %v] of a %v recording is too short or outside it", sp.name,
				sp.from.Sub(start), sp.to.Sub(start), heard.Duration())
			continue
		}
		part := audio.PCM{Rate: heard.Rate, Samples: heard.Samples[a:b]}
		t.Logf("%s (%v): %v | %v | %v", sp.name, sp.to.Sub(sp.from).Round(time.Millisecond),
			audio.ToneIn(part, tone1001), audio.ToneIn(part, tone1002), audio.ToneIn(part, tone1003))
		for _, id := range sp.hear {
			if m := audio.ToneIn(part, tones[id]); m.Toned == 0 || m.Share < 0.15 {
				t.Errorf("%s: the caller should hear agent %s: %v", sp.name, id, m)
			}
		}
		not := sp.not
		if sp.noneHeard {
			not = []string{"1001", "1002", "1003"}
		}
		for _, id := range not {
			if m := audio.ToneIn(part, tones[id]); m.Toned > 0 || m.Share > 0.1 {
				t.Errorf("%s: the caller should not hear agent %s: %v", sp.name, id, m)
			}
		}
	}
}

// hangUp hangs the caller up and returns when, and what the caller heard.
func hangUp(t *testing.T, s *sipcall.Session) (time.Time, audio.PCM) {
	t.Helper()
	end := time.Now()
	s.Hangup()
	res, err := s.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return end, res.Heard
}

func settle(from time.Time) time.Time { return from.Add(600 * time.Millisecond) }
func before(to time.Time) time.Time   { return to.Add(-300 * time.Millisecond) }

// Hold and resume, then a blind transfer to another agent: the caller hears
// music while held and the second agent after the transfer; the first
// agent goes to wrap-up at once.
func TestHoldResumeBlindTransfer(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	q := testQueue("xfer")
	q.WrapUp = 30
	s, id, c := callFirstAgent(t, ctx, q, "4006002031", "1001", "1002")
	if c.Agent != "1001" {
		t.Fatalf("connected to %s, want 1001", c.Agent)
	}
	login(t, "1002")
	time.Sleep(2 * time.Second)

	if code, out := control(t, id, "1002", "hold", nil); code != http.StatusForbidden {
		t.Errorf("hold by agent 1002 of 1001's call: %d %s, want 403", code, out)
	}
	if code, out := control(t, id, "1001", "resume", nil); code != http.StatusConflict {
		t.Errorf("resume of a call not on hold: %d %s, want 409", code, out)
	}
	mustControl(t, id, "1001", "hold", nil)
	held := eventAt(t, ctx, "call.held", id, nil)
	if code, out := control(t, id, "1001", "hold", nil); code != http.StatusConflict {
		t.Errorf("second hold: %d %s, want 409", code, out)
	}
	time.Sleep(2500 * time.Millisecond)
	mustControl(t, id, "1001", "resume", nil)
	resumed := eventAt(t, ctx, "call.resumed", id, nil)
	time.Sleep(2 * time.Second)

	if code, out := control(t, id, "1001", "transfer", map[string]string{"kind": "agent", "to": "1001"}); code != http.StatusUnprocessableEntity {
		t.Errorf("transfer to the agent the call is with: %d %s, want 422", code, out)
	}
	if code, out := control(t, id, "1001", "transfer", map[string]string{"kind": "agent", "to": "1003"}); code != http.StatusNotFound && code != http.StatusConflict {
		t.Errorf("transfer to an agent not logged in: %d %s, want 404 or 409", code, out)
	}
	mustControl(t, id, "1001", "transfer", map[string]string{"kind": "agent", "to": "1002"})
	moved := eventAt(t, ctx, "call.transferred", id, field("mode", "blind"))
	c2 := connectedTo(t, ctx, id, "1002")
	if st := agentState(t, "1001"); st.State != acd.WrapUp {
		t.Errorf("agent 1001 after the transfer: %s, want wrap_up", st.State)
	}
	time.Sleep(2500 * time.Millisecond)
	end, heard := hangUp(t, s)
	checkHeard(t, s, heard, []span{
		{name: "talking to 1001", from: settle(c.At), to: before(held), hear: []string{"1001"}, not: []string{"1002"}},
		{name: "on hold", from: settle(held), to: before(resumed), noneHeard: true},
		{name: "back from hold", from: settle(resumed), to: before(moved), hear: []string{"1001"}, not: []string{"1002"}},
		{name: "after the transfer to 1002", from: settle(c2.At), to: before(end), hear: []string{"1002"}, not: []string{"1001"}},
	})
	checkRecord(t, ctx, id, "agent")
	if st := agentState(t, "1002"); st.State != acd.WrapUp {
		t.Errorf("agent 1002 after the caller hung up: %s, want wrap_up", st.State)
	}
}

// A consult transfer: the caller is held while the agent talks to a second
// agent, then the transfer completes; a conference: the caller talks with
// both, and the first agent leaves the other two talking.
func TestConsultTransferAndConference(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	s, id, c := callFirstAgent(t, ctx, testQueue("consult"), "4006002032", "1001", "1002", "1003")
	login(t, "1002")
	login(t, "1003")
	time.Sleep(1500 * time.Millisecond)

	// Consult 1002: the caller is on hold; 1002 answers and talks to 1001.
	mustControl(t, id, "1001", "transfer", map[string]string{"kind": "agent", "to": "1002", "mode": "consult"})
	consulting := eventAt(t, ctx, "call.consult", id, field("state", "ringing"))
	answered := eventAt(t, ctx, "call.consult", id, field("state", "answered"))
	if st := agentState(t, "1002"); st.State != acd.OnCall {
		t.Errorf("consulted agent 1002: %s, want on_call", st.State)
	}
	if code, out := control(t, id, "1001", "hold", nil); code != http.StatusConflict {
		t.Errorf("hold during a consultation: %d %s, want 409", code, out)
	}
	time.Sleep(2 * time.Second)
	mustControl(t, id, "1001", "transfer/complete", nil)
	completed := eventAt(t, ctx, "call.transferred", id, field("mode", "consult"))
	if st := agentState(t, "1001"); st.State != acd.Available { // the queue has no wrap-up
		t.Errorf("agent 1001 after completing: %s, want available", st.State)
	}
	time.Sleep(2 * time.Second)

	// 1002 now has the call: a conference with 1003, then 1002 leaves.
	mustControl(t, id, "1002", "conference", map[string]string{"kind": "agent", "to": "1003"})
	conf := eventAt(t, ctx, "call.conferenced", id, nil)
	time.Sleep(2500 * time.Millisecond)
	mustControl(t, id, "1002", "hangup", nil)
	left := eventAt(t, ctx, "call.transferred", id, field("target", "agent:1003"))
	time.Sleep(2500 * time.Millisecond)
	if st := agentState(t, "1003"); st.State != acd.OnCall {
		t.Errorf("agent 1003 after 1002 left the conference: %s, want on_call", st.State)
	}
	end, heard := hangUp(t, s)
	checkHeard(t, s, heard, []span{
		{name: "talking to 1001", from: settle(c.At), to: before(consulting), hear: []string{"1001"}, not: []string{"1002"}},
		{name: "held during the consultation", from: settle(answered), to: before(completed), noneHeard: true},
		{name: "after completing to 1002", from: settle(completed), to: before(conf), hear: []string{"1002"}, not: []string{"1001", "1003"}},
		{name: "conference 1002 + 1003", from: settle(conf), to: before(left), hear: []string{"1002", "1003"}},
		{name: "1003 alone after 1002 left", from: settle(left), to: before(end), hear: []string{"1003"}, not: []string{"1002"}},
	})
	checkRecord(t, ctx, id, "agent")
	for _, a := range []string{"1001", "1002", "1003"} {
		if st := agentState(t, a); st.State == acd.OnCall || st.State == acd.Reserved {
			t.Errorf("agent %s after the call: %s", a, st.State)
		}
	}
}

// A blind transfer to a queue: the caller waits there (music) and is
// connected to its agent.
func TestBlindTransferToQueue(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	putQueue(t, testQueue("first"))
	second := testQueue("second")
	second.Skills = []acd.Requirement{{Skill: "billing", MinLevel: 1}}
	putQueue(t, second)
	putAgent(t, "1001", 0, map[acd.Skill]int{"general": 3})
	putAgent(t, "1003", 0, map[acd.Skill]int{"billing": 3})
	startTonedAgent(t, ctx, "1001")
	startTonedAgent(t, ctx, "1003")
	login(t, "1001")
	const did = "4006002033"
	queueFlow(t, did, "first", "0")
	from := callerNumber()
	s := dial(t, ctx, from, did, 60*time.Second, "")
	id := callID(t, ctx, from)
	connected(t, ctx, id)
	time.Sleep(time.Second)
	if code, out := control(t, id, "1001", "transfer", map[string]string{"kind": "queue", "to": "nope"}); code != http.StatusNotFound {
		t.Errorf("transfer to an unknown queue: %d %s, want 404", code, out)
	}
	mustControl(t, id, "1001", "transfer", map[string]string{"kind": "queue", "to": "second"})
	var j cti.CallQueued
	waitQueueEvent(t, ctx, "queue.joined", func(e cti.Envelope) bool {
		return ofCall(id)(e) && e.Decode(&j) == nil && j.Queue == "second"
	}, nil)
	// The second queue's figures show the caller waiting with nobody to take it.
	var f cti.QueueFigures
	waitQueueEvent(t, ctx, "queue.stats", func(e cti.Envelope) bool {
		return e.Decode(&f) == nil && f.Queue == "second" && f.Waiting == 1
	}, nil)
	if f.Available != 0 {
		t.Errorf("queue second figures with nobody logged in: %+v", f)
	}
	time.Sleep(time.Until(j.At.Add(2200 * time.Millisecond))) // music heard long enough to measure
	login(t, "1003")
	c := connectedTo(t, ctx, id, "1003")
	time.Sleep(2 * time.Second)
	end, heard := hangUp(t, s)
	checkHeard(t, s, heard, []span{
		{name: "waiting in the second queue", from: settle(j.At), to: before(c.At), noneHeard: true},
		{name: "with 1003", from: settle(c.At), to: before(end), hear: []string{"1003"}, not: []string{"1001"}},
	})
	checkRecord(t, ctx, id, "agent")
}

// The answer command asks the agent's desktop to answer the ringing call
// (desk.answer); it is refused for a call not ringing for the agent.
func TestAnswerCommandReachesTheDesk(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	putQueue(t, testQueue("soft"))
	putAgent(t, "1001", 0, map[acd.Skill]int{"general": 3})
	startAgent(t, ctx, "1001", sipagent.Behaviour{NoAnswer: true})
	login(t, "1001")
	const did = "4006002034"
	queueFlow(t, did, "soft", "0")
	from := callerNumber()
	s := dial(t, ctx, from, did, 30*time.Second, "")
	id := callID(t, ctx, from)
	waitQueueEvent(t, ctx, "queue.offered", ofCall(id), nil)
	if code, out := control(t, id, "1002", "answer", nil); code != http.StatusForbidden {
		t.Errorf("answer by agent 1002 of 1001's offer: %d %s, want 403", code, out)
	}
	mustControl(t, id, "1001", "answer", nil)
	var a cti.DeskAnswer
	waitQueueEvent(t, ctx, "desk.answer", ofCall(id), &a)
	if a.Agent != "1001" {
		t.Errorf("desk.answer for %q, want 1001", a.Agent)
	}
	s.Hangup()
	<-s.Done()
	// The call is gone: refused (forbidden, as any call not the agent's).
	if code, out := control(t, id, "1001", "answer", nil); code < 400 {
		t.Errorf("answer after the caller left: %d %s, want a refusal", code, out)
	}
}

// A consultation whose target is busy leaves the caller on hold until the
// agent takes them back; a blind transfer to an outside number (a remote
// engineer; numbers are dialled as PJSIP/{number} in these tests) connects
// the caller to it and frees the agent.
func TestFailedConsultAndTransferToNumber(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	putQueue(t, testQueue("ext"))
	putAgent(t, "1001", 0, map[acd.Skill]int{"general": 3})
	startTonedAgent(t, ctx, "1001")
	busy := startAgent(t, ctx, "1002", sipagent.Behaviour{Reject: 486})
	startTonedAgent(t, ctx, "1003") // the engineer's phone, not an agent of the ACD
	login(t, "1001")
	const did = "4006002035"
	queueFlow(t, did, "ext", "0")
	from := callerNumber()
	s := dial(t, ctx, from, did, 60*time.Second, "")
	id := callID(t, ctx, from)
	c := connected(t, ctx, id)
	time.Sleep(1500 * time.Millisecond)

	mustControl(t, id, "1001", "transfer", map[string]string{"kind": "external", "to": "1002", "mode": "consult"})
	consulting := eventAt(t, ctx, "call.consult", id, field("state", "ringing"))
	failed := eventAt(t, ctx, "call.consult", id, field("state", "failed"))
	if _, err := busy.WaitCall(ctx); err != nil {
		t.Errorf("the consulted number never rang: %v", err)
	}
	time.Sleep(2 * time.Second) // still on hold: the agent decides
	mustControl(t, id, "1001", "resume", nil)
	resumed := eventAt(t, ctx, "call.resumed", id, nil)
	time.Sleep(2 * time.Second)

	mustControl(t, id, "1001", "transfer", map[string]string{"kind": "external", "to": "1003"})
	moved := eventAt(t, ctx, "call.transferred", id, field("target", "number:1003"))
	if err := harness.Eventually(ctx, 5*time.Second, func() error {
		if st := agentState(t, "1001"); st.State != acd.Available {
			return fmt.Errorf("agent 1001 after the transfer: %s", st.State)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	time.Sleep(3500 * time.Millisecond)
	end, heard := hangUp(t, s)
	checkHeard(t, s, heard, []span{
		{name: "talking to 1001", from: settle(c.At), to: before(consulting), hear: []string{"1001"}},
		{name: "held while the number is busy", from: settle(failed), to: before(resumed), noneHeard: true},
		{name: "back with 1001", from: settle(resumed), to: before(moved), hear: []string{"1001"}},
		{name: "with the engineer", from: moved.Add(1500 * time.Millisecond), to: before(end), hear: []string{"1003"}, not: []string{"1001"}},
	})
	checkRecord(t, ctx, id, "agent")
}
