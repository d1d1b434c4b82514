package cti

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Typed identifiers of the command API: swapped arguments fail to compile.
// Their values are those of the acd package (acd.AgentID and so on).
type (
	AgentID string
	CallID  string
	QueueID string
)

// Command names a command; it is the <command> token of its subject.
type Command string

const (
	CmdLogin            Command = "login"
	CmdLogout           Command = "logout"
	CmdReady            Command = "ready"
	CmdPause            Command = "pause"
	CmdAnswer           Command = "answer"
	CmdHangup           Command = "hangup"
	CmdHold             Command = "hold"
	CmdResume           Command = "resume"
	CmdBlindTransfer    Command = "blind_transfer"
	CmdConsultTransfer  Command = "consult_transfer"
	CmdCompleteTransfer Command = "complete_transfer"
	CmdConference       Command = "conference"
	CmdWrapUpDone       Command = "wrap_up_done"
	CmdSnapshot         Command = "snapshot"
)

// Commands lists every command of version v1, in a stable order.
var Commands = []Command{
	CmdLogin, CmdLogout, CmdReady, CmdPause,
	CmdAnswer, CmdHangup, CmdHold, CmdResume,
	CmdBlindTransfer, CmdConsultTransfer, CmdCompleteTransfer, CmdConference,
	CmdWrapUpDone, CmdSnapshot,
}

// Valid reports whether c is a known command.
func (c Command) Valid() bool {
	for _, k := range Commands {
		if c == k {
			return true
		}
	}
	return false
}

// OnCall reports whether c acts on a call: such a command names a call,
// and the call must be assigned to the agent it acts for.
func (c Command) OnCall() bool {
	switch c {
	case CmdAnswer, CmdHangup, CmdHold, CmdResume, CmdBlindTransfer, CmdConsultTransfer,
		CmdCompleteTransfer, CmdConference, CmdWrapUpDone:
		return true
	}
	return false
}

// Requests. Agent is the agent the command acts on; it is also the last
// token of the subject. Left empty, the client fills in the acting
// identity's own agent; when set it must equal the subject's token.

// LoginRequest brings the agent into routing.
type LoginRequest struct {
	Agent AgentID `json:"agent,omitempty"`
}

// LogoutRequest takes the agent out of routing.
type LogoutRequest struct {
	Agent AgentID `json:"agent,omitempty"`
}

// ReadyRequest makes the agent available (after a pause or a wrap-up).
type ReadyRequest struct {
	Agent AgentID `json:"agent,omitempty"`
}

// PauseRequest pauses the agent with one of the configured reason codes.
type PauseRequest struct {
	Agent  AgentID `json:"agent,omitempty"`
	Reason string  `json:"reason"`
}

// AnswerRequest takes the call offered to the agent (soft answer).
type AnswerRequest struct {
	Agent  AgentID `json:"agent,omitempty"`
	CallID CallID  `json:"call_id"`
}

// HangupRequest ends the agent's call (soft hang-up).
type HangupRequest struct {
	Agent  AgentID `json:"agent,omitempty"`
	CallID CallID  `json:"call_id"`
}

// HoldRequest puts the caller on hold (music on hold).
type HoldRequest struct {
	Agent  AgentID `json:"agent,omitempty"`
	CallID CallID  `json:"call_id"`
}

// ResumeRequest takes the caller off hold.
type ResumeRequest struct {
	Agent  AgentID `json:"agent,omitempty"`
	CallID CallID  `json:"call_id"`
}

// BlindTransferRequest hands the call to To at once; the agent leaves it.
type BlindTransferRequest struct {
	Agent  AgentID `json:"agent,omitempty"`
	CallID CallID  `json:"call_id"`
	To     Target  `json:"to"`
}

// ConsultTransferRequest holds the caller and calls To, so the agent can
// talk to the target before completing (CompleteTransferRequest) or
// bringing everyone together (ConferenceRequest).
type ConsultTransferRequest struct {
	Agent  AgentID `json:"agent,omitempty"`
	CallID CallID  `json:"call_id"`
	To     Target  `json:"to"`
}

// CompleteTransferRequest joins the caller and the consulted target; the
// agent leaves the call.
type CompleteTransferRequest struct {
	Agent  AgentID `json:"agent,omitempty"`
	CallID CallID  `json:"call_id"`
}

// ConferenceRequest joins the caller, the agent and the consulted target.
// With To and no consultation going on, To is called and joins the caller
// and the agent as soon as it answers.
type ConferenceRequest struct {
	Agent  AgentID `json:"agent,omitempty"`
	CallID CallID  `json:"call_id"`
	To     *Target `json:"to,omitempty"`
}

