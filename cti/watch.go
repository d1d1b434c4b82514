package cti

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// SnapshotFunc fetches an agent's snapshot; Client.SnapshotFunc runs the
// snapshot command.
type SnapshotFunc func(ctx context.Context) (Snapshot, error)

// Update is one step of an agent's desk state, exactly one field set.
type Update struct {
	// Snapshot is the whole state: replace whatever was held. The first
	// update is one, and so is every resynchronisation.
	Snapshot *Snapshot
	// Event follows the previous update: its Seq is exactly one more than
	// the previous update's. Fold it with Snapshot.Apply.
	Event *Envelope
}

// WatchOptions configure Watch.
type WatchOptions struct {
	// RetryWait is the first wait after a failed snapshot (default 250ms);
	// it doubles up to MaxRetryWait (default 5s). A NATS reconnect retries
	// at once.
	RetryWait    time.Duration
	MaxRetryWait time.Duration
	Logger       *zap.Logger
}

// Watcher follows one agent's stream: a snapshot, then the events after it,
// with no gap and no duplicate. On a NATS reconnect, a gap in the sequence
// (events lost, a restarted publisher) or a slow-consumer drop, it takes a
// new snapshot and carries on from there.
type Watcher struct {
	agent AgentID
	nc    *nats.Conn
	snap  SnapshotFunc
	o     WatchOptions
	log   *zap.Logger

	sub    *nats.Subscription
	in     chan *nats.Msg
	conn   *connListener
	out    chan Update
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Watch subscribes to the agent's stream, then fetches a snapshot with
// snapshot and delivers Updates until ctx ends or Close. Events buffered
// while the snapshot was taken are kept if they come after it and dropped
// if it already reflects them.
func Watch(ctx context.Context, nc *nats.Conn, agent AgentID, snapshot SnapshotFunc, o WatchOptions) (*Watcher, error) {
	if nc == nil || snapshot == nil {
		return nil, errors.New("cti: Watch needs a NATS connection and a snapshot source")
	}
	if !validToken(string(agent)) {
		return nil, fmt.Errorf("%w: agent id %q", ErrInvalid, agent)
	}
	if o.RetryWait <= 0 {
		o.RetryWait = 250 * time.Millisecond
	}
	if o.MaxRetryWait < o.RetryWait {
		o.MaxRetryWait = max(5*time.Second, o.RetryWait)
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{
		agent: agent, nc: nc, snap: snapshot, o: o, log: o.Logger.With(zap.String("agent", string(agent))),
		in: make(chan *nats.Msg, 64), out: make(chan Update), cancel: cancel, done: make(chan struct{}),
	}
	w.conn = listen(nc)
	sub, err := nc.Subscribe(OneAgentEvents(string(agent)), func(m *nats.Msg) {
		select { // blocking: NATS buffers behind us, and drops (a detected gap) beyond its limits
		case w.in <- m:
		case <-ctx.Done():
		}
	})
	if err != nil {
		w.conn.stop()
		cancel()
		return nil, fmt.Errorf("cti: subscribe %s: %w", OneAgentEvents(string(agent)), err)
	}
	w.sub = sub
	go w.run(ctx)
	return w, nil
}

// Updates delivers the updates; it is closed when the watcher stops.
func (w *Watcher) Updates() <-chan Update { return w.out }

// Close stops the watcher and waits for it.
func (w *Watcher) Close() {
	w.cancel()
	<-w.done
}

// Err says why the watcher stopped (after Updates is closed): the context's
// error, or ErrUnavailable when the NATS connection was closed.
func (w *Watcher) Err() error {
	<-w.done
	return w.err
}

func (w *Watcher) run(ctx context.Context) {
	defer func() {
		_ = w.sub.Unsubscribe()
		w.conn.stop()
		w.cancel()
		close(w.out)
		close(w.done)
	}()
	var last uint64
	synced := false
	dropped := 0
	for {
		if !synced {
			s, err := w.resync(ctx)
			if err != nil {
				w.err = err
				return
			}
			if !w.emit(ctx, Update{Snapshot: &s}) {
				return
			}
			last, synced = s.Seq, true
		}
		select {
		case <-ctx.Done():
			w.err = ctx.Err()
			return
		case <-w.conn.closed:
			w.err = &Error{Code: CodeUnavailable, Message: "NATS connection closed", cause: nats.ErrConnectionClosed}
			return
		case <-w.conn.reconnected:
			w.log.Info("CTI watch: NATS reconnected, new snapshot")
			synced = false
		case m := <-w.in:
			if n, _ := w.sub.Dropped(); n > dropped {
				w.log.Warn("CTI watch: events dropped (slow consumer), new snapshot", zap.Int("dropped", n-dropped))
				dropped, synced = n, false
				continue
			}
			var env Envelope
			if err := json.Unmarshal(m.Data, &env); err != nil || env.Seq == 0 {
				// Not part of the stream; if it used up a seq, the next
				// event shows the gap.
				w.log.Warn("CTI watch: event without sequence skipped", zap.String("subject", m.Subject), zap.Error(err))
				continue
			}
			switch {
			case env.Seq <= last: // reflected in the snapshot, or delivered already
				continue
			case env.Seq != last+1:
				w.log.Info("CTI watch: gap in the stream, new snapshot", zap.Uint64("want", last+1), zap.Uint64("got", env.Seq))
				synced = false
				continue
			}
			last = env.Seq
			if !w.emit(ctx, Update{Event: &env}) {
				return
			}
		}
	}
}

func (w *Watcher) emit(ctx context.Context, u Update) bool {
	select {
	case w.out <- u:
		return true
	case <-ctx.Done():
		w.err = ctx.Err()
		return false
	}
}

// resync fetches a snapshot, retrying until it succeeds or ctx ends.
func (w *Watcher) resync(ctx context.Context) (Snapshot, error) {
	wait := w.o.RetryWait
	for {
		// A reconnect signalled before this attempt is covered by it.
		select {
		case <-w.conn.reconnected:
		default:
		}
		s, err := w.snapshot(ctx)
		if err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			return Snapshot{}, ctx.Err()
		}
		w.log.Warn("CTI watch: snapshot failed", zap.Duration("retry_in", wait), zap.Error(err))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return Snapshot{}, ctx.Err()
		case <-w.conn.closed:
			t.Stop()
			return Snapshot{}, &Error{Code: CodeUnavailable, Message: "NATS connection closed", cause: nats.ErrConnectionClosed}
		case <-w.conn.reconnected:
			t.Stop()
		case <-t.C:
		}
		wait = min(2*wait, w.o.MaxRetryWait)
	}
}

