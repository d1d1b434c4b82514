package deske2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccd-platform/ccd/internal/audio"
)

// replyMark starts the lines of desk.mjs that answer a command.
const replyMark = "@deske2e "

// browser is desk.mjs running Chromium: each step is a command it carries
// out in the page, answered with what the page showed and a screenshot.
type browser struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser

	replies chan browserReply
	exited  chan struct{}
	exitErr error

	mu  sync.Mutex
	log bytes.Buffer // every line desk.mjs printed that is not an answer
	seq int
}

type browserReply struct {
	ID    int             `json:"id"`
	OK    bool            `json:"ok"`
	Error string          `json:"error"`
	Data  json.RawMessage `json:"data"`
	Shot  string          `json:"shot"`
}

// startBrowser starts desk.mjs on the desktop at base with mic as the
// fake microphone; screenshots go to artifacts. It is closed when the test ends.
func startBrowser(t *testing.T, base, artifacts, mic string) *browser {
	t.Helper()
	cmd := exec.Command(tools.node, tools.script)
	cmd.Env = append(os.Environ(),
		"DESK_URL="+base,
		"DESK_WEB_DIR="+tools.webDir,
		"ARTIFACTS="+artifacts,
		"CHROMIUM="+tools.chromium,
		"FAKE_MIC="+mic,
	)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	b := &browser{t: t, cmd: cmd, stdin: stdin, replies: make(chan browserReply, 4), exited: make(chan struct{})}
	cmd.Stderr = &lockedWriter{b: b}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node %s: %v", tools.script, err)
	}
	go b.read(stdout)
	t.Cleanup(b.close)
	// The first answer says the browser is up.
	if _, err := b.wait(0, 60*time.Second); err != nil {
		t.Fatalf("Chromium (%s) did not start under playwright-core: %v\n%s", tools.chromium, err, b.Log())
	}
	return b
}

type lockedWriter struct{ b *browser }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.b.mu.Lock()
	defer w.b.mu.Unlock()
	return w.b.log.Write(p)
}

func (b *browser) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20) // recordings come back as base64
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, replyMark); ok {
			var rep browserReply
			if err := json.Unmarshal([]byte(rest), &rep); err != nil {
				rep = browserReply{ID: -1, Error: fmt.Sprintf("unparsable answer %.200q: %v", rest, err)}
			}
			b.replies <- rep
			continue
		}
		b.mu.Lock()
		b.log.WriteString(line + "\n")
		b.mu.Unlock()
	}
	b.exitErr = b.cmd.Wait()
	close(b.exited)
}

// Log is what desk.mjs printed so far: steps, console errors, requests.
func (b *browser) Log() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.log.String()
}

func (b *browser) wait(id int, timeout time.Duration) (browserReply, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case rep := <-b.replies:
			if rep.ID != id {
				if rep.ID == -1 {
					return rep, errors.New(rep.Error)
				}
				continue // the late answer to a command that timed out
			}
			if !rep.OK {
				return rep, fmt.Errorf("%s (screenshot %s)", rep.Error, rep.Shot)
			}
			return rep, nil
		case <-b.exited:
			return browserReply{}, fmt.Errorf("desk.mjs exited: %v", b.exitErr)
		case <-timer.C:
			return browserReply{}, fmt.Errorf("no answer from the browser in %s", timeout)
		}
	}
}

// do runs one step in the page (name names its screenshot) and decodes its
// answer into out (if not nil).
func (b *browser) do(t *testing.T, op, name string, args any, timeout time.Duration, out any) error {
	t.Helper()
	b.mu.Lock()
	b.seq++
	id := b.seq
	b.mu.Unlock()
	line, err := json.Marshal(map[string]any{"id": id, "op": op, "name": name, "args": args})
	if err != nil {
		return err
	}
	if _, err := b.stdin.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("send %s to desk.mjs: %w", op, err)
	}
	rep, err := b.wait(id, timeout)
	if err != nil {
		return fmt.Errorf("browser step %s: %w", name, err)
	}
	t.Logf("browser: %s done (%s)", name, filepath.Base(rep.Shot))
	if out != nil && len(rep.Data) > 0 {
		if err := json.Unmarshal(rep.Data, out); err != nil {
			return fmt.Errorf("browser step %s: answer %.200s: %w", name, rep.Data, err)
		}
	}
	return nil
}

// must is do that fails the test (with the browser's log) on an error.
func (b *browser) must(t *testing.T, op, name string, args any, timeout time.Duration, out any) {
	t.Helper()
	if err := b.do(t, op, name, args, timeout, out); err != nil {
		t.Fatalf("%v\nbrowser log:\n%s\nccd log:\n%s", err, tail(b.Log(), 40), stack.LogTail(40))
	}
}

// record records what the softphone receives for d and returns it.
func (b *browser) record(t *testing.T, name string, d time.Duration) (audio.PCM, string) {
	t.Helper()
	var rec struct {
		Rate  int    `json:"rate"`
		PCM   string `json:"pcm"`
		Ctx   string `json:"ctx"`
		Track string `json:"track"`
		Muted bool   `json:"muted"`
	}
	b.must(t, "record", name, map[string]any{"ms": d.Milliseconds()}, d+30*time.Second, &rec)
	raw, err := base64.StdEncoding.DecodeString(rec.PCM)
	if err != nil {
		t.Fatal(err)
	}
	p := audio.PCM{Rate: rec.Rate, Samples: make([]int16, len(raw)/2)}
	if err := binary.Read(bytes.NewReader(raw), binary.LittleEndian, p.Samples); err != nil {
		t.Fatal(err)
	}
	return p, fmt.Sprintf("audio context %s, remote track %s (muted %v), %d Hz", rec.Ctx, rec.Track, rec.Muted, rec.Rate)
}

func (b *browser) close() {
	if _, err := b.stdin.Write([]byte(`{"id":-2,"op":"close"}` + "\n")); err == nil {
		select {
		case <-b.exited:
		case <-time.After(20 * time.Second):
		}
	}
	_ = b.stdin.Close()
	select {
	case <-b.exited:
	case <-time.After(10 * time.Second):
		_ = b.cmd.Process.Kill()
		<-b.exited
	}
	if b.t.Failed() {
		b.t.Logf("desk.mjs log:\n%s", b.Log())
	}
}

// artifactsDir is where screenshots and recordings go: $TEST_ARTIFACTS/<test>,
// or a temporary directory kept when the test fails.
func artifactsDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("TEST_ARTIFACTS"); dir != "" {
		dir = filepath.Join(dir, t.Name())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshots and recordings in %s", dir)
		return dir
	}
	dir, err := os.MkdirTemp("", "deske2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots and recordings in %s (kept if the test fails)", dir)
	t.Cleanup(func() {
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		}
	})
	return dir
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ctxFor is a context that ends after d or with the test.
func ctxFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
