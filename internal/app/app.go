// Package app wires ccd together: configuration in, connections to
// PostgreSQL, Redis, NATS and Asterisk, the call manager, and the HTTP
// endpoints for health and readiness.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/acd/dispatch"
	"github.com/ccd-platform/ccd/acd/pgstore"
	"github.com/ccd-platform/ccd/acd/redisstore"
	"github.com/ccd-platform/ccd/agentdesk"
	"github.com/ccd-platform/ccd/agentdesk/desk"
	"github.com/ccd-platform/ccd/agentdesk/desk/deskpg"
	"github.com/ccd-platform/ccd/agentdesk/web"
	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/flows"
	"github.com/ccd-platform/ccd/internal/ariconn"
	"github.com/ccd-platform/ccd/internal/asterisk"
	"github.com/ccd-platform/ccd/internal/calls"
	"github.com/ccd-platform/ccd/internal/calls/redislive"
	"github.com/ccd-platform/ccd/internal/cdr"
	"github.com/ccd-platform/ccd/internal/config"
	"github.com/ccd-platform/ccd/internal/db"
	"github.com/ccd-platform/ccd/ivr"
	"github.com/ccd-platform/ccd/ivr/tts"
	"github.com/ccd-platform/ccd/recording"
	"github.com/ccd-platform/ccd/trace"
)

// ErrNoAsteriskRoot means asterisk.root is set but no Asterisk is installed there.
var ErrNoAsteriskRoot = errors.New("Asterisk root not installed")

