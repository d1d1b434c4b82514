package bench

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/sipagent"
	"github.com/ccd-platform/ccd/internal/sipcall"
	"github.com/ccd-platform/ccd/test/harness"
)

// Queue drain: callers dial a queue at once and stay on the line, agent
// phones answer and hang up after a fixed talk time; how long until every
// caller reached an agent, and how evenly the calls were shared. The same
// driver measures Asterisk's own app_queue (the baseline, appQueueDID) and
// ccd's ACD (a DID whose flow queues the call), over the same drainCases.

// appQueueDID is the number the bench stack's Asterisk serves with its own
// app_queue: queue appq, strategy leastrecent, every agent a member.
const appQueueDID = "4006009999"

// Agent phone behaviour in a drain.
const (
	drainAnswerAfter = 200 * time.Millisecond // ringing before the agent answers
	drainSlack       = 5 * time.Second        // per round, beyond talk time, before a drain counts as stuck
	drainGrace       = 30 * time.Second       // on top of the rounds
)

// drainCases are the queue sizes every drain benchmark runs: the same for
// app_queue and the ACD, so their rows compare.
var drainCases = []struct {
	callers, agents int
	talk            time.Duration
}{
	{callers: 20, agents: 5, talk: time.Second},
	// app_queue looks for a free agent once a second: a talk time that is
	// not a whole second shows it at a fairer phase.
	{callers: 20, agents: 5, talk: 1500 * time.Millisecond},
	{callers: 40, agents: 20, talk: time.Second},
}

// benchAgents are the agent endpoints of the bench stack, 2001-2020; a drain
// with M agents registers the first M.
func benchAgents() []string {
	ids := make([]string, 0, 20)
	for i := 2001; i <= 2020; i++ {
		ids = append(ids, strconv.Itoa(i))
	}
	return ids
}

// drainAgentIDs are the endpoints a drain with n agents registers: the first
// n agents of the stack. Call it to set up a queue (ACD membership, agent
// state) for exactly these agents before drain.
func drainAgentIDs(s *harness.Stack, n int) ([]string, error) {
	if n < 1 || n > len(s.Asterisk.Agents) {
		return nil, fmt.Errorf("%d agents asked for, the stack has %d endpoints (%v)", n, len(s.Asterisk.Agents), s.Asterisk.Agents)
	}
	return s.Asterisk.Agents[:n], nil
}

// drainResult is one drain, its times counted from the first INVITE.
type drainResult struct {
	Callers, Agents int
	Talk            time.Duration
	// LastAnswered: the last caller's call answered by an agent phone.
	LastAnswered time.Duration
	// LastFinished: the last caller's call over (BYE done).
	LastFinished time.Duration
	// Waits: per caller, from its INVITE to its agent's answer.
	Waits []time.Duration
	// PerAgent: calls each agent answered; every agent registered is a key.
	PerAgent map[string]int
}

// perAgentRange is the fewest and most calls an agent answered.
func (r drainResult) perAgentRange() (lo, hi int) {
	lo = math.MaxInt
	for _, n := range r.PerAgent {
		lo, hi = min(lo, n), max(hi, n)
	}
	return lo, hi
}

// ideal is the drain if the queue cost nothing: ceil(N/M) rounds of
// ringing plus talk, the last caller answered after the ringing of the last
// round and the last call over at the end of it.
func (r drainResult) ideal() (drain, allOver time.Duration) {
	rounds := time.Duration((r.Callers + r.Agents - 1) / r.Agents)
	allOver = rounds * (drainAnswerAfter + r.Talk)
	return allOver - r.Talk, allOver
}

// drainHook runs once the agents are registered and before the first call:
// to log them in to the ACD, for one.
type drainHook func(ctx context.Context, agents []string) error

// agentAnswer is a call an agent phone answered.
type agentAnswer struct {
	agent, from string
	at          time.Time
}

var drainSeq atomic.Int64

