// Package cti carries the contact center's events and commands over NATS:
// typed event payloads in a versioned envelope, subject names built in one
// place, and the embedded NATS server ccd runs by default.
//
// Commands are NATS requests with typed requests, responses and errors:
// Client sends them for an Identity, Serve runs them on a CommandHandler
// after Authorize. Each agent's events form a numbered stream, and Watch
// gives a desktop a snapshot followed by every later event, with no gap and
// no duplicate, across reconnects. README.md has the subject scheme.
package cti

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Envelope wraps every event on the bus.
type Envelope struct {
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Version int       `json:"version"`
	Time    time.Time `json:"time"`
	Source  string    `json:"source"`
	// Seq numbers the events of one agent's stream (cc.agent.*.<agent>):
	// each is one more than the previous event of the same agent. Zero, and
	// absent from the JSON, on every other event.
	Seq  uint64          `json:"seq,omitempty"`
	Data json.RawMessage `json:"data"`
}

// Event is a typed payload that knows its type, version and subject.
type Event interface {
	EventType() string
	EventVersion() int
	Subject() string
}

// Wrap puts an event into its envelope.
func Wrap(source string, ev Event) (Envelope, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return Envelope{}, fmt.Errorf("cti: encode %s: %w", ev.EventType(), err)
	}
	return Envelope{
		ID:      uuid.NewString(),
		Type:    ev.EventType(),
		Version: ev.EventVersion(),
		Time:    time.Now().UTC(),
		Source:  source,
		Data:    data,
	}, nil
}

// Decode unpacks an envelope's payload into v.
func (e Envelope) Decode(v any) error {
	return json.Unmarshal(e.Data, v)
}

// CallStarted: a call entered the platform.
type CallStarted struct {
	CallID     string    `json:"call_id"`
	ChannelID  string    `json:"channel_id"`
	Caller     string    `json:"caller"`
	CallerName string    `json:"caller_name,omitempty"`
	DID        string    `json:"did"`
	StartedAt  time.Time `json:"started_at"`
}

// CallAnswered: ccd answered the call.
type CallAnswered struct {
	CallID     string    `json:"call_id"`
	AnsweredAt time.Time `json:"answered_at"`
}

// CallKey: the caller pressed a key.
type CallKey struct {
	CallID string `json:"call_id"`
	Key    string `json:"key"`
}

// CallDigits: a digit collection ended.
type CallDigits struct {
	CallID string `json:"call_id"`
	Digits string `json:"digits"`
	End    string `json:"end"`
}

// CallEnded: the call is over and its record written.
type CallEnded struct {
	CallID          string    `json:"call_id"`
	Outcome         string    `json:"outcome"`
	Digits          string    `json:"digits"`
	HangupCause     int       `json:"hangup_cause"`
	HangupCauseText string    `json:"hangup_cause_text"`
	HangupBy        string    `json:"hangup_by"`
	EndedAt         time.Time `json:"ended_at"`
	DurationMS      int64     `json:"duration_ms"`
}

// CallIVRProgress: the caller's flow entered a node (IVR progress, for
// wallboards and the desk's view of a call before it is queued).
type CallIVRProgress struct {
	CallID   string    `json:"call_id"`
	Node     string    `json:"node"`
	NodeType string    `json:"node_type"`
	At       time.Time `json:"at"`
}

func (CallIVRProgress) EventType() string { return "call.ivr" }
func (CallIVRProgress) EventVersion() int { return 1 }
func (e CallIVRProgress) Subject() string { return CallSubject("ivr", e.CallID) }

func (CallStarted) EventType() string  { return "call.started" }
func (CallAnswered) EventType() string { return "call.answered" }
func (CallKey) EventType() string      { return "call.key" }
func (CallDigits) EventType() string   { return "call.digits" }
func (CallEnded) EventType() string    { return "call.ended" }

func (CallStarted) EventVersion() int  { return 1 }
func (CallAnswered) EventVersion() int { return 1 }
func (CallKey) EventVersion() int      { return 1 }
func (CallDigits) EventVersion() int   { return 1 }
func (CallEnded) EventVersion() int    { return 1 }

func (e CallStarted) Subject() string  { return CallSubject("started", e.CallID) }
func (e CallAnswered) Subject() string { return CallSubject("answered", e.CallID) }
func (e CallKey) Subject() string      { return CallSubject("key", e.CallID) }
func (e CallDigits) Subject() string   { return CallSubject("digits", e.CallID) }
func (e CallEnded) Subject() string    { return CallSubject("ended", e.CallID) }