// WrapUpDoneRequest ends the after-call work of a call with its outcome.
type WrapUpDoneRequest struct {
	Agent       AgentID `json:"agent,omitempty"`
	CallID      CallID  `json:"call_id"`
	Disposition string  `json:"disposition"`
	Notes       string  `json:"notes,omitempty"`
}

// SnapshotRequest asks for the agent's whole desk state (see Snapshot).
type SnapshotRequest struct {
	Agent AgentID `json:"agent,omitempty"`
}

// TargetKind says what a transfer target's ID is.
type TargetKind string

const (
	TargetAgent  TargetKind = "agent"  // ID is an agent id
	TargetQueue  TargetKind = "queue"  // ID is a queue id
	TargetNumber TargetKind = "number" // ID is an external number
)

// Target is where a call is transferred to.
type Target struct {
	Kind TargetKind `json:"kind"`
	ID   string     `json:"id"`
}

// ToAgent, ToQueue and ToNumber build transfer targets.
func ToAgent(id AgentID) Target     { return Target{Kind: TargetAgent, ID: string(id)} }
func ToQueue(id QueueID) Target     { return Target{Kind: TargetQueue, ID: string(id)} }
func ToNumber(number string) Target { return Target{Kind: TargetNumber, ID: number} }

func (t Target) String() string { return string(t.Kind) + ":" + t.ID }

// ParseTarget reads a target written as kind:id (agent:1002, queue:trace,
// number:13900000000); a bare id is an agent.
func ParseTarget(s string) (Target, error) {
	kind, id, ok := strings.Cut(s, ":")
	if !ok {
		kind, id = string(TargetAgent), s
	}
	t := Target{Kind: TargetKind(kind), ID: id}
	return t, t.Validate()
}

// Validate checks a transfer target.
func (t Target) Validate() error {
	switch t.Kind {
	case TargetAgent, TargetQueue:
		if !validToken(t.ID) {
			return fmt.Errorf("%w: transfer target %s id %q", ErrInvalid, t.Kind, t.ID)
		}
	case TargetNumber:
		if !validNumber(t.ID) {
			return fmt.Errorf("%w: transfer target number %q (digits, optionally a leading +, at most %d)", ErrInvalid, t.ID, maxNumber)
		}
	default:
		return fmt.Errorf("%w: transfer target kind %q (agent, queue or number)", ErrInvalid, t.Kind)
	}
	return nil
}

// Responses.

// AgentStatus is the agent's routing state after an agent command.
type AgentStatus struct {
	Agent  AgentID `json:"agent"`
	State  string  `json:"state"` // an acd.State: logged_out, available, reserved, on_call, wrap_up, paused
	Reason string  `json:"reason,omitempty"`
	CallID CallID  `json:"call_id,omitempty"`
}

// CallState is where a call stands from the agent's point of view.
type CallState string

const (
	CallStateOffered    CallState = "offered"
	CallStateTalking    CallState = "talking"
	CallStateHeld       CallState = "held"
	CallStateConsulting CallState = "consulting" // caller held, agent talking to a transfer target
	CallStateConference CallState = "conference"
	CallStateEnded      CallState = "ended"
)

// CallStatus is a call's state after a call command.
type CallStatus struct {
	CallID CallID    `json:"call_id"`
	State  CallState `json:"state"`
}

// TransferStatus is the outcome of a transfer command. ConsultCallID is the
// call to the target, once there is one.
type TransferStatus struct {
	CallID        CallID    `json:"call_id"`
	To            Target    `json:"to"`
	ConsultCallID CallID    `json:"consult_call_id,omitempty"`
	State         CallState `json:"state"`
}

// Snapshot is an agent's whole desk state, and the sequence number of the
// last event of the agent's stream it reflects (see Watch).
type Snapshot struct {
	Agent  AgentID       `json:"agent"`
	State  string        `json:"state"` // an acd.State; logged_out for an agent never seen
	Reason string        `json:"reason,omitempty"`
	Since  *time.Time    `json:"since,omitempty"` // when the agent entered State
	Call   *CallInfo     `json:"call,omitempty"`  // the call offered, connected or being wrapped up
	Queues []QueueStatus `json:"queues,omitempty"`
	Seq    uint64        `json:"seq"`
}

