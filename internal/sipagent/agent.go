package sipagent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/media"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ccd-platform/ccd/internal/sipua"
)

// registerTimeout bounds one registration refresh.
const registerTimeout = 10 * time.Second

// callQueue is how many calls Calls holds for a reader that lags.
const callQueue = 64

// Agent is one registered SIP phone. Its methods are safe for concurrent
// use.
type Agent struct {
	cfg  config
	ua   *sipgo.UserAgent
	dg   *diago.Diago
	addr string // where the phone listens, host:port

	stopServe context.CancelFunc
	closing   chan struct{} // closed when Close begins
	calls     chan *Call
	handlers  sync.WaitGroup

	mu        sync.Mutex
	closed    bool // no new calls
	active    map[string]*Call
	behaviour Behaviour

	// regMu serializes Register, Unregister and Close; the fields below
	// change under it (and mu, for readers).
	regMu       sync.Mutex
	reg         *diago.RegisterTransaction
	stopRefresh context.CancelFunc
	refreshDone chan struct{}

	evMu   sync.Mutex
	events []Event

	closeOnce sync.Once
	closeErr  error
}

// Start opens the phone's SIP socket on Options.BindHost, registers with
// the registrar (digest auth) and returns once the registration is
// accepted; it keeps it refreshed until Unregister or Close. Incoming
// INVITEs are served from the start with the Options' Behaviour. A refused
// registration returns a *RegistrationError (errors.Is ErrRegistration)
// with the status, and releases everything.
func Start(ctx context.Context, o Options) (*Agent, error) {
	cfg, err := o.resolve()
	if err != nil {
		return nil, err
	}
	a := &Agent{
		cfg:       cfg,
		closing:   make(chan struct{}),
		calls:     make(chan *Call, callQueue),
		active:    map[string]*Call{},
		behaviour: cfg.Behaviour,
	}
	if err := a.listen(); err != nil {
		a.release()
		return nil, err
	}
	if cfg.Registrar != "" {
		if err := a.Register(ctx); err != nil {
			a.release()
			return nil, err
		}
	}
	return a, nil
}

// listen creates the phone's user agent and serves incoming requests.
func (a *Agent) listen() error {
	cfg := a.cfg
	ua, err := sipgo.NewUA(
		// The user agent name is the From and Contact user of every request.
		sipgo.WithUserAgent(cfg.User),
		sipgo.WithUserAgentHostname(cfg.BindHost),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(cfg.Logger)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(cfg.Logger)),
	)
	if err != nil {
		return fmt.Errorf("sipagent: user agent: %w", err)
	}
	a.ua = ua
	a.dg = diago.NewDiago(ua,
		diago.WithLogger(cfg.Logger),
		diago.WithTransport(diago.Transport{
			Transport: cfg.transport,
			BindHost:  cfg.BindHost,
			BindPort:  0,
		}),
		diago.WithMediaConfig(diago.MediaConfig{Codecs: []media.Codec{
			media.CodecAudioUlaw, media.CodecAudioAlaw, media.CodecTelephoneEvent8000,
		}}),
		diago.WithServerRequestMiddleware(a.watchRequests),
	)
	serveCtx, stop := context.WithCancel(context.Background())
	a.stopServe = stop
	if err := a.dg.ServeBackground(serveCtx, a.serve); err != nil {
		return fmt.Errorf("sipagent: listen on %s/%s: %w", cfg.BindHost, cfg.transport, err)
	}
	return a.awaitListener()
}

// awaitListener learns the bound port and waits until requests can leave
// from the listening socket (see sipua.AwaitListener).
func (a *Agent) awaitListener() error {
	addr, err := sipua.AwaitListener(a.dg, a.ua, sip.Uri{Scheme: "sip", Host: a.cfg.BindHost}, a.cfg.BindHost, a.cfg.transport)
	if err != nil {
		return fmt.Errorf("sipagent: %w", err)
	}
	a.addr = addr
	return nil
}

// Addr is where the phone listens for SIP, "ip:port", on its transport.
func (a *Agent) Addr() string { return a.addr }

// User is the endpoint id the phone registers as.
func (a *Agent) User() string { return a.cfg.User }

