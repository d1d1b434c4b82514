package cti

import "context"

// CommandHandler runs commands for Serve, which owns this interface: the ACD
// side implements it. Serve has already checked, before any method is called,
// that the request is well formed, that it names its agent (r.Agent is set),
// and that Authorize allows the identity to run it; for a command on a call,
// CallOwner said the call is assigned to r.Agent. Between that check and the
// method the call may move on (hung up, transferred), so an implementation
// acts on "call r.CallID of agent r.Agent" atomically and answers
// ErrIllegalState or ErrNotFound when that no longer holds.
//
// Return an error wrapping one of the sentinels (ErrNotFound,
// ErrIllegalState, ErrInvalid...) or let ServeOptions.Classify map the
// domain's errors; anything else reaches the desktop as internal.
type CommandHandler interface {
	// CallOwner returns the agent a call is offered to, connected to, or
	// being wrapped up by; ErrNotFound when no agent has it.
	CallOwner(ctx context.Context, call CallID) (AgentID, error)

	Login(ctx context.Context, id Identity, r LoginRequest) (AgentStatus, error)
	Logout(ctx context.Context, id Identity, r LogoutRequest) (AgentStatus, error)
	Ready(ctx context.Context, id Identity, r ReadyRequest) (AgentStatus, error)
	Pause(ctx context.Context, id Identity, r PauseRequest) (AgentStatus, error)
	Answer(ctx context.Context, id Identity, r AnswerRequest) (CallStatus, error)
	Hangup(ctx context.Context, id Identity, r HangupRequest) (CallStatus, error)
	Hold(ctx context.Context, id Identity, r HoldRequest) (CallStatus, error)
	Resume(ctx context.Context, id Identity, r ResumeRequest) (CallStatus, error)
	BlindTransfer(ctx context.Context, id Identity, r BlindTransferRequest) (TransferStatus, error)
	ConsultTransfer(ctx context.Context, id Identity, r ConsultTransferRequest) (TransferStatus, error)
	CompleteTransfer(ctx context.Context, id Identity, r CompleteTransferRequest) (TransferStatus, error)
	Conference(ctx context.Context, id Identity, r ConferenceRequest) (CallStatus, error)
	WrapUpDone(ctx context.Context, id Identity, r WrapUpDoneRequest) (AgentStatus, error)
	// Snapshot returns the agent's desk state with the seq of the last event
	// of the agent's stream it reflects; see SnapshotSource and Board.
	Snapshot(ctx context.Context, id Identity, r SnapshotRequest) (Snapshot, error)
}

// NotImplemented answers every command with ErrUnavailable. Embed it in a
// handler to serve the commands the platform can already run while the
// others are being built.
type NotImplemented struct{}

var _ CommandHandler = NotImplemented{}

func notImplemented(cmd string) error { return Errorf(CodeUnavailable, "%s is not implemented", cmd) }

func (NotImplemented) CallOwner(context.Context, CallID) (AgentID, error) {
	return "", notImplemented("call ownership")
}
func (NotImplemented) Login(context.Context, Identity, LoginRequest) (AgentStatus, error) {
	return AgentStatus{}, notImplemented(string(CmdLogin))
}
func (NotImplemented) Logout(context.Context, Identity, LogoutRequest) (AgentStatus, error) {
	return AgentStatus{}, notImplemented(string(CmdLogout))
}
func (NotImplemented) Ready(context.Context, Identity, ReadyRequest) (AgentStatus, error) {
	return AgentStatus{}, notImplemented(string(CmdReady))
}
func (NotImplemented) Pause(context.Context, Identity, PauseRequest) (AgentStatus, error) {
	return AgentStatus{}, notImplemented(string(CmdPause))
}
func (NotImplemented) Answer(context.Context, Identity, AnswerRequest) (CallStatus, error) {
	return CallStatus{}, notImplemented(string(CmdAnswer))
}
func (NotImplemented) Hangup(context.Context, Identity, HangupRequest) (CallStatus, error) {
	return CallStatus{}, notImplemented(string(CmdHangup))
}
func (NotImplemented) Hold(context.Context, Identity, HoldRequest) (CallStatus, error) {
	return CallStatus{}, notImplemented(string(CmdHold))
}
func (NotImplemented) Resume(context.Context, Identity, ResumeRequest) (CallStatus, error) {
	return CallStatus{}, notImplemented(string(CmdResume))
}
func (NotImplemented) BlindTransfer(context.Context, Identity, BlindTransferRequest) (TransferStatus, error) {
	return TransferStatus{}, notImplemented(string(CmdBlindTransfer))
}
func (NotImplemented) ConsultTransfer(context.Context, Identity, ConsultTransferRequest) (TransferStatus, error) {
	return TransferStatus{}, notImplemented(string(CmdConsultTransfer))
}
func (NotImplemented) CompleteTransfer(context.Context, Identity, CompleteTransferRequest) (TransferStatus, error) {
	return TransferStatus{}, notImplemented(string(CmdCompleteTransfer))
}
func (NotImplemented) Conference(context.Context, Identity, ConferenceRequest) (CallStatus, error) {
	return CallStatus{}, notImplemented(string(CmdConference))
}
func (NotImplemented) WrapUpDone(context.Context, Identity, WrapUpDoneRequest) (AgentStatus, error) {
	return AgentStatus{}, notImplemented(string(CmdWrapUpDone))
}
func (NotImplemented) Snapshot(context.Context, Identity, SnapshotRequest) (Snapshot, error) {
	return Snapshot{}, notImplemented(string(CmdSnapshot))
}
