package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/internal/calls"
	"github.com/ccd-platform/ccd/ivr"
	"github.com/ccd-platform/ccd/ivr/arichan"
)

// Adopter takes over callers' channels after a restart (internal/calls).
type Adopter interface {
	Tracking(channelID string) bool
	Adopt(chd ari.ChannelData, callID string, fn calls.Resume) error
	CloseRecord(ctx context.Context, callID, outcome string) error
}

// KeepRecords lists the calls of this instance that are still queued or
// talking: their records stay open at start, to be taken over by Recover.
func (r *Router) KeepRecords(ctx context.Context) ([]string, error) {
	list, err := r.store.Calls(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range list {
		if c.Owner == r.opts.Instance && c.Callback == "" {
			out = append(out, string(c.ID))
		}
	}
	return out, nil
}

// Recover reconciles the routing state with what Asterisk has, after ccd
// (re)connects to it: waiting callers whose channel is still there wait
// again at their place; conversations still bridged go on and are recorded
// when they end; offers cut off are ended and their agents freed; calls
// whose channel is gone are removed and their records closed.
func (r *Router) Recover(ctx context.Context, ad Adopter) error {
	list, err := r.store.Calls(ctx)
	if err != nil {
		return fmt.Errorf("acd recover: %w", err)
	}
	alive, err := r.liveChannels(ctx)
	if err != nil {
		return fmt.Errorf("acd recover: list channels: %w", err)
	}
	known := map[string]bool{}
	adopted, dropped := 0, 0
	for _, c := range list {
		// Every queued call counts as known, whichever instance runs it:
		// its legs are not leftovers (the cleanup below).
		known[string(c.ID)] = true
	}
	for _, c := range list {
		log := r.log.With(zap.String("call_id", string(c.ID)), zap.String("queue", string(c.Queue)))
		if c.Callback != "" {
			if c.State == acd.CallTalking {
				known[string(c.ID)] = true
				r.recoverCallbackTalk(ctx, c, alive)
			}
			continue
		}
		if c.Owner != r.opts.Instance {
			continue
		}
		r.mu.Lock()
		_, waiting := r.waiters[c.ID]
		r.mu.Unlock()
		if waiting || ad.Tracking(c.Channel) {
			continue // a call this ccd still runs (the event stream only blinked)
		}
		legs := legsOf(c.ID, alive)
		chd, callerAlive := alive[c.Channel]
		switch c.State {
		case acd.CallWaiting, acd.CallReserved:
			if c.State == acd.CallReserved {
				// An offer cut off: stop ringing the agent, free them, and
				// put the call back at its place (no retry delay: the agent
				// did not miss anything).
				for _, l := range legs {
					r.hangup(ctx, l)
				}
				if err := r.requeueAtPlace(ctx, c, callerAlive); err != nil {
					log.Warn("end cut-off offer", zap.Error(err))
				}
			}
			if !callerAlive {
				r.dropLost(ctx, ad, c, "abandoned")
				dropped++
				continue
			}
			// The waiter exists before the dispatcher can pick the call.
			cc, assign := c, r.addWaiter(c.ID)
			err := ad.Adopt(chd, string(c.ID), func(ctx context.Context, ch *arichan.Channel) (ivr.Outcome, error) {
				return r.resumeWaiting(ctx, ch, cc, chd, assign)
			})
			if err != nil {
				r.removeWaiter(c.ID, assign)
				log.Error("take over waiting caller", zap.Error(err))
				continue
			}
			adopted++
		case acd.CallTalking:
			// The call's agent's leg: after a transfer it may be a consulted
			// party's; any other leg (a consultation cut by the restart) is
			// hung up and its agent freed below.
			var agentLeg string
			for _, l := range legs {
				if ch, ok := alive[l]; ok && ch.State == "Up" {
					if agentLeg == "" || r.legAgent(ctx, l) == string(c.Agent) {
						agentLeg = l
					}
				}
			}
			for _, l := range legs {
				if l != agentLeg && agentLeg != "" {
					r.hangup(ctx, l)
				}
			}
			if !callerAlive || agentLeg == "" {
				for _, l := range legs {
					r.hangup(ctx, l)
				}
				if callerAlive {
					r.hangup(ctx, c.Channel)
				}
				r.finishCall(ctx, c.ID, c.Agent)
				if err := ad.CloseRecord(ctx, string(c.ID), string(ivr.OutcomeAgent)); err != nil {
					log.Warn("close record", zap.Error(err))
				}
				dropped++
				continue
			}
			cc, leg := c, agentLeg
			err := ad.Adopt(chd, string(c.ID), func(ctx context.Context, ch *arichan.Channel) (ivr.Outcome, error) {
				return r.resumeTalking(ctx, ch, cc, leg)
			})
			if err != nil {
				log.Error("take over conversation", zap.Error(err))
				continue
			}
			adopted++
		}
	}
	// Agent legs of calls that no longer exist.
	for id := range alive {
		if strings.HasPrefix(id, "leg-") || strings.HasPrefix(id, "cons-") || strings.HasPrefix(id, "cb-") {
			call := legCall(id)
			r.mu.Lock()
			_, cb := r.cbLegs[id]
			r.mu.Unlock()
			if !known[call] && !cb && !r.ownsLeg(ad, id) {
				r.log.Info("hanging up a leftover agent channel", zap.String("channel_id", id))
				r.hangup(ctx, id)
			}
		}
	}
	r.reconcileAgents(ctx, list)
	if adopted > 0 || dropped > 0 {
		r.log.Info("ACD state reconciled with Asterisk", zap.Int("taken_over", adopted), zap.Int("removed", dropped))
	}
	r.Wake()
	return nil
}

// requeueAtPlace ends a reservation and queues the call again with its
// original waiting time, so it keeps its place.
func (r *Router) requeueAtPlace(ctx context.Context, c acd.QueuedCall, callerAlive bool) error {
	agent, err := r.store.Dequeue(ctx, c.ID)
	if err != nil {
		return err
	}
	if agent != "" {
		r.agentState(agent, acd.Reserved, acd.Available, "", c.ID)
	}
	if !callerAlive {
		return nil
	}
	q, ok := r.queue(c.Queue)
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownQueue, c.Queue)
	}
	return r.store.Enqueue(ctx, acd.Call{ID: c.ID, Queue: c.Queue, Priority: c.Priority, Skills: q.Skills,
		Expansion: q.Stages(), Since: c.EnqueuedAt, Owner: c.Owner, Channel: c.Channel})
}

