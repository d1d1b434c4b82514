// Package dispatch runs the ACD on live calls: it keeps the queue
// configuration, runs the dispatcher that picks agents for waiting calls,
// lets callers wait (hold music, position announcements, callback, message),
// rings agents over ARI, bridges caller and agent, handles callbacks, and
// after a restart reconciles the routing state in Redis with the channels and
// bridges Asterisk still has.
package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/internal/ariconn"
	"github.com/ccd-platform/ccd/ivr"
)

// Store is the live routing state (acd/redisstore).
type Store interface {
	acd.Store
	acd.Agents
}

// queueSkiller lets Stats know which agents can serve a queue.
type queueSkiller interface {
	SetQueueSkills(ctx context.Context, q acd.QueueID, req []acd.Requirement) error
}

// Config is the ACD's configuration and memory in PostgreSQL (acd/pgstore).
type Config interface {
	Queues(ctx context.Context) ([]acd.QueueConfig, error)
	Agent(ctx context.Context, id acd.AgentID) (acd.AgentConfig, error)
	PauseReasons(ctx context.Context) ([]acd.PauseReason, error)
	LastAgent(ctx context.Context, caller string, within time.Duration) (acd.AgentID, bool, error)
	RememberAgent(ctx context.Context, caller string, agent acd.AgentID, queue acd.QueueID, at time.Time) error
}

// Publisher sends events to desktops and wallboards.
type Publisher interface {
	Publish(ctx context.Context, ev cti.Event) error
}

// Options configure a Router.
type Options struct {
	Instance string
	// Softphone is the dial string of an agent's browser softphone (its
	// WebRTC seat, e.g. PJSIP/webrtc-1001), "" when it has none. While the
	// softphone is registered, the agent's calls ring it instead of the
	// configured device, so an agent needs only a browser.
	Softphone func(acd.AgentID) string
	// CallbackEndpoint dials a customer back; {number} is replaced by the
	// number, e.g. "PJSIP/{number}@trunk".
	CallbackEndpoint string
	// CallbackAttempts is how many times a customer is dialled (default 3).
	CallbackAttempts int
	// Tick is how often the dispatcher looks again without a wake-up
	// (expansion steps, last-agent waits, wrap-up ends); default 250ms.
	Tick time.Duration
	// OnAgentState is told of every agent state change (audit log).
	OnAgentState func(cti.AgentStateChanged)
	// ScreenPop builds what the agent's desktop shows when a call is
	// offered (customer, IVR context, history); published as
	// desk.screen_pop while the agent's phone rings.
	ScreenPop func(ctx context.Context, in PopInput) (cti.ScreenPop, error)
	// CallerPriority is the priority of a known customer (VIP level); the
	// call waits at the higher of it and the flow's priority.
	CallerPriority func(ctx context.Context, caller string) (int, error)
	Logger         *zap.Logger
}

// PopInput is what the ACD knows of a call it offers.
type PopInput struct {
	Call   acd.CallID
	Agent  acd.AgentID
	Caller string
	DID    string
	Queue  acd.QueueID
	Waited time.Duration
	IVR    map[string]string // the flow's variables
}

// Router is the ACD runtime of one ccd instance.
type Router struct {
	store   Store
	cfg     Config
	ari     *ariconn.Client
	pub     Publisher
	speaker ivr.Speaker
	nc      *nats.Conn
	opts    Options
	log     *zap.Logger

	wakeCh chan struct{}

	mu      sync.Mutex
	queues  map[acd.QueueID]acd.QueueConfig
	waiters map[acd.CallID]chan acd.Assignment
	cbLegs  map[string]*cbLeg // callback channels by channel ID
	// sessions are the connected calls this instance runs.
	sessions map[acd.CallID]*session
	sub      *nats.Subscription
	wg       sync.WaitGroup
	// epoch is this process's start (ms, base 36) in the IDs of the legs it
	// dials, so a leg dialled after a restart never takes the ID of one the
	// previous process dialled, whose hang-up may still be on its way.
	epoch string
}

var _ ivr.Queuer = (*Router)(nil)

