package dispatch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/ivr"
	"github.com/ccd-platform/ccd/ivr/arichan"
)

// CallerChannel is what a waiting caller's channel must do (ivr/arichan).
type CallerChannel interface {
	ivr.Channel
	ID() string
	StartMOH(ctx context.Context, class string) error
	StopMOH(ctx context.Context) error
	Dial(ctx context.Context, o arichan.DialOptions) (*arichan.Leg, error)
	AdoptLeg(legID string) (*arichan.Leg, error)
	DropLeg(l *arichan.Leg)
	Bridge(ctx context.Context, bridgeID string, l *arichan.Leg) error
	DestroyBridge(ctx context.Context, bridgeID string)
	JoinBridge(ctx context.Context, bridgeID string) error
	LeaveBridge(ctx context.Context, bridgeID string) error
	AddLegToBridge(ctx context.Context, bridgeID string, l *arichan.Leg) error
	RemoveLegFromBridge(ctx context.Context, bridgeID string, l *arichan.Leg) error
	Connect(ctx context.Context, o arichan.DialOptions, bridgeID string) (connected bool, err error)
}

var _ CallerChannel = (*arichan.Channel)(nil)

// Unwrapper is a channel wrapper that gives access to the channel inside.
type Unwrapper interface{ Unwrap() ivr.Channel }

func asCaller(ch ivr.Channel) (CallerChannel, bool) {
	for ch != nil {
		if c, ok := ch.(CallerChannel); ok {
			return c, true
		}
		u, ok := ch.(Unwrapper)
		if !ok {
			return nil, false
		}
		ch = u.Unwrap()
	}
	return nil, false
}

// ErrUnknownQueue: a flow names a queue that is not configured.
var ErrUnknownQueue = errors.New("queue not configured")

// maxHops bounds overflows and transfers from queue to queue.
const maxHops = 10

// Queue lets a caller wait in a queue until an agent has talked to them, or
// they leave it (callback, message, overflow). It implements ivr.Queuer.
func (r *Router) Queue(ctx context.Context, ch ivr.Channel, req ivr.QueueRequest) (ivr.QueueResult, error) {
	cc, ok := asCaller(ch)
	if !ok {
		return ivr.QueueResult{}, fmt.Errorf("queue: %w", ivr.ErrUnsupported)
	}
	lang := req.Language
	if lang == "" {
		lang = "zh"
	}
	w := &waiter{r: r, cc: cc, req: req, lang: lang, call: acd.CallID(ch.Var("call_id")), caller: ch.Var("caller"),
		since: time.Now()}
	if r.opts.CallerPriority != nil && w.caller != "" {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		p, err := r.opts.CallerPriority(pctx, w.caller)
		cancel()
		if err == nil && p > w.req.Priority {
			w.req.Priority = min(p, acd.MaxPriority)
		}
	}
	qid := acd.QueueID(req.Queue)
	for hop := 0; ; hop++ {
		q, ok := r.queue(qid)
		if !ok {
			return ivr.QueueResult{}, fmt.Errorf("%w: %s", ErrUnknownQueue, qid)
		}
		if hop >= maxHops {
			w.log().Warn("too many overflows from queue to queue; continuing the flow")
			return ivr.QueueResult{Outcome: ivr.QueueOverflow}, nil
		}
		w.q = q
		res, next, err := w.enter(ctx)
		if err != nil || next == "" {
			return res, err
		}
		qid = next
	}
}

// waiter is one caller waiting in one queue.
type waiter struct {
	r      *Router
	cc     CallerChannel
	q      acd.QueueConfig
	req    ivr.QueueRequest
	lang   string
	call   acd.CallID
	caller string
	since  time.Time
	offers int
	agent  acd.AgentID // the last agent connected

	popMu sync.Mutex
	pop   *cti.ScreenPop // built while waiting (prefetchPop)
	popAt time.Time

	annMu   sync.Mutex
	annStop context.CancelFunc
	annDone chan struct{}
	lastAnn string
}

func (w *waiter) log() *zap.Logger {
	return w.r.log.With(zap.String("call_id", string(w.call)), zap.String("queue", string(w.q.ID)))
}

