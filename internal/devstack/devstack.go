// Package devstack runs the platform on one machine for `make up`: Redis,
// PostgreSQL and Asterisk in a state directory, ccd beside them, all detached
// so they outlive the command, and stops them again for `make down`.
package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ccd-platform/ccd/internal/asterisk"
	"github.com/ccd-platform/ccd/internal/config"
	"github.com/ccd-platform/ccd/internal/localstack"
	"github.com/ccd-platform/ccd/trace"
)

// Options of the developer stack; zero values are the documented defaults.
type Options struct {
	Dir        string // state directory, default /var/lib/ccd
	CCDBinary  string // default: ccd next to the running ccctl
	SIPPort    int    // 5060
	ARIPort    int    // 8088
	HTTPListen string // 127.0.0.1:8080
	RedisPort  int    // 6380
	PGPort     int    // 5433
	NATSListen string // 127.0.0.1:4222
	Out        io.Writer
}

func (o *Options) defaults() {
	if o.Dir == "" {
		o.Dir = "/var/lib/ccd"
	}
	if o.SIPPort == 0 {
		o.SIPPort = 5060
	}
	if o.ARIPort == 0 {
		o.ARIPort = 8088
	}
	if o.HTTPListen == "" {
		o.HTTPListen = "127.0.0.1:8080"
	}
	if o.RedisPort == 0 {
		o.RedisPort = 6380
	}
	if o.PGPort == 0 {
		o.PGPort = 5433
	}
	if o.NATSListen == "" {
		o.NATSListen = "127.0.0.1:4222"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
}

func (o Options) path(p ...string) string { return filepath.Join(append([]string{o.Dir}, p...)...) }

// HotlineDID is the number the demo call dials.
const HotlineDID = "4006001000"

// AgentLineDID goes straight to the ACD's trace queue (flows/samples/agents.yaml).
const AgentLineDID = "4006001001"

// Up starts whatever is not running yet and waits until ccd is ready.
func Up(ctx context.Context, o Options) error {
	o.defaults()
	for _, d := range []string{o.Dir, o.path("log"), o.path("run")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	say := func(format string, a ...any) { fmt.Fprintf(o.Out, format+"\n", a...) }

	if err := asterisk.Install(ctx, asterisk.Options{}); err != nil {
		return fmt.Errorf("Asterisk root: %w", err)
	}
	ast, err := asterisk.Configure(ctx, o.path("asterisk"), asterisk.Options{SIPPort: o.SIPPort, HTTPPort: o.ARIPort})
	if err != nil {
		return fmt.Errorf("configure Asterisk: %w", err)
	}
	if err := ast.Start(ctx); err != nil {
		return fmt.Errorf("start Asterisk: %w", err)
	}
	say("Asterisk    running   SIP %s (UDP+TCP), ARI %s", ast.SIPAddr, ast.ARIURL)

	rds, err := localstack.StartRedis(ctx, o.path("redis"), o.RedisPort, localstack.Detached(true))
	if err != nil {
		return fmt.Errorf("start Redis: %w", err)
	}
	say("Redis       running   %s (AOF in %s)", rds.Addr, rds.Dir)
	pg, err := localstack.StartPostgres(ctx, o.path("postgres"), o.PGPort, localstack.Detached(true))
	if err != nil {
		return fmt.Errorf("start PostgreSQL: %w", err)
	}
	say("PostgreSQL  running   127.0.0.1:%d (cluster in %s)", pg.Port, pg.Dir)

	cfg := config.Default()
	cfg.Instance = "ccd-1"
	cfg.HTTP.Listen = o.HTTPListen
	cfg.ARI.URL, cfg.ARI.User, cfg.ARI.Password, cfg.ARI.App = ast.ARIURL, ast.ARIUser, ast.ARIPassword, ast.App
	cfg.Asterisk.Root = ast.Root
	cfg.Redis.Addr = rds.Addr
	cfg.Postgres.DSN = pg.DSN
	cfg.NATS.EmbeddedListen = o.NATSListen
	cfg.Storage.Dir = o.path("data")
	cfg.Asterisk.Instance = o.path("asterisk")
	cfg.TTS.MediaURL = "http://" + o.HTTPListen
	// The desktop's "duty manager" transfers go to the demo team leader's seat.
	cfg.ACD.DutyManager = "agent:1002"
	if cfg.API.Token, err = secret(o.path("api.token")); err != nil {
		return err
	}
	if err := writeConfig(o.path("ccd.yaml"), cfg); err != nil {
		return err
	}
	if pid, ok := running(o.path("run", "ccd.pid"), "ccd"); ok {
		say("ccd         running   pid %d (already)", pid)
	} else if err := startCCD(o); err != nil {
		return err
	}
	if err := waitReady(ctx, "http://"+o.HTTPListen+"/readyz", 60*time.Second); err != nil {
		return fmt.Errorf("ccd not ready: %w (log: %s)", err, o.path("log", "ccd.log"))
	}
	say("ccd         ready     http://%s (config %s, log %s)", o.HTTPListen, o.path("ccd.yaml"), o.path("log", "ccd.log"))
	return seed(ctx, o, pg.DSN, cfg.API.Token, say)
}

// secret reads a generated secret from path, creating it on first use.
func secret(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return strings.TrimSpace(string(b)), nil
	}
	buf := make([]byte, 24)
	if _, err := rand.Read(buf); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(buf)
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", err
	}
	return tok, nil
}

