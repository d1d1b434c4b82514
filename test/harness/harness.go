// Package harness starts a private contact-center stack for end-to-end tests:
// Redis, PostgreSQL and an Asterisk instance on free loopback ports in a
// temporary directory, and ccd in-process against them. It never touches a
// running `make up` stack. If a component cannot start, Start says which.
package harness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/internal/app"
	"github.com/ccd-platform/ccd/internal/asterisk"
	"github.com/ccd-platform/ccd/internal/config"
	"github.com/ccd-platform/ccd/internal/localstack"
)

// HotlineDID is the number test calls dial.
const HotlineDID = "4006001000"

// APIToken is the admin API token of test stacks.
const APIToken = "e2e-admin-token-0123456789abcdef"

// Stack is one private stack.
type Stack struct {
	Dir      string
	Asterisk *asterisk.Instance
	Redis    *localstack.Redis
	Postgres *localstack.Postgres
	// Config is what ccd runs with; tests may change it before RestartCCD.
	Config config.Config

	DB  *pgxpool.Pool
	RDB *redis.Client

	opts Options

	mu     sync.Mutex
	ccd    *app.App
	events *EventLog
	logf   *os.File
	log    *zap.Logger
}

// Options change the stack Start brings up; the zero value is the stack
// every end-to-end suite uses.
type Options struct {
	// Agents are the agent endpoint ids Asterisk accepts, each with a
	// generated password (Stack.Asterisk.AgentPasswords). Nil: 1001-1003.
	Agents []string
	// AppQueueDID, for benchmarks, is a number Asterisk serves with its own
	// app_queue (queue appq, every agent a member) instead of ccd.
	AppQueueDID string
	// ARIReceived, for benchmarks, is given every ARI event ccd handled and
	// the moment its frame was read (app.WithARIReceived), by every ccd the
	// stack starts. It must return quickly.
	ARIReceived func(ev ari.Event, received time.Time)
}

// Start brings the default stack up. Call Close when done, even after an error.
func Start(ctx context.Context) (*Stack, error) {
	return StartWith(ctx, Options{})
}

// StartWith brings a stack up with o. Call Close when done, even after an error.
func StartWith(ctx context.Context, o Options) (s *Stack, err error) {
	dir, err := os.MkdirTemp("", "ccd-e2e-")
	if err != nil {
		return nil, err
	}
	// PostgreSQL and Redis run as their own users: they need to traverse it.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	s = &Stack{Dir: dir, opts: o}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	s.logf, err = os.Create(filepath.Join(dir, "ccd.log"))
	if err != nil {
		return s, err
	}
	enc := zap.NewDevelopmentEncoderConfig()
	s.log = zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(s.logf), zap.DebugLevel))

	if s.Asterisk, err = startAsterisk(ctx, filepath.Join(dir, "asterisk"), o); err != nil {
		return s, fmt.Errorf("Asterisk: %w", err)
	}
	rport, err := localstack.FreePort()
	if err != nil {
		return s, err
	}
	if s.Redis, err = localstack.StartRedis(ctx, filepath.Join(dir, "redis"), rport); err != nil {
		return s, fmt.Errorf("Redis: %w", err)
	}
	pport, err := localstack.FreePort()
	if err != nil {
		return s, err
	}
	if s.Postgres, err = localstack.StartPostgres(ctx, filepath.Join(dir, "postgres"), pport, localstack.Fsync(false)); err != nil {
		return s, fmt.Errorf("PostgreSQL: %w", err)
	}
	if s.DB, err = pgxpool.New(ctx, s.Postgres.DSN); err != nil {
		return s, fmt.Errorf("PostgreSQL client: %w", err)
	}
	s.RDB = redis.NewClient(&redis.Options{Addr: s.Redis.Addr})

	hport, err := localstack.FreePort()
	if err != nil {
		return s, err
	}
	nport, err := localstack.FreePort()
	if err != nil {
		return s, err
	}
	s.Config = config.Default()
	s.Config.Instance = "e2e"
	s.Config.HTTP.Listen = fmt.Sprintf("127.0.0.1:%d", hport)
	s.Config.ARI.URL = s.Asterisk.ARIURL
	s.Config.ARI.User = s.Asterisk.ARIUser
	s.Config.ARI.Password = s.Asterisk.ARIPassword
	s.Config.ARI.App = s.Asterisk.App
	s.Config.ARI.ReconnectMin = 100 * time.Millisecond
	s.Config.ARI.ReconnectMax = time.Second
	s.Config.Asterisk.Root = s.Asterisk.Root
	s.Config.Asterisk.Instance = s.Asterisk.Dir
	s.Config.Redis.Addr = s.Redis.Addr
	s.Config.Postgres.DSN = s.Postgres.DSN
	s.Config.NATS.EmbeddedListen = fmt.Sprintf("127.0.0.1:%d", nport)
	s.Config.Hotline.FirstDigitTimeout = 4 * time.Second
	s.Config.Hotline.InterDigitTimeout = 3 * time.Second
	s.Config.Calls.DrainTimeout = 10 * time.Second
	s.Config.Storage.Dir = filepath.Join(dir, "data")
	s.Config.TTS.MediaURL = "http://" + s.Config.HTTP.Listen
	s.Config.API.Token = APIToken
	if err := s.Config.Validate(); err != nil {
		return s, err
	}
	if err := s.StartCCD(ctx); err != nil {
		return s, fmt.Errorf("ccd: %w", err)
	}
	return s, nil
}