// enter queues the call and waits. next is set when the call overflows to
// another queue.
func (w *waiter) enter(ctx context.Context) (ivr.QueueResult, acd.QueueID, error) {
	r, log := w.r, w.log()
	if w.q.OverflowWhenEmpty {
		if st, err := r.store.Stats(ctx, w.q.ID); err == nil && st.Staffed == 0 {
			log.Info("no agent logged in for the queue: overflow", zap.String("overflow", w.q.Overflow))
			r.publish(cti.CallLeftQueue{CallID: string(w.call), Queue: string(w.q.ID), Reason: "overflow",
				Target: w.q.Overflow, At: time.Now().UTC()})
			return w.overflow("no agent logged in")
		}
	}
	var prefer acd.AgentID
	if w.q.LastAgentDays > 0 && w.caller != "" {
		a, ok, err := r.cfg.LastAgent(ctx, w.caller, time.Duration(w.q.LastAgentDays)*24*time.Hour)
		if err != nil {
			log.Warn("last agent lookup", zap.Error(err))
		} else if ok {
			prefer = a
		}
	}
	assign := r.addWaiter(w.call)
	defer r.removeWaiter(w.call, assign)
	err := r.store.Enqueue(ctx, acd.Call{
		ID: w.call, Queue: w.q.ID, Priority: w.req.Priority, Skills: w.q.Skills, Expansion: w.q.Stages(),
		PreferAgent: prefer, PreferWait: w.q.LastAgentWait.D(), Since: w.since,
		Owner: r.opts.Instance, Channel: w.cc.ID(),
	})
	if err != nil {
		return ivr.QueueResult{}, "", fmt.Errorf("enqueue: %w", err)
	}
	pos, _ := r.store.Position(ctx, w.call)
	log.Info("call queued", zap.Int("priority", w.req.Priority), zap.Int("position", pos), zap.String("prefer_agent", string(prefer)))
	r.publish(cti.CallQueued{CallID: string(w.call), Queue: string(w.q.ID), Priority: w.req.Priority,
		Position: pos, PreferAgent: string(prefer), At: time.Now().UTC()})
	w.prefetchPop(ctx)
	return w.wait(ctx, assign)
}

// wait is the waiting loop of a queued call.
func (w *waiter) wait(ctx context.Context, assign <-chan acd.Assignment) (ivr.QueueResult, acd.QueueID, error) {
	r, log := w.r, w.log()
	if err := w.cc.StartMOH(ctx, w.q.HoldMusic); err != nil && ctx.Err() == nil {
		log.Warn("hold music", zap.Error(err))
	}
	defer func() { _ = w.cc.StopMOH(ctx) }()
	r.Wake()

	kctx, kcancel := context.WithCancel(ctx)
	defer kcancel()
	keys := make(chan rune, 4)
	go func() {
		for {
			d, err := w.cc.CollectDigits(kctx, ivr.DigitSpec{Max: 1, FirstTimeout: time.Hour})
			if err != nil {
				return
			}
			for _, k := range d.Keys {
				select {
				case keys <- k:
				case <-kctx.Done():
					return
				}
			}
		}
	}()

	var maxWait <-chan time.Time
	if w.q.MaxWait > 0 {
		t := time.NewTimer(max(time.Until(w.since.Add(w.q.MaxWait.D())), 0))
		defer t.Stop()
		maxWait = t.C
	}
	var announce <-chan time.Time
	var annTimer *time.Timer
	if w.q.AnnounceEvery > 0 {
		annTimer = time.NewTimer(3 * time.Second)
		defer annTimer.Stop()
		announce = annTimer.C
	}
	defer w.stopAnnouncement()

	for {
		select {
		case a := <-assign:
			w.stopAnnouncement()
			connected, end, err := w.offer(ctx, a)
			res, next, done, err := w.follow(ctx, connected, end, err)
			if err != nil {
				return w.abandon(ctx, err)
			}
			if done {
				return res, next, nil
			}
			if err := w.cc.StartMOH(ctx, w.q.HoldMusic); err != nil && ctx.Err() == nil {
				log.Debug("hold music", zap.Error(err))
			}
			r.Wake()
		case k := <-keys:
			switch {
			case k == '1' && w.q.CallbackAllowed && w.caller != "":
				if res, ok := w.toCallback(ctx); ok {
					return res, "", nil
				}
			case k == '2' && w.req.MessageAllowed:
				w.stopAnnouncement()
				w.leave(ctx, "message", "")
				log.Info("caller chose to leave a message")
				return ivr.QueueResult{Outcome: ivr.QueueMessage}, "", nil
			default:
				log.Debug("key ignored while waiting", zap.String("key", string(k)))
			}
		case <-announce:
			w.startAnnouncement(ctx)
			annTimer.Reset(w.q.AnnounceEvery.D())
		case <-maxWait:
			w.stopAnnouncement()
			log.Info("maximum wait reached: overflow", zap.String("overflow", w.q.Overflow))
			w.leave(ctx, "overflow", w.q.Overflow)
			return w.overflow("max wait")
		case <-ctx.Done():
			return w.abandon(ctx, context.Cause(ctx))
		}
	}
}

