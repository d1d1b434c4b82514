package sipcall

import (
	"fmt"
	"time"
)

// EventType names a step of a call.
type EventType string

const (
	// EventInviteSent: the INVITE left (Detail holds the request URI).
	EventInviteSent EventType = "invite-sent"
	// EventProvisional: a 1xx arrived (StatusCode, Reason).
	EventProvisional EventType = "provisional"
	// EventAuthChallenge: a 401/407 arrived and the INVITE is being
	// resent with credentials (StatusCode, Reason).
	EventAuthChallenge EventType = "auth-challenge"
	// EventAnswered: a 2xx arrived and was acknowledged (StatusCode,
	// Reason, Codec).
	EventAnswered EventType = "answered"
	// EventCancelSent: the caller gave up while ringing; a CANCEL is sent
	// (Detail holds why).
	EventCancelSent EventType = "cancel-sent"
	// EventFailed: the call ended before an answer: a final non-2xx
	// (StatusCode, Reason) or no response at all (Detail).
	EventFailed EventType = "failed"
	// EventDigitSent: one DTMF key went out as RFC 4733 events (Digit).
	EventDigitSent EventType = "digit-sent"
	// EventHangupReceived: the far end sent BYE (Reason holds the BYE's
	// Reason header, if any).
	EventHangupReceived EventType = "hangup-received"
	// EventHangupSent: the caller sent BYE (Detail holds why: requested,
	// hangup-after, max-duration, context; StatusCode is the BYE's final
	// response, 0 if none).
	EventHangupSent EventType = "hangup-sent"
)

// Event is one step of a call, in the order it happened.
type Event struct {
	Type EventType
	// At is when it happened; Since is At minus the time the INVITE left.
	At    time.Time
	Since time.Duration

	StatusCode int
	Reason     string
	Codec      string
	Digit      rune
	Detail     string
}

// String renders the event for people, without its time.
func (e Event) String() string {
	switch e.Type {
	case EventInviteSent:
		return "INVITE sent to " + e.Detail
	case EventProvisional:
		return fmt.Sprintf("%d %s", e.StatusCode, e.Reason)
	case EventAuthChallenge:
		return fmt.Sprintf("%d %s, resending with credentials", e.StatusCode, e.Reason)
	case EventAnswered:
		return fmt.Sprintf("answered: %d %s, codec %s", e.StatusCode, e.Reason, e.Codec)
	case EventCancelSent:
		return "CANCEL sent (" + e.Detail + ")"
	case EventFailed:
		if e.StatusCode != 0 {
			return fmt.Sprintf("failed: %d %s", e.StatusCode, e.Reason)
		}
		return "failed: " + e.Detail
	case EventDigitSent:
		return fmt.Sprintf("digit %c sent", e.Digit)
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
	}
	return string(e.Type)
}