// App is one running ccd.
type App struct {
	cfg config.Config
	log *zap.Logger

	pool      *pgxpool.Pool
	rdb       *redis.Client
	bus       *cti.Bus
	ari       *ariconn.Client
	calls     *calls.Manager
	records   *cdr.Store
	messages  *recording.Messages
	ttsCache  *tts.Cache
	flows     *flows.Store
	flowAdmin *flowAdmin
	acdStore  *redisstore.Store
	acdConfig *pgstore.Store
	router    *dispatch.Router
	desk      *desk.Desk
	cmds      *cti.Server
	ctiClient *cti.Client

	httpSrv  *http.Server
	httpAddr string

	runCtx    context.Context
	cancelRun context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// Option changes how Start wires ccd; production passes none.
type Option func(*options)

type options struct {
	ariReceived func(ari.Event, time.Time)
}

// WithARIReceived has fn called with every ARI event and the moment its
// frame was read off the event WebSocket, once ccd has handled the event
// (ariconn.Options.OnReceived): benchmarks time event handling with it. fn
// runs on the event goroutine and must return quickly.
func WithARIReceived(fn func(ev ari.Event, received time.Time)) Option {
	return func(o *options) { o.ariReceived = fn }
}

// Start connects everything and begins taking calls. On error, whatever was
// started is stopped again.
func Start(ctx context.Context, cfg config.Config, log *zap.Logger, opts ...Option) (_ *App, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	a := &App{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if err := checkAsteriskRoot(cfg.Asterisk.Root); err != nil {
		return nil, err
	}

	dbCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	a.pool, err = db.Open(dbCtx, cfg.Postgres.DSN, log)
	cancel()
	if err != nil {
		return nil, err
	}
	a.records = cdr.New(a.pool)

	a.rdb = redis.NewClient(&redis.Options{Addr: cfg.Redis.Addr, Password: cfg.Redis.Password, DB: cfg.Redis.DB})
	live := redislive.New(a.rdb, cfg.Instance, cfg.Calls.MaxDuration+time.Hour)
	a.acdStore, err = redisstore.New(a.rdb, redisstore.WithReservationTTL(cfg.ACD.ReservationTTL))
	if err != nil {
		return nil, err
	}
	if err := a.acdStore.Load(ctx); err != nil {
		return nil, fmt.Errorf("redis %s: %w", cfg.Redis.Addr, err)
	}
	a.acdConfig = pgstore.New(a.pool)

	a.bus, err = cti.Open(cti.Options{URL: cfg.NATS.URL, EmbeddedListen: cfg.NATS.EmbeddedListen, Source: cfg.Instance, Logger: log})
	if err != nil {
		return nil, err
	}

	a.runCtx, a.cancelRun = context.WithCancel(context.Background())
	var mgr *calls.Manager
	var router *dispatch.Router
	recovered := make(chan struct{})
	a.ari, err = ariconn.New(ariconn.Options{
		URL: cfg.ARI.URL, User: cfg.ARI.User, Password: cfg.ARI.Password, App: cfg.ARI.App,
		RequestTimeout: cfg.ARI.RequestTimeout, ReconnectMin: cfg.ARI.ReconnectMin, ReconnectMax: cfg.ARI.ReconnectMax,
		Logger:     log,
		OnEvent:    func(ev ari.Event) { mgr.HandleEvent(ev) },
		OnReceived: o.ariReceived,
		OnConnect: func(ctx context.Context, _ *ari.AsteriskInfo) {
			go func() {
				mgr.Resync(ctx)
				// Callers still waiting or talking after a restart are taken over.
				if err := router.Recover(ctx, mgr); err != nil {
					log.Error("ACD recovery", zap.Error(err))
				}
				select {
				case <-recovered:
				default:
					close(recovered)
				}
			}()
		},
	})
	if err != nil {
		return nil, err
	}
	a.messages, err = recording.NewMessages(a.pool, a.ari, filepath.Join(cfg.Storage.Dir, "recordings"))
	if err != nil {
		return nil, err
	}
	speaker, err := a.openSpeech(ctx)
	if err != nil {
		return nil, err
	}
	lookup, err := a.openTrace()
	if err != nil {
		return nil, err
	}
	rules := codeRules(cfg.Trace)
	sample := trace.Sample()
	traceKeys := make([]string, 0, 24)
	for k := range trace.Vars(&sample, "en", time.Now()) {
		traceKeys = append(traceKeys, k)
	}
	a.flows = flows.NewStore(a.pool, flows.WithOnPublish(a.prerender), flows.WithTraceVars(traceKeys...))
	deps := ivr.Deps{
		Messages: a.messages,
		Speaker:  speaker,
		Trace:    &traceVars{rules: rules, lookup: lookup, timeout: cfg.Trace.Timeout, now: time.Now},
		Validate: validator(rules),
		Flows:    a.flows,
	}
	softphone, err := softphoneDevices(cfg.Asterisk.Instance)
	if err != nil {
		return nil, err
	}
	router, err = dispatch.New(a.acdStore, a.acdConfig, a.ari, a.bus, speaker, a.bus.Conn(), dispatch.Options{
		Instance:         cfg.Instance,
		Softphone:        softphone,
		CallbackEndpoint: cfg.ACD.CallbackEndpoint,
		CallbackAttempts: cfg.ACD.CallbackAttempts,
		Tick:             cfg.ACD.Tick,
		OnAgentState:     a.logAgentState,
		ScreenPop:        a.screenPop,
		CallerPriority:   func(ctx context.Context, caller string) (int, error) { return a.desk.CallerPriority(ctx, caller) },
		Logger:           log,
	})
	if err != nil {
		return nil, err
	}
	a.router = router
	if err := router.Reload(ctx); err != nil {
		return nil, err
	}
	// Records of calls still queued or talking stay open: Recover takes them over.
	keep, err := router.KeepRecords(ctx)
	if err != nil {
		return nil, fmt.Errorf("redis %s: %w", cfg.Redis.Addr, err)
	}
	if n, err := a.records.CloseOrphans(ctx, cfg.Instance, time.Now().UTC(), keep...); err != nil {
		return nil, err
	} else if n > 0 {
		log.Warn("closed records of calls cut off by an earlier stop", zap.Int64("calls", n))
	}
	deps.Queue = router
	a.flowAdmin = &flowAdmin{store: a.flows, deps: deps}
	engine := ivr.NewEngine(deps)
	mgr, err = calls.New(a.ari, a.records, a.bus, live, calls.Options{
		Instance: cfg.Instance,
		Engine:   engine,
		Flows:    a.flows,
		Flow: ivr.Hotline{
			Greeting: cfg.Hotline.Greeting,
			Goodbye:  cfg.Hotline.Goodbye,
			Digits: ivr.DigitSpec{
				Max:          cfg.Hotline.MaxDigits,
				Terminator:   rune(cfg.Hotline.Terminator[0]),
				FirstTimeout: cfg.Hotline.FirstDigitTimeout,
				InterTimeout: cfg.Hotline.InterDigitTimeout,
			},
		},
		CleanupTimeout: cfg.Calls.CleanupTimeout,
		MaxDuration:    cfg.Calls.MaxDuration,
		Logger:         log,
		Intercept:      router.HandleEvent,
	})
	if err != nil {
		return nil, err
	}
	a.calls = mgr
	// Desktop commands (login, ready, pause, hang-up...) over NATS request/reply.
	a.cmds, err = cti.Serve(a.bus.Conn(), router.CTIHandler(a.bus.Board()), cti.ServeOptions{Classify: dispatch.Classify, Logger: log})
	if err != nil {
		return nil, err
	}
	deskStore := deskpg.New(a.pool)
	sipAccount, err := softphoneSeats(cfg.Asterisk.Instance)
	if err != nil {
		return nil, err
	}
	a.desk, err = desk.New(deskStore, deskStore, desk.Options{Logger: log, NATS: a.bus.Conn(), SIPAccount: sipAccount})
	if err != nil {
		return nil, err
	}
	// Call control over HTTP goes through the CTI bus, whose rules check the
	// call belongs to the agent acting.
	a.ctiClient, err = cti.NewClient(a.bus.Conn(), cti.ClientOptions{})
	if err != nil {
		return nil, err
	}
	for _, c := range []string{"answer", "hangup", "hold", "resume", "transfer", "conference"} {
		a.desk.Allow("POST /api/v1/calls/{id}/"+c, desk.Rule{Min: agentdesk.RoleAgent})
	}

	ln, err := net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("http.listen %s: %w", cfg.HTTP.Listen, err)
	}
	a.httpAddr = ln.Addr().String()
	a.httpSrv = &http.Server{Handler: a.routes(), ReadHeaderTimeout: 5 * time.Second}
	a.wg.Add(4)
	go func() {
		defer a.wg.Done()
		// Expired desktop sessions are removed now and then.
		t := time.NewTicker(10 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-a.runCtx.Done():
				return
			case <-t.C:
				if _, err := a.desk.Prune(a.runCtx); err != nil && a.runCtx.Err() == nil {
					log.Warn("prune desktop sessions", zap.Error(err))
				}
			}
		}
	}()
	go func() {
		defer a.wg.Done()
		// Dispatch only once waiting callers were taken over (or ARI never
		// came up: calls cannot arrive then either).
		select {
		case <-recovered:
		case <-a.runCtx.Done():
			return
		}
		if err := router.Run(a.runCtx); err != nil {
			log.Error("ACD dispatcher stopped", zap.Error(err))
		}
	}()
	go func() {
		defer a.wg.Done()
		if err := a.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server", zap.Error(err))
		}
	}()
	go func() {
		defer a.wg.Done()
		_ = a.ari.Run(a.runCtx)
	}()
	log.Info("ccd started", zap.String("instance", cfg.Instance), zap.String("http", a.httpAddr),
		zap.String("ari", cfg.ARI.URL), zap.String("nats", a.bus.ClientURL()))
	return a, nil
}

