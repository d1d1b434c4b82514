// Package calls owns the life of each call in ccd: it routes Asterisk's events
// to the call they belong to, runs one goroutine per call with a context that
// is cancelled when the caller hangs up, and always cleans up afterwards
// (hang-up, call detail record, live state, events).
package calls

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/flows"
	"github.com/ccd-platform/ccd/internal/ariconn"
	"github.com/ccd-platform/ccd/internal/cdr"
	"github.com/ccd-platform/ccd/ivr"
	"github.com/ccd-platform/ccd/ivr/arichan"
)

// Records is where call detail records go.
type Records interface {
	Start(ctx context.Context, r cdr.Record) error
	Answered(ctx context.Context, callID string, at time.Time) error
	Finish(ctx context.Context, r cdr.Record) error
}

// Publisher sends events to desktops and wallboards.
type Publisher interface {
	Publish(ctx context.Context, ev cti.Event) error
}

// Live keeps the live view of calls in progress.
type Live interface {
	Begin(ctx context.Context, r cdr.Record) error
	Update(ctx context.Context, callID string, fields map[string]any) error
	End(ctx context.Context, callID string) error
}

// FlowSource finds the flow a call to a DID runs: the published version at
// the call's start, pinned for the whole call.
type FlowSource interface {
	ResolveFlow(ctx context.Context, did string) (doc *flows.Doc, version int, err error)
}

// Options configure the Manager.
type Options struct {
	Instance string
	// Flow is the built-in flow, run when no flow document is bound to the DID.
	Flow ivr.Hotline
	// Flows and Engine run flow documents bound to DIDs (both optional).
	Flows          FlowSource
	Engine         *ivr.Engine
	CleanupTimeout time.Duration
	MaxDuration    time.Duration
	Logger         *zap.Logger
	// Intercept sees every event first and claims those of channels it owns
	// (callback legs of the ACD) by returning true.
	Intercept func(ari.Event) bool
}

// Manager handles the calls of one ccd.
type Manager struct {
	ari     *ariconn.Client
	records Records
	pub     Publisher
	live    Live
	opts    Options
	log     *zap.Logger

	// base is the parent of every call's context; cancelling it cuts all calls (forced shutdown).
	base       context.Context
	cancelBase context.CancelCauseFunc

	tracker Tracker
	rejects sync.WaitGroup

	mu    sync.Mutex
	calls map[string]*call // by channel ID
	legs  map[string]*call // channels the calls dialled (transfers), by channel ID
}

// ErrForcedShutdown is the cause of calls cut off by a forced shutdown.
var ErrForcedShutdown = errors.New("ccd forced shutdown")

// ErrTooLong is the cause of a call that exceeded calls.max_duration.
var ErrTooLong = errors.New("call exceeded its maximum duration")