// New returns a Router. nc may be nil (a single ccd instance).
func New(store Store, cfg Config, ari *ariconn.Client, pub Publisher, speaker ivr.Speaker, nc *nats.Conn, o Options) (*Router, error) {
	if store == nil || cfg == nil || ari == nil || pub == nil {
		return nil, errors.New("dispatch: store, config, ARI client and publisher are required")
	}
	if o.Instance == "" {
		return nil, errors.New("dispatch: instance name is required")
	}
	if o.CallbackEndpoint == "" {
		o.CallbackEndpoint = "PJSIP/{number}@trunk"
	}
	if o.CallbackAttempts <= 0 {
		o.CallbackAttempts = 3
	}
	if o.Tick <= 0 {
		o.Tick = 250 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &Router{store: store, cfg: cfg, ari: ari, pub: pub, speaker: speaker, nc: nc, opts: o,
		log: o.Logger.With(zap.String("component", "acd")), wakeCh: make(chan struct{}, 1),
		queues: map[acd.QueueID]acd.QueueConfig{}, waiters: map[acd.CallID]chan acd.Assignment{},
		cbLegs: map[string]*cbLeg{}, sessions: map[acd.CallID]*session{},
		epoch: strconv.FormatInt(time.Now().UnixMilli(), 36)}, nil
}

// Reload reads the queue configuration again and hands the routing part to
// the live state.
func (r *Router) Reload(ctx context.Context) error {
	list, err := r.cfg.Queues(ctx)
	if err != nil {
		return fmt.Errorf("acd: load queues: %w", err)
	}
	m := make(map[acd.QueueID]acd.QueueConfig, len(list))
	for _, q := range list {
		q.Defaults()
		if err := r.store.SetQueue(ctx, q.Routing()); err != nil {
			return err
		}
		if qs, ok := r.store.(queueSkiller); ok {
			if err := qs.SetQueueSkills(ctx, q.ID, q.Skills); err != nil {
				return err
			}
		}
		m[q.ID] = q
	}
	r.mu.Lock()
	r.queues = m
	r.mu.Unlock()
	r.Wake()
	return nil
}

func (r *Router) queue(id acd.QueueID) (acd.QueueConfig, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q, ok := r.queues[id]
	return q, ok
}

func (r *Router) queueIDs() []acd.QueueID {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]acd.QueueID, 0, len(r.queues))
	for id := range r.queues {
		out = append(out, id)
	}
	return out
}

// Wake makes the dispatcher look for work now.
func (r *Router) Wake() {
	select {
	case r.wakeCh <- struct{}{}:
	default:
	}
}

// Run loads the configuration and dispatches until ctx ends. Assignments for
// calls held by other ccd instances travel over NATS.
func (r *Router) Run(ctx context.Context) error {
	if err := r.Reload(ctx); err != nil {
		return err
	}
	if r.nc != nil {
		sub, err := r.nc.Subscribe(cti.AssignSubject(r.opts.Instance), func(m *nats.Msg) {
			var a acd.Assignment
			if err := json.Unmarshal(m.Data, &a); err != nil {
				r.log.Warn("bad assignment message", zap.Error(err))
				return
			}
			r.deliverLocal(ctx, a)
		})
		if err != nil {
			return fmt.Errorf("acd: subscribe to assignments: %w", err)
		}
		ctl, err := r.nc.Subscribe(cti.ControlSubject(r.opts.Instance), func(m *nats.Msg) { go r.serveControl(m) })
		if err != nil {
			_ = sub.Unsubscribe()
			return fmt.Errorf("acd: subscribe to forwarded call control: %w", err)
		}
		r.mu.Lock()
		r.sub = sub
		r.mu.Unlock()
		defer func() { _ = sub.Unsubscribe(); _ = ctl.Unsubscribe() }()
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.publishFigures(ctx)
	}()
	tick := time.NewTicker(r.opts.Tick)
	defer tick.Stop()
	reload := time.NewTicker(10 * time.Second)
	defer reload.Stop()
	for {
		select {
		case <-ctx.Done():
			r.wg.Wait()
			return nil
		case <-r.wakeCh:
		case <-tick.C:
			if n, err := r.store.Reap(ctx); err != nil {
				r.log.Warn("reap", zap.Error(err))
			} else if n > 0 {
				r.log.Debug("reaped reservations and wrap-ups", zap.Int("count", n))
			}
		case <-reload.C:
			if err := r.Reload(ctx); err != nil {
				r.log.Warn("reload queues", zap.Error(err))
			}
		}
		r.dispatch(ctx)
	}
}

// batchPicker makes several picks in one atomic step (acd/redisstore).
type batchPicker interface {
	PickBatch(ctx context.Context, queue acd.QueueID, max int) ([]acd.Assignment, error)
}

// pickBatch is how many decisions one round trip to the live state makes
// when calls and agents are plenty (a burst of callers, a shift logging in).
const pickBatch = 8

