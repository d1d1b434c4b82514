package cti_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ccd-platform/ccd/cti"
	"github.com/ccd-platform/ccd/internal/leakcheck"
)

// stream publishes numbered events on one agent's stream: event i says
// "paused, reason i" and gets seq base+1+i, so every update a desk receives
// can be checked against its seq.
type stream struct {
	bus   *cti.Bus
	agent cti.AgentID
	base  uint64
	next  int
}

func newStream(bus *cti.Bus, agent cti.AgentID) *stream {
	return &stream{bus: bus, agent: agent, base: bus.Board().Seq(agent)}
}

// publish sends n more events; errors are returned, not fatal, as a
// publish during a NATS outage may fail and that is part of the test.
func (s *stream) publish(n int) error {
	var errs []error
	for range n {
		err := s.bus.Publish(context.Background(), cti.AgentStateChanged{
			Agent: string(s.agent), From: "paused", To: "paused", Reason: strconv.Itoa(s.next), At: time.Now().UTC()})
		errs = append(errs, err)
		s.next++
	}
	return errors.Join(errs...)
}

func (s *stream) last() uint64 { return s.base + uint64(s.next) }

// desktop consumes a watcher and checks its promises on every update: a
// snapshot first; each event exactly one after the previous update; the
// payload of every event and snapshot the one its seq stands for.
type desktop struct {
	w         *cti.Watcher
	base      uint64
	state     cti.Snapshot
	updates   int
	snapshots int
	events    int
}

func (d *desktop) take(u cti.Update) error {
	d.updates++
	switch {
	case u.Snapshot != nil && u.Event == nil:
		s := *u.Snapshot
		if d.updates > 1 && s.Seq < d.state.Seq {
			return fmt.Errorf("snapshot seq %d goes back from %d", s.Seq, d.state.Seq)
		}
		if err := d.check(s.Seq, s); err != nil {
			return fmt.Errorf("snapshot: %w", err)
		}
		d.state = s
		d.snapshots++
	case u.Event != nil && u.Snapshot == nil:
		if d.updates == 1 {
			return errors.New("first update is an event, not a snapshot")
		}
		if u.Event.Seq != d.state.Seq+1 {
			return fmt.Errorf("event seq %d after %d: gap or duplicate", u.Event.Seq, d.state.Seq)
		}
		if err := d.state.Apply(*u.Event); err != nil {
			return err
		}
		if err := d.check(u.Event.Seq, d.state); err != nil {
			return fmt.Errorf("event: %w", err)
		}
		d.events++
	default:
		return fmt.Errorf("update with snapshot %v and event %v", u.Snapshot != nil, u.Event != nil)
	}
	return nil
}

// check: the state at seq is "paused, reason seq-base-1" (or logged out
// before the first event).
func (d *desktop) check(seq uint64, s cti.Snapshot) error {
	if seq <= d.base {
		if s.State != "logged_out" {
			return fmt.Errorf("seq %d before any event but state %q", seq, s.State)
		}
		return nil
	}
	if want := strconv.FormatUint(seq-d.base-1, 10); s.State != "paused" || s.Reason != want {
		return fmt.Errorf("seq %d: state %s/%s, want paused/%s", seq, s.State, s.Reason, want)
	}
	return nil
}

// until consumes updates until the state reaches seq.
func (d *desktop) until(ctx context.Context, seq uint64) error {
	for d.updates == 0 || d.state.Seq < seq {
		select {
		case u, ok := <-d.w.Updates():
			if !ok {
				return fmt.Errorf("updates closed at seq %d: %v", d.state.Seq, d.w.Err())
			}
			if err := d.take(u); err != nil {
				return err
			}
		case <-ctx.Done():
			return fmt.Errorf("at seq %d, waiting for %d: %w", d.state.Seq, seq, ctx.Err())
		}
	}
	if d.state.Seq != seq {
		return fmt.Errorf("state at seq %d, want %d", d.state.Seq, seq)
	}
	return nil
}

// nextSnapshot consumes updates until a snapshot arrives.
func (d *desktop) nextSnapshot(ctx context.Context) error {
	want := d.snapshots + 1
	for d.snapshots < want {
		select {
		case u, ok := <-d.w.Updates():
			if !ok {
				return fmt.Errorf("updates closed: %v", d.w.Err())
			}
			if err := d.take(u); err != nil {
				return err
			}
		case <-ctx.Done():
			return fmt.Errorf("no new snapshot after %d updates: %w", d.updates, ctx.Err())
		}
	}
	return nil
}

// watchStack is a NATS server, a Bus with its Board, a command server
// answering snapshots from the Board, and a desk connection.
type watchStack struct {
	nats   *natsServer
	bus    *cti.Bus
	client *cti.Client
	conn   *nats.Conn
}

func newWatchStack(t *testing.T) *watchStack {
	t.Helper()
	ns := startNATS(t)
	bus := openBus(t, ns.url())
	serve(t, connect(t, ns.url()), &desk{board: bus.Board()}, cti.ServeOptions{})
	nc := connect(t, ns.url())
	return &watchStack{nats: ns, bus: bus, client: newClient(t, nc, time.Second), conn: nc}
}