// openSpeech sets up text-to-speech: the engine, its cache and the media URIs
// Asterisk plays.
func (a *App) openSpeech(ctx context.Context) (*tts.Speaker, error) {
	var engine tts.Engine
	var err error
	switch a.cfg.TTS.Engine {
	case "http":
		engine, err = tts.NewHTTP(a.cfg.TTS.URL, tts.HTTPTimeout(a.cfg.TTS.Timeout))
	default:
		engine, err = tts.NewEspeak(ctx, tts.EspeakTimeout(a.cfg.TTS.Timeout))
	}
	if err != nil {
		return nil, fmt.Errorf("tts.engine %s: %w", a.cfg.TTS.Engine, err)
	}
	a.ttsCache, err = tts.NewCache(engine, filepath.Join(a.cfg.Storage.Dir, "tts"), tts.CacheLogger(a.log))
	if err != nil {
		return nil, err
	}
	return tts.NewSpeaker(a.ttsCache, a.cfg.TTS.MediaURL)
}

// prerender renders a flow's static text prompts when it is published, so
// the first caller does not wait for speech synthesis. Prompts with
// variables are rendered when they are spoken.
func (a *App) prerender(ctx context.Context, doc *flows.Doc) error {
	texts := map[string][]string{}
	add := func(p *flows.Prompt) {
		if p == nil {
			return
		}
		if p.Ref != "" {
			named, ok := doc.Prompts[p.Ref]
			if !ok {
				return
			}
			p = &named
		}
		for lang, t := range p.Text {
			if !strings.Contains(t, "${") {
				texts[lang] = append(texts[lang], t)
			}
		}
	}
	for _, p := range doc.Prompts {
		add(&p)
	}
	for _, n := range doc.Nodes {
		add(n.Prompt)
		add(n.InvalidPrompt)
		add(n.NoInputPrompt)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	start := time.Now()
	n := 0
	for lang, list := range texts {
		if err := a.ttsCache.Prerender(ctx, tts.Voice{Lang: lang}, list); err != nil {
			return fmt.Errorf("pre-render %s prompts of flow %s: %w", lang, doc.Name, err)
		}
		n += len(list)
	}
	a.log.Info("flow prompts pre-rendered", zap.String("flow", doc.Name), zap.Int("prompts", n), zap.Duration("took", time.Since(start)))
	return nil
}

// openTrace sets up the trace lookup: the local catalog or an external platform.
func (a *App) openTrace() (trace.Lookup, error) {
	if a.cfg.Trace.Source == "http" {
		c, err := trace.NewHTTPClient(a.cfg.Trace.URL, trace.WithTimeout(a.cfg.Trace.Timeout))
		if err != nil {
			return nil, fmt.Errorf("trace.url: %w", err)
		}
		return c, nil
	}
	return trace.NewPGCatalog(a.pool, codeRules(a.cfg.Trace)), nil
}

func checkAsteriskRoot(root string) error {
	if root == "" {
		return nil
	}
	for _, p := range []string{"usr/sbin/asterisk", "instance"} {
		if _, err := os.Stat(filepath.Join(root, p)); err != nil {
			return fmt.Errorf("%w at %s (asterisk.root): install it with `deploy/asterisk.sh install` or `make up`, or clear asterisk.root if Asterisk runs elsewhere", ErrNoAsteriskRoot, root)
		}
	}
	return nil
}

// logAgentState keeps every agent state change in PostgreSQL for reports.
func (a *App) logAgentState(ev cti.AgentStateChanged) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := a.acdConfig.LogState(ctx, pgstore.StateChange{Agent: acd.AgentID(ev.Agent), From: acd.State(ev.From),
		To: acd.State(ev.To), Reason: ev.Reason, CallID: acd.CallID(ev.CallID), At: ev.At})
	if err != nil {
		a.log.Warn("agent state log", zap.Error(err))
	}
}