func writeConfig(path string, cfg config.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	head := "# Written by `ccctl stack up` (make up) at each start; edit deploy templates or pass CCD_* variables instead.\n"
	return os.WriteFile(path, append([]byte(head), data...), 0o600)
}

func startCCD(o Options) error {
	bin := o.CCDBinary
	if bin == "" {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		bin = filepath.Join(filepath.Dir(self), "ccd")
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("ccd binary %s: %w (run `make build`)", bin, err)
	}
	logf, err := os.OpenFile(o.path("log", "ccd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "-config", o.path("ccd.yaml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = o.Dir
	cmd.Env = cleanEnv(os.Environ())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start ccd: %w", err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	return os.WriteFile(o.path("run", "ccd.pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// cleanEnv drops CCD_* variables: the stack's ccd runs from its written config.
func cleanEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, config.EnvPrefix) {
			out = append(out, kv)
		}
	}
	return out
}

// running reads a pidfile and checks the process is alive and is name.
func running(pidfile, name string) (int, bool) {
	data, err := os.ReadFile(pidfile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != name {
		return 0, false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err == nil {
		if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
			return 0, false
		}
	}
	return pid, true
}

func waitReady(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = strings.TrimSpace(string(body))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %s", url, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Down stops ccd (letting calls finish up to its drain timeout), Asterisk,
// PostgreSQL and Redis. Parts that are not running are skipped.
func Down(ctx context.Context, o Options) error {
	o.defaults()
	say := func(format string, a ...any) { fmt.Fprintf(o.Out, format+"\n", a...) }
	var errs []error
	if pid, ok := running(o.path("run", "ccd.pid"), "ccd"); ok {
		if err := stopPID(ctx, pid, 40*time.Second); err != nil {
			errs = append(errs, fmt.Errorf("ccd: %w", err))
		} else {
			say("ccd         stopped")
		}
	}
	_ = os.Remove(o.path("run", "ccd.pid"))
	if ast, err := asterisk.Open(o.path("asterisk"), asterisk.Options{}); err == nil {
		if err := ast.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("Asterisk: %w", err))
		} else {
			say("Asterisk    stopped")
		}
	}
	if err := localstack.StopPostgresDir(ctx, o.path("postgres")); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("PostgreSQL: %w", err))
	} else {
		say("PostgreSQL  stopped")
	}
	if err := localstack.StopRedisDir(ctx, o.path("redis")); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("Redis: %w", err))
	} else {
		say("Redis       stopped")
	}
	return errors.Join(errs...)
}

// stopPID sends SIGTERM (ccd drains), then a second SIGTERM after grace
// (ccd cuts calls), then SIGKILL.
func stopPID(ctx context.Context, pid int, grace time.Duration) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	_ = p.Signal(syscall.SIGTERM)
	if waitGone(ctx, pid, grace) {
		return nil
	}
	_ = p.Signal(syscall.SIGTERM)
	if waitGone(ctx, pid, 10*time.Second) {
		return nil
	}
	_ = p.Signal(syscall.SIGKILL)
	if waitGone(ctx, pid, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("process %d does not exit", pid)
}