func startAsterisk(ctx context.Context, dir string, o Options) (*asterisk.Instance, error) {
	if err := asterisk.Install(ctx, asterisk.Options{}); err != nil {
		return nil, err
	}
	sip, err := localstack.FreePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := localstack.FreePort()
	if err != nil {
		return nil, err
	}
	inst, err := asterisk.Configure(ctx, dir, asterisk.Options{
		SIPPort: sip, HTTPPort: httpPort,
		TrunkAllow:    []string{"127.0.0.1/32"},
		TrunkAuthUser: "carrier", TrunkAuthPassword: "carrier-secret-e2e",
		Agents: o.Agents, AppQueueDID: o.AppQueueDID,
	})
	if err != nil {
		return nil, err
	}
	if err := inst.Start(ctx); err != nil {
		return nil, err
	}
	return inst, nil
}

// StartCCD starts ccd in-process with s.Config and waits until it is ready.
func (s *Stack) StartCCD(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ccd != nil {
		return errors.New("ccd already running")
	}
	var opts []app.Option
	if s.opts.ARIReceived != nil {
		opts = append(opts, app.WithARIReceived(s.opts.ARIReceived))
	}
	a, err := app.Start(ctx, s.Config, s.log.With(zap.String("ccd_start", time.Now().Format("15:04:05.000"))), opts...)
	if err != nil {
		return err
	}
	s.ccd = a
	ev, err := newEventLog(a.NATSURL())
	if err != nil {
		a.Close()
		s.ccd = nil
		return fmt.Errorf("subscribe to events: %w", err)
	}
	s.events = ev
	return s.waitReady(ctx, a)
}

func (s *Stack) waitReady(ctx context.Context, a *app.App) error {
	err := Eventually(ctx, 30*time.Second, func() error {
		if !a.ARIConnected() {
			return errors.New("ARI event stream not connected")
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ccd not ready: %w (log: %s)", err, s.LogTail(20))
	}
	return nil
}

// PublishFlow stores src as a new version of flow name through the admin
// API, publishes it and, when did is set, binds did to it.
func (s *Stack) PublishFlow(ctx context.Context, name string, src []byte, did string) error {
	call := func(method, path string, body []byte, out any) error {
		req, err := http.NewRequestWithContext(ctx, method, "http://"+s.CCD().HTTPAddr()+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+APIToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		data, _ := io.ReadAll(resp.Body)
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, data)
		}
		if out != nil {
			return json.Unmarshal(data, out)
		}
		return nil
	}
	var v struct {
		Version int `json:"version"`
	}
	if err := call(http.MethodPost, "/api/v1/flows/"+name+"/drafts", src, &v); err != nil {
		return err
	}
	if err := call(http.MethodPost, fmt.Sprintf("/api/v1/flows/%s/versions/%d/publish", name, v.Version), nil, nil); err != nil {
		return err
	}
	if did == "" {
		return nil
	}
	body, _ := json.Marshal(map[string]string{"flow": name})
	return call(http.MethodPut, "/api/v1/bindings/"+did, body, nil)
}

// StopCCD drains and stops ccd.
func (s *Stack) StopCCD(ctx context.Context) error {
	s.mu.Lock()
	a, ev := s.ccd, s.events
	s.ccd, s.events = nil, nil
	s.mu.Unlock()
	if a == nil {
		return nil
	}
	err := a.Drain(ctx)
	a.Close()
	if ev != nil {
		ev.Close()
	}
	return err
}

// RestartCCD stops ccd and starts it again (with the current s.Config).
func (s *Stack) RestartCCD(ctx context.Context) error {
	if err := s.StopCCD(ctx); err != nil {
		return err
	}
	return s.StartCCD(ctx)
}

// CCD is the running ccd.
func (s *Stack) CCD() *app.App {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ccd
}

// Events is the log of events the running ccd published.
func (s *Stack) Events() *EventLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.events
}

