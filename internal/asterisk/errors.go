package asterisk

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrScriptNotFound means deploy/asterisk.sh was neither given nor found
	// above the working directory.
	ErrScriptNotFound = errors.New("deploy/asterisk.sh not found")
	// ErrScriptFailed means the script exited with an error; the *ScriptError
	// holds its message.
	ErrScriptFailed = errors.New("deploy/asterisk.sh failed")
	// ErrNotRoot means the caller is not root: the script needs chroot,
	// mount namespaces and chown.
	ErrNotRoot = errors.New("asterisk instances need root")
	// ErrInvalidOptions means Options cannot be passed to the script (an
	// agent id with spaces, a port out of range).
	ErrInvalidOptions = errors.New("invalid asterisk options")
	// ErrNotRunning means the instance has no live process.
	ErrNotRunning = errors.New("asterisk instance not running")
	// ErrBadInstance means an instance directory lacks or has malformed
	// generated files (instance.env, credentials.env).
	ErrBadInstance = errors.New("not a configured asterisk instance")
)

// ScriptError is a failed run of deploy/asterisk.sh.
type ScriptError struct {
	Args   []string // subcommand and arguments
	Stderr string   // what the script wrote to stderr
	Err    error    // the exec error (exit status, context)
}

func (e *ScriptError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		return fmt.Sprintf("asterisk.sh %s: %v", strings.Join(e.Args, " "), e.Err)
	}
	return fmt.Sprintf("asterisk.sh %s: %v:\n%s", strings.Join(e.Args, " "), e.Err, msg)
}

// Unwrap lets errors.Is match ErrScriptFailed and the underlying exec error
// (context.DeadlineExceeded, for one).
func (e *ScriptError) Unwrap() []error { return []error{ErrScriptFailed, e.Err} }