func (s *watchStack) watch(t *testing.T, ctx context.Context, st *stream) *desktop {
	t.Helper()
	w, err := cti.Watch(ctx, s.conn, st.agent, s.client.SnapshotFunc(agent1001, st.agent),
		cti.WatchOptions{RetryWait: 10 * time.Millisecond, MaxRetryWait: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return &desktop{w: w, base: st.base}
}

// TestWatchNoGap starts desks at several points of a stream being published
// and checks that each sees one snapshot, then every later event once, in
// order.
func TestWatchNoGap(t *testing.T) {
	s := newWatchStack(t)
	st := newStream(s.bus, "1001")
	const total = 3000
	starts := []int{0, 1, 100, 1500, 2999, total}
	ctx := deadline(t, 30*time.Second)

	reached := make(chan int, len(starts))
	published := make(chan error, 1)
	go func() {
		var errs []error
		for i := 0; i <= total; i++ {
			for _, at := range starts {
				if at == i {
					reached <- i
				}
			}
			if i < total {
				errs = append(errs, st.publish(1))
			}
		}
		published <- errors.Join(errs...)
	}()

	final := st.base + total
	var wg sync.WaitGroup
	for range starts {
		var at int
		select {
		case at = <-reached:
		case <-ctx.Done():
			t.Fatal("publisher stuck")
		}
		d := s.watch(t, ctx, st)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.until(ctx, final); err != nil {
				t.Errorf("desk started after %d events: %v", at, err)
				return
			}
			if d.snapshots != 1 {
				t.Errorf("desk started after %d events took %d snapshots, want 1", at, d.snapshots)
			}
			t.Logf("desk started after %4d events: snapshot at seq base+%d, then %d events", at, int(final-st.base)-d.events, d.events)
		}()
	}
	if err := <-published; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

// TestWatchAcrossServerRestart: the NATS server stops while events are
// published and starts again on the same port; the desk reconnects, takes a
// new snapshot and continues without gap.
func TestWatchAcrossServerRestart(t *testing.T) {
	s := newWatchStack(t)
	st := newStream(s.bus, "1001")
	ctx := deadline(t, 30*time.Second)
	d := s.watch(t, ctx, st)

	if err := st.publish(50); err != nil {
		t.Fatal(err)
	}
	if err := d.until(ctx, st.last()); err != nil {
		t.Fatal(err)
	}

	s.nats.stop()
	if err := st.publish(20); err != nil { // buffered by the bus's connection, or lost
		t.Logf("publish during the outage: %v", err)
	}
	s.nats.restart()

	if err := d.nextSnapshot(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.publish(50); err != nil {
		t.Fatal(err)
	}
	if err := d.until(ctx, st.last()); err != nil {
		t.Fatal(err)
	}
	if d.snapshots < 2 {
		t.Errorf("%d snapshots, want a new one after the reconnect", d.snapshots)
	}
	t.Logf("%d snapshots, %d events, final seq base+%d", d.snapshots, d.events, st.last()-st.base)
}

// TestWatchGap: a seq that never reaches the desk (here used up by Seed)
// makes it take a new snapshot instead of skipping a change.
func TestWatchGap(t *testing.T) {
	s := newWatchStack(t)
	st := newStream(s.bus, "1001")
	ctx := deadline(t, 10*time.Second)
	d := s.watch(t, ctx, st)
	if err := st.publish(3); err != nil {
		t.Fatal(err)
	}
	if err := d.until(ctx, st.last()); err != nil {
		t.Fatal(err)
	}
	// The ACD repairs the agent's state: reason 3, as the next event would say.
	if err := s.bus.Board().Seed(cti.Snapshot{Agent: "1001", State: "paused", Reason: "3"}); err != nil {
		t.Fatal(err)
	}
	st.next++
	if err := st.publish(1); err != nil {
		t.Fatal(err)
	}
	if err := d.until(ctx, st.last()); err != nil {
		t.Fatal(err)
	}
	if d.snapshots != 2 {
		t.Errorf("%d snapshots, want 2: the gap must trigger a new one", d.snapshots)
	}
}

// TestWatchConnectionClosed: a watcher whose connection closes stops with
// ErrUnavailable.
func TestWatchConnectionClosed(t *testing.T) {
	s := newWatchStack(t)
	nc := connect(t, s.nats.url())
	w, err := cti.Watch(deadline(t, 10*time.Second), nc, "1001", s.client.SnapshotFunc(agent1001, "1001"), cti.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if u := <-w.Updates(); u.Snapshot == nil {
		t.Fatal("first update is not a snapshot")
	}
	nc.Close()
	for range w.Updates() {
	}
	if err := w.Err(); !errors.Is(err, cti.ErrUnavailable) || !errors.Is(err, nats.ErrConnectionClosed) {
		t.Fatalf("stopped with %v, want unavailable: connection closed", err)
	}
}

// TestWatchLeavesNothingBehind: serving, watching and closing leave no
// goroutine or file open.
func TestWatchLeavesNothingBehind(t *testing.T) {
	ns := startNATS(t)
	board := cti.NewBoard()
	leakcheck.Run(t, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srvConn, err := nats.Connect(ns.url())
		if err != nil {
			t.Fatal(err)
		}
		defer srvConn.Close()
		srv, err := cti.Serve(srvConn, &desk{board: board}, cti.ServeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close(ctx)
		nc, err := nats.Connect(ns.url())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		c, err := cti.NewClient(nc, cti.ClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w, err := cti.Watch(ctx, nc, "1001", c.SnapshotFunc(agent1001, "1001"), cti.WatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if u := <-w.Updates(); u.Snapshot == nil {
			t.Error("first update is not a snapshot")
		}
		w.Close()
		if _, ok := <-w.Updates(); ok {
			t.Error("updates still open after Close")
		}
		if err := w.Err(); !errors.Is(err, context.Canceled) {
			t.Errorf("stopped with %v, want canceled", err)
		}
	})
}
