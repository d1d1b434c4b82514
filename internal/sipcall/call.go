package sipcall

import (
	"context"
	"errors"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
)

// Result describes a finished call or call attempt.
type Result struct {
	// Answered is true when a 2xx was received and acknowledged.
	Answered bool
	// StatusCode and Reason are the final response to the INVITE (200 when
	// answered); 0 and "" when none arrived.
	StatusCode int
	Reason     string
	// Codec is the negotiated audio codec when answered.
	Codec string

	InviteSentAt time.Time
	AnsweredAt   time.Time // zero when not answered
	EndedAt      time.Time

	// HungUpBy is HungUpByCaller or HungUpByRemote for an answered call,
	// whoever sent the BYE first; "" otherwise.
	HungUpBy string
	// RemoteReason is the Reason header of the far end's BYE, if any.
	RemoteReason string
	// DigitsSent are the keys that went out, in order.
	DigitsSent string

	Events []Event
	// Heard is what the caller heard, decoded from G.711 at 8 kHz, from
	// the answer to the end of the call. Sample 0 is the answer. Each
	// packet is placed by its RTP timestamp, counted from the first packet
	// of its stream, which is placed at its arrival: packets read late or
	// in bursts (this process or the far end under load) land where they
	// belong, without gaps, and a pause in the far end's RTP, across which
	// its timestamps advance, stays silence of the same length. A new
	// stream (another SSRC, or timestamps that jump) starts where it
	// arrives, so offsets follow the wall clock.
	Heard audio.PCM
	// RecordPath is Options.RecordPath, where Heard was written.
	RecordPath string
}

// Duration is how long the call was up: from the answer to the end, or zero
// when not answered.
func (r *Result) Duration() time.Duration {
	if !r.Answered {
		return 0
	}
	return r.EndedAt.Sub(r.AnsweredAt)
}

// Call places a call, sends Options.Digits, and returns when it is over.
//
// A call the far end refuses with a final non-2xx response (401, 403, 404,
// 486, 5xx...) is a result, not an error: Call returns a Result with
// Answered false, StatusCode and Reason set, and a nil error. Errors are for
// calls that could not be placed or got no final response (wrapping
// ErrNoAnswer), bad options (ErrInvalidOptions), a BYE left without a 200,
// or a recording that could not be written. The Result is non-nil whenever
// the INVITE was sent, even alongside an error.
func Call(ctx context.Context, o Options) (*Result, error) {
	s, res, err := dial(ctx, o)
	if err != nil {
		var rej *RejectedError
		if errors.As(err, &rej) {
			return res, nil
		}
		return res, err
	}
	return s.Wait()
}