// drain measures how fast the queue behind did drains. It registers agents
// phones (the first agents endpoints of s, see drainAgentIDs) that answer
// after drainAnswerAfter and hang up after talk, runs the hooks, then places
// callers calls to did at once, each staying on the line until its agent
// hangs up, and returns once every call is over. Calls are matched to
// callers by caller number, which the queue must pass to the agent. It fails
// b, saying why, if a caller is not served by exactly one agent within the
// deadline, or if the agent's hangup does not reach the caller.
func drain(b *testing.B, s *harness.Stack, did string, callers, agents int, talk time.Duration, hooks ...drainHook) drainResult {
	b.Helper()
	ids, err := drainAgentIDs(s, agents)
	if err != nil {
		b.Fatal(err)
	}
	rounds := (callers + agents - 1) / agents
	deadline := drainGrace + time.Duration(rounds)*(drainAnswerAfter+talk+drainSlack)
	ctx, cancel := context.WithTimeout(context.Background(), deadline+time.Minute)
	defer cancel()

	// A drain starts from an idle Asterisk: nothing left over from the last one.
	if err := harness.Eventually(ctx, 20*time.Second, func() error {
		out, err := s.Asterisk.CLI(ctx, "core show channels count")
		if err != nil {
			return err
		}
		if !strings.Contains(out, "0 active channels") {
			return fmt.Errorf("Asterisk not idle: %s", strings.TrimSpace(out))
		}
		return nil
	}); err != nil {
		b.Fatal(err)
	}

	var mu sync.Mutex
	var answers []agentAnswer
	phones := make([]*sipagent.Agent, 0, agents)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		for _, p := range phones {
			if err := p.Close(ctx); err != nil {
				b.Errorf("close agent %s: %v", p.User(), err)
			}
		}
	}()
	for _, id := range ids {
		p, err := sipagent.Start(ctx, sipagent.Options{
			Registrar: s.SIPAddr(), User: id, Password: s.Asterisk.AgentPasswords[id],
			Behaviour: sipagent.Behaviour{AnswerAfter: drainAnswerAfter, HangupAfter: talk},
			OnEvent: func(e sipagent.Event) {
				if e.Type == sipagent.EventAnswered {
					mu.Lock()
					answers = append(answers, agentAnswer{agent: id, from: e.From, at: e.At})
					mu.Unlock()
				}
			},
		})
		if err != nil {
			b.Fatalf("agent %s: %v", id, err)
		}
		phones = append(phones, p)
	}
	// Registered is not yet free: wait until Asterisk shows each endpoint
	// "Not in use", the device state queues pick agents by.
	if err := harness.Eventually(ctx, 10*time.Second, func() error {
		return endpointsFree(ctx, s, ids)
	}); err != nil {
		b.Fatal(err)
	}
	for _, h := range hooks {
		if err := h(ctx, ids); err != nil {
			b.Fatalf("drain hook: %v", err)
		}
	}

	numbers := make([]string, callers)
	for i := range numbers {
		numbers[i] = fmt.Sprintf("1391%07d", drainSeq.Add(1))
	}
	results := make([]*sipcall.Result, callers)
	errs := make([]error, callers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i], errs[i] = sipcall.Call(ctx, sipcall.Options{
				Target: s.SIPAddr(), DID: did, From: numbers[i], MaxDuration: deadline,
			})
		}()
	}
	close(start)
	wg.Wait()

	r := drainResult{Callers: callers, Agents: agents, Talk: talk, PerAgent: map[string]int{}}
	for _, id := range ids {
		r.PerAgent[id] = 0
	}
	byCaller := map[string][]agentAnswer{}
	var strangers []string
	mu.Lock()
	for _, a := range answers {
		r.PerAgent[a.agent]++
		byCaller[a.from] = append(byCaller[a.from], a)
	}
	mu.Unlock()
	ours := map[string]bool{}
	for _, n := range numbers {
		ours[n] = true
	}
	for from, as := range byCaller {
		if !ours[from] {
			strangers = append(strangers, fmt.Sprintf("%s (agent %s)", from, as[0].agent))
		}
	}

	var problems []string
	var first, lastAnswered, lastFinished time.Time
	for i, res := range results {
		if res != nil && (first.IsZero() || res.InviteSentAt.Before(first)) {
			first = res.InviteSentAt
		}
		if errs[i] != nil {
			problems = append(problems, fmt.Sprintf("caller %s: %v", numbers[i], errs[i]))
		}
	}
	for i, res := range results {
		if res == nil {
			continue
		}
		if res.EndedAt.After(lastFinished) {
			lastFinished = res.EndedAt
		}
		as := byCaller[numbers[i]]
		switch {
		case !res.Answered:
			problems = append(problems, fmt.Sprintf("caller %s: refused, %d %s", numbers[i], res.StatusCode, res.Reason))
			continue
		case len(as) == 0 && res.HungUpBy == sipcall.HungUpByRemote:
			problems = append(problems, fmt.Sprintf("caller %s: hung up by the far end after %s without reaching an agent",
				numbers[i], res.EndedAt.Sub(res.InviteSentAt).Round(time.Millisecond)))
			continue
		case len(as) == 0:
			problems = append(problems, fmt.Sprintf("caller %s: no agent answered within the deadline of %s", numbers[i], deadline))
			continue
		case len(as) > 1:
			problems = append(problems, fmt.Sprintf("caller %s: answered by %d agent calls", numbers[i], len(as)))
		}
		if res.HungUpBy != sipcall.HungUpByRemote {
			problems = append(problems, fmt.Sprintf("caller %s: served by agent %s but the call ended by %q after %s: the agent's hangup did not reach the caller",
				numbers[i], as[0].agent, res.HungUpBy, res.Duration().Round(time.Millisecond)))
		}
		if as[0].at.After(lastAnswered) {
			lastAnswered = as[0].at
		}
		r.Waits = append(r.Waits, as[0].at.Sub(res.InviteSentAt))
	}
	if len(strangers) > 0 {
		slices.Sort(strangers)
		problems = append(problems, fmt.Sprintf("agents answered calls from numbers no caller used: %s (the queue must pass the caller number to the agent)",
			strings.Join(strangers, ", ")))
	}
	if len(problems) > 0 {
		b.Fatalf("drain of %d callers to %s with %d agents: %d problems:\n  %s\nAsterisk channels now:\n%s\nccd log (tail):\n%s",
			callers, did, agents, len(problems), strings.Join(problems, "\n  "), channels(s), s.LogTail(20))
	}
	r.LastAnswered = lastAnswered.Sub(first)
	r.LastFinished = lastFinished.Sub(first)
	return r
}