// softphoneSeats reads the agents' WebRTC seats from the Asterisk instance
// directory, for the browser softphone.
func softphoneSeats(dir string) (func(acd.AgentID) (desk.SIPAccount, bool), error) {
	if dir == "" {
		return nil, nil
	}
	inst, err := asterisk.ReadInstance(dir)
	if err != nil {
		return nil, fmt.Errorf("asterisk.instance %s: %w", dir, err)
	}
	if inst.SIPWebSocketURL == "" {
		return nil, nil
	}
	host := "127.0.0.1"
	if u, err := url.Parse(inst.SIPWebSocketURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return func(agent acd.AgentID) (desk.SIPAccount, bool) {
		ep, ok := inst.WebRTCEndpoints[string(agent)]
		pw := inst.AgentPasswords[string(agent)]
		if !ok || pw == "" {
			return desk.SIPAccount{}, false
		}
		return desk.SIPAccount{WSURL: inst.SIPWebSocketURL, URI: "sip:" + ep + "@" + host, Password: pw}, true
	}, nil
}

// softphoneDevices gives the dial string of each agent's browser
// softphone (WebRTC seat) from the Asterisk instance directory.
func softphoneDevices(dir string) (func(acd.AgentID) string, error) {
	if dir == "" {
		return nil, nil
	}
	inst, err := asterisk.ReadInstance(dir)
	if err != nil {
		return nil, fmt.Errorf("asterisk.instance %s: %w", dir, err)
	}
	return func(agent acd.AgentID) string {
		if ep, ok := inst.WebRTCEndpoints[string(agent)]; ok {
			return "PJSIP/" + ep
		}
		return ""
	}, nil
}

// screenPop builds the desktop's screen pop of a call offered to an agent.
func (a *App) screenPop(ctx context.Context, in dispatch.PopInput) (cti.ScreenPop, error) {
	sp, err := a.desk.ScreenPop(ctx, in.Caller, in.DID, in.IVR, string(in.Queue), in.Waited)
	if err != nil {
		return cti.ScreenPop{}, err
	}
	pop := cti.ScreenPop{Caller: sp.Caller, DID: sp.DID, NewCaller: sp.NewCaller, Priority: sp.Priority, IVR: sp.IVR}
	if sp.Customer != nil {
		if pop.Customer, err = json.Marshal(sp.Customer); err != nil {
			return cti.ScreenPop{}, err
		}
	}
	if pop.History, err = json.Marshal(sp.History); err != nil {
		return cti.ScreenPop{}, err
	}
	return pop, nil
}

// Router is the ACD runtime.
func (a *App) Router() *dispatch.Router { return a.router }

// HTTPAddr is the address the HTTP server listens on.
func (a *App) HTTPAddr() string { return a.httpAddr }

// NATSURL is where the event bus is reachable.
func (a *App) NATSURL() string { return a.bus.ClientURL() }

// ActiveCalls counts calls in progress.
func (a *App) ActiveCalls() int { return a.calls.Active() }

// Records gives access to call detail records.
func (a *App) Records() *cdr.Store { return a.records }

// ARIConnected reports whether the ARI event stream is up.
func (a *App) ARIConnected() bool { return a.ari.Connected() }

// Drain stops taking new calls and waits for calls in progress until ctx ends.
func (a *App) Drain(ctx context.Context) error {
	a.log.Info("draining: no new calls; waiting for calls in progress", zap.Int("active_calls", a.calls.Active()))
	return a.calls.Drain(ctx)
}

// Close cuts the remaining calls (their cleanup still runs) and stops everything.
func (a *App) Close() {
	a.closeOnce.Do(func() {
		if a.calls != nil {
			ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Calls.CleanupTimeout+time.Second)
			if err := a.calls.Stop(ctx); err != nil {
				a.log.Warn("calls still cleaning up at shutdown", zap.Error(err), zap.Int("active_calls", a.calls.Active()))
			}
			cancel()
		}
		if a.httpSrv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = a.httpSrv.Shutdown(ctx)
			cancel()
		}
		if a.cancelRun != nil {
			a.cancelRun()
		}
		a.wg.Wait()
		if a.cmds != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = a.cmds.Close(ctx)
			cancel()
		}
		if a.desk != nil {
			a.desk.Close()
		}
		if a.bus != nil {
			a.bus.Close()
		}
		if a.rdb != nil {
			_ = a.rdb.Close()
		}
		if a.pool != nil {
			a.pool.Close()
		}
		a.log.Info("ccd stopped")
	})
}