// New returns a Manager. Feed it ARI events with HandleEvent.
func New(c *ariconn.Client, records Records, pub Publisher, live Live, o Options) (*Manager, error) {
	if c == nil || records == nil || pub == nil || live == nil {
		return nil, errors.New("calls: ARI client, records, publisher and live store are required")
	}
	if err := o.Flow.Validate(); err != nil {
		return nil, err
	}
	if o.CleanupTimeout <= 0 {
		o.CleanupTimeout = 5 * time.Second
	}
	if o.MaxDuration <= 0 {
		o.MaxDuration = 4 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	base, cancel := context.WithCancelCause(context.Background())
	return &Manager{ari: c, records: records, pub: pub, live: live, opts: o, log: o.Logger,
		base: base, cancelBase: cancel, calls: map[string]*call{}, legs: map[string]*call{}}, nil
}

type call struct {
	id     string
	ch     *arichan.Channel
	ctx    context.Context
	cancel context.CancelCauseFunc
	log    *zap.Logger

	mu        sync.Mutex
	callerHup bool
	cause     *int
	causeTxt  string
	destroyed chan struct{}
}

// hangupCause records the Q.850 cause; ChannelHangupRequest and
// ChannelDestroyed both carry it, in either order, only the latter with text.
func (c *call) hangupCause(cause int, txt string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cause != nil && cause == 0 {
		return
	}
	if txt == "" {
		if c.cause != nil && *c.cause == cause {
			txt = c.causeTxt
		}
		if txt == "" {
			txt = q850[cause]
		}
	}
	c.cause, c.causeTxt = &cause, txt
}

// q850 names the common hangup causes.
var q850 = map[int]string{
	1: "Unallocated (unassigned) number", 16: "Normal Clearing", 17: "User busy", 18: "No user responding",
	19: "No answer", 21: "Call Rejected", 27: "Destination out of order", 31: "Normal, unspecified",
	34: "Circuit/channel congestion", 38: "Network out of order", 41: "Temporary failure", 127: "Interworking, unspecified",
}

// Active counts calls in progress.
func (m *Manager) Active() int { return m.tracker.Active() }

// Draining reports whether new calls are refused.
func (m *Manager) Draining() bool { return m.tracker.Draining() }

// Drain refuses new calls and waits for calls in progress until ctx ends.
func (m *Manager) Drain(ctx context.Context) error {
	err := m.tracker.Drain(ctx)
	m.rejects.Wait()
	return err
}

// Stop cuts every call in progress and waits for their cleanup.
func (m *Manager) Stop(ctx context.Context) error {
	m.cancelBase(ErrForcedShutdown)
	return m.Drain(ctx)
}

// HandleEvent routes one ARI event. It never blocks on a call.
func (m *Manager) HandleEvent(ev ari.Event) {
	if m.opts.Intercept != nil && m.opts.Intercept(ev) {
		return
	}
	if m.routeLeg(ev) {
		return
	}
	switch e := ev.(type) {
	case *ari.StasisStart:
		m.start(e)
	case *ari.ChannelDtmfReceived:
		if c := m.lookup(e.Channel.ID); c != nil {
			c.ch.HandleEvent(e)
		}
	case *ari.PlaybackFinished:
		if c := m.lookup(channelOfTarget(e.Playback.TargetURI)); c != nil {
			c.ch.HandleEvent(e)
		}
	case *ari.RecordingFinished:
		if c := m.lookup(channelOfTarget(e.Recording.TargetURI)); c != nil {
			c.ch.HandleEvent(e)
		}
	case *ari.RecordingFailed:
		if c := m.lookup(channelOfTarget(e.Recording.TargetURI)); c != nil {
			c.ch.HandleEvent(e)
		}
	case *ari.ChannelHangupRequest:
		if c := m.lookup(e.Channel.ID); c != nil {
			if !c.ch.HungUpByUs() {
				c.mu.Lock()
				c.callerHup = true
				c.mu.Unlock()
			}
			c.hangupCause(e.Cause, "")
			c.cancel(ivr.ErrHangup)
		}
	case *ari.StasisEnd:
		if c := m.lookup(e.Channel.ID); c != nil {
			c.cancel(ivr.ErrHangup)
		}
	case *ari.ChannelDestroyed:
		if c := m.lookup(e.Channel.ID); c != nil {
			if !c.ch.HungUpByUs() {
				c.mu.Lock()
				c.callerHup = true
				c.mu.Unlock()
			}
			c.hangupCause(e.Cause, e.CauseTxt)
			c.cancel(ivr.ErrHangup)
			c.mu.Lock()
			select {
			case <-c.destroyed:
			default:
				close(c.destroyed)
			}
			c.mu.Unlock()
		}
	}
}

// Resync runs after the event stream reconnects: calls whose channel vanished
// while ccd was not listening are ended, and lost playback ends are caught up.
func (m *Manager) Resync(ctx context.Context) {
	m.mu.Lock()
	list := make([]*call, 0, len(m.calls))
	for _, c := range m.calls {
		list = append(list, c)
	}
	m.mu.Unlock()
	for _, c := range list {
		if _, err := m.ari.Channel(ctx, c.ch.ID()); errors.Is(err, ariconn.ErrNotFound) {
			c.log.Warn("channel vanished while the event stream was down")
			c.mu.Lock()
			c.callerHup = true
			c.mu.Unlock()
			c.cancel(ivr.ErrHangup)
			continue
		}
		c.ch.Resync(ctx)
	}
}

// AddLeg and RemoveLeg track the channels a call dials.
func (m *Manager) AddLeg(legID string, owner *arichan.Channel) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.calls[owner.ID()]; ok {
		m.legs[legID] = c
	}
}

func (m *Manager) RemoveLeg(legID string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.legs, legID)
}

