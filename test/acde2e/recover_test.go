package acde2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/internal/sipagent"
	"github.com/ccd-platform/ccd/test/harness"
)

// ccdProcess runs bin/ccd as its own process with the stack's configuration.
type ccdProcess struct {
	cmd *exec.Cmd
	log string
}

func buildCCD(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(t.TempDir(), "ccd")
	build := exec.Command("go", "build", "-o", bin, "./cmd/ccd")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build ccd: %v\n%s", err, out)
	}
	return bin
}

func startProcess(t *testing.T, ctx context.Context, bin, cfgPath, logPath string) *ccdProcess {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	p := &ccdProcess{cmd: cmd, log: logPath}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	err = harness.Eventually(ctx, 30*time.Second, func() error {
		resp, err := http.Get("http://" + stack.Config.HTTP.Listen + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ccd process not ready: %v\n%s", err, tail(logPath, 30))
	}
	return p
}

// asProcess stops the stack's in-process ccd and writes its configuration
// for a ccd process (startProcess); when the test ends the in-process ccd
// runs again and agents are logged out.
func asProcess(t *testing.T, ctx context.Context, agents ...string) (cfgPath, logPath string) {
	t.Helper()
	if err := stack.StopCCD(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Runs after the processes are killed.
		if stack.CCD() == nil {
			if err := stack.StartCCD(context.Background()); err != nil {
				t.Errorf("restart in-process ccd: %v", err)
				return
			}
		}
		for _, a := range agents {
			logoutEventually(t, a)
		}
	})
	cfg, err := yaml.Marshal(stack.Config)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath, logPath = filepath.Join(dir, "ccd.yaml"), filepath.Join(dir, "ccd.log")
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, logPath
}

// kill kills the ccd process with SIGKILL and waits for it to be gone.
func (p *ccdProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// queueStats reads a queue's live figures.
func waitingIn(t *testing.T, queue string) int {
	t.Helper()
	var st struct {
		Waiting int `json:"waiting"`
	}
	code, out := api(t, http.MethodGet, "/api/v1/queues/"+queue+"/stats", nil)
	if code != http.StatusOK {
		return -1
	}
	_ = json.Unmarshal(out, &st)
	return st.Waiting
}

// TestKill9Recovery kills ccd with -9 while one caller talks to an agent,
// one is being offered to another agent and two wait, then starts it again:
// the conversation goes on and is recorded when it ends, the cut-off offer
// is ended, the waiting callers keep their order and are served, and no
// agent is left reserved or on a call.
func TestKill9Recovery(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	bin := buildCCD(t)
	q := testQueue("crash")
	q.OfferTimeout, q.RetryDelay = 20, 1
	putQueue(t, q)
	for _, id := range []string{"1001", "1002"} {
		putAgent(t, id, 0, map[acd.Skill]int{"general": 3})
	}
	const did = "4006002020"
	queueFlow(t, did, "crash", "0")
	talker := startAgent(t, ctx, "1001", sipagent.Behaviour{AnswerAfter: 200 * time.Millisecond})
	ringer := startAgent(t, ctx, "1002", sipagent.Behaviour{NoAnswer: true})

	// From here ccd runs as a process that can be killed.
	cfgPath, logPath := asProcess(t, ctx, "1001", "1002")
	p1 := startProcess(t, ctx, bin, cfgPath, logPath)
	mustAPI(t, http.MethodPost, "/api/v1/agents/1001/login", nil) // idle the longest: takes the first call
	mustAPI(t, http.MethodPost, "/api/v1/agents/1002/login", nil)

	talkFrom := callerNumber()
	talk := dial(t, ctx, talkFrom, did, 2*time.Minute, "")
	agentCall, err := talker.WaitCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := agentCall.WaitAnswered(ctx); err != nil {
		t.Fatal(err)
	}
	offered := callerNumber()
	dial(t, ctx, offered, did, 2*time.Minute, "")
	ring, err := ringer.WaitCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w1, w2 := callerNumber(), callerNumber()
	dial(t, ctx, w1, did, 2*time.Minute, "")
	if err := harness.Eventually(ctx, 15*time.Second, func() error {
		if n := waitingIn(t, "crash"); n != 1 {
			return fmt.Errorf("%d waiting", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	dial(t, ctx, w2, did, 2*time.Minute, "")
	if err := harness.Eventually(ctx, 15*time.Second, func() error {
		if n := waitingIn(t, "crash"); n != 2 {
			return fmt.Errorf("%d waiting", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	p1.kill(t)
	t.Log("ccd killed with -9: one caller talking, one being offered, two waiting")
	if err := ringer.SetBehaviour(sipagent.Behaviour{AnswerAfter: 200 * time.Millisecond, HangupAfter: time.Second}); err != nil {
		t.Fatal(err)
	}
	startProcess(t, ctx, bin, cfgPath, logPath)

	// The cut-off offer stops ringing.
	if _, err := ring.Wait(ctx); err != nil || ring.Answered() {
		t.Fatalf("the offer cut off by the crash: answered %v, %v", ring.Answered(), err)
	}
	// The offered and the waiting callers are served in their order.
	var served []string
	for len(served) < 3 {
		c, err := ringer.WaitCall(ctx)
		if err != nil {
			t.Fatalf("served %v, then: %v\n%s", served, err, tail(logPath, 40))
		}
		served = append(served, c.From())
		if _, err := c.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{offered, w1, w2}; fmt.Sprint(served) != fmt.Sprint(want) {
		t.Fatalf("served %v after the restart, want %v\n%s", served, want, tail(logPath, 60))
	}
	// The conversation went on through the crash; it ends now and is recorded.
	select {
	case <-talk.Done():
		t.Fatal("the conversation did not survive the crash")
	default:
	}
	agentCall.Hangup()
	res, err := talk.Wait()
	if err != nil || res.HungUpBy != "remote" {
		t.Fatalf("conversation end: %v %+v", err, res)
	}
	if err := harness.Eventually(ctx, 15*time.Second, func() error {
		var outcome string
		var ended *time.Time
		err := stack.DB.QueryRow(ctx, `SELECT outcome, ended_at FROM call_records WHERE caller_number = $1`,
			talkFrom).Scan(&outcome, &ended)
		if err != nil {
			return err
		}
		if outcome != "agent" || ended == nil {
			return fmt.Errorf("record of the conversation: outcome %q, ended %v", outcome, ended)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, tail(logPath, 60))
	}
	// Nobody is left reserved or on a call, and nothing waits.
	if err := harness.Eventually(ctx, 15*time.Second, func() error {
		for _, id := range []string{"1001", "1002"} {
			if s := agentState(t, id).State; s != acd.Available {
				return fmt.Errorf("agent %s is %s", id, s)
			}
		}
		if n := waitingIn(t, "crash"); n != 0 {
			return fmt.Errorf("%d still waiting", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestKill9DuringConsultation kills ccd while the agent consults a
// colleague with the caller on hold: after the restart the consultation is
// over (the colleague's leg hung up, the colleague free), the caller is back
// with the agent, hearing them, and the call ends and is recorded as usual.
func TestKill9DuringConsultation(t *testing.T) {
	ctx := ctxFor(t, 3*time.Minute)
	bin := buildCCD(t)
	putQueue(t, testQueue("crashc"))
	for _, id := range []string{"1001", "1002"} {
		putAgent(t, id, 0, map[acd.Skill]int{"general": 3})
	}
	const did = "4006002036"
	queueFlow(t, did, "crashc", "0")
	agent := startTonedAgent(t, ctx, "1001")
	colleague := startTonedAgent(t, ctx, "1002")

	cfgPath, logPath := asProcess(t, ctx, "1001", "1002")
	p1 := startProcess(t, ctx, bin, cfgPath, logPath)
	mustAPI(t, http.MethodPost, "/api/v1/agents/1001/login", nil)

	from := callerNumber()
	s := dial(t, ctx, from, did, 2*time.Minute, "")
	agentCall, err := agent.WaitCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := agentCall.WaitAnswered(ctx); err != nil {
		t.Fatal(err)
	}
	mustAPI(t, http.MethodPost, "/api/v1/agents/1002/login", nil)
	var id string
	if err := harness.Eventually(ctx, 10*time.Second, func() error {
		a := agentState(t, "1001")
		if a.State != acd.OnCall || a.Call == "" {
			return fmt.Errorf("agent 1001 is %s", a.State)
		}
		id = string(a.Call)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	mustControl(t, id, "1001", "transfer", map[string]string{"kind": "agent", "to": "1002", "mode": "consult"})
	consult, err := colleague.WaitCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := consult.WaitAnswered(ctx); err != nil {
		t.Fatal(err)
	}
	if err := harness.Eventually(ctx, 10*time.Second, func() error {
		if st := agentState(t, "1002").State; st != acd.OnCall {
			return fmt.Errorf("consulted agent 1002 is %s", st)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	p1.kill(t)
	t.Log("ccd killed with -9 during a consultation")
	startProcess(t, ctx, bin, cfgPath, logPath)
	back := time.Now()

	if _, err := consult.Wait(ctx); err != nil {
		t.Fatalf("the consultation leg after the restart: %v", err)
	}
	if err := harness.Eventually(ctx, 15*time.Second, func() error {
		if st := agentState(t, "1002").State; st != acd.Available {
			return fmt.Errorf("consulted agent 1002 is %s", st)
		}
		if st := agentState(t, "1001").State; st != acd.OnCall {
			return fmt.Errorf("agent 1001 is %s", st)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v\n%s", err, tail(logPath, 40))
	}
	time.Sleep(time.Until(back.Add(4 * time.Second)))
	end := time.Now()
	agentCall.Hangup()
	res, err := s.Wait()
	if err != nil || res.HungUpBy != "remote" {
		t.Fatalf("the call's end: %v %+v", err, res)
	}
	checkHeard(t, s, res.Heard, []span{
		{name: "back with the agent after the restart", from: back.Add(1500 * time.Millisecond), to: before(end), hear: []string{"1001"}, not: []string{"1002"}},
	})
	checkRecord(t, ctx, id, "agent")
}