// abandon takes the call out of the queue after the caller hung up (or the
// call was cut).
func (w *waiter) abandon(ctx context.Context, cause error) (ivr.QueueResult, acd.QueueID, error) {
	w.stopAnnouncement()
	w.leave(ctx, "abandoned", "")
	w.log().Info("caller left the queue", zap.NamedError("cause", cause))
	return ivr.QueueResult{}, "", cause
}

// leave removes the call from the live state and says why.
func (w *waiter) leave(ctx context.Context, reason, target string) {
	r := w.r
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	agent, err := r.store.Dequeue(dctx, w.call)
	if err != nil && !errors.Is(err, acd.ErrNotFound) {
		w.log().Warn("dequeue", zap.Error(err))
	}
	if agent != "" {
		// A reservation was pending: the agent is free again.
		r.agentState(agent, acd.Reserved, acd.Available, "", w.call)
		r.Wake()
	}
	r.publish(cti.CallLeftQueue{CallID: string(w.call), Queue: string(w.q.ID), Reason: reason, Target: target,
		WaitedMS: time.Since(w.since).Milliseconds(), At: time.Now().UTC()})
}

// overflow says where the call goes after leaving its queue unanswered.
func (w *waiter) overflow(why string) (ivr.QueueResult, acd.QueueID, error) {
	kind, target, _ := acd.ParseOverflow(w.q.Overflow)
	switch kind {
	case acd.OverflowQueue:
		return ivr.QueueResult{}, acd.QueueID(target), nil
	case acd.OverflowMessage:
		if w.req.MessageAllowed {
			return ivr.QueueResult{Outcome: ivr.QueueMessage}, "", nil
		}
	case acd.OverflowFlow:
		return ivr.QueueResult{Outcome: ivr.QueueToFlow, Flow: target}, "", nil
	}
	return ivr.QueueResult{Outcome: ivr.QueueOverflow}, "", nil
}

// toCallback keeps the caller's place as a callback; the caller hangs up.
func (w *waiter) toCallback(ctx context.Context) (ivr.QueueResult, bool) {
	r, log := w.r, w.log()
	if err := r.store.SetCallback(ctx, w.call, w.caller); err != nil {
		// Most likely an agent is being offered the call right now.
		log.Info("callback not taken", zap.Error(err))
		return ivr.QueueResult{}, false
	}
	w.stopAnnouncement()
	log.Info("callback requested; the caller keeps their place", zap.String("number", w.caller))
	r.publish(cti.CallbackUpdate{CallID: string(w.call), Queue: string(w.q.ID), Number: w.caller, State: "requested", At: time.Now().UTC()})
	r.publish(cti.CallLeftQueue{CallID: string(w.call), Queue: string(w.q.ID), Reason: "callback",
		WaitedMS: time.Since(w.since).Milliseconds(), At: time.Now().UTC()})
	_ = w.cc.StopMOH(ctx)
	w.say(ctx, CallbackText(w.lang, w.caller))
	r.Wake()
	return ivr.QueueResult{Outcome: ivr.QueueCallback}, true
}

