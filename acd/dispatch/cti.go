package dispatch

import (
	"context"

	"errors"
	"time"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/cti"
)

// CTI answers the desktop commands: login, logout, ready, pause, answer,
// wrap-up done, hang-up, hold, resume, transfers, conference (control.go)
// and the desk snapshot.
type CTI struct {
	cti.NotImplemented
	r     *Router
	board *cti.Board
}

var _ cti.CommandHandler = (*CTI)(nil)

// CTIHandler returns the ACD's command handler; board numbers the agents'
// event streams (the Bus's).
func (r *Router) CTIHandler(board *cti.Board) *CTI { return &CTI{r: r, board: board} }

// Classify maps the ACD's errors to CTI error codes.
func Classify(err error) cti.Code {
	switch {
	case errors.Is(err, acd.ErrNotFound):
		return cti.CodeNotFound
	case errors.Is(err, acd.ErrIllegalTransition), errors.Is(err, acd.ErrReserved), errors.Is(err, acd.ErrAlreadyReserved):
		return cti.CodeIllegalState
	case errors.Is(err, acd.ErrInvalid):
		return cti.CodeInvalid
	}
	return cti.CodeInternal
}

// CallOwner is the agent a call is offered to or connected with.
func (h *CTI) CallOwner(ctx context.Context, call cti.CallID) (cti.AgentID, error) {
	c, err := h.r.store.Call(ctx, acd.CallID(call))
	if err != nil {
		if errors.Is(err, acd.ErrNotFound) {
			return "", cti.ErrNotFound
		}
		return "", err
	}
	if c.Agent == "" {
		return "", cti.ErrNotFound
	}
	return cti.AgentID(c.Agent), nil
}

func (h *CTI) status(ctx context.Context, agent cti.AgentID) (cti.AgentStatus, error) {
	a, err := h.r.State(ctx, acd.AgentID(agent))
	if err != nil {
		return cti.AgentStatus{}, err
	}
	return cti.AgentStatus{Agent: agent, State: string(a.State), Reason: a.Reason, CallID: cti.CallID(a.Call)}, nil
}

func (h *CTI) Login(ctx context.Context, _ cti.Identity, r cti.LoginRequest) (cti.AgentStatus, error) {
	if err := h.r.Login(ctx, acd.AgentID(r.Agent)); err != nil {
		return cti.AgentStatus{}, err
	}
	return h.status(ctx, r.Agent)
}

func (h *CTI) Logout(ctx context.Context, _ cti.Identity, r cti.LogoutRequest) (cti.AgentStatus, error) {
	if err := h.r.Logout(ctx, acd.AgentID(r.Agent)); err != nil {
		return cti.AgentStatus{}, err
	}
	return h.status(ctx, r.Agent)
}

func (h *CTI) Ready(ctx context.Context, _ cti.Identity, r cti.ReadyRequest) (cti.AgentStatus, error) {
	if err := h.r.Ready(ctx, acd.AgentID(r.Agent)); err != nil {
		return cti.AgentStatus{}, err
	}
	return h.status(ctx, r.Agent)
}

func (h *CTI) Pause(ctx context.Context, _ cti.Identity, r cti.PauseRequest) (cti.AgentStatus, error) {
	if r.Reason == acd.PauseMissedOffers {
		return cti.AgentStatus{}, cti.Errorf(cti.CodeInvalid, "pause reason %s is set by the ACD only", r.Reason)
	}
	if err := h.r.Pause(ctx, acd.AgentID(r.Agent), r.Reason); err != nil {
		return cti.AgentStatus{}, err
	}
	return h.status(ctx, r.Agent)
}

// WrapUpDone ends the agent's wrap-up early: available again.
func (h *CTI) WrapUpDone(ctx context.Context, _ cti.Identity, r cti.WrapUpDoneRequest) (cti.AgentStatus, error) {
	a, err := h.r.State(ctx, acd.AgentID(r.Agent))
	if err != nil {
		return cti.AgentStatus{}, err
	}
	if a.State == acd.WrapUp {
		if err := h.r.Ready(ctx, acd.AgentID(r.Agent)); err != nil {
			return cti.AgentStatus{}, err
		}
	}
	return h.status(ctx, r.Agent)
}

