package sipagent

import (
	"fmt"
	"time"
)

// EventType names a step in the life of the agent or of one of its calls.
type EventType string

const (
	// EventRegistered: a REGISTER got its 200, the first or a refresh
	// (Detail "registered" or "refreshed").
	EventRegistered EventType = "registered"
	// EventRegistrationFailed: a REGISTER or its refresh failed
	// (StatusCode, Reason, or Detail for no answer). Refreshes are retried.
	EventRegistrationFailed EventType = "registration-failed"
	// EventUnregistered: the registration was removed (Expires 0).
	EventUnregistered EventType = "unregistered"

	// EventIncoming: an INVITE arrived and the phone rings (CallID, From).
	EventIncoming EventType = "incoming"
	// EventCancelled: the caller gave up while the phone rang (CANCEL).
	EventCancelled EventType = "cancelled"
	// EventRejected: the phone refused the call (StatusCode, Reason).
	EventRejected EventType = "rejected"
	// EventAnswered: the 200 was sent and acknowledged (Codec).
	EventAnswered EventType = "answered"
	// EventDigit: a DTMF key arrived as an RFC 4733 event (Digit).
	EventDigit EventType = "digit"
	// EventHangupReceived: the far end sent BYE (Reason holds its Reason
	// header, if any).
	EventHangupReceived EventType = "hangup-received"
	// EventHangupSent: the agent sent BYE (Detail says why; StatusCode is
	// the BYE's final response, 0 if none).
	EventHangupSent EventType = "hangup-sent"
	// EventEnded: the call is over and released (Outcome; Detail says why
	// an OutcomeFailed call failed).
	EventEnded EventType = "ended"
)

// Outcome is how a call ended.
type Outcome string

const (
	// OutcomeCancelled: the caller cancelled while ringing (no answer in
	// time, the caller hung up, or the call went to another agent).
	OutcomeCancelled Outcome = "cancelled"
	// OutcomeRejected: the agent answered the INVITE with a final error
	// (Behaviour.Reject, Call.Reject, Call.Hangup while ringing, or Close).
	OutcomeRejected Outcome = "rejected"
	// OutcomeRemoteHangup: answered, then the far end sent BYE.
	OutcomeRemoteHangup Outcome = "remote-hangup"
	// OutcomeAgentHangup: answered, then the agent sent BYE.
	OutcomeAgentHangup Outcome = "agent-hangup"
	// OutcomeFailed: the call could not be answered (no ACK, transaction
	// error) or ended without a CANCEL before an answer.
	OutcomeFailed Outcome = "failed"
)

// Event is one step, in the order it happened.
type Event struct {
	Type EventType
	At   time.Time
	// CallID is the SIP Call-ID of the call; empty for registration events.
	CallID string
	// From is the caller's user part (the number Asterisk shows).
	From string

	StatusCode int
	Reason     string
	Codec      string
	Digit      rune
	Outcome    Outcome
	Detail     string
}

// String renders the event for people, without its time.
func (e Event) String() string {
	switch e.Type {
	case EventRegistered:
		return "REGISTER " + e.Detail
	case EventRegistrationFailed:
		if e.StatusCode != 0 {
			return fmt.Sprintf("REGISTER refused: %d %s", e.StatusCode, e.Reason)
		}
		return "REGISTER failed: " + e.Detail
	case EventIncoming:
		return fmt.Sprintf("INVITE from %s (%s)", e.From, e.CallID)
	case EventRejected:
		return fmt.Sprintf("rejected: %d %s", e.StatusCode, e.Reason)
	case EventAnswered:
		return "answered, codec " + e.Codec
	case EventDigit:
		return fmt.Sprintf("digit %c", e.Digit)
	case EventHangupReceived:
		if e.Reason != "" {
			return "BYE received, Reason: " + e.Reason
		}
		return "BYE received"
	case EventHangupSent:
		s := "BYE sent (" + e.Detail + ")"
		if e.StatusCode != 0 {
			s += fmt.Sprintf(", %d", e.StatusCode)
		}
		return s
	case EventEnded:
		return "ended: " + string(e.Outcome)
	}
	return string(e.Type)
}