// ownsLeg: a leg of a call this ccd still runs (caller channel tracked).
func (r *Router) ownsLeg(ad Adopter, legID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.waiters[acd.CallID(legCall(legID))]
	return ok
}

// reconcileAgents frees agents on a call that no longer exists, and agents
// consulted on a call when ccd stopped (the consultation is over).
func (r *Router) reconcileAgents(ctx context.Context, list []acd.QueuedCall) {
	live := map[acd.CallID]bool{}
	for _, c := range list {
		live[c.ID] = true
	}
	for _, c := range list {
		if c.State != acd.CallTalking || c.Owner != r.opts.Instance {
			continue // another instance runs its consultations
		}
		for _, id := range r.partiesOf(ctx, c) {
			if _, err := r.store.Party(ctx, c.ID, id, acd.PartyEnd); err == nil {
				r.log.Warn("agent was consulted on a call when ccd stopped; freed", zap.String("agent", string(id)),
					zap.String("call_id", string(c.ID)))
				if ag, err := r.store.Agent(ctx, id); err == nil {
					r.agentState(id, acd.OnCall, ag.State, "", c.ID)
				}
			}
		}
	}
	ids, err := r.store.AgentIDs(ctx)
	if err != nil {
		r.log.Warn("list agents", zap.Error(err))
		return
	}
	for _, id := range ids {
		ag, err := r.store.Agent(ctx, id)
		if err != nil || ag.State != acd.OnCall || live[ag.Call] {
			continue
		}
		if _, err := r.store.SetState(ctx, id, acd.Available); err == nil {
			r.log.Warn("agent was on a call that no longer exists; available again", zap.String("agent", string(id)))
			r.agentState(id, acd.OnCall, acd.Available, "", ag.Call)
		}
	}
}

