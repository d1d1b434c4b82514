package sipagent

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidOptions wraps every problem found in Options or a Behaviour.
	ErrInvalidOptions = errors.New("sipagent: invalid options")
	// ErrRegistration matches a *RegistrationError.
	ErrRegistration = errors.New("sipagent: registration failed")
	// ErrClosed is returned once the agent is closed.
	ErrClosed = errors.New("sipagent: agent closed")
	// ErrCallEnded is returned by Call methods that need a call still up or
	// still ringing.
	ErrCallEnded = errors.New("sipagent: call ended")
)

// RegistrationError is a REGISTER that did not get a 200: a final refusal
// (StatusCode set, e.g. 401 for a wrong password) or no answer at all (Err
// set). It matches ErrRegistration with errors.Is.
type RegistrationError struct {
	User, Registrar string
	StatusCode      int
	Reason          string
	Err             error
}

func (e *RegistrationError) Error() string {
	if e.StatusCode != 0 {
		msg := fmt.Sprintf("sipagent: registration of %s at %s refused: %d %s", e.User, e.Registrar, e.StatusCode, e.Reason)
		if e.StatusCode == 401 || e.StatusCode == 403 || e.StatusCode == 407 {
			msg += " (wrong user or password?)"
		}
		return msg
	}
	return fmt.Sprintf("sipagent: registration of %s at %s failed: %v", e.User, e.Registrar, e.Err)
}

// Is makes errors.Is(err, ErrRegistration) true.
func (e *RegistrationError) Is(target error) bool { return target == ErrRegistration }

func (e *RegistrationError) Unwrap() error { return e.Err }