func waitGone(ctx context.Context, pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
				return true
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// Status prints what runs where; it returns an error if something is down.
func Status(ctx context.Context, o Options) error {
	o.defaults()
	say := func(format string, a ...any) { fmt.Fprintf(o.Out, format+"\n", a...) }
	var down []string
	if ast, err := asterisk.Open(o.path("asterisk"), asterisk.Options{}); err == nil {
		if pid, err := ast.PID(ctx); err == nil && pid > 0 {
			say("Asterisk    running   pid %d, SIP %s, ARI %s", pid, ast.SIPAddr, ast.ARIURL)
		} else {
			down = append(down, "Asterisk")
		}
	} else {
		down = append(down, "Asterisk (not configured)")
	}
	if r, err := localstack.OpenRedis(ctx, o.path("redis")); err == nil {
		say("Redis       running   pid %d, %s", r.PID(), r.Addr)
	} else {
		down = append(down, "Redis")
	}
	if p, err := localstack.OpenPostgres(ctx, o.path("postgres")); err == nil {
		say("PostgreSQL  running   pid %d, 127.0.0.1:%d", p.PID(), p.Port)
	} else {
		down = append(down, "PostgreSQL")
	}
	if pid, ok := running(o.path("run", "ccd.pid"), "ccd"); ok {
		say("ccd         running   pid %d, http://%s", pid, o.HTTPListen)
		if err := waitReady(ctx, "http://"+o.HTTPListen+"/readyz", time.Second); err != nil {
			say("            not ready: %v", err)
		}
	} else {
		down = append(down, "ccd")
	}
	if len(down) > 0 {
		return fmt.Errorf("not running: %s", strings.Join(down, ", "))
	}
	return nil
}

// DemoCaller is the number demo calls come from; make up stores a VIP
// customer with it.
const DemoCaller = "13800138000"

// DemoCall is the ccctl line that places a demo call to the stack: English,
// trace lookup, the sample code; the caller hangs up after the read-out.
func DemoCall(o Options) string {
	o.defaults()
	return fmt.Sprintf("bin/ccctl call --to 127.0.0.1:%d --did %s --from %s --digits 'w1500,2,w500,1,w500,%s#' --hangup-after 45s --record /tmp/heard.wav", o.SIPPort, HotlineDID, DemoCaller, trace.SampleCode)
}

// DeskCall is the ccctl line that calls the agent line as the demo
// customer and keys the sample trace code: the desktop of an available
// agent with the trace skill rings, with the customer and the lookup in its
// screen pop (the hotline's own way to an agent, 0 in its menus, follows
// the office hours). The caller records what the agent says and stays
// until the agent hangs up (at most 5 minutes).
func DeskCall(o Options) string {
	o.defaults()
	return fmt.Sprintf("bin/ccctl call --to 127.0.0.1:%d --did %s --from %s --digits 'w1500,%s#' --max 5m --record /tmp/agent-heard.wav", o.SIPPort, AgentLineDID, DemoCaller, trace.SampleCode)
}

// ACDDemo is the ccctl lines that start two agent phones, log the agents in
// and place three calls to the agent line.
func ACDDemo(o Options) string {
	o.defaults()
	return fmt.Sprintf(`  bin/ccctl phone 1001 --talk 15s
  bin/ccctl phone 1003 --talk 15s
  bin/ccctl agent login 1001 && bin/ccctl agent login 1003
  for n in 1 2 3; do bin/ccctl call --to 127.0.0.1:%d --did %s --from 1390000000$n --hangup-after 60s & done; wait
  bin/ccctl queue stats trace; bin/ccctl agent state 1001; bin/ccctl agent state 1003`, o.SIPPort, AgentLineDID)
}

// DemoUser is a desktop user make up creates.
type DemoUser struct{ Username, Name, Role, Agent string }

// DemoUsers are the desktop users of a new stack.
var DemoUsers = []DemoUser{
	{"admin", "Administrator", "admin", ""},
	{"wang.wei", "Wang Wei", "team_leader", "1002"},
	{"li.na", "Li Na", "agent", "1001"},
	{"zhang.min", "Zhang Min", "agent", "1003"},
}

// DeskLogins lists the desktop URL and the demo users' credentials.
func DeskLogins(o Options) string {
	o.defaults()
	var b strings.Builder
	fmt.Fprintf(&b, "  http://%s/desk/\n", o.HTTPListen)
	for _, u := range DemoUsers {
		pw, err := os.ReadFile(o.path("desk-" + u.Username + ".password"))
		if err != nil || len(strings.TrimSpace(string(pw))) < 16 {
			continue
		}
		fmt.Fprintf(&b, "  %-10s %-12s password %s\n", u.Username, u.Role, strings.TrimSpace(string(pw))[:16])
	}
	return b.String()
}
