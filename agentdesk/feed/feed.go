// Package feed forwards CTI events from NATS to browsers over WebSocket,
// each browser receiving only what its user may see: supervisors everything,
// an agent their own agent events, the queue events of calls offered to or
// connected with them, and the call events of those calls.
//
// One Hub holds one set of NATS subscriptions for all browsers. Its single
// dispatch goroutine reads the events in the order NATS delivers them,
// filters them per browser and hands them over without blocking: a browser
// whose queue is full is dropped (it reconnects and reloads), never waited
// for, so a slow browser cannot hold up NATS or the other browsers.
package feed

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/cti"
)

// Errors a stream ends with (the cause of its context).
var (
	ErrSlowConsumer = errors.New("feed: browser too slow, dropped")
	ErrKicked       = errors.New("feed: session ended")
	ErrClosed       = errors.New("feed: hub closed")
)

// Filter says which events a browser receives.
type Filter struct {
	All   bool   // supervisors and admins: every event
	Agent string // an agent: their own events and those of their calls
}

// Subscriber describes one browser connection.
type Subscriber struct {
	Filter Filter
	// Keys name the connection for Kick (e.g. its session and its user).
	Keys []string
	// Alive is asked every CheckInterval whether the connection may go on
	// (the session still valid); an error closes it. Nil: always.
	Alive func(context.Context) error
}

// Options tune the hub; zero values take the defaults.
type Options struct {
	Buffer        int           // events queued per browser before it is dropped (256)
	PingInterval  time.Duration // WebSocket ping period (25s)
	PongTimeout   time.Duration // how long a pong may take (10s)
	WriteTimeout  time.Duration // how long one event may take to write (10s)
	CheckInterval time.Duration // how often Subscriber.Alive is asked (1m)
	TrackedCalls  int           // calls remembered per agent connection (64)
	Logger        *zap.Logger
}

func (o *Options) defaults() {
	if o.Buffer <= 0 {
		o.Buffer = 256
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.PongTimeout <= 0 {
		o.PongTimeout = 10 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.CheckInterval <= 0 {
		o.CheckInterval = time.Minute
	}
	if o.TrackedCalls <= 0 {
		o.TrackedCalls = 64
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
}

// Hub fans NATS events out to browsers.
type Hub struct {
	o    Options
	log  *zap.Logger
	subs []*nats.Subscription
	msgs chan *nats.Msg
	done chan struct{} // closed by Close
	loop chan struct{} // closed when the dispatch goroutine has returned

	mu      sync.Mutex
	clients map[*client]struct{}
	closed  bool
	streams sync.WaitGroup
}

// New subscribes to the agent, queue and call events on nc and starts
// dispatching. Close stops it.
func New(nc *nats.Conn, o Options) (*Hub, error) {
	if nc == nil {
		return nil, errors.New("feed: no NATS connection")
	}
	o.defaults()
	h := &Hub{o: o, log: o.Logger, msgs: make(chan *nats.Msg, 8192), done: make(chan struct{}),
		loop: make(chan struct{}), clients: map[*client]struct{}{}}
	// One channel for the three subscriptions keeps NATS's delivery order:
	// an offer reaches the filter before the call events it unlocks.
	for _, subj := range []string{cti.AllAgentEvents(), cti.AllQueueEvents(), cti.AllCallEvents(), cti.AllDeskEvents()} {
		sub, err := nc.ChanSubscribe(subj, h.msgs)
		if err != nil {
			h.unsubscribe()
			return nil, err
		}
		h.subs = append(h.subs, sub)
	}
	if err := nc.Flush(); err != nil {
		h.unsubscribe()
		return nil, err
	}
	go h.dispatch()
	return h, nil
}

func (h *Hub) unsubscribe() {
	for _, s := range h.subs {
		_ = s.Unsubscribe()
	}
}

// Close unsubscribes, closes every browser connection (going away) and waits
// for them to end.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	for c := range h.clients {
		c.cancel(ErrClosed)
	}
	h.mu.Unlock()
	h.unsubscribe()
	close(h.done)
	<-h.loop
	h.streams.Wait()
}

// Kick closes the connections named key (policy violation: session ended).
func (h *Hub) Kick(key string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		for _, k := range c.keys {
			if k == key {
				c.cancel(ErrKicked)
			}
		}
	}
}

// Clients counts the connected browsers.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// event is what the filter needs to know of a message.
type event struct {
	kind   string // agent, queue, call
	typ    string // envelope type, e.g. queue.offered
	callID string
	agent  string
	data   []byte // the envelope, forwarded as it is
}

func parse(m *nats.Msg) (event, bool) {
	var ev event
	switch {
	case strings.HasPrefix(m.Subject, "cc.agent."):
		ev.kind = "agent"
	case strings.HasPrefix(m.Subject, "cc.queue."):
		ev.kind = "queue"
	case strings.HasPrefix(m.Subject, "cc.call."):
		ev.kind = "call"
	case strings.HasPrefix(m.Subject, "cc.desk."):
		ev.kind = "desk"
	default:
		return ev, false
	}
	var env cti.Envelope
	if err := json.Unmarshal(m.Data, &env); err != nil {
		return ev, false
	}
	var probe struct {
		CallID string `json:"call_id"`
		Agent  string `json:"agent"`
	}
	if len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, &probe); err != nil {
			return ev, false
		}
	}
	ev.typ, ev.callID, ev.agent, ev.data = env.Type, probe.CallID, probe.Agent, m.Data
	return ev, true
}