// follow takes the call on after an offer (its results passed in):
// through blind transfers to other agents, to another queue or to a
// number. done is false when the call waits again in its queue; next names
// the queue the call goes to.
func (w *waiter) follow(ctx context.Context, connected bool, end *talkEnd, err error) (res ivr.QueueResult, next acd.QueueID, done bool, _ error) {
	for err == nil && end != nil && end.redirect != nil {
		if e := w.cc.StartMOH(ctx, w.q.HoldMusic); e != nil && ctx.Err() == nil {
			w.log().Debug("hold music", zap.Error(e))
		}
		connected, end, err = w.offer(ctx, *end.redirect)
	}
	switch {
	case err != nil:
		return res, "", true, err
	case end != nil && end.queue != "":
		w.log().Info("call goes to a queue", zap.String("to", string(end.queue)))
		return res, end.queue, true, nil
	case end != nil && end.number != "":
		return w.toNumber(ctx, end.number)
	case connected:
		return ivr.QueueResult{Outcome: ivr.QueueConnected, Agent: string(w.agent)}, "", true, nil
	}
	return res, "", false, nil
}

// toNumber connects the caller to an outside number after a blind
// transfer (ringback while it rings); unanswered, the caller goes back to
// the queue. Once connected, either side hanging up ends the call.
func (w *waiter) toNumber(ctx context.Context, number string) (ivr.QueueResult, acd.QueueID, bool, error) {
	endpoint := strings.ReplaceAll(w.r.opts.CallbackEndpoint, "{number}", number)
	w.offers++
	connected, err := w.cc.Connect(ctx, arichan.DialOptions{To: endpoint, Timeout: consultRing,
		LegID:     fmt.Sprintf("cons-%s-x%s%d", w.call, w.r.epoch, w.offers),
		Variables: map[string]string{"CCD_CALL_ID": string(w.call), "CCD_QUEUE": string(w.q.ID)}}, "acd-"+string(w.call))
	switch {
	case connected:
		return ivr.QueueResult{Outcome: ivr.QueueConnected, Agent: string(w.agent)}, "", true, nil
	case ctx.Err() != nil:
		return ivr.QueueResult{}, "", true, context.Cause(ctx)
	}
	w.log().Info("transfer to a number not answered: back to the queue", zap.String("number", number), zap.Error(err))
	return ivr.QueueResult{}, w.q.ID, true, nil
}

// offer rings the agent the dispatcher reserved. connected is true once the
// agent answered and the conversation is over (end says where the call
// goes then, after a transfer); an error means the caller is gone.
func (w *waiter) offer(ctx context.Context, a acd.Assignment) (connected bool, end *talkEnd, err error) {
	r := w.r
	log := w.log().With(zap.String("agent", string(a.Agent)))
	ag, err := r.cfg.Agent(ctx, a.Agent)
	if err == nil {
		ag.Device = r.device(ctx, ag)
	}
	if err != nil || ag.Device == "" {
		log.Error("agent has no device to ring", zap.Error(err))
		w.release(ctx, a, acd.Rejected, "no device")
		return false, nil, nil
	}
	w.offers++
	legID := fmt.Sprintf("leg-%s-%s%d", w.call, r.epoch, w.offers)
	log.Info("offering call", zap.String("device", ag.Device), zap.String("leg_id", legID))
	r.publish(cti.CallOffered{CallID: string(w.call), Queue: string(w.q.ID), Agent: string(a.Agent), Device: ag.Device,
		Caller: w.caller, WaitedMS: time.Since(w.since).Milliseconds(), At: time.Now().UTC()})
	w.screenPop(ctx, a)
	leg, err := w.cc.Dial(ctx, arichan.DialOptions{To: ag.Device, Timeout: w.q.OfferTimeout.D(), LegID: legID,
		Variables: map[string]string{"CCD_CALL_ID": string(w.call), "CCD_QUEUE": string(w.q.ID), "CCD_AGENT": string(a.Agent)}})
	if err != nil {
		if ctx.Err() != nil {
			return false, nil, context.Cause(ctx)
		}
		log.Warn("ringing the agent failed", zap.Error(err))
		w.release(ctx, a, acd.NoAnswer, err.Error())
		return false, nil, nil
	}
	timer := time.NewTimer(w.q.OfferTimeout.D() + 3*time.Second)
	defer timer.Stop()
	select {
	case <-leg.Answered():
	case cause := <-leg.Gone():
		w.cc.DropLeg(leg)
		w.release(ctx, a, outcomeOf(cause), cause)
		return false, nil, nil
	case <-timer.C:
		leg.Hangup(ctx)
		w.cc.DropLeg(leg)
		w.release(ctx, a, acd.NoAnswer, "offer timeout")
		return false, nil, nil
	case <-ctx.Done():
		leg.Hangup(ctx)
		w.cc.DropLeg(leg)
		return false, nil, context.Cause(ctx)
	}
	end, err = w.talk(ctx, a, leg, true)
	if errors.Is(err, errReservationGone) {
		return false, nil, nil // the call waits again
	}
	return err == nil, end, err
}