func (a *Agent) registrarURI() sip.Uri {
	uri := sip.Uri{Scheme: "sip", User: a.cfg.User, Host: a.cfg.host, Port: a.cfg.port, UriParams: sip.NewParams()}
	uri.UriParams.Add("transport", a.cfg.transport)
	return uri
}

// Register registers the phone (again, after Unregister) and keeps the
// registration refreshed. It is a no-op when already registered.
func (a *Agent) Register(ctx context.Context) error {
	a.regMu.Lock()
	defer a.regMu.Unlock()
	select {
	case <-a.closing:
		return ErrClosed
	default:
	}
	if a.cfg.Registrar == "" {
		return fmt.Errorf("%w: no registrar", ErrInvalidOptions)
	}
	if a.Registered() {
		return nil
	}
	rt, err := a.dg.RegisterTransaction(ctx, a.registrarURI(), diago.RegisterOptions{
		Username: a.cfg.User,
		Password: a.cfg.Password,
		Expiry:   a.cfg.Expiry,
	})
	if err == nil {
		err = rt.Register(ctx)
	}
	if err != nil {
		rerr := a.registrationError(err)
		a.emit(nil, Event{Type: EventRegistrationFailed, StatusCode: rerr.StatusCode, Reason: rerr.Reason, Detail: errText(rerr.Err)})
		return rerr
	}
	refreshCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	a.mu.Lock()
	a.reg, a.stopRefresh, a.refreshDone = rt, stop, done
	a.mu.Unlock()
	a.emit(nil, Event{Type: EventRegistered, Detail: "registered"})
	go a.refresh(refreshCtx, rt, done)
	return nil
}

// refresh renews the registration every RefreshEvery; a failed renewal is
// reported and retried sooner, the registration being still valid.
func (a *Agent) refresh(ctx context.Context, rt *diago.RegisterTransaction, done chan<- struct{}) {
	defer close(done)
	every := a.cfg.RefreshEvery
	retry := min(every, 2*time.Second)
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, registerTimeout)
		err := rt.Qualify(rctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			rerr := a.registrationError(err)
			a.emit(nil, Event{Type: EventRegistrationFailed, StatusCode: rerr.StatusCode, Reason: rerr.Reason, Detail: errText(rerr.Err)})
			t.Reset(retry)
			continue
		}
		a.emit(nil, Event{Type: EventRegistered, Detail: "refreshed"})
		t.Reset(every)
	}
}

func (a *Agent) registrationError(err error) *RegistrationError {
	e := &RegistrationError{User: a.cfg.User, Registrar: a.cfg.Registrar}
	var rr *diago.RegisterResponseError
	if errors.As(err, &rr) && rr.RegisterRes != nil {
		e.StatusCode, e.Reason = rr.RegisterRes.StatusCode, rr.RegisterRes.Reason
		return e
	}
	e.Err = err
	return e
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Registered reports whether the phone holds a registration (refreshes
// that fail for now do not clear it).
func (a *Agent) Registered() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reg != nil
}

// Unregister stops refreshing and removes the registration (REGISTER with
// Expires 0), as a phone logging out does. The phone keeps answering calls
// sent to it; Register registers it again. It is a no-op when not
// registered.
func (a *Agent) Unregister(ctx context.Context) error {
	a.regMu.Lock()
	defer a.regMu.Unlock()
	a.mu.Lock()
	rt, stop, done := a.reg, a.stopRefresh, a.refreshDone
	a.reg, a.stopRefresh, a.refreshDone = nil, nil, nil
	a.mu.Unlock()
	if rt == nil {
		return nil
	}
	stop()
	<-done
	// diago rewrites the transaction's request into "Contact: *" with
	// Expires 0; a later Register builds a new one.
	if err := rt.Unregister(ctx); err != nil {
		rerr := a.registrationError(err)
		a.emit(nil, Event{Type: EventRegistrationFailed, StatusCode: rerr.StatusCode, Reason: rerr.Reason, Detail: "unregister: " + errText(rerr.Err)})
		return fmt.Errorf("sipagent: unregister: %w", rerr)
	}
	a.emit(nil, Event{Type: EventUnregistered})
	return nil
}

// SetBehaviour changes how the phone treats the calls that arrive from now
// on; calls already ringing keep theirs (use Call.Answer, Reject, Hangup).
func (a *Agent) SetBehaviour(b Behaviour) error {
	if err := b.validate(); err != nil {
		return err
	}
	a.mu.Lock()
	a.behaviour = b
	a.mu.Unlock()
	return nil
}

// Behaviour is the behaviour new calls get.
func (a *Agent) Behaviour() Behaviour {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.behaviour
}

// Calls delivers each incoming call as its INVITE arrives, answered or
// not. It holds up to 64 calls for a slow reader (later ones are still
// served, only not delivered) and is closed by Close.
func (a *Agent) Calls() <-chan *Call { return a.calls }

// WaitCall returns the next incoming call from Calls.
func (a *Agent) WaitCall(ctx context.Context) (*Call, error) {
	select {
	case c, ok := <-a.calls:
		if !ok {
			return nil, ErrClosed
		}
		return c, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("sipagent: no call for %s: %w", a.cfg.User, context.Cause(ctx))
	}
}

// Active lists the calls in progress (ringing or answered).
func (a *Agent) Active() []*Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]*Call, 0, len(a.active))
	for _, c := range a.active {
		out = append(out, c)
	}
	return out
}

