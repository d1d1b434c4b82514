package localstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// process is a server process: a child of this process (exited is closed
// when it ends) or one found through a pidfile (exited is nil).
type process struct {
	pid    int
	comm   string // expected /proc/PID/comm prefix, guards against PID reuse
	exited chan struct{}
	// logFrom is the log's size when this process was started by us; its
	// own lines follow. 0 for a process found through a pidfile.
	logFrom int64
}

func (p *process) alive() bool {
	if p.exited != nil {
		select {
		case <-p.exited:
			return false
		default:
			return true
		}
	}
	return pidAlive(p.pid, p.comm)
}

// pidAlive reports whether pid is a live (not zombie) process whose command
// name starts with comm.
func pidAlive(pid int, comm string) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "PID (COMM) STATE ..."; COMM may hold spaces and parentheses.
	i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if i < 0 || j < i || j+2 >= len(b) {
		return false
	}
	if !strings.HasPrefix(string(b[i+1:j]), comm) {
		return false
	}
	state := b[j+2]
	return state != 'Z' && state != 'X'
}

// wait returns when the process has ended or ctx is done.
func (p *process) wait(ctx context.Context) error {
	if p.exited != nil {
		select {
		case <-p.exited:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	return poll(ctx, func() (bool, error) { return !p.alive(), nil })
}

// stop sends sig, waits for the end, and on ctx expiry sends force. It
// waits at most a minute for sig, whatever ctx says.
func (p *process) stop(ctx context.Context, sig, force syscall.Signal) error {
	if !p.alive() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := syscall.Kill(p.pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal pid %d: %w", p.pid, err)
	}
	if err := p.wait(ctx); err != nil {
		_ = syscall.Kill(p.pid, force)
		grace, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = p.wait(grace)
		return fmt.Errorf("pid %d did not stop in time, sent %v: %w", p.pid, force, err)
	}
	return nil
}

type spawnSpec struct {
	bin      string
	args     []string
	dir      string // working directory
	logPath  string // stdout and stderr, appended
	user     *osUser
	detached bool
	deathSig syscall.Signal // sent to an attached server when this process dies
	comm     string
}

func spawn(s spawnSpec) (*process, error) {
	logf, err := os.OpenFile(s.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	from := logSize(s.logPath)
	if err := s.user.chown(s.logPath); err != nil {
		return nil, err
	}
	cmd := exec.Command(s.bin, s.args...)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	attr := &syscall.SysProcAttr{Credential: s.user.credential()}
	if s.detached {
		attr.Setsid = true
	} else {
		attr.Pdeathsig = s.deathSig
	}
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.bin, err)
	}
	p := &process{pid: cmd.Process.Pid, comm: s.comm, exited: make(chan struct{}), logFrom: from}
	go func() {
		_ = cmd.Wait() // reaps the child; a detached server outlives this process anyway
		close(p.exited)
	}()
	return p, nil
}

// readPidfile returns the first line of a pidfile as a PID, 0 if the file is
// missing.
func readPidfile(path string) (int, []string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, err
	}
	lines := strings.Split(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(lines[0]))
	if err != nil {
		return 0, nil, fmt.Errorf("pidfile %s: %w", path, err)
	}
	return pid, lines, nil
}

// poll calls check until it reports done, returns an error, or ctx ends.
func poll(ctx context.Context, check func() (bool, error)) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		done, err := check()
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}

// logSize is the size of the file, 0 if it cannot be read.
func logSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// logTail returns the last n lines (at most 8 KiB) of what was written to the
// file from offset from on; "" if none.
func logTail(path string, from int64, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const max = 8 << 10
	fi, err := f.Stat()
	if err != nil || fi.Size() <= from {
		return ""
	}
	off, cut := from, false
	if fi.Size()-off > max {
		off, cut = fi.Size()-max, true
	}
	buf := make([]byte, fi.Size()-off)
	k, _ := f.ReadAt(buf, off)
	lines := strings.Split(strings.TrimRight(string(buf[:k]), "\n"), "\n")
	if cut && len(lines) > 1 {
		lines = lines[1:] // first line is cut
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// withStartTimeout bounds ctx by the start timeout unless it ends earlier.
func withStartTimeout(ctx context.Context, d time.Duration, what string) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return context.WithCancel(ctx)
	}
	return context.WithTimeoutCause(ctx, d, fmt.Errorf("%s not ready after %v", what, d))
}
