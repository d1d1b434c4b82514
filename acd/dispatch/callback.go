package dispatch

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/internal/ariconn"
)

// cbLeg is a channel the ACD dials for a callback (the agent or the customer).
type cbLeg struct {
	id       string
	answered chan struct{}
	gone     chan string
}

// HandleEvent takes the events of callback channels; it reports whether ev
// was one of them.
func (r *Router) HandleEvent(ev ari.Event) bool {
	id := ariconn.ChannelOf(ev)
	if e, ok := ev.(*ari.PlaybackFinished); ok {
		id = strings.TrimPrefix(e.Playback.TargetURI, "channel:")
	}
	if !strings.HasPrefix(id, "cb-") {
		return false
	}
	r.mu.Lock()
	l, ok := r.cbLegs[id]
	r.mu.Unlock()
	if !ok {
		if e, start := ev.(*ari.StasisStart); start {
			// A callback channel nobody waits for any more.
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = r.ari.Hangup(ctx, e.Channel.ID, "normal")
			}()
		}
		return true
	}
	switch e := ev.(type) {
	case *ari.StasisStart:
		select {
		case <-l.answered:
		default:
			close(l.answered)
		}
	case *ari.ChannelDestroyed:
		select {
		case l.gone <- fmt.Sprintf("%d %s", e.Cause, e.CauseTxt):
		default:
		}
	}
	return true
}

func (r *Router) dialCallbackLeg(ctx context.Context, endpoint, callerID string, timeout time.Duration, call acd.CallID) (*cbLeg, error) {
	l := &cbLeg{id: "cb-" + uuid.NewString(), answered: make(chan struct{}), gone: make(chan string, 1)}
	r.mu.Lock()
	r.cbLegs[l.id] = l
	r.mu.Unlock()
	_, err := r.ari.Originate(ctx, ariconn.OriginateOptions{Endpoint: endpoint, AppArgs: "callback," + string(call),
		CallerID: callerID, Timeout: timeout, ChannelID: l.id,
		Variables: map[string]string{"CCD_CALL_ID": string(call)}})
	if err != nil {
		r.dropCallbackLeg(l)
		return nil, err
	}
	return l, nil
}

func (r *Router) dropCallbackLeg(l *cbLeg) {
	r.mu.Lock()
	delete(r.cbLegs, l.id)
	r.mu.Unlock()
}

func (r *Router) hangupLeg(ctx context.Context, l *cbLeg) { r.hangup(ctx, l.id) }

// waitAnswer waits for a dialled leg to answer; the string is why not.
func waitAnswer(ctx context.Context, l *cbLeg, limit time.Duration) (bool, string) {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-l.answered:
		return true, ""
	case cause := <-l.gone:
		return false, cause
	case <-t.C:
		return false, "timeout"
	case <-ctx.Done():
		return false, "stopped"
	}
}