func (h *Hub) dispatch() {
	defer close(h.loop)
	for {
		select {
		case <-h.done:
			return
		case m := <-h.msgs:
			ev, ok := parse(m)
			if !ok {
				h.log.Debug("feed: event not understood", zap.String("subject", m.Subject))
				continue
			}
			h.mu.Lock()
			for c := range h.clients {
				if !c.wants(ev) {
					continue
				}
				select {
				case c.out <- ev.data:
				default:
					c.cancel(ErrSlowConsumer)
					delete(h.clients, c)
				}
			}
			h.mu.Unlock()
		}
	}
}

// client is one browser. filter state (tracked) is touched only by the
// dispatch goroutine.
type client struct {
	filter  Filter
	keys    []string
	out     chan []byte
	cancel  context.CancelCauseFunc
	tracked map[string]struct{}
	order   []string
	max     int
}

func (c *client) wants(ev event) bool {
	if c.filter.All {
		return true
	}
	me := c.filter.Agent
	if me == "" {
		return false
	}
	switch ev.kind {
	case "agent", "desk":
		return ev.agent == me
	case "queue":
		if ev.typ == "queue.stats" {
			return true // every desk may show the queues' figures
		}
		if ev.agent == me {
			if ev.typ == "queue.offer_ended" {
				c.untrack(ev.callID)
			} else {
				c.track(ev.callID)
			}
			return true
		}
		return c.isTracked(ev.callID)
	case "call":
		if !c.isTracked(ev.callID) {
			return false
		}
		if ev.typ == "call.ended" {
			c.untrack(ev.callID)
		}
		return true
	}
	return false
}

func (c *client) isTracked(call string) bool {
	_, ok := c.tracked[call]
	return call != "" && ok
}

func (c *client) track(call string) {
	if call == "" || c.isTracked(call) {
		return
	}
	if len(c.order) >= c.max { // forget the oldest
		delete(c.tracked, c.order[0])
		c.order = c.order[1:]
	}
	c.tracked[call] = struct{}{}
	c.order = append(c.order, call)
}

func (c *client) untrack(call string) {
	if !c.isTracked(call) {
		return
	}
	delete(c.tracked, call)
	for i, id := range c.order {
		if id == call {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
}

// Serve upgrades r to a WebSocket and streams the events sub may see until
// the browser leaves, Alive fails, the browser falls behind, the session is
// kicked or the hub closes. The Origin must match the Host (a cross-site page
// cannot open the stream with the user's cookie); the browser sends nothing
// but control frames.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, sub Subscriber) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	h.streams.Add(1)
	h.mu.Unlock()
	defer h.streams.Done()

	conn, err := websocket.Accept(w, r, nil) // checks Origin against Host
	if err != nil {
		h.log.Debug("feed: WebSocket not accepted", zap.Error(err))
		return
	}
	defer conn.CloseNow() //nolint:errcheck

	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	c := &client{filter: sub.Filter, keys: sub.Keys, out: make(chan []byte, h.o.Buffer), cancel: cancel,
		tracked: map[string]struct{}{}, max: h.o.TrackedCalls}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		_ = conn.Close(websocket.StatusGoingAway, "shutting down")
		return
	}
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.clients, c)
		h.mu.Unlock()
	}()

	// The reader answers pings and close frames and ends gone when the
	// browser leaves. It gets its own context: cancelling the one it reads
	// with would cut the connection before a close frame could say why.
	gone := conn.CloseRead(context.WithoutCancel(ctx))
	ping := time.NewTicker(h.o.PingInterval)
	defer ping.Stop()
	check := time.NewTicker(h.o.CheckInterval)
	defer check.Stop()
	for {
		select {
		case <-gone.Done():
			return
		case <-ctx.Done():
			switch cause := context.Cause(ctx); {
			case errors.Is(cause, ErrSlowConsumer):
				// Its buffers are full: no close handshake, just the cut.
				h.log.Info("feed: browser dropped, too slow", zap.Strings("keys", sub.Keys))
			case errors.Is(cause, ErrKicked):
				_ = conn.Close(websocket.StatusPolicyViolation, "session ended")
			case errors.Is(cause, ErrClosed):
				_ = conn.Close(websocket.StatusGoingAway, "shutting down")
			}
			return // the browser left: CloseNow
		case data := <-c.out:
			wctx, wcancel := context.WithTimeout(gone, h.o.WriteTimeout)
			err := conn.Write(wctx, websocket.MessageText, data)
			wcancel()
			if err != nil {
				return
			}
		case <-ping.C:
			pctx, pcancel := context.WithTimeout(gone, h.o.PongTimeout)
			err := conn.Ping(pctx)
			pcancel()
			if err != nil {
				return
			}
		case <-check.C:
			if sub.Alive == nil {
				continue
			}
			if err := sub.Alive(ctx); err != nil {
				_ = conn.Close(websocket.StatusPolicyViolation, "session ended")
				return
			}
		}
	}
}
