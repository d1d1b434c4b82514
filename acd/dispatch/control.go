package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/ivr/arichan"
)

// A connected call is a session: the caller and the agent in the call's
// bridge, and at most one more party the agent brings in (a consultation
// or a conference). Call control runs in the session's own loop, one act
// at a time, so a command never races the hang-up of one of the parties.
//
//	hold           the caller leaves the bridge and hears music
//	resume         the caller comes back (a consultation is given up)
//	blind transfer the agent leaves at once: to an agent (offered as a
//	               queued call, back to its place if unanswered), to a
//	               queue (the caller keeps their waiting time), to a number
//	consult        the caller is held, the target rung; on answer it talks
//	               with the agent
//	complete       the caller joins the target; the agent leaves
//	conference     the caller joins the agent and the target
//
// An agent who hangs up during an answered consultation completes the
// transfer; one who leaves a conference leaves the others talking.

// consultRing is how long a consulted target rings.
const consultRing = 30 * time.Second

// talkEnd says how a conversation ended for the waiter.
type talkEnd struct {
	redirect *acd.Assignment // blind transfer to an agent: offer the call to it
	queue    acd.QueueID     // blind transfer to a queue (or back to the call's queue)
	number   string          // blind transfer to a number: dial it
}

// party is a target the agent called during a session.
type party struct {
	target     cti.Target
	agent      acd.AgentID // when the target is an agent
	leg        *arichan.Leg
	answered   bool
	conference bool // joins the caller and the agent on answer
	joined     bool // in the bridge with the caller
}

type sessionCmd struct {
	do    func(ctx context.Context) (any, error)
	reply chan cmdReply
}

type cmdReply struct {
	v   any
	err error
}

// session is one connected call on this instance.
type session struct {
	w      *waiter
	bridge string
	agent  acd.AgentID // "" after a transfer to a number
	leg    *arichan.Leg
	held   bool
	party  *party
	n      int // legs dialled by the session
	end    *talkEnd
	cmds   chan sessionCmd
	done   chan struct{} // closed when the session has ended
	log    *zap.Logger
}

func (r *Router) addSession(s *session) {
	r.mu.Lock()
	r.sessions[s.w.call] = s
	r.mu.Unlock()
}

func (r *Router) removeSession(s *session) {
	r.mu.Lock()
	if r.sessions[s.w.call] == s {
		delete(r.sessions, s.w.call)
	}
	r.mu.Unlock()
}

func (r *Router) session(call acd.CallID) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[call]
}