// CallInfo is the call on an agent's desk.
type CallInfo struct {
	ID     CallID  `json:"id"`
	Queue  QueueID `json:"queue,omitempty"`
	Caller string  `json:"caller,omitempty"`
	// State is talking, held, consulting or conference for a connected
	// call (empty while it is offered); Party the target consulted or
	// conferenced (kind:id).
	State CallState `json:"state,omitempty"`
	Party string    `json:"party,omitempty"`
}

// QueueStatus is a queue's figure on the desk.
type QueueStatus struct {
	Queue   QueueID `json:"queue"`
	Waiting int     `json:"waiting"`
}

// Limits of request fields.
const (
	maxToken       = 128 // agent, call and queue ids
	maxNumber      = 32
	maxReason      = 64
	maxDisposition = 64
	maxNotes       = 4000
)

// validToken reports whether s can be a subject token: agent, call and queue
// ids appear in subjects, so they may not hold '.', '*', '>' or spaces.
func validToken(s string) bool {
	if s == "" || len(s) > maxToken || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == '.' || r == '*' || r == '>' || unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func validNumber(s string) bool {
	digits := strings.TrimPrefix(s, "+")
	if digits == "" || len(s) > maxNumber {
		return false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func validText(field, s string, max int, required bool) error {
	switch {
	case required && strings.TrimSpace(s) == "":
		return fmt.Errorf("%w: %s is required", ErrInvalid, field)
	case len(s) > max:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalid, field, max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: %s is not UTF-8", ErrInvalid, field)
	}
	return nil
}

// request is what the server and the client need of every request type: its
// agent and call fields, and its own checks. Pointer receivers, so the
// agent can be filled in.
type request interface {
	refs() (agent *AgentID, call *CallID)
	check() error
}

func (r *LoginRequest) refs() (*AgentID, *CallID)            { return &r.Agent, nil }
func (r *LogoutRequest) refs() (*AgentID, *CallID)           { return &r.Agent, nil }
func (r *ReadyRequest) refs() (*AgentID, *CallID)            { return &r.Agent, nil }
func (r *PauseRequest) refs() (*AgentID, *CallID)            { return &r.Agent, nil }
func (r *SnapshotRequest) refs() (*AgentID, *CallID)         { return &r.Agent, nil }
func (r *AnswerRequest) refs() (*AgentID, *CallID)           { return &r.Agent, &r.CallID }
func (r *HangupRequest) refs() (*AgentID, *CallID)           { return &r.Agent, &r.CallID }
func (r *HoldRequest) refs() (*AgentID, *CallID)             { return &r.Agent, &r.CallID }
func (r *ResumeRequest) refs() (*AgentID, *CallID)           { return &r.Agent, &r.CallID }
func (r *BlindTransferRequest) refs() (*AgentID, *CallID)    { return &r.Agent, &r.CallID }
func (r *ConsultTransferRequest) refs() (*AgentID, *CallID)  { return &r.Agent, &r.CallID }
func (r *CompleteTransferRequest) refs() (*AgentID, *CallID) { return &r.Agent, &r.CallID }
func (r *ConferenceRequest) refs() (*AgentID, *CallID)       { return &r.Agent, &r.CallID }
func (r *WrapUpDoneRequest) refs() (*AgentID, *CallID)       { return &r.Agent, &r.CallID }

func (*LoginRequest) check() error            { return nil }
func (*LogoutRequest) check() error           { return nil }
func (*ReadyRequest) check() error            { return nil }
func (*SnapshotRequest) check() error         { return nil }
func (*AnswerRequest) check() error           { return nil }
func (*HangupRequest) check() error           { return nil }
func (*HoldRequest) check() error             { return nil }
func (*ResumeRequest) check() error           { return nil }
func (*CompleteTransferRequest) check() error { return nil }

func (r *ConferenceRequest) check() error {
	if r.To == nil {
		return nil
	}
	return r.To.Validate()
}

func (r *PauseRequest) check() error { return validText("reason", r.Reason, maxReason, true) }

func (r *BlindTransferRequest) check() error   { return r.To.Validate() }
func (r *ConsultTransferRequest) check() error { return r.To.Validate() }

func (r *WrapUpDoneRequest) check() error {
	if err := validText("disposition", r.Disposition, maxDisposition, true); err != nil {
		return err
	}
	return validText("notes", r.Notes, maxNotes, false)
}

// validate checks a request that already names its agent.
func validate(r request) error {
	agent, call := r.refs()
	if !validToken(string(*agent)) {
		return fmt.Errorf("%w: agent id %q", ErrInvalid, *agent)
	}
	if call != nil && !validToken(string(*call)) {
		return fmt.Errorf("%w: call_id %q", ErrInvalid, *call)
	}
	return r.check()
}
