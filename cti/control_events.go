package cti

import "time"

// Call-control events: what an agent did to a connected call. They travel
// as call events (cc.call.<kind>.<call_id>), so every desk following the
// call sees them.

// CallHeld: the agent put the caller on hold (the caller hears music).
type CallHeld struct {
	CallID string    `json:"call_id"`
	Agent  string    `json:"agent"`
	At     time.Time `json:"at"`
}

// CallResumed: the caller is back in the conversation.
type CallResumed struct {
	CallID string    `json:"call_id"`
	Agent  string    `json:"agent"`
	At     time.Time `json:"at"`
}

// CallConsult: a consultation (or a party being added to a conference)
// moved on: ringing, answered, failed (no answer, busy) or ended.
type CallConsult struct {
	CallID     string    `json:"call_id"`
	Agent      string    `json:"agent"`
	Target     string    `json:"target"` // kind:id, e.g. agent:1002, number:13900000000
	State      string    `json:"state"`
	Conference bool      `json:"conference,omitempty"` // the party joins the caller on answer
	Detail     string    `json:"detail,omitempty"`
	At         time.Time `json:"at"`
}

// CallTransferred: the call left its agent for a target. Blind: at once;
// consult: after the agent talked to the target.
type CallTransferred struct {
	CallID string    `json:"call_id"`
	From   string    `json:"from"` // the agent the call had
	Target string    `json:"target"`
	Mode   string    `json:"mode"` // blind, consult
	At     time.Time `json:"at"`
}

// CallConferenced: caller, agent and the consulted party talk together.
type CallConferenced struct {
	CallID  string    `json:"call_id"`
	Agent   string    `json:"agent"`
	Parties []string  `json:"parties"` // the caller's number, agent:<id>, number:<n>
	At      time.Time `json:"at"`
}

func (CallHeld) EventType() string        { return "call.held" }
func (CallResumed) EventType() string     { return "call.resumed" }
func (CallConsult) EventType() string     { return "call.consult" }
func (CallTransferred) EventType() string { return "call.transferred" }
func (CallConferenced) EventType() string { return "call.conferenced" }

func (CallHeld) EventVersion() int        { return 1 }
func (CallResumed) EventVersion() int     { return 1 }
func (CallConsult) EventVersion() int     { return 1 }
func (CallTransferred) EventVersion() int { return 1 }
func (CallConferenced) EventVersion() int { return 1 }

func (e CallHeld) Subject() string        { return CallSubject("held", e.CallID) }
func (e CallResumed) Subject() string     { return CallSubject("resumed", e.CallID) }
func (e CallConsult) Subject() string     { return CallSubject("consult", e.CallID) }
func (e CallTransferred) Subject() string { return CallSubject("transferred", e.CallID) }
func (e CallConferenced) Subject() string { return CallSubject("conferenced", e.CallID) }