// routeLeg hands a dialled channel's events to the call that dialled it.
func (m *Manager) routeLeg(ev ari.Event) bool {
	id := ariconn.ChannelOf(ev)
	if id == "" {
		return false
	}
	m.mu.Lock()
	c, ok := m.legs[id]
	m.mu.Unlock()
	if !ok {
		return false
	}
	c.ch.HandleEvent(ev)
	return true
}

func channelOfTarget(uri string) string {
	const p = "channel:"
	if len(uri) > len(p) && uri[:len(p)] == p {
		return uri[len(p):]
	}
	return ""
}

func (m *Manager) lookup(channelID string) *call {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[channelID]
}

func (m *Manager) start(e *ari.StasisStart) {
	chd := e.Channel
	if len(e.Args) > 0 && e.Args[0] == "dialed" {
		// A channel a call dialled whose call is gone: nobody to connect it to.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), m.opts.CleanupTimeout)
			defer cancel()
			_ = m.ari.Hangup(ctx, chd.ID, "normal")
		}()
		return
	}
	rec := cdr.Record{
		CallID:    uuid.NewString(),
		ChannelID: chd.ID,
		Instance:  m.opts.Instance,
		StartedAt: time.Now().UTC(),
		Outcome:   "in_progress",
	}
	if chd.Caller != nil {
		rec.CallerNumber, rec.CallerName = chd.Caller.Number, chd.Caller.Name
	}
	if chd.Dialplan != nil {
		rec.DID = chd.Dialplan.Exten
	}
	log := m.log.With(zap.String("call_id", rec.CallID), zap.String("channel_id", chd.ID))
	ctx, cancel := context.WithCancelCause(m.base)
	c := &call{
		id: rec.CallID,
		ch: arichan.New(m.ari, chd.ID, map[string]string{
			"call_id": rec.CallID, "caller": rec.CallerNumber, "caller_name": rec.CallerName, "did": rec.DID,
		}, log),
		ctx: ctx, cancel: cancel, log: log,
		destroyed: make(chan struct{}),
	}
	c.ch.SetLegs(m)
	m.mu.Lock()
	m.calls[chd.ID] = c
	m.mu.Unlock()
	err := m.tracker.Go(func() { m.run(c, rec) })
	if err != nil {
		m.mu.Lock()
		delete(m.calls, chd.ID)
		m.mu.Unlock()
		cancel(err)
		m.rejects.Add(1)
		go func() {
			defer m.rejects.Done()
			m.reject(rec, log)
		}()
	}
}

// reject refuses a call that arrived while draining, so the trunk can try
// another ccd instance, and records it.
func (m *Manager) reject(rec cdr.Record, log *zap.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.CleanupTimeout)
	defer cancel()
	log.Info("call refused: shutting down", zap.String("caller", rec.CallerNumber), zap.String("did", rec.DID))
	if err := m.ari.Hangup(ctx, rec.ChannelID, "congestion"); err != nil {
		log.Warn("hang up refused call", zap.Error(err))
	}
	now := time.Now().UTC()
	rec.EndedAt, rec.Outcome, rec.HangupBy = &now, string(ivr.OutcomeRejected), "system"
	rec.Error = ErrDraining.Error()
	if err := m.records.Start(ctx, rec); err != nil {
		log.Error("call record", zap.Error(err))
		return
	}
	if err := m.records.Finish(ctx, rec); err != nil {
		log.Error("call record", zap.Error(err))
	}
}