// Events is a copy of every event so far, registration and calls.
func (a *Agent) Events() []Event {
	a.evMu.Lock()
	defer a.evMu.Unlock()
	return append([]Event(nil), a.events...)
}

// serve runs one incoming INVITE in diago's request goroutine; diago sends
// 480 if the handler returns before any final response.
func (a *Agent) serve(d *diago.DialogServerSession) {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return
	}
	a.handlers.Add(1)
	c := newCall(a, d, a.behaviour)
	a.active[c.id] = c
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.active, c.id)
		a.mu.Unlock()
		a.handlers.Done()
	}()

	a.emit(c, Event{Type: EventIncoming, Detail: d.ToUser()})
	select {
	case a.calls <- c:
	default:
		a.cfg.Logger.Warn("sipagent: Calls is full; call not delivered", "call_id", c.id)
	}
	c.run()
}

// watchRequests sees every request before diago handles it: it notes the
// far end's BYE with its Reason header.
func (a *Agent) watchRequests(next sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if req.Method == sip.BYE && req.CallID() != nil {
			a.mu.Lock()
			c := a.active[req.CallID().Value()]
			a.mu.Unlock()
			if c != nil {
				reason := ""
				if h := req.GetHeader("Reason"); h != nil {
					reason = h.Value()
				}
				c.byeReceived(reason)
			}
		}
		next(req, tx)
	}
}

// emit records an event (of call c, if not nil) and passes it to OnEvent.
func (a *Agent) emit(c *Call, e Event) {
	a.evMu.Lock()
	defer a.evMu.Unlock()
	e.At = time.Now()
	if c != nil {
		e.CallID, e.From = c.id, c.from
		c.addEvent(e)
	}
	a.events = append(a.events, e)
	if a.cfg.OnEvent != nil {
		a.cfg.OnEvent(e)
	}
}

// Close unregisters the phone, ends its calls (480 to those ringing, BYE to
// those answered), and releases every socket and goroutine before it
// returns. ctx bounds the unregistration and the wait for calls to end
// gracefully; the phone is released either way. Calls is closed. Later
// calls return the first result.
func (a *Agent) Close(ctx context.Context) error {
	a.closeOnce.Do(func() { a.closeErr = a.close(ctx) })
	return a.closeErr
}

func (a *Agent) close(ctx context.Context) error {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	close(a.closing)

	var errs []error
	if err := a.Unregister(ctx); err != nil {
		errs = append(errs, err)
	}
	ended := make(chan struct{})
	go func() { a.handlers.Wait(); close(ended) }()
	select {
	case <-ended:
	case <-ctx.Done():
		errs = append(errs, fmt.Errorf("sipagent: calls still ending at close: %w", context.Cause(ctx)))
	}
	a.release()
	// Every wait inside a call is bounded (BYE, ACK), and the user agent
	// is closed: the handlers end.
	<-ended
	close(a.calls)
	return errors.Join(errs...)
}

// release stops serving and closes the user agent.
func (a *Agent) release() {
	if a.stopServe != nil {
		a.stopServe()
	}
	if a.ua != nil {
		_ = a.ua.Close()
	}
}
