package desk

import (
	"errors"
	"fmt"
)

// Sentinel errors of the desk; stores wrap them with %w. The HTTP status is
// chosen only in fail.
var (
	ErrNotFound = errors.New("desk: not found")
	ErrInvalid  = errors.New("desk: invalid")
	ErrConflict = errors.New("desk: conflict")
	// errBadRequest: a body that cannot be read as the expected JSON (400).
	errBadRequest = errors.New("bad request")
)

func invalidf(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}