// popFresh is how long a screen pop built while the caller waits is used
// as it is; an older one is built again at the offer.
const popFresh = 2 * time.Minute

// prefetchPop builds the screen pop while the caller waits (customer,
// history), so that the offer publishes it at once.
func (w *waiter) prefetchPop(ctx context.Context) {
	r := w.r
	if r.opts.ScreenPop == nil {
		return
	}
	in := PopInput{Call: w.call, Caller: w.caller, DID: w.cc.Var("did"), Queue: w.q.ID, IVR: w.req.Vars}
	go func() {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		pop, err := r.opts.ScreenPop(pctx, in)
		if err != nil {
			return // built again at the offer
		}
		w.popMu.Lock()
		w.pop, w.popAt = &pop, time.Now()
		w.popMu.Unlock()
	}()
}

// screenPop publishes the desktop's screen pop beside the ringing: the one
// built while the caller waited, else one built now, so a slow customer
// lookup never delays the agent's phone.
func (w *waiter) screenPop(ctx context.Context, a acd.Assignment) {
	r := w.r
	if r.opts.ScreenPop == nil {
		return
	}
	in := PopInput{Call: w.call, Agent: a.Agent, Caller: w.caller, DID: w.cc.Var("did"), Queue: w.q.ID,
		Waited: time.Since(w.since), IVR: w.req.Vars}
	send := func(pop cti.ScreenPop) {
		pop.CallID, pop.Agent, pop.Queue, pop.WaitedMS, pop.At = string(w.call), string(a.Agent), string(w.q.ID), in.Waited.Milliseconds(), time.Now().UTC()
		r.publish(pop)
	}
	w.popMu.Lock()
	cached, at := w.pop, w.popAt
	w.popMu.Unlock()
	if cached != nil && time.Since(at) < popFresh {
		send(*cached)
		return
	}
	go func() {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		pop, err := r.opts.ScreenPop(pctx, in)
		if err != nil {
			w.log().Warn("screen pop", zap.Error(err))
			return
		}
		send(pop)
	}()
}

// errReservationGone: the agent answered an offer the live state no longer
// holds (it was reaped).
var errReservationGone = errors.New("reservation gone")

// talk bridges the answered agent with the caller and runs the
// conversation (see session) until it ends for the caller, or the call
// goes elsewhere (end).
func (w *waiter) talk(ctx context.Context, a acd.Assignment, leg *arichan.Leg, fresh bool) (*talkEnd, error) {
	r := w.r
	log := w.log().With(zap.String("agent", string(a.Agent)), zap.String("leg_id", leg.ID))
	bridgeID := "acd-" + string(w.call)
	w.agent = a.Agent
	s := &session{w: w, bridge: bridgeID, agent: a.Agent, leg: leg, cmds: make(chan sessionCmd), done: make(chan struct{}), log: log}
	if fresh {
		// Commands are taken from the moment the call is connected: the
		// session exists before anyone can see the agent on the call.
		r.addSession(s)
		if _, err := r.store.Release(context.WithoutCancel(ctx), a.Call, acd.Answered); err != nil {
			r.removeSession(s)
			log.Error("agent answered but the reservation is gone", zap.Error(err))
			leg.Hangup(ctx)
			w.cc.DropLeg(leg)
			return nil, errReservationGone
		}
		r.agentState(a.Agent, acd.Reserved, acd.OnCall, "", w.call)
		_ = w.cc.StopMOH(ctx)
		if err := w.cc.Bridge(ctx, bridgeID, leg); err != nil {
			r.removeSession(s)
			log.Error("bridge caller and agent", zap.Error(err))
			leg.Hangup(ctx)
			w.cc.DropLeg(leg)
			w.finish(ctx, a.Agent)
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			return nil, nil
		}
		waited := time.Since(w.since)
		log.Info("caller connected to agent", zap.Duration("waited", waited), zap.String("bridge_id", bridgeID))
		r.publish(cti.CallConnected{CallID: string(w.call), Queue: string(w.q.ID), Agent: string(a.Agent),
			WaitedMS: waited.Milliseconds(), At: time.Now().UTC()})
		if w.caller != "" {
			if err := r.cfg.RememberAgent(context.WithoutCancel(ctx), w.caller, a.Agent, w.q.ID, time.Now().UTC()); err != nil {
				log.Warn("remember last agent", zap.Error(err))
			}
		}
	}
	if !fresh {
		r.addSession(s) // a conversation taken over after a restart
	}
	return s.run(ctx), nil
}