func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "instance": a.cfg.Instance,
			"active_calls": a.calls.Active(), "draining": a.calls.Draining()})
	})
	agentdesk.New(agentdesk.Options{
		Token: a.cfg.API.Token,
		Flows: a.flowAdmin,
		// Browsers log in with a session cookie; integrations and ccctl use the token.
		Gate: a.desk,
		Extra: agentdesk.JoinRoutes(agentdesk.RecordRoutes(a.records, a.messages),
			agentdesk.ACDRoutes(&acdAdmin{Store: a.acdConfig, router: a.router}, a.router, a.log),
			agentdesk.CallControlRoutes(a.ctiClient, func() string { return a.cfg.ACD.DutyManager }, a.log),
			a.desk.Routes()),
		Logger: a.log,
	}).Register(mux)
	// The agent desktop (embedded single-page app).
	mux.Handle("/desk/", web.Handler())
	mux.Handle("GET /{$}", http.RedirectHandler("/desk/", http.StatusFound))
	// Asterisk fetches rendered speech here (no shared disk needed).
	mux.Handle("GET /media/tts/", a.ttsCache.Handler())
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		checks, ok := a.readiness(r.Context())
		status := http.StatusOK
		if !ok {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]any{"ready": ok, "checks": checks})
	})
	return mux
}

// readiness checks every dependency; ccd is ready only when all answer and it
// is not draining.
func (a *App) readiness(ctx context.Context) (map[string]string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	checks := map[string]string{}
	ok := true
	set := func(name string, err error) {
		if err != nil {
			checks[name] = err.Error()
			ok = false
			return
		}
		checks[name] = "ok"
	}
	up, _, ariErr := a.ari.Status()
	if up {
		ariErr = nil
	} else if ariErr == nil {
		ariErr = errors.New("event stream not connected")
	}
	set("ari", ariErr)
	set("redis", a.rdb.Ping(ctx).Err())
	set("postgres", a.pool.Ping(ctx))
	set("nats", a.bus.Ready())
	if a.calls.Draining() {
		set("calls", errors.New("draining: not taking new calls"))
	}
	return checks, ok
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
