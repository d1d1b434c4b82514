package acde2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/acd/dispatch"
	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/internal/audio"
	"github.com/ccd-platform/ccd/internal/sipagent"
	"github.com/ccd-platform/ccd/ivr/tts"
	"github.com/ccd-platform/ccd/test/harness"
)

// talk1s answers after 200 ms and hangs up after a second.
var talk1s = sipagent.Behaviour{AnswerAfter: 200 * time.Millisecond, HangupAfter: time.Second}

// waitAvailable waits until every agent is available again.
func waitAvailable(t *testing.T, ctx context.Context, ids ...string) {
	t.Helper()
	err := harness.Eventually(ctx, 15*time.Second, func() error {
		for _, id := range ids {
			if s := agentState(t, id).State; s != acd.Available {
				return fmt.Errorf("agent %s is %s", id, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// serve places one call and returns the agent it was connected to, once
// the conversation is over.
func serve(t *testing.T, ctx context.Context, did string) string {
	t.Helper()
	from := callerNumber()
	s := dial(t, ctx, from, did, 40*time.Second, "")
	id := callID(t, ctx, from)
	c := connected(t, ctx, id)
	res, err := s.Wait()
	if err != nil || !res.Answered || res.HungUpBy != "remote" {
		t.Fatalf("call %s: answered %v hung up by %q: %v", id, res != nil && res.Answered, res.HungUpBy, err)
	}
	checkRecord(t, ctx, id, "agent")
	return c.Agent
}

// checkRecord waits for the call's record to be finished with outcome.
func checkRecord(t *testing.T, ctx context.Context, id, outcome string) {
	t.Helper()
	err := harness.Eventually(ctx, 10*time.Second, func() error {
		var got string
		var ended *time.Time
		if err := stack.DB.QueryRow(ctx, `SELECT outcome, ended_at FROM call_records WHERE call_id = $1`, id).Scan(&got, &ended); err != nil {
			return err
		}
		if got != outcome || ended == nil {
			return fmt.Errorf("record of %s: outcome %q, ended %v; want %q", id, got, ended, outcome)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestLongestIdleOrder(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	putQueue(t, testQueue("idle"))
	for _, id := range []string{"1001", "1002"} {
		putAgent(t, id, 0, map[acd.Skill]int{"general": 3})
		startAgent(t, ctx, id, talk1s)
	}
	login(t, "1002") // idle the longest
	login(t, "1001")
	const did = "4006002001"
	queueFlow(t, did, "idle", "0")

	want := []string{"1002", "1001", "1002"}
	for i, w := range want {
		waitAvailable(t, ctx, "1001", "1002")
		if got := serve(t, ctx, did); got != w {
			t.Fatalf("call %d went to %s, want %s (the agent idle longest)", i+1, got, w)
		}
	}
}

func TestBestSkillFirst(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	q := testQueue("skill")
	q.Strategy = acd.BestSkill
	q.Skills = []acd.Requirement{{Skill: "trace", MinLevel: 1}}
	putQueue(t, q)
	putAgent(t, "1001", 0, map[acd.Skill]int{"trace": 2})
	putAgent(t, "1002", 0, map[acd.Skill]int{"trace": 5})
	putAgent(t, "1003", 0, map[acd.Skill]int{"aftersales": 5}) // cannot serve the queue
	for _, id := range []string{"1001", "1002", "1003"} {
		startAgent(t, ctx, id, talk1s)
	}
	login(t, "1003")
	login(t, "1001") // idle longer than 1002, but less skilled
	login(t, "1002")
	const did = "4006002002"
	queueFlow(t, did, "skill", "0")
	if got := serve(t, ctx, did); got != "1002" {
		t.Fatalf("call went to %s, want 1002 (trace level 5)", got)
	}
}

func TestVIPServedBeforeEarlierCallers(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	putQueue(t, testQueue("vip"))
	putAgent(t, "1001", 0, map[acd.Skill]int{"general": 3})
	startAgent(t, ctx, "1001", talk1s)
	login(t, "1001")
	pause(t, "1001", "break")
	const normalDID, vipDID = "4006002003", "4006002004"
	queueFlow(t, normalDID, "vip", "0")
	queueFlow(t, vipDID, "vip", "10")

	var ids []string
	for _, did := range []string{normalDID, normalDID, vipDID} {
		from := callerNumber()
		dial(t, ctx, from, did, time.Minute, "")
		id := callID(t, ctx, from)
		queued(t, ctx, id)
		ids = append(ids, id)
	}
	ready(t, "1001")
	// The VIP first, then the others in arrival order.
	for _, id := range ids {
		connected(t, ctx, id)
	}
	order := connectOrder(ids)
	if want := []string{ids[2], ids[0], ids[1]}; fmt.Sprint(order) != fmt.Sprint(want) {
		t.Fatalf("served in order %v, want the VIP %s first then %v", order, ids[2], ids[:2])
	}
}

// connectOrder lists the calls in the order they were connected to an agent.
func connectOrder(ids []string) []string {
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var out []string
	for _, e := range stack.Events().All() {
		var c cti.CallConnected
		if e.Type == "queue.connected" && e.Decode(&c) == nil && want[c.CallID] {
			out = append(out, c.CallID)
		}
	}
	return out
}

func TestLastAgentGetsReturningCaller(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	q := testQueue("last")
	q.LastAgentDays, q.LastAgentWait = 7, 10
	putQueue(t, q)
	for _, id := range []string{"1001", "1002"} {
		putAgent(t, id, 0, map[acd.Skill]int{"general": 3})
		startAgent(t, ctx, id, talk1s)
	}
	login(t, "1001")
	pause(t, "1001", "break")
	login(t, "1002")
	const did = "4006002005"
	queueFlow(t, did, "last", "0")

	caller := callerNumber()
	first := dial(t, ctx, caller, did, 40*time.Second, "")
	if c := connected(t, ctx, callID(t, ctx, caller)); c.Agent != "1002" {
		t.Fatalf("first call went to %s, want 1002 (the only one available)", c.Agent)
	}
	if _, err := first.Wait(); err != nil {
		t.Fatal(err)
	}
	// Now 1001 is the agent idle the longest...
	waitAvailable(t, ctx, "1002")
	pause(t, "1002", "break")
	ready(t, "1001")
	ready(t, "1002")
	// ... yet the returning caller gets 1002, who served them before.
	s := dial(t, ctx, caller, did, 40*time.Second, "")
	id := callID(t, ctx, caller)
	var qj cti.CallQueued
	waitQueueEvent(t, ctx, "queue.joined", ofCall(id), &qj)
	if qj.PreferAgent != "1002" {
		t.Errorf("queued with preferred agent %q, want 1002\n%s", qj.PreferAgent, stack.LogTail(80))
	}
	if c := connected(t, ctx, id); c.Agent != "1002" {
		t.Fatalf("returning caller went to %s, want their last agent 1002", c.Agent)
	}
	_, _ = s.Wait()
	// A new caller gets the longest idle agent, 1001.
	waitAvailable(t, ctx, "1001", "1002")
	if got := serve(t, ctx, did); got != "1001" {
		t.Fatalf("new caller went to %s, want 1001", got)
	}
}

func TestExpansionAfterWaiting(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	q := testQueue("expand")
	q.Skills = []acd.Requirement{{Skill: "trace", MinLevel: 4}}
	q.Expansion = []acd.ExpansionStep{{After: 3, Skills: []acd.Requirement{{Skill: "trace", MinLevel: 1}}}}
	putQueue(t, q)
	putAgent(t, "1001", 0, map[acd.Skill]int{"trace": 2})
	startAgent(t, ctx, "1001", talk1s)
	login(t, "1001")
	const did = "4006002006"
	queueFlow(t, did, "expand", "0")
	from := callerNumber()
	dial(t, ctx, from, did, 40*time.Second, "")
	c := connected(t, ctx, callID(t, ctx, from))
	if c.Agent != "1001" || c.WaitedMS < 3000 {
		t.Fatalf("connected to %s after %d ms, want 1001 only after the 3 s expansion", c.Agent, c.WaitedMS)
	}
	t.Logf("served by the expanded skill after %d ms", c.WaitedMS)
}

func TestOfferTimeoutNextAgentAndAutoPause(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	q := testQueue("miss")
	q.OfferTimeout, q.MaxMisses = 3, 1
	putQueue(t, q)
	for _, id := range []string{"1001", "1002"} {
		putAgent(t, id, 0, map[acd.Skill]int{"general": 3})
	}
	sleepy := startAgent(t, ctx, "1001", sipagent.Behaviour{NoAnswer: true})
	startAgent(t, ctx, "1002", talk1s)
	login(t, "1001") // idle the longest: offered first
	login(t, "1002")
	const did = "4006002007"
	queueFlow(t, did, "miss", "0")
	from := callerNumber()
	dial(t, ctx, from, did, 40*time.Second, "")
	id := callID(t, ctx, from)

	var ended cti.CallOfferEnded
	waitQueueEvent(t, ctx, "queue.offer_ended", ofCall(id), &ended)
	if ended.Agent != "1001" || ended.Outcome != string(acd.NoAnswer) {
		t.Fatalf("first offer ended %+v, want 1001 no_answer", ended)
	}
	if c := connected(t, ctx, id); c.Agent != "1002" {
		t.Fatalf("connected to %s, want the next agent 1002", c.Agent)
	}
	if st := agentState(t, "1001"); st.State != acd.Paused || st.Reason != acd.PauseMissedOffers {
		t.Fatalf("agent 1001 is %s (%q) after missing an offer, want paused (%s)", st.State, st.Reason, acd.PauseMissedOffers)
	}
	// The unanswered phone stopped ringing.
	ring, err := sleepy.WaitCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := ring.Wait(ctx); err != nil || ring.Answered() {
		t.Fatalf("1001's phone: %v %v, want cancelled unanswered", o, err)
	}
}

func TestCallbackKeepsPlace(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	q := testQueue("cb")
	q.CallbackAllowed = true
	putQueue(t, q)
	putAgent(t, "1001", 0, map[acd.Skill]int{"general": 3})
	agent := startAgent(t, ctx, "1001", sipagent.Behaviour{AnswerAfter: 200 * time.Millisecond, HangupAfter: 2 * time.Second})
	// The customer asking for a callback is reachable as PJSIP/1003 (the
	// stack dials callbacks as PJSIP/{number}).
	customer := startAgent(t, ctx, "1003", sipagent.Behaviour{AnswerAfter: 300 * time.Millisecond})
	login(t, "1001")
	pause(t, "1001", "break")
	const did = "4006002008"
	queueFlow(t, did, "cb", "0")

	a := dial(t, ctx, "1003", did, 30*time.Second, "w2500,1")
	idA := callID(t, ctx, "1003")
	queued(t, ctx, idA)
	var req cti.CallbackUpdate
	waitQueueEvent(t, ctx, "queue.callback", ofCall(idA), &req)
	if req.State != "requested" || req.Number != "1003" {
		t.Fatalf("callback event %+v, want requested for 1003", req)
	}
	if res, err := a.Wait(); err != nil || res.HungUpBy != "remote" {
		t.Fatalf("the caller asking for a callback was not let go: %v %+v", err, res)
	}
	checkRecord(t, ctx, idA, "callback")
	// A later caller waits behind the callback.
	fromB := callerNumber()
	dial(t, ctx, fromB, did, time.Minute, "")
	idB := callID(t, ctx, fromB)
	queued(t, ctx, idB)

	ready(t, "1001")
	ringAgent, err := agent.WaitCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ringAgent.From() != "1003" {
		t.Errorf("agent shown %q, want the customer's number 1003", ringAgent.From())
	}
	back, err := customer.WaitCall(ctx)
	if err != nil {
		t.Fatalf("customer never called back: %v", err)
	}
	if err := back.WaitAnswered(ctx); err != nil {
		t.Fatal(err)
	}
	var done cti.CallbackUpdate
	waitQueueEvent(t, ctx, "queue.callback", func(e cti.Envelope) bool {
		var p cti.CallbackUpdate
		return ofCall(idA)(e) && e.Decode(&p) == nil && p.State == "connected"
	}, &done)
	connected(t, ctx, idB)
	if order := connectOrder([]string{idA, idB}); fmt.Sprint(order) != fmt.Sprint([]string{idA, idB}) {
		t.Fatalf("served %v, want the callback %s before the later caller %s", order, idA, idB)
	}
}

func TestOverflowAfterMaxWait(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	putQueue(t, testQueue("ovf-b"))
	qa := testQueue("ovf-a")
	qa.Skills = []acd.Requirement{{Skill: "nobody", MinLevel: 1}}
	qa.MaxWait, qa.Overflow = 3, "queue:ovf-b"
	putQueue(t, qa)
	putAgent(t, "1001", 0, map[acd.Skill]int{"general": 3})
	startAgent(t, ctx, "1001", talk1s)
	login(t, "1001")
	const did = "4006002009"
	queueFlow(t, did, "ovf-a", "0")
	from := callerNumber()
	dial(t, ctx, from, did, 40*time.Second, "")
	id := callID(t, ctx, from)
	var left cti.CallLeftQueue
	waitQueueEvent(t, ctx, "queue.left", ofCall(id), &left)
	if left.Queue != "ovf-a" || left.Reason != "overflow" || left.WaitedMS < 3000 {
		t.Fatalf("left %+v, want ovf-a overflow after 3 s", left)
	}
	c := connected(t, ctx, id)
	if c.Queue != "ovf-b" || c.Agent != "1001" {
		t.Fatalf("connected %+v, want ovf-b to 1001", c)
	}
}

var (
	espeakOnce sync.Once
	espeak     *tts.Espeak
)

func spoken(t *testing.T, lang, text string) audio.PCM {
	t.Helper()
	espeakOnce.Do(func() {
		var err error
		if espeak, err = tts.NewEspeak(context.Background()); err != nil {
			t.Fatalf("espeak-ng: %v", err)
		}
	})
	p, err := espeak.Render(context.Background(), tts.Voice{Lang: lang}, text)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPositionAnnouncementHeard(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	q := testQueue("ann")
	q.AnnounceEvery = 30
	putQueue(t, q)
	putAgent(t, "1001", 0, map[acd.Skill]int{"general": 3})
	login(t, "1001")
	pause(t, "1001", "break") // staffed, not available: callers wait
	const did = "4006002010"
	queueFlow(t, did, "ann", "0")
	first := callerNumber()
	dial(t, ctx, first, did, 40*time.Second, "")
	queued(t, ctx, callID(t, ctx, first))

	second := callerNumber()
	s := dial(t, ctx, second, did, 40*time.Second, "")
	id := callID(t, ctx, second)
	if q := queued(t, ctx, id); q.Position != 2 {
		t.Fatalf("second caller at position %d", q.Position)
	}
	// One staffed agent, no handle time yet (3 minutes assumed): 2 × 3 = 6.
	text := dispatch.PositionText("en", 2, 6, false, true)
	ref := spoken(t, "en", text)
	// Announced 3 s after joining; listen a little longer than it lasts.
	time.AfterFunc(3*time.Second+ref.Duration()+3*time.Second, s.Hangup)
	res, err := s.Wait()
	if err != nil {
		t.Fatal(err)
	}
	m, err := audio.CrossCorrelate(res.Heard, ref, ref.Duration()*8/10)
	if err != nil {
		t.Fatal(err)
	}
	if m.Score < 0.7 {
		t.Fatalf("announcement %q not heard: correlation %.2f\n%s", text, m.Score, stack.LogTail(40))
	}
	other := spoken(t, "en", dispatch.PositionText("en", 1, 3, false, true))
	mo, _ := audio.CrossCorrelate(res.Heard, other, other.Duration()*8/10)
	t.Logf("announcement heard: correlation %.2f (position 1 text: %.2f)", m.Score, mo.Score)
	if mo.Score >= m.Score {
		t.Errorf("the position 1 announcement matches as well (%.2f ≥ %.2f): the check cannot tell them apart", mo.Score, m.Score)
	}
}

func TestQueueAPIValidates(t *testing.T) {
	code, body := api(t, http.MethodPut, "/api/v1/queues/bad", map[string]any{"strategy": "random", "offer_timeout_s": 0})
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("bad queue: %d %s, want 422", code, body)
	}
	code, body = api(t, http.MethodPut, "/api/v1/queues/bad", map[string]any{"stratgy": "linear"})
	if code != http.StatusBadRequest {
		t.Fatalf("unknown field: %d %s, want 400", code, body)
	}
}

func TestCallerHangsUpDuringOffer(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	q := testQueue("gone")
	q.OfferTimeout = 20
	putQueue(t, q)
	putAgent(t, "1001", 0, map[acd.Skill]int{"general": 3})
	phone := startAgent(t, ctx, "1001", sipagent.Behaviour{NoAnswer: true})
	login(t, "1001")
	const did = "4006002011"
	queueFlow(t, did, "gone", "0")
	from := callerNumber()
	s := dial(t, ctx, from, did, 40*time.Second, "")
	id := callID(t, ctx, from)
	ring, err := phone.WaitCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s.Hangup()
	// The agent's phone stops ringing, the agent is free, the call is abandoned.
	if _, err := ring.Wait(ctx); err != nil || ring.Answered() {
		t.Fatalf("agent phone after the caller left: answered %v, %v", ring.Answered(), err)
	}
	var left cti.CallLeftQueue
	waitQueueEvent(t, ctx, "queue.left", ofCall(id), &left)
	if left.Reason != "abandoned" {
		t.Errorf("left the queue: %+v, want abandoned", left)
	}
	waitAvailable(t, ctx, "1001")
	checkRecord(t, ctx, id, "abandoned")
}

func TestCallbackRetriedThenGivenUp(t *testing.T) {
	ctx := ctxFor(t, 2*time.Minute)
	q := testQueue("cbfail")
	q.CallbackAllowed = true
	putQueue(t, q)
	putAgent(t, "1001", 0, map[acd.Skill]int{"general": 3})
	startAgent(t, ctx, "1001", sipagent.Behaviour{AnswerAfter: 100 * time.Millisecond})
	customer := startAgent(t, ctx, "1003", sipagent.Behaviour{Reject: 486})
	login(t, "1001")
	pause(t, "1001", "break")
	const did = "4006002012"
	queueFlow(t, did, "cbfail", "0")
	a := dial(t, ctx, "1003", did, 30*time.Second, "w2500,1")
	id := callID(t, ctx, "1003")
	if _, err := a.Wait(); err != nil {
		t.Fatal(err)
	}
	ready(t, "1001")
	// Three attempts (acd.callback_attempts), each refused by the busy customer.
	waitQueueEvent(t, ctx, "queue.callback", func(e cti.Envelope) bool {
		var p cti.CallbackUpdate
		return ofCall(id)(e) && e.Decode(&p) == nil && p.State == "failed"
	}, nil)
	var states []string
	for _, e := range stack.Events().All() {
		var p cti.CallbackUpdate
		if e.Type == "queue.callback" && ofCall(id)(e) && e.Decode(&p) == nil && p.State != "dialling" {
			states = append(states, fmt.Sprintf("%s#%d", p.State, p.Attempt))
		}
	}
	want := []string{"requested#0", "no_answer#1", "no_answer#2", "failed#3"}
	if fmt.Sprint(states) != fmt.Sprint(want) {
		t.Fatalf("callback went %v, want %v", states, want)
	}
	n := 0
	for _, e := range customer.Events() {
		if e.Type == sipagent.EventRejected {
			n++
		}
	}
	if n != 3 {
		t.Errorf("the customer was rung %d times, want 3", n)
	}
	waitAvailable(t, ctx, "1001")
	if st := waitingIn(t, "cbfail"); st != 0 {
		t.Errorf("%d calls still waiting after the callback was given up", st)
	}
}

func TestOverflowWhenNobodyLoggedIn(t *testing.T) {
	ctx := ctxFor(t, time.Minute)
	q := testQueue("empty")
	q.OverflowWhenEmpty, q.Overflow = true, "message"
	putQueue(t, q)
	const did = "4006002013"
	queueFlow(t, did, "empty", "0")
	from := callerNumber()
	s := dial(t, ctx, from, did, 30*time.Second, "w6000,#")
	id := callID(t, ctx, from)
	var left cti.CallLeftQueue
	waitQueueEvent(t, ctx, "queue.left", ofCall(id), &left)
	if left.Reason != "overflow" || left.Target != "message" || left.WaitedMS > 1000 {
		t.Fatalf("left %+v, want an overflow to a message at once", left)
	}
	if _, err := s.Wait(); err != nil {
		t.Fatal(err)
	}
	// The flow went on to its message node: the caller left a message.
	err := harness.Eventually(ctx, 10*time.Second, func() error {
		var n int
		if err := stack.DB.QueryRow(ctx, `SELECT count(*) FROM messages WHERE call_id = $1`, id).Scan(&n); err != nil {
			return err
		}
		if n != 1 {
			return fmt.Errorf("%d messages", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