// run is the call's goroutine.
func (m *Manager) run(c *call, rec cdr.Record) {
	log := c.log
	ctx, cancelMax := context.WithTimeoutCause(c.ctx, m.opts.MaxDuration, ErrTooLong)
	defer cancelMax()
	log.Info("call started", zap.String("caller", rec.CallerNumber), zap.String("did", rec.DID))

	// Records are written even when the caller hangs up meanwhile.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.CleanupTimeout)
	if err := m.records.Start(wctx, rec); err != nil {
		log.Error("call record not started", zap.Error(err))
	}
	wcancel()
	if err := m.ari.SubscribeChannel(ctx, rec.ChannelID); err != nil {
		log.Warn("subscribe to channel events; the hangup cause may be missing", zap.Error(err))
	}
	if err := m.live.Begin(ctx, rec); err != nil {
		log.Warn("live state", zap.Error(err))
	}
	m.publish(ctx, log, cti.CallStarted{CallID: rec.CallID, ChannelID: rec.ChannelID, Caller: rec.CallerNumber,
		CallerName: rec.CallerName, DID: rec.DID, StartedAt: rec.StartedAt})
	c.ch.OnKey(func(k rune) {
		m.publish(ctx, log, cti.CallKey{CallID: rec.CallID, Key: string(k)})
	})

	onAnswer := func() {
		now := time.Now().UTC()
		rec.AnsweredAt = &now
		wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.CleanupTimeout)
		defer wcancel()
		if err := m.records.Answered(wctx, rec.CallID, now); err != nil {
			log.Warn("record answer time", zap.Error(err))
		}
		_ = m.live.Update(ctx, rec.CallID, map[string]any{"state": "ivr", "answered_at": now.Format(time.RFC3339Nano)})
		m.publish(ctx, log, cti.CallAnswered{CallID: rec.CallID, AnsweredAt: now})
	}
	var res ivr.Result
	var flowErr error
	if doc, version, ok := m.resolveFlow(ctx, log, rec.DID); ok {
		rec.Flow, rec.FlowVersion = doc.Name, &version
		log = log.With(zap.String("flow", doc.Name), zap.Int("flow_version", version))
		_ = m.live.Update(ctx, rec.CallID, map[string]any{"flow": doc.Name, "flow_version": version})
		ch := &answerHook{Channel: c.ch, onAnswer: onAnswer}
		fr, err := m.opts.Engine.Run(ctx, ch, doc, map[string]string{
			"call_id": rec.CallID, "caller": rec.CallerNumber, "caller_name": rec.CallerName, "did": rec.DID,
		}, &flowLog{log: log, pub: func(ev cti.Event) { m.publish(ctx, log, ev) }, callID: rec.CallID})
		res, flowErr = ivr.Result{Answered: fr.Answered, Digits: fr.Digits(), Outcome: fr.Outcome}, err
	} else {
		rec.Flow = "builtin"
		res, flowErr = m.opts.Flow.Run(ctx, c.ch, onAnswer,
			func(d ivr.Digits) {
				log.Info("digits collected", zap.String("digits", d.Keys), zap.String("end", string(d.End)))
				_ = m.live.Update(ctx, rec.CallID, map[string]any{"digits": d.Keys})
				m.publish(ctx, log, cti.CallDigits{CallID: rec.CallID, Digits: d.Keys, End: string(d.End)})
			})
	}
	m.cleanup(c, rec, res, flowErr)
}

// cleanup always runs after the flow, whatever ended it.
func (m *Manager) cleanup(c *call, rec cdr.Record, res ivr.Result, flowErr error) {
	log := c.log
	ctx, cancel := context.WithTimeout(context.Background(), m.opts.CleanupTimeout)
	defer cancel()
	defer func() {
		c.cancel(nil)
		m.mu.Lock()
		delete(m.calls, c.ch.ID())
		m.mu.Unlock()
	}()

	if flowErr != nil {
		rec.Error = flowErr.Error()
		lvl := log.Error
		if errors.Is(flowErr, ErrForcedShutdown) {
			lvl = log.Warn
		}
		lvl("call flow ended with an error", zap.Error(flowErr))
	}
	// Make sure the channel is gone, then wait for Asterisk's hangup cause.
	select {
	case <-c.destroyed:
	default:
		if err := c.ch.Hangup(ctx, "normal"); err != nil {
			log.Warn("hang up", zap.Error(err))
		}
		select {
		case <-c.destroyed:
		case <-time.After(min(2*time.Second, m.opts.CleanupTimeout/2)):
			log.Warn("no ChannelDestroyed from Asterisk; recording the call without a hangup cause")
		}
	}

	now := time.Now().UTC()
	rec.EndedAt = &now
	rec.Digits = res.Digits
	rec.Outcome = string(res.Outcome)
	if rec.Outcome == "" {
		rec.Outcome = string(ivr.OutcomeFailed)
	}
	c.mu.Lock()
	rec.HangupCause, rec.HangupCauseText = c.cause, c.causeTxt
	if c.callerHup {
		rec.HangupBy = "caller"
	} else {
		rec.HangupBy = "system"
	}
	c.mu.Unlock()
	if rec.Outcome == string(ivr.OutcomeAbandoned) {
		rec.HangupBy = "caller"
	}
	if err := m.records.Finish(ctx, rec); err != nil {
		log.Error("call record not finished", zap.Error(err))
	}
	if err := m.live.End(ctx, rec.CallID); err != nil {
		log.Warn("live state", zap.Error(err))
	}
	ev := cti.CallEnded{CallID: rec.CallID, Outcome: rec.Outcome, Digits: rec.Digits,
		HangupCauseText: rec.HangupCauseText, HangupBy: rec.HangupBy, EndedAt: now,
		DurationMS: now.Sub(rec.StartedAt).Milliseconds()}
	if rec.HangupCause != nil {
		ev.HangupCause = *rec.HangupCause
	}
	m.publish(ctx, log, ev)
	log.Info("call ended", zap.String("outcome", rec.Outcome), zap.String("digits", rec.Digits),
		zap.String("hangup_by", rec.HangupBy), zap.String("hangup_cause", rec.HangupCauseText),
		zap.Duration("duration", now.Sub(rec.StartedAt)))
}