// callback serves a callback: the reserved agent is rung first, then the
// customer is dialled, and the two are bridged.
func (r *Router) callback(ctx context.Context, c acd.QueuedCall, a acd.Assignment) {
	log := r.log.With(zap.String("call_id", string(c.ID)), zap.String("queue", string(c.Queue)),
		zap.String("agent", string(a.Agent)), zap.String("number", c.Callback))
	q, ok := r.queue(c.Queue)
	if !ok {
		q = acd.QueueConfig{ID: c.Queue}
		q.Defaults()
	}
	attempt := c.Attempts + 1
	update := func(state string) {
		r.publish(cti.CallbackUpdate{CallID: string(c.ID), Queue: string(c.Queue), Number: c.Callback, State: state,
			Attempt: attempt, Agent: string(a.Agent), At: time.Now().UTC()})
	}
	releaseOffer := func(o acd.Outcome, detail string) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := r.store.Release(rctx, c.ID, o); err != nil {
			log.Warn("release callback offer", zap.Error(err))
		} else if ag, err := r.store.Agent(rctx, a.Agent); err == nil {
			r.agentState(a.Agent, acd.Reserved, ag.State, ag.Reason, c.ID)
		}
		r.publish(cti.CallOfferEnded{CallID: string(c.ID), Queue: string(c.Queue), Agent: string(a.Agent),
			Outcome: string(o), Detail: detail, At: time.Now().UTC()})
		r.Wake()
	}
	ag, err := r.cfg.Agent(ctx, a.Agent)
	if err == nil {
		ag.Device = r.device(ctx, ag)
	}
	if err != nil || ag.Device == "" {
		log.Error("agent has no device to ring", zap.Error(err))
		releaseOffer(acd.Rejected, "no device")
		return
	}
	log.Info("callback: ringing the agent first", zap.Int("attempt", attempt))
	r.publish(cti.CallOffered{CallID: string(c.ID), Queue: string(c.Queue), Agent: string(a.Agent), Device: ag.Device,
		Caller: c.Callback, Callback: true, WaitedMS: time.Since(c.EnqueuedAt).Milliseconds(), At: time.Now().UTC()})
	al, err := r.dialCallbackLeg(ctx, ag.Device, fmt.Sprintf("\"Callback\" <%s>", c.Callback), q.OfferTimeout.D(), c.ID)
	if err != nil {
		log.Warn("ring agent for callback", zap.Error(err))
		releaseOffer(acd.NoAnswer, err.Error())
		return
	}
	defer r.dropCallbackLeg(al)
	if ok, why := waitAnswer(ctx, al, q.OfferTimeout.D()+3*time.Second); !ok {
		r.hangupLeg(ctx, al)
		o := outcomeOf(why)
		if why == "timeout" {
			o = acd.NoAnswer
		}
		releaseOffer(o, why)
		return
	}
	if _, err := r.store.Release(ctx, c.ID, acd.Answered); err != nil {
		log.Error("agent answered the callback but the reservation is gone", zap.Error(err))
		r.hangupLeg(ctx, al)
		return
	}
	r.agentState(a.Agent, acd.Reserved, acd.OnCall, "", c.ID)
	// The agent hears ringing while the customer is dialled.
	ring := "pb-ring-" + uuid.NewString()
	_ = r.ari.Play(ctx, al.id, ring, "tone:ring;tonezone=us")
	update("dialling")
	endpoint := strings.ReplaceAll(r.opts.CallbackEndpoint, "{number}", c.Callback)
	cl, err := r.dialCallbackLeg(ctx, endpoint, "", 30*time.Second, c.ID)
	if err != nil {
		log.Warn("dial the customer", zap.Error(err))
		r.callbackFailed(ctx, c, a, al, attempt, err.Error())
		return
	}
	defer r.dropCallbackLeg(cl)
	answered, why := false, ""
	ansCh := make(chan struct{})
	go func() {
		defer close(ansCh)
		answered, why = waitAnswer(ctx, cl, 35*time.Second)
	}()
	select {
	case <-ansCh:
	case cause := <-al.gone:
		// The agent gave up while the customer rang.
		r.hangupLeg(ctx, cl)
		<-ansCh
		log.Info("agent hung up before the customer answered", zap.String("cause", cause))
		r.requeueCallback(ctx, c, a, attempt, "agent hung up")
		return
	}
	_ = r.ari.StopPlayback(context.WithoutCancel(ctx), ring)
	if !answered {
		r.hangupLeg(ctx, cl)
		r.callbackFailed(ctx, c, a, al, attempt, why)
		return
	}
	bridge := "acd-" + string(c.ID)
	if err := r.ari.CreateBridge(ctx, bridge, "mixing"); err == nil {
		err = r.ari.AddToBridge(ctx, bridge, al.id, cl.id)
		if err != nil {
			log.Error("bridge callback", zap.Error(err))
		}
	}
	defer func() { _ = r.ari.DestroyBridge(context.WithoutCancel(ctx), bridge) }()
	log.Info("callback connected")
	update("connected")
	r.publish(cti.CallConnected{CallID: string(c.ID), Queue: string(c.Queue), Agent: string(a.Agent),
		WaitedMS: time.Since(c.EnqueuedAt).Milliseconds(), At: time.Now().UTC()})
	if err := r.cfg.RememberAgent(ctx, c.Callback, a.Agent, c.Queue, time.Now().UTC()); err != nil {
		log.Warn("remember last agent", zap.Error(err))
	}
	select {
	case <-al.gone:
		r.hangupLeg(ctx, cl)
	case <-cl.gone:
		r.hangupLeg(ctx, al)
	case <-ctx.Done():
	}
	r.finishCall(ctx, c.ID, a.Agent)
	update("completed")
}

// callbackFailed: the customer did not answer. The agent is released and the
// callback waits again at its place, until the attempts are used up.
func (r *Router) callbackFailed(ctx context.Context, c acd.QueuedCall, a acd.Assignment, agentLeg *cbLeg, attempt int, why string) {
	r.hangupLeg(ctx, agentLeg)
	r.requeueCallback(ctx, c, a, attempt, why)
}

func (r *Router) requeueCallback(ctx context.Context, c acd.QueuedCall, a acd.Assignment, attempt int, why string) {
	log := r.log.With(zap.String("call_id", string(c.ID)), zap.String("number", c.Callback))
	state := "no_answer"
	if attempt >= r.opts.CallbackAttempts {
		state = "failed"
		if _, err := r.store.Dequeue(context.WithoutCancel(ctx), c.ID); err != nil && !errors.Is(err, acd.ErrNotFound) {
			log.Warn("drop callback", zap.Error(err))
		}
		log.Warn("callback given up", zap.Int("attempts", attempt), zap.String("why", why))
	} else {
		if _, err := r.store.Requeue(context.WithoutCancel(ctx), c.ID); err != nil {
			log.Warn("requeue callback", zap.Error(err))
		}
		log.Info("customer did not answer the callback; it waits again", zap.Int("attempt", attempt), zap.String("why", why))
	}
	if ag, err := r.store.Agent(context.WithoutCancel(ctx), a.Agent); err == nil {
		r.agentState(a.Agent, acd.OnCall, ag.State, "", c.ID)
	}
	r.publish(cti.CallbackUpdate{CallID: string(c.ID), Queue: string(c.Queue), Number: c.Callback, State: state,
		Attempt: attempt, Agent: string(a.Agent), At: time.Now().UTC()})
	r.Wake()
}