// release ends an offer that did not connect.
func (w *waiter) release(ctx context.Context, a acd.Assignment, o acd.Outcome, detail string) {
	r := w.r
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := r.store.Release(rctx, a.Call, o); err != nil {
		w.log().Warn("release offer", zap.Error(err))
	} else if ag, err := r.store.Agent(rctx, a.Agent); err == nil {
		r.agentState(a.Agent, acd.Reserved, ag.State, ag.Reason, a.Call)
	}
	w.log().Info("offer not answered", zap.String("agent", string(a.Agent)), zap.String("outcome", string(o)), zap.String("detail", detail))
	r.publish(cti.CallOfferEnded{CallID: string(a.Call), Queue: string(w.q.ID), Agent: string(a.Agent),
		Outcome: string(o), Detail: detail, At: time.Now().UTC()})
	r.Wake()
}

// finish ends a talking call: the agent goes to wrap-up.
func (w *waiter) finish(ctx context.Context, agent acd.AgentID) {
	w.r.finishCall(ctx, w.call, agent)
}

func (r *Router) finishCall(ctx context.Context, call acd.CallID, agent acd.AgentID) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := r.store.Finish(fctx, call); err != nil {
		r.log.Warn("finish call", zap.String("call_id", string(call)), zap.Error(err))
		return
	}
	ag, err := r.store.Agent(fctx, agent)
	if err != nil {
		return
	}
	r.agentState(agent, acd.OnCall, ag.State, "", call)
	if ag.State == acd.WrapUp {
		r.afterWrapUp(agent, time.Until(ag.WrapUntil))
	} else {
		r.Wake()
	}
}

// afterWrapUp makes the agent available when wrap-up time is over (the
// store's Reap does the same on every dispatcher tick, so nothing depends on
// this timer surviving a restart).
func (r *Router) afterWrapUp(agent acd.AgentID, d time.Duration) {
	time.AfterFunc(max(d, 0)+20*time.Millisecond, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := r.store.Reap(ctx); err != nil {
			return
		}
		if ag, err := r.store.Agent(ctx, agent); err == nil && ag.State == acd.Available {
			r.agentState(agent, acd.WrapUp, acd.Available, "", "")
		}
		r.Wake()
	})
}

// outcomeOf reads an agent leg's hangup cause ("17 User busy"). Busy and
// declined are the agent's choice; anything else (no answer, a phone that is
// offline or unreachable) counts as a miss, so an agent whose phone is gone
// is paused after the queue's misses instead of being offered every call.
func outcomeOf(cause string) acd.Outcome {
	code, _, _ := strings.Cut(cause, " ")
	switch n, _ := strconv.Atoi(code); n {
	case 17, 21:
		return acd.Rejected
	}
	return acd.NoAnswer
}

func (r *Router) addWaiter(call acd.CallID) chan acd.Assignment {
	ch := make(chan acd.Assignment, 1)
	r.mu.Lock()
	r.waiters[call] = ch
	r.mu.Unlock()
	return ch
}

func (r *Router) removeWaiter(call acd.CallID, ch chan acd.Assignment) {
	r.mu.Lock()
	if r.waiters[call] == ch {
		delete(r.waiters, call)
	}
	r.mu.Unlock()
}