// partiesOf lists the agents reserved or on call for c other than its own
// agent: parties of a consultation.
func (r *Router) partiesOf(ctx context.Context, c acd.QueuedCall) []acd.AgentID {
	ids, err := r.store.AgentIDs(ctx)
	if err != nil {
		return nil
	}
	var out []acd.AgentID
	for _, id := range ids {
		if id == c.Agent {
			continue
		}
		if ag, err := r.store.Agent(ctx, id); err == nil && ag.Call == c.ID && (ag.State == acd.Reserved || ag.State == acd.OnCall) {
			out = append(out, id)
		}
	}
	return out
}

// dropLost removes a call whose caller is gone and closes its record.
func (r *Router) dropLost(ctx context.Context, ad Adopter, c acd.QueuedCall, outcome string) {
	if _, err := r.store.Dequeue(ctx, c.ID); err != nil && !errors.Is(err, acd.ErrNotFound) {
		r.log.Warn("remove lost call", zap.String("call_id", string(c.ID)), zap.Error(err))
	}
	if err := ad.CloseRecord(ctx, string(c.ID), outcome); err != nil {
		r.log.Warn("close record", zap.String("call_id", string(c.ID)), zap.Error(err))
	}
}

// resumeWaiting lets a caller taken over after a restart wait again at
// their place. The flow around the queue is not resumed: when the caller
// leaves the queue without an agent, the call ends.
func (r *Router) resumeWaiting(ctx context.Context, ch *arichan.Channel, c acd.QueuedCall, chd ari.ChannelData, assign chan acd.Assignment) (ivr.Outcome, error) {
	defer r.removeWaiter(c.ID, assign)
	q, ok := r.queue(c.Queue)
	if !ok {
		return ivr.OutcomeFailed, fmt.Errorf("%w: %s", ErrUnknownQueue, c.Queue)
	}
	caller := ""
	if chd.Caller != nil {
		caller = chd.Caller.Number
	}
	w := &waiter{r: r, cc: ch, q: q, lang: "zh", call: c.ID, caller: caller, since: c.EnqueuedAt,
		req: ivr.QueueRequest{Queue: string(c.Queue), Priority: c.Priority}}
	w.log().Info("caller waits again after a restart")
	res, next, err := w.wait(ctx, assign)
	if err != nil {
		return ivr.OutcomeAbandoned, err
	}
	switch {
	case res.Outcome == ivr.QueueConnected:
		return ivr.OutcomeAgent, nil
	case res.Outcome == ivr.QueueCallback:
		return ivr.OutcomeCallback, nil
	case next != "":
		// Overflow to another queue: keep the waiting time there.
		return r.resumeInQueue(ctx, ch, w, next)
	}
	return ivr.OutcomeCompleted, nil
}

func (r *Router) resumeInQueue(ctx context.Context, ch *arichan.Channel, w *waiter, next acd.QueueID) (ivr.Outcome, error) {
	res, err := r.Queue(ctx, ch, ivr.QueueRequest{Queue: string(next), Priority: w.req.Priority, Language: w.lang})
	if err != nil {
		return ivr.OutcomeAbandoned, err
	}
	if res.Outcome == ivr.QueueConnected {
		return ivr.OutcomeAgent, nil
	}
	return ivr.OutcomeCompleted, nil
}