func (m *Manager) publish(ctx context.Context, log *zap.Logger, ev cti.Event) {
	if ctx.Err() != nil {
		// The call's context may be gone (hangup); events still go out.
		ctx = context.Background()
	}
	if err := m.pub.Publish(ctx, ev); err != nil {
		log.Warn("publish event", zap.String("type", ev.EventType()), zap.Error(err))
	}
}

// resolveFlow finds the flow document bound to the DID, if any.
func (m *Manager) resolveFlow(ctx context.Context, log *zap.Logger, did string) (*flows.Doc, int, bool) {
	if m.opts.Flows == nil || m.opts.Engine == nil {
		return nil, 0, false
	}
	doc, version, err := m.opts.Flows.ResolveFlow(ctx, did)
	if err != nil {
		log.Info("no flow document for this DID; running the built-in flow", zap.Error(err))
		return nil, 0, false
	}
	return doc, version, true
}

// answerHook tells the manager when the flow answers the call.
type answerHook struct {
	ivr.Channel
	onAnswer func()
	once     sync.Once
}

func (a *answerHook) Answer(ctx context.Context) error {
	err := a.Channel.Answer(ctx)
	if err == nil {
		a.once.Do(a.onAnswer)
	}
	return err
}

// Unwrap gives the ACD the channel inside.
func (a *answerHook) Unwrap() ivr.Channel { return a.Channel }

// Record and Transfer pass through when the channel can do them.
func (a *answerHook) Record(ctx context.Context, spec ivr.RecordSpec) (ivr.Recording, error) {
	r, ok := a.Channel.(ivr.Recorder)
	if !ok {
		return ivr.Recording{}, ivr.ErrUnsupported
	}
	return r.Record(ctx, spec)
}

func (a *answerHook) Transfer(ctx context.Context, to string, timeout time.Duration) error {
	t, ok := a.Channel.(ivr.Transferer)
	if !ok {
		return ivr.ErrUnsupported
	}
	return t.Transfer(ctx, to, timeout)
}

// flowLog logs a flow's steps on the call's logger and publishes its inputs.
type flowLog struct {
	log    *zap.Logger
	pub    func(cti.Event)
	callID string
}

func (f *flowLog) Node(name, typ string) {
	f.log.Debug("flow node", zap.String("node", name), zap.String("type", typ))
	f.pub(cti.CallIVRProgress{CallID: f.callID, Node: name, NodeType: typ, At: time.Now().UTC()})
}
func (f *flowLog) Prompt(text string, media []string) {
	f.log.Debug("prompt", zap.String("text", text), zap.Strings("media", media))
}
func (f *flowLog) Input(node, keys string, end ivr.End) {
	f.log.Info("input", zap.String("node", node), zap.String("keys", keys), zap.String("end", string(end)))
	f.pub(cti.CallDigits{CallID: f.callID, Digits: keys, End: string(end)})
}
func (f *flowLog) Var(name, value string) {
	f.log.Debug("variable", zap.String("name", name), zap.String("value", value))
}
func (f *flowLog) Branch(node, reason, next string) {
	f.log.Info("branch", zap.String("node", node), zap.String("reason", reason), zap.String("next", next))
}
