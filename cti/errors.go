package cti

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Code classifies a command error. Codes travel on the wire; they are the
// contract between ccd and every desktop, so a code is never renamed.
type Code string

const (
	// CodeForbidden: the identity may not run this command on this agent or
	// call (or carries no usable identity at all).
	CodeForbidden Code = "forbidden"
	// CodeNotFound: the agent, call, queue or transfer target does not exist.
	CodeNotFound Code = "not_found"
	// CodeIllegalState: the command does not fit the agent's or call's
	// current state (ready while on a call, answer a call not offered).
	CodeIllegalState Code = "illegal_state"
	// CodeInvalid: unknown command, malformed JSON, missing or bad field.
	CodeInvalid Code = "invalid"
	// CodeUnavailable: nobody answered in time, NATS is down, or the command
	// is not implemented by this server. Retrying later may succeed.
	CodeUnavailable Code = "unavailable"
	// CodeInternal: the server failed; the message says no more than that,
	// the server's log has the details.
	CodeInternal Code = "internal"
)

// Codes lists every code, in a stable order.
var Codes = []Code{CodeForbidden, CodeNotFound, CodeIllegalState, CodeInvalid, CodeUnavailable, CodeInternal}

// Valid reports whether c is a known code.
func (c Code) Valid() bool {
	for _, k := range Codes {
		if c == k {
			return true
		}
	}
	return false
}

// Error is a command error: a code and a human-readable message. It is what
// a command returns on both sides of the bus, so errors.Is(err, ErrForbidden)
// holds for a refusal whether it was made locally or by a remote server.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message,omitempty"`
	cause   error  // local cause (a context or NATS error), never on the wire
}

// Sentinel errors, one per code, for errors.Is and for wrapping with %w:
//
//	return fmt.Errorf("%w: agent %s is on a call", cti.ErrIllegalState, id)
var (
	ErrForbidden    = &Error{Code: CodeForbidden}
	ErrNotFound     = &Error{Code: CodeNotFound}
	ErrIllegalState = &Error{Code: CodeIllegalState}
	ErrInvalid      = &Error{Code: CodeInvalid}
	ErrUnavailable  = &Error{Code: CodeUnavailable}
	ErrInternal     = &Error{Code: CodeInternal}
)

// Errorf returns an *Error with a formatted message.
func Errorf(code Code, format string, a ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, a...)}
}

func (e *Error) Error() string {
	if e.Message == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Message
}

// Is matches a sentinel (an *Error without message) of the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// Unwrap returns the local cause, such as context.DeadlineExceeded.
func (e *Error) Unwrap() error { return e.cause }

// CodeOf returns the code of err: the code of the first *Error in its chain,
// CodeUnavailable for context errors, CodeInternal for anything else, and ""
// for nil.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var ce *Error
	if errors.As(err, &ce) && ce.Code.Valid() {
		return ce.Code
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return CodeUnavailable
	}
	return CodeInternal
}

// wireError turns whatever a handler returned into what goes on the wire.
// classify, when set, maps domain errors (acd.ErrNotFound...) to codes; an
// *Error in the chain wins over it. An internal error's text is replaced by
// a generic message: it may name hosts, keys or queries.
func wireError(err error, classify func(error) Code) *Error {
	var ce *Error
	code := CodeInternal
	switch {
	case errors.As(err, &ce) && ce.Code.Valid():
		code = ce.Code
		if err == error(ce) {
			return &Error{Code: ce.Code, Message: ce.Message}
		}
	case classify != nil && classify(err).Valid():
		code = classify(err)
	default:
		code = CodeOf(err)
	}
	if code == CodeInternal {
		return &Error{Code: CodeInternal, Message: "internal error"}
	}
	// "illegal_state: agent 1001 is on a call" (a sentinel wrapped with %w)
	// travels as code illegal_state, message "agent 1001 is on a call".
	msg := strings.TrimPrefix(err.Error(), string(code)+": ")
	if msg == string(code) {
		msg = ""
	}
	return &Error{Code: code, Message: msg}
}