// exec runs do in the session's loop and waits for its answer.
func (r *Router) exec(ctx context.Context, call cti.CallID, do func(s *session, ctx context.Context) (any, error)) (any, error) {
	s := r.session(acd.CallID(call))
	if s == nil {
		return nil, errElsewhere(call)
	}
	reply := make(chan cmdReply, 1)
	cmd := sessionCmd{do: func(ctx context.Context) (any, error) { return do(s, ctx) }, reply: reply}
	select {
	case s.cmds <- cmd:
	case <-s.done:
		return nil, cti.Errorf(cti.CodeNotFound, "call %s has ended", call)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case rep := <-reply:
		return rep.v, rep.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run is the conversation: it returns when the call leaves its agents
// (a hang-up or a blind transfer).
func (s *session) run(ctx context.Context) *talkEnd {
	w, r := s.w, s.w.r
	defer s.drainCmds()
	defer close(s.done)
	defer r.removeSession(s) // added by talk
	for s.end == nil {
		var partyAnswered <-chan struct{}
		var partyGone <-chan string
		if p := s.party; p != nil {
			if !p.answered {
				partyAnswered = p.leg.Answered()
			}
			partyGone = p.leg.Gone()
		}
		select {
		case cause := <-s.leg.Gone():
			s.log.Info("agent hung up", zap.String("cause", cause), zap.String("agent", string(s.agent)))
			if !s.agentLeft(ctx) {
				s.dropParty(ctx, "agent hung up")
				s.finish(ctx)
				return nil
			}
		case <-partyAnswered:
			s.partyAnswered(ctx)
		case cause := <-partyGone:
			s.partyGone(ctx, cause)
		case cmd := <-s.cmds:
			v, err := cmd.do(ctx)
			cmd.reply <- cmdReply{v, err}
		case <-ctx.Done():
			s.log.Info("caller hung up")
			s.leg.Hangup(ctx)
			s.dropParty(ctx, "caller hung up")
			s.finish(ctx)
			return nil
		}
	}
	w.cc.DestroyBridge(ctx, s.bridge)
	return s.end
}

// drainCmds answers commands that arrive as the session ends.
func (s *session) drainCmds() {
	for {
		select {
		case cmd := <-s.cmds:
			cmd.reply <- cmdReply{nil, cti.Errorf(cti.CodeNotFound, "call %s has ended", s.w.call)}
		default:
			return
		}
	}
}

// finish ends the conversation: the bridge goes, the agent goes to wrap-up.
func (s *session) finish(ctx context.Context) {
	w := s.w
	w.cc.DestroyBridge(ctx, s.bridge)
	w.cc.DropLeg(s.leg)
	if s.agent != "" {
		w.finish(ctx, s.agent)
	}
}

// agentLeft handles the agent's hang-up; true when the call goes on.
func (s *session) agentLeft(ctx context.Context) bool {
	p := s.party
	if p == nil {
		return false
	}
	if !p.answered {
		// The agent gave up before the target answered: the caller waits
		// for the next agent at their place in the queue.
		s.dropParty(ctx, "agent hung up")
		s.w.cc.DropLeg(s.leg)
		if s.agent != "" {
			s.w.finish(ctx, s.agent)
		}
		s.end = &talkEnd{queue: s.w.q.ID}
		s.stopHold(ctx)
		return true
	}
	// Answered: the caller stays with the target (a consultation completes,
	// a conference goes on without the agent).
	if err := s.handOver(ctx, "consult", false); err != nil {
		s.log.Error("hand the call over after the agent left", zap.Error(err))
		return false
	}
	return true
}

// handOver makes the answered party the call's other side; the agent
// leaves (hung up unless it already did).
func (s *session) handOver(ctx context.Context, mode string, hangAgent bool) error {
	w, r, p := s.w, s.w.r, s.party
	from := s.agent
	if p.agent != "" {
		if _, err := r.store.Party(ctx, w.call, p.agent, acd.PartyHandover); err != nil {
			return err
		}
		if from != "" {
			s.agentAfterTalk(ctx, from)
		}
	} else if from != "" {
		w.finish(ctx, from) // a number: the call leaves the ACD
	}
	if s.held || !p.joined {
		s.stopHold(ctx)
	}
	if hangAgent {
		_ = w.cc.RemoveLegFromBridge(ctx, s.bridge, s.leg)
		s.leg.Hangup(ctx)
	}
	w.cc.DropLeg(s.leg)
	s.leg, s.agent, s.party = p.leg, p.agent, nil
	s.log = s.log.With(zap.String("now_with", p.target.String()))
	s.log.Info("call handed over", zap.String("from", string(from)), zap.String("mode", mode))
	r.publish(cti.CallTransferred{CallID: string(w.call), From: string(from), Target: p.target.String(), Mode: mode, At: time.Now().UTC()})
	return nil
}

// agentAfterTalk publishes the state an agent who left a call is in
// (wrap-up or available) and schedules the end of the wrap-up.
func (s *session) agentAfterTalk(ctx context.Context, agent acd.AgentID) {
	r := s.w.r
	ag, err := r.store.Agent(context.WithoutCancel(ctx), agent)
	if err != nil {
		return
	}
	r.agentState(agent, acd.OnCall, ag.State, "", s.w.call)
	if ag.State == acd.WrapUp {
		r.afterWrapUp(agent, time.Until(ag.WrapUntil))
	} else {
		r.Wake()
	}
}

// hold takes the caller out of the bridge with music; stopHold brings
// them back.
func (s *session) hold(ctx context.Context) error {
	if s.held {
		return nil
	}
	w := s.w
	if err := w.cc.LeaveBridge(ctx, s.bridge); err != nil {
		return cti.Errorf(cti.CodeUnavailable, "hold: %v", err)
	}
	if err := w.cc.StartMOH(ctx, w.q.HoldMusic); err != nil {
		s.log.Warn("hold music", zap.Error(err))
	}
	s.held = true
	return nil
}

func (s *session) stopHold(ctx context.Context) {
	if !s.held {
		return
	}
	w := s.w
	_ = w.cc.StopMOH(ctx)
	if s.end == nil {
		if err := w.cc.JoinBridge(ctx, s.bridge); err != nil {
			s.log.Error("caller back into the conversation", zap.Error(err))
		}
	}
	s.held = false
}

// state is the call's state for the agent's desk.
func (s *session) state() cti.CallState {
	switch {
	case s.party != nil && s.party.joined:
		return cti.CallStateConference
	case s.party != nil:
		return cti.CallStateConsulting
	case s.held:
		return cti.CallStateHeld
	}
	return cti.CallStateTalking
}

func (s *session) status() cti.CallStatus {
	return cti.CallStatus{CallID: cti.CallID(s.w.call), State: s.state()}
}

// mine refuses a command from an agent the call is not with (a
// supervisor acting for the agent passes the agent the call is with).
func (s *session) mine(agent cti.AgentID) error {
	if s.agent == "" || cti.AgentID(s.agent) != agent {
		return cti.Errorf(cti.CodeIllegalState, "call %s is not with agent %s", s.w.call, agent)
	}
	return nil
}

func (s *session) doHold(ctx context.Context, agent cti.AgentID) (cti.CallStatus, error) {
	if err := s.mine(agent); err != nil {
		return cti.CallStatus{}, err
	}
	if s.party != nil {
		return cti.CallStatus{}, cti.Errorf(cti.CodeIllegalState, "call %s: %s with %s", s.w.call, s.state(), s.party.target)
	}
	if s.held {
		return cti.CallStatus{}, cti.Errorf(cti.CodeIllegalState, "call %s is already on hold", s.w.call)
	}
	if err := s.hold(ctx); err != nil {
		return cti.CallStatus{}, err
	}
	s.log.Info("caller on hold")
	s.w.r.publish(cti.CallHeld{CallID: string(s.w.call), Agent: string(s.agent), At: time.Now().UTC()})
	return s.status(), nil
}

func (s *session) doResume(ctx context.Context, agent cti.AgentID) (cti.CallStatus, error) {
	if err := s.mine(agent); err != nil {
		return cti.CallStatus{}, err
	}
	if p := s.party; p != nil {
		if p.joined {
			return cti.CallStatus{}, cti.Errorf(cti.CodeIllegalState, "call %s is a conference", s.w.call)
		}
		s.dropParty(ctx, "consultation cancelled")
	}
	if !s.held {
		return cti.CallStatus{}, cti.Errorf(cti.CodeIllegalState, "call %s is not on hold", s.w.call)
	}
	s.stopHold(ctx)
	s.log.Info("caller back from hold")
	s.w.r.publish(cti.CallResumed{CallID: string(s.w.call), Agent: string(s.agent), At: time.Now().UTC()})
	return s.status(), nil
}

// doBlind hands the call over at once.
func (s *session) doBlind(ctx context.Context, agent cti.AgentID, to cti.Target) (cti.TransferStatus, error) {
	w, r := s.w, s.w.r
	if err := s.mine(agent); err != nil {
		return cti.TransferStatus{}, err
	}
	if s.party != nil {
		return cti.TransferStatus{}, cti.Errorf(cti.CodeIllegalState, "call %s: %s with %s; complete or cancel it first", w.call, s.state(), s.party.target)
	}
	end := &talkEnd{}
	switch to.Kind {
	case cti.TargetAgent:
		target := acd.AgentID(to.ID)
		if target == s.agent {
			return cti.TransferStatus{}, cti.Errorf(cti.CodeInvalid, "call %s is already with agent %s", w.call, target)
		}
		if _, err := r.cfg.Agent(ctx, target); err != nil {
			return cti.TransferStatus{}, cti.Errorf(cti.CodeNotFound, "agent %s: %v", target, err)
		}
		if _, err := r.store.Redirect(ctx, w.call, target); err != nil {
			return cti.TransferStatus{}, transferErr(err, target)
		}
		r.agentState(target, acd.Available, acd.Reserved, "", w.call)
		end.redirect = &acd.Assignment{Queue: w.q.ID, Call: w.call, Agent: target}
	case cti.TargetQueue:
		if _, ok := r.queue(acd.QueueID(to.ID)); !ok {
			return cti.TransferStatus{}, cti.Errorf(cti.CodeNotFound, "queue %s is not configured", to.ID)
		}
		if _, err := r.store.Finish(ctx, w.call); err != nil {
			return cti.TransferStatus{}, transferErr(err, "")
		}
		end.queue = acd.QueueID(to.ID)
	case cti.TargetNumber:
		if _, err := r.store.Finish(ctx, w.call); err != nil {
			return cti.TransferStatus{}, transferErr(err, "")
		}
		end.number = to.ID
	default:
		return cti.TransferStatus{}, cti.Errorf(cti.CodeInvalid, "transfer target %s", to)
	}
	from := s.agent
	s.agentAfterTalk(ctx, from)
	if !s.held {
		_ = w.cc.LeaveBridge(ctx, s.bridge)
	}
	_ = w.cc.StopMOH(ctx)
	s.held = false
	s.leg.Hangup(ctx)
	w.cc.DropLeg(s.leg)
	s.agent = ""
	s.end = end
	s.log.Info("blind transfer", zap.String("from", string(from)), zap.String("to", to.String()))
	r.publish(cti.CallTransferred{CallID: string(w.call), From: string(from), Target: to.String(), Mode: "blind", At: time.Now().UTC()})
	return cti.TransferStatus{CallID: cti.CallID(w.call), To: to, State: cti.CallStateEnded}, nil
}

// transferErr explains a refused transfer.
func transferErr(err error, target acd.AgentID) error {
	switch {
	case errors.Is(err, acd.ErrIllegalTransition) && target != "":
		return cti.Errorf(cti.CodeIllegalState, "agent %s cannot take the call now: %v", target, err)
	case errors.Is(err, acd.ErrNotFound):
		return cti.Errorf(cti.CodeNotFound, "%v", err)
	case errors.Is(err, acd.ErrInvalid):
		return cti.Errorf(cti.CodeInvalid, "%v", err)
	}
	return cti.Errorf(Classify(err), "%v", err)
}

// doCall rings a target for a consultation (the caller on hold) or, with
// conference, to join the caller and the agent on answer.
func (s *session) doCall(ctx context.Context, agent cti.AgentID, to cti.Target, conference bool) (cti.TransferStatus, error) {
	w, r := s.w, s.w.r
	if err := s.mine(agent); err != nil {
		return cti.TransferStatus{}, err
	}
	if s.party != nil {
		return cti.TransferStatus{}, cti.Errorf(cti.CodeIllegalState, "call %s: already %s with %s", w.call, s.state(), s.party.target)
	}
	p := &party{target: to, conference: conference}
	var endpoint string
	switch to.Kind {
	case cti.TargetAgent:
		p.agent = acd.AgentID(to.ID)
		if p.agent == s.agent {
			return cti.TransferStatus{}, cti.Errorf(cti.CodeInvalid, "call %s is already with agent %s", w.call, p.agent)
		}
		ag, err := r.cfg.Agent(ctx, p.agent)
		if err != nil {
			return cti.TransferStatus{}, cti.Errorf(cti.CodeNotFound, "agent %s: %v", p.agent, err)
		}
		ag.Device = r.device(ctx, ag)
		if ag.Device == "" {
			return cti.TransferStatus{}, cti.Errorf(cti.CodeIllegalState, "agent %s has no device", p.agent)
		}
		if _, err := r.store.Party(ctx, w.call, p.agent, acd.PartyClaim); err != nil {
			return cti.TransferStatus{}, transferErr(err, p.agent)
		}
		r.agentState(p.agent, acd.Available, acd.Reserved, "", w.call)
		endpoint = ag.Device
	case cti.TargetNumber:
		endpoint = strings.ReplaceAll(r.opts.CallbackEndpoint, "{number}", to.ID)
	default:
		return cti.TransferStatus{}, cti.Errorf(cti.CodeInvalid, "a %s cannot be consulted; transfer the call to it", to.Kind)
	}
	wasHeld := s.held
	if !conference {
		if err := s.hold(ctx); err != nil {
			s.releaseClaim(ctx, p, false)
			return cti.TransferStatus{}, err
		}
	}
	s.n++
	legID := fmt.Sprintf("cons-%s-%s%d", w.call, w.r.epoch, s.n)
	leg, err := w.cc.Dial(ctx, arichan.DialOptions{To: endpoint, Timeout: consultRing, LegID: legID, CallerID: w.caller,
		Variables: map[string]string{"CCD_CALL_ID": string(w.call), "CCD_QUEUE": string(w.q.ID), "CCD_AGENT": string(p.agent)}})
	if err != nil {
		s.releaseClaim(ctx, p, false)
		if !wasHeld {
			s.stopHold(ctx) // the caller comes back to the agent
		}
		return cti.TransferStatus{}, cti.Errorf(cti.CodeUnavailable, "call %s: %v", to, err)
	}
	p.leg = leg
	s.party = p
	s.log.Info("calling a party", zap.String("to", to.String()), zap.Bool("conference", conference), zap.String("leg_id", legID))
	if p.agent != "" {
		// The consulted agent's desk shows the caller as for an offer.
		r.publish(cti.CallOffered{CallID: string(w.call), Queue: string(w.q.ID), Agent: string(p.agent), Device: endpoint,
			Caller: w.caller, WaitedMS: time.Since(w.since).Milliseconds(), At: time.Now().UTC()})
		w.screenPop(ctx, acd.Assignment{Queue: w.q.ID, Call: w.call, Agent: p.agent})
	}
	r.publish(cti.CallConsult{CallID: string(w.call), Agent: string(s.agent), Target: to.String(), State: "ringing",
		Conference: conference, At: time.Now().UTC()})
	return cti.TransferStatus{CallID: cti.CallID(w.call), To: to, ConsultCallID: cti.CallID(legID), State: s.state()}, nil
}

// releaseClaim frees a party's agent (after a ring, or a talk).
func (s *session) releaseClaim(ctx context.Context, p *party, talked bool) {
	if p.agent == "" {
		return
	}
	r := s.w.r
	if _, err := r.store.Party(context.WithoutCancel(ctx), s.w.call, p.agent, acd.PartyEnd); err != nil {
		s.log.Warn("free the consulted agent", zap.String("agent", string(p.agent)), zap.Error(err))
		return
	}
	from := acd.Reserved
	if talked {
		from = acd.OnCall
	}
	if ag, err := r.store.Agent(context.WithoutCancel(ctx), p.agent); err == nil {
		r.agentState(p.agent, from, ag.State, "", s.w.call)
		if ag.State == acd.WrapUp {
			r.afterWrapUp(p.agent, time.Until(ag.WrapUntil))
		}
	}
	r.Wake()
}

// partyAnswered: the target picked up.
func (s *session) partyAnswered(ctx context.Context) {
	w, r, p := s.w, s.w.r, s.party
	p.answered = true
	if p.agent != "" {
		if _, err := r.store.Party(ctx, w.call, p.agent, acd.PartyAnswer); err != nil {
			s.log.Error("consulted agent answered", zap.Error(err))
		} else {
			r.agentState(p.agent, acd.Reserved, acd.OnCall, "", w.call)
		}
	}
	if err := w.cc.AddLegToBridge(ctx, s.bridge, p.leg); err != nil {
		s.log.Error("party into the conversation", zap.Error(err))
		s.dropParty(ctx, "bridge failed")
		return
	}
	s.log.Info("party answered", zap.String("to", p.target.String()))
	r.publish(cti.CallConsult{CallID: string(w.call), Agent: string(s.agent), Target: p.target.String(), State: "answered",
		Conference: p.conference, At: time.Now().UTC()})
	if p.conference {
		s.join(ctx)
	}
}

// join brings the caller to the agent and the answered party.
func (s *session) join(ctx context.Context) {
	w, p := s.w, s.party
	s.stopHold(ctx)
	p.joined = true
	s.log.Info("conference", zap.String("with", p.target.String()))
	w.r.publish(cti.CallConferenced{CallID: string(w.call), Agent: string(s.agent),
		Parties: []string{w.caller, "agent:" + string(s.agent), p.target.String()}, At: time.Now().UTC()})
}

// partyGone: the target hung up or never answered.
func (s *session) partyGone(ctx context.Context, cause string) {
	w, r, p := s.w, s.w.r, s.party
	s.party = nil
	w.cc.DropLeg(p.leg)
	s.releaseClaim(ctx, p, p.answered)
	state, detail := "ended", ""
	if !p.answered {
		state, detail = "failed", cause
		if p.agent != "" {
			r.publish(cti.CallOfferEnded{CallID: string(w.call), Queue: string(w.q.ID), Agent: string(p.agent),
				Outcome: string(outcomeOf(cause)), Detail: "consultation: " + cause, At: time.Now().UTC()})
		}
	}
	s.log.Info("party left", zap.String("to", p.target.String()), zap.String("state", state), zap.String("cause", cause))
	r.publish(cti.CallConsult{CallID: string(w.call), Agent: string(s.agent), Target: p.target.String(), State: state,
		Conference: p.conference, Detail: detail, At: time.Now().UTC()})
	if p.joined && s.held {
		s.stopHold(ctx)
	}
	// A consultation that fails leaves the caller on hold: the agent
	// resumes, or tries another target.
}

// dropParty hangs the party up and frees its agent.
func (s *session) dropParty(ctx context.Context, why string) {
	p := s.party
	if p == nil {
		return
	}
	s.party = nil
	_ = s.w.cc.RemoveLegFromBridge(ctx, s.bridge, p.leg)
	p.leg.Hangup(ctx)
	s.w.cc.DropLeg(p.leg)
	s.releaseClaim(ctx, p, p.answered)
	s.log.Info("party dropped", zap.String("to", p.target.String()), zap.String("why", why))
	s.w.r.publish(cti.CallConsult{CallID: string(s.w.call), Agent: string(s.agent), Target: p.target.String(), State: "ended",
		Conference: p.conference, Detail: why, At: time.Now().UTC()})
}

func (s *session) doComplete(ctx context.Context, agent cti.AgentID) (cti.TransferStatus, error) {
	if err := s.mine(agent); err != nil {
		return cti.TransferStatus{}, err
	}
	p := s.party
	if p == nil {
		return cti.TransferStatus{}, cti.Errorf(cti.CodeIllegalState, "call %s has no consultation to complete", s.w.call)
	}
	if !p.answered {
		return cti.TransferStatus{}, cti.Errorf(cti.CodeIllegalState, "call %s: %s has not answered yet", s.w.call, p.target)
	}
	to := p.target
	if err := s.handOver(ctx, "consult", true); err != nil {
		return cti.TransferStatus{}, transferErr(err, p.agent)
	}
	return cti.TransferStatus{CallID: cti.CallID(s.w.call), To: to, State: cti.CallStateEnded}, nil
}

func (s *session) doConference(ctx context.Context, agent cti.AgentID, to *cti.Target) (cti.CallStatus, error) {
	if err := s.mine(agent); err != nil {
		return cti.CallStatus{}, err
	}
	p := s.party
	if p == nil {
		if to == nil {
			return cti.CallStatus{}, cti.Errorf(cti.CodeInvalid, "call %s: name a party to conference with, or consult one first", s.w.call)
		}
		if s.held {
			s.stopHold(ctx)
		}
		if _, err := s.doCall(ctx, agent, *to, true); err != nil {
			return cti.CallStatus{}, err
		}
		return s.status(), nil
	}
	if to != nil && *to != p.target {
		return cti.CallStatus{}, cti.Errorf(cti.CodeIllegalState, "call %s: already %s with %s", s.w.call, s.state(), p.target)
	}
	if p.joined {
		return cti.CallStatus{}, cti.Errorf(cti.CodeIllegalState, "call %s is already a conference", s.w.call)
	}
	if !p.answered {
		p.conference = true // joins as soon as it answers
		return s.status(), nil
	}
	s.join(ctx)
	return s.status(), nil
}

// controlOp is one call-control command on a call; it is forwarded as it
// is to the ccd instance running the call when another one took it.
type controlOp struct {
	Op    cti.Command `json:"op"`
	Agent cti.AgentID `json:"agent"`
	Call  cti.CallID  `json:"call_id"`
	To    *cti.Target `json:"to,omitempty"`
}

// controlReply is the answer to a forwarded controlOp.
type controlReply struct {
	Data  json.RawMessage `json:"data,omitempty"`
	Error *cti.Error      `json:"error,omitempty"`
}

// apply runs op in the session's loop.
func (s *session) apply(ctx context.Context, op controlOp) (any, error) {
	needTo := func() error {
		if op.To == nil {
			return cti.Errorf(cti.CodeInvalid, "%s needs a target", op.Op)
		}
		return nil
	}
	switch op.Op {
	case cti.CmdHold:
		return s.doHold(ctx, op.Agent)
	case cti.CmdResume:
		return s.doResume(ctx, op.Agent)
	case cti.CmdBlindTransfer:
		if err := needTo(); err != nil {
			return nil, err
		}
		return s.doBlind(ctx, op.Agent, *op.To)
	case cti.CmdConsultTransfer:
		if err := needTo(); err != nil {
			return nil, err
		}
		return s.doCall(ctx, op.Agent, *op.To, false)
	case cti.CmdCompleteTransfer:
		return s.doComplete(ctx, op.Agent)
	case cti.CmdConference:
		return s.doConference(ctx, op.Agent, op.To)
	case cti.CmdHangup:
		if err := s.mine(op.Agent); err != nil {
			return nil, err
		}
		s.leg.Hangup(ctx) // the session ends the call (or hands it over) as for a hang-up on the phone
		return cti.CallStatus{CallID: op.Call, State: cti.CallStateEnded}, nil
	case cti.CmdSnapshot:
		info := cti.CallInfo{ID: op.Call, Caller: s.w.caller, State: s.state()}
		if s.party != nil {
			info.Party = s.party.target.String()
		}
		return info, nil
	}
	return nil, cti.Errorf(cti.CodeInvalid, "command %s is not call control", op.Op)
}

// errElsewhere: the call is not connected on this instance (nor known to
// run on another one).
func errElsewhere(call cti.CallID) error {
	return cti.Errorf(cti.CodeNotFound, "call %s is not connected to an agent", call)
}

// control runs op where the call runs: in its session on this instance, or
// forwarded over NATS to the instance that owns it.
func control[T any](ctx context.Context, r *Router, op controlOp) (T, error) {
	var out T
	if r.session(acd.CallID(op.Call)) != nil {
		v, err := r.exec(ctx, op.Call, func(s *session, ctx context.Context) (any, error) { return s.apply(ctx, op) })
		if err != nil {
			return out, err
		}
		return v.(T), nil
	}
	c, err := r.store.Call(ctx, acd.CallID(op.Call))
	if err != nil || c.Owner == "" || c.Owner == r.opts.Instance || r.nc == nil {
		return out, errElsewhere(op.Call)
	}
	data, err := json.Marshal(op)
	if err != nil {
		return out, err
	}
	msg, err := r.nc.RequestWithContext(ctx, cti.ControlSubject(c.Owner), data)
	if err != nil {
		return out, cti.Errorf(cti.CodeUnavailable, "call %s runs on ccd instance %s, which does not answer: %v", op.Call, c.Owner, err)
	}
	var rep controlReply
	if err := json.Unmarshal(msg.Data, &rep); err != nil {
		return out, cti.Errorf(cti.CodeInternal, "reply of ccd instance %s: %v", c.Owner, err)
	}
	if rep.Error != nil {
		return out, rep.Error
	}
	if err := json.Unmarshal(rep.Data, &out); err != nil {
		return out, cti.Errorf(cti.CodeInternal, "reply of ccd instance %s: %v", c.Owner, err)
	}
	return out, nil
}

// serveControl answers the call-control commands other instances forward
// to this one: only calls whose session runs here.
func (r *Router) serveControl(m *nats.Msg) {
	var op controlOp
	reply := controlReply{}
	if err := json.Unmarshal(m.Data, &op); err != nil {
		reply.Error = cti.Errorf(cti.CodeInvalid, "forwarded command: %v", err)
	} else if r.session(acd.CallID(op.Call)) == nil {
		reply.Error = cti.Errorf(cti.CodeNotFound, "call %s is not connected on ccd instance %s", op.Call, r.opts.Instance)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		v, err := r.exec(ctx, op.Call, func(s *session, ctx context.Context) (any, error) { return s.apply(ctx, op) })
		cancel()
		if err != nil {
			reply.Error = cti.Errorf(cti.CodeOf(err), "%s", strings.TrimPrefix(err.Error(), string(cti.CodeOf(err))+": "))
		} else if reply.Data, err = json.Marshal(v); err != nil {
			reply.Error = cti.Errorf(cti.CodeInternal, "encode: %v", err)
		}
	}
	data, _ := json.Marshal(reply)
	if err := m.Respond(data); err != nil {
		r.log.Warn("answer a forwarded command", zap.Error(err))
	}
}

// Call-control commands of the CTI handler.

func (h *CTI) Hold(ctx context.Context, _ cti.Identity, r cti.HoldRequest) (cti.CallStatus, error) {
	return control[cti.CallStatus](ctx, h.r, controlOp{Op: cti.CmdHold, Agent: r.Agent, Call: r.CallID})
}

func (h *CTI) Resume(ctx context.Context, _ cti.Identity, r cti.ResumeRequest) (cti.CallStatus, error) {
	return control[cti.CallStatus](ctx, h.r, controlOp{Op: cti.CmdResume, Agent: r.Agent, Call: r.CallID})
}

func (h *CTI) BlindTransfer(ctx context.Context, _ cti.Identity, r cti.BlindTransferRequest) (cti.TransferStatus, error) {
	return control[cti.TransferStatus](ctx, h.r, controlOp{Op: cti.CmdBlindTransfer, Agent: r.Agent, Call: r.CallID, To: &r.To})
}

func (h *CTI) ConsultTransfer(ctx context.Context, _ cti.Identity, r cti.ConsultTransferRequest) (cti.TransferStatus, error) {
	return control[cti.TransferStatus](ctx, h.r, controlOp{Op: cti.CmdConsultTransfer, Agent: r.Agent, Call: r.CallID, To: &r.To})
}

func (h *CTI) CompleteTransfer(ctx context.Context, _ cti.Identity, r cti.CompleteTransferRequest) (cti.TransferStatus, error) {
	return control[cti.TransferStatus](ctx, h.r, controlOp{Op: cti.CmdCompleteTransfer, Agent: r.Agent, Call: r.CallID})
}

func (h *CTI) Conference(ctx context.Context, _ cti.Identity, r cti.ConferenceRequest) (cti.CallStatus, error) {
	return control[cti.CallStatus](ctx, h.r, controlOp{Op: cti.CmdConference, Agent: r.Agent, Call: r.CallID, To: r.To})
}