// SIPAddr is where calls go.
func (s *Stack) SIPAddr() string { return s.Asterisk.SIPAddr }

// LogTail returns the last n lines of ccd's log, for failure messages.
func (s *Stack) LogTail(n int) string {
	data, err := os.ReadFile(filepath.Join(s.Dir, "ccd.log"))
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Close stops everything and removes the directory. Keep it with CCD_E2E_KEEP=1.
func (s *Stack) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = s.StopCCD(ctx)
	if s.DB != nil {
		s.DB.Close()
	}
	if s.RDB != nil {
		_ = s.RDB.Close()
	}
	if s.Asterisk != nil {
		_ = s.Asterisk.Stop(ctx)
	}
	if s.Postgres != nil {
		_ = s.Postgres.Stop(ctx)
	}
	if s.Redis != nil {
		_ = s.Redis.Stop(ctx)
	}
	if s.logf != nil {
		_ = s.logf.Close()
	}
	if s.Dir != "" && os.Getenv("CCD_E2E_KEEP") == "" {
		_ = os.RemoveAll(s.Dir)
	}
}

// Eventually polls fn until it returns nil or the timeout passes; the last
// error explains what was still missing.
func Eventually(ctx context.Context, timeout time.Duration, fn func() error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("after %s: %w", timeout, err)
		case <-tick.C:
		}
	}
}

// EventLog records every event published on the bus (calls, queues, agents).
type EventLog struct {
	Log[cti.Envelope]
	nc *nats.Conn
}

func newEventLog(url string) (*EventLog, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, err
	}
	l := &EventLog{nc: nc}
	_, err = nc.Subscribe("cc.>", func(m *nats.Msg) {
		var env cti.Envelope
		if json.Unmarshal(m.Data, &env) == nil {
			l.Add(env)
		}
	})
	if err == nil {
		err = nc.Flush()
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return l, nil
}

// Close unsubscribes.
func (l *EventLog) Close() { l.nc.Close() }

// WaitCall returns the event of type typ (e.g. "call.ended") whose payload
// field caller or call_id matches: pass the caller number to find a call
// placed by a test, then use its call ID.
func (l *EventLog) WaitCall(ctx context.Context, typ, callID string) (cti.Envelope, error) {
	return l.Wait(ctx, typ+" of call "+callID, func(e cti.Envelope) bool {
		if e.Type != typ {
			return false
		}
		var p struct {
			CallID string `json:"call_id"`
		}
		return e.Decode(&p) == nil && p.CallID == callID
	})
}

// WaitStarted returns the call.started event of a call from caller.
func (l *EventLog) WaitStarted(ctx context.Context, caller string) (cti.CallStarted, error) {
	var cs cti.CallStarted
	_, err := l.Wait(ctx, "call.started from "+caller, func(e cti.Envelope) bool {
		if e.Type != "call.started" {
			return false
		}
		var p cti.CallStarted
		if e.Decode(&p) != nil || p.Caller != caller {
			return false
		}
		cs = p
		return true
	})
	return cs, err
}
