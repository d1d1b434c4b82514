package sipcall

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidOptions wraps every problem found in Options before dialling.
	ErrInvalidOptions = errors.New("sipcall: invalid options")
	// ErrInvalidDigits wraps every problem found by ParseDigits.
	ErrInvalidDigits = errors.New("sipcall: invalid digits")
	// ErrRejected matches a *RejectedError: the far end answered the
	// INVITE with a final non-2xx response.
	ErrRejected = errors.New("sipcall: call rejected")
	// ErrNoAnswer means no final response arrived: the context ended or
	// MaxDuration passed while ringing, the transaction timed out, or the
	// request could not be sent.
	ErrNoAnswer = errors.New("sipcall: no answer")
	// ErrInvalidAudio wraps every problem found in audio given to Say.
	ErrInvalidAudio = errors.New("sipcall: invalid audio")
	// ErrCallEnded is returned by SendDigits and Say once the call is over.
	ErrCallEnded = errors.New("sipcall: call ended")
	// ErrMaxDuration is the cause set on the call's context when
	// Options.MaxDuration passes.
	ErrMaxDuration = errors.New("sipcall: max duration reached")
)

// RejectedError is returned by Dial when the INVITE gets a final non-2xx
// response (401 without usable credentials, 403, 404, 486, 5xx...). It
// matches ErrRejected with errors.Is. Call does not return it: it reports the
// refusal in its Result with a nil error.
type RejectedError struct {
	StatusCode int
	Reason     string
	// Result describes the attempt: events, status, times.
	Result *Result
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("sipcall: call rejected: %d %s", e.StatusCode, e.Reason)
}

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected }
