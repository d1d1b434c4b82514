// Package ivr runs what a caller hears and keys before anyone answers: the
// prompts, the keypad input and the decisions of a flow. It talks to the call
// only through the Channel interface, so the same engine runs on a real
// Asterisk channel (ivr/arichan) and in tests.
package ivr

import (
	"context"
	"errors"
	"time"
)

// Channel is what the engine needs from a call.
type Channel interface {
	// Answer answers the call.
	Answer(ctx context.Context) error
	// Play plays a prompt to the end, or until a key is pressed when the
	// prompt allows barge-in; the key stays buffered for the next collection.
	Play(ctx context.Context, p Prompt) (PlayResult, error)
	// CollectDigits reads keys (including keys pressed during earlier prompts).
	CollectDigits(ctx context.Context, spec DigitSpec) (Digits, error)
	// Hangup ends the call from our side.
	Hangup(ctx context.Context, reason string) error
	// Var returns a call variable: caller, did, call_id, ...
	Var(name string) string
}

// Prompt is media to play: Asterisk media URIs such as sound:hello-world.
type Prompt struct {
	Media   []string
	BargeIn bool
}

// PlayResult tells how a prompt ended.
type PlayResult struct {
	Interrupted bool // a key stopped it
}

// DigitSpec says how to collect keys.
type DigitSpec struct {
	Max          int           // stop after this many keys (terminator not counted)
	Terminator   rune          // 0 for none; not part of the result
	FirstTimeout time.Duration // wait for the first key
	InterTimeout time.Duration // wait between keys
}

// End is why a collection stopped.
type End string

// Reasons a collection ends.
const (
	EndTerminator End = "terminator"
	EndMax        End = "max_digits"
	EndTimeout    End = "timeout"
	EndNoInput    End = "no_input"
)

// Digits is the result of a collection.
type Digits struct {
	Keys string
	End  End
}

// ErrHangup is the cause a call's context carries when the caller hung up.
var ErrHangup = errors.New("caller hung up")