// Answer takes the call ringing for the agent: the agent's desktop is told
// to answer it on its softphone (desk.answer). A desk phone cannot be
// answered from afar; its agent lifts the handset.
func (h *CTI) Answer(ctx context.Context, _ cti.Identity, r cti.AnswerRequest) (cti.CallStatus, error) {
	a, err := h.r.State(ctx, acd.AgentID(r.Agent))
	if err != nil {
		return cti.CallStatus{}, err
	}
	if a.State != acd.Reserved || a.Call != acd.CallID(r.CallID) {
		return cti.CallStatus{}, cti.Errorf(cti.CodeIllegalState, "call %s is not ringing for agent %s (agent %s)", r.CallID, r.Agent, a.State)
	}
	h.r.publish(cti.DeskAnswer{CallID: string(r.CallID), Agent: string(r.Agent), At: time.Now().UTC()})
	return cti.CallStatus{CallID: r.CallID, State: cti.CallStateOffered}, nil
}

// Hangup ends the agent's side of a connected call (the caller is hung up
// with it) or declines an offer.
func (h *CTI) Hangup(ctx context.Context, _ cti.Identity, r cti.HangupRequest) (cti.CallStatus, error) {
	st, err := control[cti.CallStatus](ctx, h.r, controlOp{Op: cti.CmdHangup, Agent: r.Agent, Call: r.CallID})
	if err == nil || !errors.Is(err, cti.ErrNotFound) {
		return st, err
	}
	// No session anywhere (a callback's legs, say): hang up the agent legs.
	alive, err := h.r.liveChannels(ctx)
	if err != nil {
		return cti.CallStatus{}, cti.Errorf(cti.CodeUnavailable, "Asterisk: %v", err)
	}
	legs := legsOf(acd.CallID(r.CallID), alive)
	for _, id := range legs {
		h.r.hangup(ctx, id)
	}
	if len(legs) == 0 {
		return cti.CallStatus{}, cti.Errorf(cti.CodeNotFound, "call %s has no agent leg", r.CallID)
	}
	return cti.CallStatus{CallID: r.CallID, State: cti.CallStateEnded}, nil
}

// Snapshot reads the agent's state from the live routing state, numbered
// with the agent's event stream.
func (h *CTI) Snapshot(ctx context.Context, _ cti.Identity, r cti.SnapshotRequest) (cti.Snapshot, error) {
	read := func(ctx context.Context) (cti.Snapshot, error) {
		a, err := h.r.State(ctx, acd.AgentID(r.Agent))
		if errors.Is(err, acd.ErrNotFound) {
			return cti.Snapshot{State: string(acd.LoggedOut)}, nil
		}
		if err != nil {
			return cti.Snapshot{}, err
		}
		s := cti.Snapshot{State: string(a.State), Reason: a.Reason}
		if !a.StateSince.IsZero() {
			since := a.StateSince.UTC().Truncate(time.Microsecond)
			s.Since = &since
		}
		if a.Call != "" {
			s.Call = &cti.CallInfo{ID: cti.CallID(a.Call)}
			if c, err := h.r.store.Call(ctx, a.Call); err == nil {
				s.Call.Queue = cti.QueueID(c.Queue)
			}
			if info, err := control[cti.CallInfo](ctx, h.r, controlOp{Op: cti.CmdSnapshot, Agent: r.Agent, Call: cti.CallID(a.Call)}); err == nil {
				s.Call.Caller, s.Call.State, s.Call.Party = info.Caller, info.State, info.Party
			}
		}
		return s, nil
	}
	if h.board == nil {
		return read(ctx)
	}
	return h.board.SnapshotWith(ctx, r.Agent, read)
}
