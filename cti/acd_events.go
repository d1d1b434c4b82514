package cti

import (
	"encoding/json"
	"time"
)

// AgentStateChanged: an agent moved from one routing state to another.
type AgentStateChanged struct {
	Agent  string    `json:"agent"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason,omitempty"` // pause reason
	CallID string    `json:"call_id,omitempty"`
	At     time.Time `json:"at"`
}

// CallQueued: a call joined a queue.
type CallQueued struct {
	CallID      string    `json:"call_id"`
	Queue       string    `json:"queue"`
	Priority    int       `json:"priority"`
	Position    int       `json:"position"`
	PreferAgent string    `json:"prefer_agent,omitempty"` // last-agent memory
	At          time.Time `json:"at"`
}

// CallOffered: the ACD reserved an agent for a call and rings the agent.
type CallOffered struct {
	CallID   string    `json:"call_id"`
	Queue    string    `json:"queue"`
	Agent    string    `json:"agent"`
	Device   string    `json:"device"`
	Caller   string    `json:"caller,omitempty"`
	Callback bool      `json:"callback,omitempty"`
	WaitedMS int64     `json:"waited_ms"`
	At       time.Time `json:"at"`
}

// CallOfferEnded: an offer ended without a connection (no answer, rejected,
// caller gone).
type CallOfferEnded struct {
	CallID  string    `json:"call_id"`
	Queue   string    `json:"queue"`
	Agent   string    `json:"agent"`
	Outcome string    `json:"outcome"` // no_answer, rejected, abandoned
	Detail  string    `json:"detail,omitempty"`
	At      time.Time `json:"at"`
}

// CallConnected: caller and agent are bridged.
type CallConnected struct {
	CallID   string    `json:"call_id"`
	Queue    string    `json:"queue"`
	Agent    string    `json:"agent"`
	WaitedMS int64     `json:"waited_ms"`
	At       time.Time `json:"at"`
}

// CallLeftQueue: a call left its queue without being connected.
type CallLeftQueue struct {
	CallID   string    `json:"call_id"`
	Queue    string    `json:"queue"`
	Reason   string    `json:"reason"` // abandoned, overflow, callback, message
	Target   string    `json:"target,omitempty"`
	WaitedMS int64     `json:"waited_ms"`
	At       time.Time `json:"at"`
}

// CallbackUpdate: a callback was requested, dialled, completed or given up.
type CallbackUpdate struct {
	CallID  string    `json:"call_id"`
	Queue   string    `json:"queue"`
	Number  string    `json:"number"`
	State   string    `json:"state"` // requested, dialling, connected, no_answer, failed
	Attempt int       `json:"attempt"`
	Agent   string    `json:"agent,omitempty"`
	At      time.Time `json:"at"`
}

// QueueFigures: a queue's live figures, published when they change.
type QueueFigures struct {
	Queue       string    `json:"queue"`
	Waiting     int       `json:"waiting"`
	Staffed     int       `json:"staffed"`
	Available   int       `json:"available"`
	AvgHandleMS int64     `json:"avg_handle_ms"`
	ExpectedMin int       `json:"expected_wait_min"` // for a caller joining now
	At          time.Time `json:"at"`
}

func (QueueFigures) EventType() string { return "queue.stats" }
func (QueueFigures) EventVersion() int { return 1 }
func (e QueueFigures) Subject() string { return QueueSubject("stats", e.Queue, "all") }

func (AgentStateChanged) EventType() string { return "agent.state" }
func (CallQueued) EventType() string        { return "queue.joined" }
func (CallOffered) EventType() string       { return "queue.offered" }
func (CallOfferEnded) EventType() string    { return "queue.offer_ended" }
func (CallConnected) EventType() string     { return "queue.connected" }
func (CallLeftQueue) EventType() string     { return "queue.left" }
func (CallbackUpdate) EventType() string    { return "queue.callback" }

func (AgentStateChanged) EventVersion() int { return 1 }
func (CallQueued) EventVersion() int        { return 1 }
func (CallOffered) EventVersion() int       { return 1 }
func (CallOfferEnded) EventVersion() int    { return 1 }
func (CallConnected) EventVersion() int     { return 1 }
func (CallLeftQueue) EventVersion() int     { return 1 }
func (CallbackUpdate) EventVersion() int    { return 1 }

func (e AgentStateChanged) Subject() string { return AgentSubject("state", e.Agent) }
func (e CallQueued) Subject() string        { return QueueSubject("joined", e.Queue, e.CallID) }
func (e CallOffered) Subject() string       { return QueueSubject("offered", e.Queue, e.CallID) }
func (e CallOfferEnded) Subject() string    { return QueueSubject("offer_ended", e.Queue, e.CallID) }
func (e CallConnected) Subject() string     { return QueueSubject("connected", e.Queue, e.CallID) }
func (e CallLeftQueue) Subject() string     { return QueueSubject("left", e.Queue, e.CallID) }
func (e CallbackUpdate) Subject() string    { return QueueSubject("callback", e.Queue, e.CallID) }

// StreamAgent puts agent.state on the agent's stream (see AgentEvent).
func (e AgentStateChanged) StreamAgent() AgentID { return AgentID(e.Agent) }

// ScreenPop: what the agent's desktop shows as a call is offered to them:
// the caller, the customer found by their number (or a new caller), what
// the IVR collected, the queue and the wait, and the customer's last calls.
type ScreenPop struct {
	CallID    string            `json:"call_id"`
	Agent     string            `json:"agent"`
	Caller    string            `json:"caller"`
	DID       string            `json:"did"`
	Customer  json.RawMessage   `json:"customer,omitempty"` // null for a new caller
	NewCaller bool              `json:"new_caller"`
	Priority  int               `json:"priority"`
	IVR       map[string]string `json:"ivr,omitempty"`
	Queue     string            `json:"queue"`
	WaitedMS  int64             `json:"waited_ms"`
	History   json.RawMessage   `json:"history,omitempty"`
	At        time.Time         `json:"at"`
}

// DeskAnswer asks the agent's desktop to answer the call ringing on its
// softphone (the answer command: a soft answer from the screen or from an
// integration). A desk phone answers by itself.
type DeskAnswer struct {
	CallID string    `json:"call_id"`
	Agent  string    `json:"agent"`
	At     time.Time `json:"at"`
}

func (DeskAnswer) EventType() string { return "desk.answer" }
func (DeskAnswer) EventVersion() int { return 1 }
func (e DeskAnswer) Subject() string { return DeskSubject("answer", e.Agent, e.CallID) }

func (ScreenPop) EventType() string { return "desk.screen_pop" }
func (ScreenPop) EventVersion() int { return 1 }
func (e ScreenPop) Subject() string { return DeskSubject("screen_pop", e.Agent, e.CallID) }