// endpointsFree says which of ids Asterisk does not show "Not in use".
func endpointsFree(ctx context.Context, s *harness.Stack, ids []string) error {
	out, err := s.Asterisk.CLI(ctx, "pjsip show endpoints")
	if err != nil {
		return err
	}
	free := map[string]bool{}
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "Endpoint:" && strings.Contains(line, "Not in use") {
			id, _, _ := strings.Cut(f[1], "/")
			free[id] = true
		}
	}
	var busy []string
	for _, id := range ids {
		if !free[id] {
			busy = append(busy, id)
		}
	}
	if len(busy) > 0 {
		return fmt.Errorf("agent endpoints not free: %v", busy)
	}
	return nil
}

// channels is Asterisk's channel list, for failure messages.
func channels(s *harness.Stack) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := s.Asterisk.CLI(ctx, "core show channels concise")
	if err != nil {
		return err.Error()
	}
	if strings.TrimSpace(out) == "" {
		return "(none)"
	}
	return out
}

var drainHeader sync.Once

// recordDrain reports a drain as benchmark metrics and a row of the
// report's queue drain table; queue names what served the calls.
func recordDrain(b *testing.B, queue string, r drainResult) {
	lo, hi := r.perAgentRange()
	p50, worst := percentile(r.Waits, 0.50), percentile(r.Waits, 1)
	b.ReportMetric(r.LastAnswered.Seconds(), "drain-s")
	b.ReportMetric(r.LastFinished.Seconds(), "all-over-s")
	b.ReportMetric(float64(p50.Microseconds())/1000, "wait-p50-ms")
	b.ReportMetric(float64(lo), "calls/agent-min")
	b.ReportMetric(float64(hi), "calls/agent-max")
	repMu.Lock()
	defer repMu.Unlock()
	drainHeader.Do(func() {
		fmt.Fprintf(&report, "\n## Queue drain\n\n"+
			"N callers dial at once and stay on the line; M registered agent phones (sipagent, from 127.0.0.2) "+
			"answer after %s and hang up after the talk time. Drain: from the first INVITE to the last call "+
			"answered by an agent; all over: to the end of the last call; ideal: both for a queue that costs nothing, "+
			"ceil(N/M) rounds of %s ringing and the talk time. Wait: from a caller's INVITE to its agent's answer.\n\n"+
			"| queue | callers | agents | talk | drain | all over | ideal (drain / all over) | wait p50 | wait max | calls per agent (min–max) |\n"+
			"|---|---|---|---|---|---|---|---|---|---|\n",
			drainAnswerAfter, drainAnswerAfter)
	})
	idealDrain, idealAllOver := r.ideal()
	fmt.Fprintf(&report, "| %s | %d | %d | %s | %s | %s | %s / %s | %s | %s | %d–%d |\n",
		queue, r.Callers, r.Agents, r.Talk, r.LastAnswered.Round(time.Millisecond), r.LastFinished.Round(time.Millisecond),
		idealDrain, idealAllOver, p50.Round(time.Millisecond), worst.Round(time.Millisecond), lo, hi)
}