// snapshot takes one snapshot. The server must hold the subscription before
// it reads the snapshot's seq, or an event just after it could be missed:
// the flush's round trip guarantees that whatever connection snapshot uses.
func (w *Watcher) snapshot(ctx context.Context) (Snapshot, error) {
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := w.nc.FlushWithContext(fctx)
	cancel()
	if err != nil {
		return Snapshot{}, fmt.Errorf("flush subscription: %w", err)
	}
	s, err := w.snap(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	switch s.Agent {
	case "":
		s.Agent = w.agent
	case w.agent:
	default:
		return Snapshot{}, fmt.Errorf("%w: snapshot of agent %s, want %s", ErrInternal, s.Agent, w.agent)
	}
	return s, nil
}

// connListener tells one watcher about its connection's reconnects and
// closing.
type connListener struct {
	reconnected chan struct{} // capacity 1: one pending signal is enough
	closed      chan struct{}
	stop        func()
}

// connHub fans one NATS status listener per connection out to its
// watchers: nats.go cannot remove a status listener, so there is one per
// connection, ending when the connection closes, rather than one per watch.
type connHub struct {
	mu        sync.Mutex
	listeners map[*connListener]struct{}
	closed    bool
}

var hubs = struct {
	sync.Mutex
	m map[*nats.Conn]*connHub
}{m: make(map[*nats.Conn]*connHub)}

func listen(nc *nats.Conn) *connListener {
	l := &connListener{reconnected: make(chan struct{}, 1), closed: make(chan struct{})}
	hubs.Lock()
	h, ok := hubs.m[nc]
	if !ok {
		h = &connHub{listeners: make(map[*connListener]struct{})}
		status := nc.StatusChanged(nats.CONNECTED, nats.CLOSED)
		if nc.IsClosed() { // no status will ever come
			h.closed = true
		} else {
			hubs.m[nc] = h
			go h.run(nc, status)
		}
	}
	hubs.Unlock()

	h.mu.Lock()
	if h.closed {
		close(l.closed)
	} else {
		h.listeners[l] = struct{}{}
	}
	h.mu.Unlock()
	l.stop = func() {
		h.mu.Lock()
		delete(h.listeners, l)
		h.mu.Unlock()
	}
	return l
}

func (h *connHub) run(nc *nats.Conn, status chan nats.Status) {
	for st := range status {
		h.mu.Lock()
		if st == nats.CLOSED {
			h.closed = true
			for l := range h.listeners {
				close(l.closed)
				delete(h.listeners, l)
			}
			h.mu.Unlock()
			hubs.Lock()
			if hubs.m[nc] == h {
				delete(hubs.m, nc)
			}
			hubs.Unlock()
			return
		}
		for l := range h.listeners {
			select {
			case l.reconnected <- struct{}{}:
			default:
			}
		}
		h.mu.Unlock()
	}
}