// startAnnouncement speaks position and expected wait, if they changed and
// the caller is not about to be connected.
func (w *waiter) startAnnouncement(ctx context.Context) {
	w.annMu.Lock()
	if w.annDone != nil {
		w.annMu.Unlock()
		return // still speaking
	}
	actx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	w.annStop, w.annDone = cancel, done
	w.annMu.Unlock()
	go func() {
		defer func() {
			w.annMu.Lock()
			w.annStop, w.annDone = nil, nil
			w.annMu.Unlock()
			cancel()
			close(done)
		}()
		w.announce(actx)
	}()
}

func (w *waiter) stopAnnouncement() {
	w.annMu.Lock()
	stop, done := w.annStop, w.annDone
	w.annMu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
}

func (w *waiter) announce(ctx context.Context) {
	r, log := w.r, w.log()
	pos, err := r.store.Position(ctx, w.call)
	if err != nil || pos == 0 {
		return // no longer waiting: being offered or gone
	}
	st, err := r.store.Stats(ctx, w.q.ID)
	if err != nil {
		return
	}
	if st.Available > 0 && pos == 1 {
		return // about to be connected
	}
	minutes := expectedMinutes(pos, st)
	key := fmt.Sprintf("%d/%d", pos, minutes)
	if key == w.lastAnn {
		return
	}
	w.lastAnn = key
	log.Info("announcing position", zap.Int("position", pos), zap.Int("expected_minutes", minutes))
	_ = w.cc.StopMOH(ctx)
	w.say(ctx, PositionText(w.lang, pos, minutes, w.q.CallbackAllowed && w.caller != "", w.req.MessageAllowed))
	if ctx.Err() == nil {
		_ = w.cc.StartMOH(ctx, w.q.HoldMusic)
	}
}

// say speaks a text to the caller.
func (w *waiter) say(ctx context.Context, text string) {
	if w.r.speaker == nil {
		return
	}
	media, err := w.r.speaker.Speak(ctx, w.lang, text)
	if err != nil {
		w.log().Warn("speech", zap.Error(err))
		return
	}
	if _, err := w.cc.Play(ctx, ivr.Prompt{Media: []string{media}}); err != nil && ctx.Err() == nil {
		w.log().Warn("play announcement", zap.Error(err))
	}
}

// defaultHandle is assumed before a queue has handled any call.
const defaultHandle = 3 * time.Minute

// expectedMinutes estimates the wait of the caller at pos: the calls ahead
// (and this one) shared among the staffed agents, at the recent mean handle
// time.
func expectedMinutes(pos int, st acd.QueueStats) int {
	h := st.AvgHandle
	if h <= 0 {
		h = defaultHandle
	}
	agents := max(st.Staffed, 1)
	wait := time.Duration(float64(h) * float64(pos) / float64(agents))
	return max(int(math.Ceil(wait.Minutes())), 1)
}

// PositionText is the announcement of a caller's position and expected wait.
func PositionText(lang string, pos, minutes int, callback, message bool) string {
	var b strings.Builder
	if lang == "zh" {
		fmt.Fprintf(&b, "您现在排在第%d位，预计等待约%d分钟。", pos, minutes)
		if callback {
			b.WriteString("如需回电并保留您的排队位置，请按1。")
		}
		if message {
			b.WriteString("如需留言，请按2。")
		}
		return b.String()
	}
	fmt.Fprintf(&b, "You are number %d in the queue. The expected wait is about %d minute", pos, minutes)
	if minutes != 1 {
		b.WriteString("s")
	}
	b.WriteString(".")
	if callback {
		b.WriteString(" To be called back without losing your place, press 1.")
	}
	if message {
		b.WriteString(" To leave a message, press 2.")
	}
	return b.String()
}

// CallbackText confirms a callback request.
func CallbackText(lang, number string) string {
	digits := strings.Join(strings.Split(number, ""), " ")
	if lang == "zh" {
		return "我们将回电至" + digits + "，您的排队位置已保留。再见。"
	}
	return "We will call you back at " + digits + ". Your place in the queue is kept. Goodbye."
}