// BenchmarkQueueDrain drains the same callers with the same agent phones
// through Asterisk's own app_queue (strategy leastrecent, ringinuse=no, no
// wrap-up) and through ccd's ACD (longest idle, no wrap-up), one after the
// other on the same Asterisk, and reports the ratio of drain times.
func BenchmarkQueueDrain(b *testing.B) {
	if stack.Asterisk.AppQueueDID != appQueueDID {
		b.Fatalf("the bench stack's Asterisk serves app_queue on %q, want %s", stack.Asterisk.AppQueueDID, appQueueDID)
	}
	setupACDDrain(b)
	for _, c := range drainCases {
		b.Run(fmt.Sprintf("callers=%d,agents=%d,talk=%s", c.callers, c.agents, c.talk), func(b *testing.B) {
			aq := drain(b, stack, appQueueDID, c.callers, c.agents, c.talk)
			recordDrain(b, "Asterisk app_queue, leastrecent", aq)
			acd := drain(b, stack, acdDrainDID, c.callers, c.agents, c.talk, loginAgents(b))
			recordDrain(b, "ccd ACD, longest idle", acd)
			ratio := aq.LastAnswered.Seconds() / acd.LastAnswered.Seconds()
			b.ReportMetric(ratio, "appqueue/acd-drain")
			repMu.Lock()
			drainRatios = append(drainRatios, fmt.Sprintf("- %d callers, %d agents, talk %s: app_queue drains in %s, the ACD in %s: **%.2f×**",
				c.callers, c.agents, c.talk, aq.LastAnswered.Round(time.Millisecond), acd.LastAnswered.Round(time.Millisecond), ratio))
			repMu.Unlock()
		})
	}
	repMu.Lock()
	fmt.Fprintf(&report, "\nRatio of drain times (app_queue / ACD; above 1 the ACD is faster):\n\n%s\n", strings.Join(drainRatios, "\n"))
	drainRatios = nil
	repMu.Unlock()
}

var drainRatios []string