// resumeTalking watches a conversation that went on while ccd was down.
func (r *Router) resumeTalking(ctx context.Context, ch *arichan.Channel, c acd.QueuedCall, legID string) (ivr.Outcome, error) {
	q, ok := r.queue(c.Queue)
	if !ok {
		q = acd.QueueConfig{ID: c.Queue}
	}
	w := &waiter{r: r, cc: ch, q: q, call: c.ID, since: c.EnqueuedAt}
	leg, err := ch.AdoptLeg(legID)
	if err != nil {
		return ivr.OutcomeFailed, err
	}
	w.log().Info("conversation taken over after a restart", zap.String("agent", string(c.Agent)), zap.String("leg_id", legID))
	// A caller held when ccd stopped comes back to the agent (the call's
	// bridge is kept; adding a caller already in it changes nothing).
	_ = ch.StopMOH(ctx)
	_ = ch.JoinBridge(ctx, "acd-"+string(c.ID))
	// The leg may have ended between the listing and the adoption.
	if _, err := r.ari.Channel(ctx, legID); err != nil {
		leg.MarkGone("16 Normal Clearing")
	}
	end, err := w.talk(ctx, acd.Assignment{Queue: c.Queue, Call: c.ID, Agent: c.Agent}, leg, false)
	if err != nil || end == nil {
		return ivr.OutcomeAgent, err
	}
	// Transferred: the call goes on as it would have before the restart.
	assign := r.addWaiter(c.ID)
	defer r.removeWaiter(c.ID, assign)
	res, next, done, err := w.follow(ctx, true, end, nil)
	if err == nil && !done {
		res, next, err = w.wait(ctx, assign)
	}
	switch {
	case err != nil:
		return ivr.OutcomeAbandoned, err
	case res.Outcome == ivr.QueueConnected:
		return ivr.OutcomeAgent, nil
	case next != "":
		return r.resumeInQueue(ctx, ch, w, next)
	}
	return ivr.OutcomeCompleted, nil
}

// recoverCallbackTalk watches a callback conversation that went on while
// ccd was down, or ends it if one side is gone.
func (r *Router) recoverCallbackTalk(ctx context.Context, c acd.QueuedCall, alive map[string]ari.ChannelData) {
	var legs []string
	for id := range alive {
		if strings.HasPrefix(id, "cb-") {
			if v, err := r.ari.GetVariable(ctx, id, "CCD_CALL_ID"); err == nil && v == string(c.ID) {
				legs = append(legs, id)
			}
		}
	}
	if len(legs) != 2 {
		for _, l := range legs {
			r.hangup(ctx, l)
		}
		r.finishCall(ctx, c.ID, c.Agent)
		return
	}
	ls := make([]*cbLeg, 2)
	r.mu.Lock()
	for i, id := range legs {
		ls[i] = &cbLeg{id: id, answered: make(chan struct{}), gone: make(chan string, 1)}
		close(ls[i].answered)
		r.cbLegs[id] = ls[i]
	}
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		defer r.dropCallbackLeg(ls[0])
		defer r.dropCallbackLeg(ls[1])
		bg := context.WithoutCancel(ctx)
		select {
		case <-ls[0].gone:
			r.hangupLeg(bg, ls[1])
		case <-ls[1].gone:
			r.hangupLeg(bg, ls[0])
		}
		_ = r.ari.DestroyBridge(bg, "acd-"+string(c.ID))
		r.finishCall(bg, c.ID, c.Agent)
	}()
}

// liveChannels lists Asterisk's channels by ID.
func (r *Router) liveChannels(ctx context.Context) (map[string]ari.ChannelData, error) {
	chans, err := r.ari.Channels(ctx)
	if err != nil {
		return nil, err
	}
	alive := make(map[string]ari.ChannelData, len(chans))
	for _, c := range chans {
		alive[c.ID] = c
	}
	return alive, nil
}

// legsOf lists the live legs of a call: its offers to agents
// ("leg-<call>-<n>") and the parties its agents called ("cons-<call>-<n>").
func legsOf(call acd.CallID, alive map[string]ari.ChannelData) []string {
	var out []string
	for id := range alive {
		if strings.HasPrefix(id, "leg-"+string(call)+"-") || strings.HasPrefix(id, "cons-"+string(call)+"-") {
			out = append(out, id)
		}
	}
	return out
}

// legAgent reads the agent a leg rings (CCD_AGENT; empty for a number).
func (r *Router) legAgent(ctx context.Context, legID string) string {
	v, err := r.ari.GetVariable(ctx, legID, "CCD_AGENT")
	if err != nil {
		return ""
	}
	return v
}

// legCall is the call ID in a leg's channel ID.
func legCall(id string) string {
	id = strings.TrimPrefix(strings.TrimPrefix(id, "leg-"), "cons-")
	if i := strings.LastIndex(id, "-"); i > 0 {
		return id[:i]
	}
	return id
}

func (r *Router) hangup(ctx context.Context, channelID string) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = r.ari.Hangup(hctx, channelID, "normal")
}
