package ivr

import (
	"context"
	"errors"
	"fmt"
)

// Hotline is the built-in flow: answer, greet, collect keys up to the
// terminator, say goodbye, hang up.
type Hotline struct {
	Greeting []string
	Goodbye  []string
	Digits   DigitSpec
}

// Outcome is how a call ended, as recorded in its call detail record.
type Outcome string

// Outcomes of a call.
const (
	OutcomeCompleted Outcome = "completed" // the flow ran to its end
	OutcomeNoInput   Outcome = "no_input"  // the caller keyed nothing
	OutcomeAbandoned Outcome = "abandoned" // the caller hung up before the flow ended
	OutcomeFailed    Outcome = "failed"    // an error ended the call
	OutcomeRejected  Outcome = "rejected"  // refused before answer (e.g. shutting down)
	OutcomeShutdown  Outcome = "shutdown"  // cut off by a forced shutdown
)

// Result is what the flow learnt from the call.
type Result struct {
	Answered bool
	Digits   string
	End      End
	Outcome  Outcome
}

// Validate checks the flow's settings.
func (h Hotline) Validate() error {
	if len(h.Greeting) == 0 {
		return errors.New("hotline: greeting is empty")
	}
	if h.Digits.FirstTimeout <= 0 || h.Digits.InterTimeout <= 0 {
		return errors.New("hotline: digit timeouts must be positive")
	}
	return nil
}

// Run executes the flow. onAnswer and onDigits let the caller record
// progress as it happens (either may be nil). The error is nil when the flow
// ended normally or because the caller hung up.
func (h Hotline) Run(ctx context.Context, ch Channel, onAnswer func(), onDigits func(Digits)) (Result, error) {
	var res Result
	fail := func(step string, err error) (Result, error) {
		if cause := context.Cause(ctx); cause != nil {
			if errors.Is(cause, ErrHangup) {
				res.Outcome = OutcomeAbandoned
				return res, nil
			}
			res.Outcome = OutcomeShutdown
			return res, fmt.Errorf("%s: %w", step, cause)
		}
		res.Outcome = OutcomeFailed
		return res, fmt.Errorf("%s: %w", step, err)
	}
	if err := ch.Answer(ctx); err != nil {
		return fail("answer", err)
	}
	res.Answered = true
	if onAnswer != nil {
		onAnswer()
	}
	if _, err := ch.Play(ctx, Prompt{Media: h.Greeting, BargeIn: true}); err != nil {
		return fail("greeting", err)
	}
	d, err := ch.CollectDigits(ctx, h.Digits)
	res.Digits, res.End = d.Keys, d.End
	if err != nil {
		return fail("collect digits", err)
	}
	if onDigits != nil {
		onDigits(d)
	}
	if len(h.Goodbye) > 0 {
		if _, err := ch.Play(ctx, Prompt{Media: h.Goodbye}); err != nil {
			return fail("goodbye", err)
		}
	}
	if err := ch.Hangup(ctx, "normal"); err != nil && !errors.Is(context.Cause(ctx), ErrHangup) {
		return fail("hangup", err)
	}
	res.Outcome = OutcomeCompleted
	if d.End == EndNoInput {
		res.Outcome = OutcomeNoInput
	}
	return res, nil
}
