package ariconn

import (
	"errors"
	"fmt"
)

var (
	// ErrUnauthorized means Asterisk rejected the ARI user or password.
	ErrUnauthorized = errors.New("ARI credentials rejected by Asterisk")
	// ErrUnreachable means no HTTP connection to Asterisk could be made.
	ErrUnreachable = errors.New("Asterisk ARI unreachable")
	// ErrNotFound means the channel, playback or bridge does not exist (any more).
	ErrNotFound = errors.New("ARI object not found")
	// ErrConflict means the object is not in a state that allows the request,
	// e.g. a channel that has left the Stasis application.
	ErrConflict = errors.New("ARI object not in a state for this request")
)

// StatusError is a non-2xx ARI answer.
type StatusError struct {
	Method, Path string
	Code         int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("ARI %s %s: HTTP %d: %s", e.Method, e.Path, e.Code, e.Body)
}

// Unwrap maps the status to the package's sentinel errors.
func (e *StatusError) Unwrap() error {
	switch e.Code {
	case 401, 403:
		return ErrUnauthorized
	case 404:
		return ErrNotFound
	case 409, 412, 422:
		return ErrConflict
	}
	return nil
}