// dispatch picks agents for waiting calls in every queue until no pick is left.
func (r *Router) dispatch(ctx context.Context) {
	bp, batched := r.store.(batchPicker)
	for _, q := range r.queueIDs() {
		for i := 0; i < 200; i++ {
			var as []acd.Assignment
			var err error
			if batched {
				as, err = bp.PickBatch(ctx, q, pickBatch)
			} else {
				var a acd.Assignment
				if a, err = r.store.Pick(ctx, q); err == nil {
					as = []acd.Assignment{a}
				}
			}
			if err != nil {
				if !errors.Is(err, acd.ErrNoAgent) && !errors.Is(err, acd.ErrNoCall) && ctx.Err() == nil {
					r.log.Warn("pick", zap.String("queue", string(q)), zap.Error(err))
				}
				break
			}
			for _, a := range as {
				r.agentState(a.Agent, acd.Available, acd.Reserved, "", a.Call)
				r.deliver(ctx, a)
			}
			if len(as) < pickBatch && batched {
				break // the queue had fewer matches than a batch: nothing left
			}
		}
	}
}

// deliver hands an assignment to whoever holds the call.
func (r *Router) deliver(ctx context.Context, a acd.Assignment) {
	c, err := r.store.Call(ctx, a.Call)
	if err != nil {
		r.log.Warn("assigned call unreadable", zap.String("call_id", string(a.Call)), zap.Error(err))
		return
	}
	switch {
	case c.Callback != "":
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.callback(context.WithoutCancel(ctx), c, a)
		}()
	case c.Owner == r.opts.Instance || c.Owner == "" || r.nc == nil:
		r.deliverLocal(ctx, a)
	default:
		data, _ := json.Marshal(a)
		if err := r.nc.Publish(cti.AssignSubject(c.Owner), data); err != nil {
			r.log.Warn("send assignment", zap.String("call_id", string(a.Call)), zap.String("owner", c.Owner), zap.Error(err))
		}
	}
}

func (r *Router) deliverLocal(ctx context.Context, a acd.Assignment) {
	r.mu.Lock()
	ch, ok := r.waiters[a.Call]
	r.mu.Unlock()
	if ok {
		select {
		case ch <- a:
			return
		default:
		}
	}
	// Nobody waits for this call here any more (it just ended): free the agent.
	r.log.Warn("assignment for a call nobody waits for; freeing the agent",
		zap.String("call_id", string(a.Call)), zap.String("agent", string(a.Agent)))
	if agent, err := r.store.Dequeue(ctx, a.Call); err == nil && agent != "" {
		r.agentState(agent, acd.Reserved, acd.Available, "", a.Call)
		r.Wake()
	}
}

// agentState publishes an agent state change.
func (r *Router) agentState(agent acd.AgentID, from, to acd.State, reason string, call acd.CallID) {
	ev := cti.AgentStateChanged{Agent: string(agent), From: string(from), To: string(to), Reason: reason,
		CallID: string(call), At: time.Now().UTC()}
	r.publish(ev)
	if r.opts.OnAgentState != nil {
		r.opts.OnAgentState(ev)
	}
}

func (r *Router) publish(ev cti.Event) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := r.pub.Publish(ctx, ev); err != nil {
		r.log.Warn("publish event", zap.String("type", ev.EventType()), zap.Error(err))
	}
}

// publishFigures publishes each queue's figures once a second when they
// changed, and every half minute anyway (a wallboard that just connected).
func (r *Router) publishFigures(ctx context.Context) {
	last := map[acd.QueueID]cti.QueueFigures{}
	sent := map[acd.QueueID]time.Time{}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		ids := make([]acd.QueueID, 0, len(r.queues))
		for id := range r.queues {
			ids = append(ids, id)
		}
		r.mu.Unlock()
		for _, id := range ids {
			st, err := r.store.Stats(ctx, id)
			if err != nil {
				continue
			}
			f := cti.QueueFigures{Queue: string(id), Waiting: st.Waiting, Staffed: st.Staffed, Available: st.Available,
				AvgHandleMS: st.AvgHandle.Milliseconds(), ExpectedMin: expectedMinutes(st.Waiting+1, st)}
			prev := last[id]
			f.At = prev.At
			if prev == f && time.Since(sent[id]) < 30*time.Second {
				continue
			}
			f.At = time.Now().UTC()
			r.publish(f)
			last[id], sent[id] = f, time.Now()
		}
	}
}

// device is the dial string that rings agent ag now: their browser
// softphone while it is registered, else their configured device.
func (r *Router) device(ctx context.Context, ag acd.AgentConfig) string {
	if r.opts.Softphone == nil {
		return ag.Device
	}
	sp := r.opts.Softphone(ag.ID)
	if sp == "" || sp == ag.Device {
		return ag.Device
	}
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if st, err := r.ari.EndpointState(sctx, sp); err == nil && st == "online" {
		return sp
	}
	return ag.Device
}
