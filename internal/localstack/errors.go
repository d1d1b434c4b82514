package localstack

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotInstalled means a server binary was not found; the message names
	// the Debian package to install.
	ErrNotInstalled = errors.New("server binary not installed")
	// ErrPortInUse means another process listens on the requested port.
	ErrPortInUse = errors.New("port already in use")
	// ErrNotRunning means no live server belongs to the directory.
	ErrNotRunning = errors.New("server not running")
	// ErrPortMismatch means a server already runs in the directory, on
	// another port than the one requested.
	ErrPortMismatch = errors.New("server already running in this directory on another port")
	// ErrDirNotAccessible means the server user cannot reach the directory.
	ErrDirNotAccessible = errors.New("directory not accessible to the server user")
	// ErrStartFailed means the server process exited or never became ready.
	ErrStartFailed = errors.New("server failed to start")
)

// ServerError tells which server failed, where, and what its log said last.
type ServerError struct {
	Server  string // "redis" or "postgres"
	Dir     string
	Port    int
	LogPath string
	LogTail string // last lines of the server log, if any
	Err     error
}

func (e *ServerError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s on 127.0.0.1:%d (dir %s): %v", e.Server, e.Port, e.Dir, e.Err)
	if e.LogTail != "" {
		fmt.Fprintf(&b, "\n--- last lines of %s ---\n%s", e.LogPath, strings.TrimRight(e.LogTail, "\n"))
	}
	return b.String()
}

func (e *ServerError) Unwrap() error { return e.Err }

// newServerError wraps err with the tail of the log written since offset
// from (where this start began). A log that reports a bind failure adds
// ErrPortInUse, so errors.Is finds it.
func newServerError(server, dir string, port int, logPath string, from int64, err error) *ServerError {
	tail := logTail(logPath, from, 20)
	if !errors.Is(err, ErrPortInUse) && strings.Contains(tail, "Address already in use") {
		err = fmt.Errorf("%w: %w", ErrPortInUse, err)
	}
	return &ServerError{Server: server, Dir: dir, Port: port, LogPath: logPath, LogTail: tail, Err: err}
}
