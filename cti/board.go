package cti

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// AgentEvent is an event of an agent's stream: published on
// cc.agent.<kind>.<agent>, numbered by the Bus (Envelope.Seq).
type AgentEvent interface {
	Event
	StreamAgent() AgentID
}

// SnapshotSource answers the snapshot command: an agent's desk state and the
// seq of the last event of the agent's stream it reflects. Whatever backs it
// must keep one rule, or desks miss events: every event with seq <= Seq is
// reflected. Events after Seq may be reflected too (they are delivered again
// and applied again, which is harmless: they carry absolute states).
type SnapshotSource interface {
	Snapshot(ctx context.Context, agent AgentID) (Snapshot, error)
}

// Board is the in-memory desk view the Bus keeps as it publishes: for each
// agent, the sequence of its stream and the state its events lead to; for
// each queue, the calls waiting. Numbering, applying and sending an agent
// event happen under one lock, so a snapshot is exact: it reflects precisely
// the events up to its Seq.
//
// Sequences start at the time the Board was made, in microseconds (exact in
// a JavaScript number until the year 2255): a restarted ccd continues above
// the numbers its predecessor handed out, and desks see a gap and take a new
// snapshot instead of dropping new events as old ones. The Board holds what
// this process published; with several ccd instances publishing events of
// the same agent, numbering must move to the shared state (Redis) instead.
type Board struct {
	mu     sync.Mutex
	base   uint64
	agents map[AgentID]*Snapshot
	queues map[QueueID]map[CallID]struct{}
}

var _ SnapshotSource = (*Board)(nil)

// NewBoard returns an empty board.
func NewBoard() *Board {
	return &Board{
		base:   uint64(time.Now().UnixMicro()),
		agents: make(map[AgentID]*Snapshot),
		queues: make(map[QueueID]map[CallID]struct{}),
	}
}

// agent returns the agent's entry, creating it. Lock held.
func (b *Board) agent(id AgentID) *Snapshot {
	s, ok := b.agents[id]
	if !ok {
		s = &Snapshot{Agent: id, State: stateLoggedOut, Seq: b.base}
		b.agents[id] = s
	}
	return s
}

// Seq is the seq of the agent's last event (the starting value when none).
func (b *Board) Seq(agent AgentID) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if s, ok := b.agents[agent]; ok {
		return s.Seq
	}
	return b.base
}

// Snapshot returns the agent's desk state: logged_out for an agent never
// seen, with the queues' waiting counts.
func (b *Board) Snapshot(_ context.Context, agent AgentID) (Snapshot, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Snapshot{Agent: agent, State: stateLoggedOut, Seq: b.base}
	if p, ok := b.agents[agent]; ok {
		s = p.clone()
	}
	for q, calls := range b.queues {
		s.Queues = append(s.Queues, QueueStatus{Queue: q, Waiting: len(calls)})
	}
	sort.Slice(s.Queues, func(i, j int) bool { return s.Queues[i].Queue < s.Queues[j].Queue })
	return s, nil
}

// SnapshotWith builds a snapshot from another source of agent state (the
// ACD's live state in Redis) that this process's events follow. It reads the
// agent's seq first, then calls read: a change published before the seq was
// read is in the state read (events are published after the state changes),
// so no event is missed.
func (b *Board) SnapshotWith(ctx context.Context, agent AgentID, read func(context.Context) (Snapshot, error)) (Snapshot, error) {
	seq := b.Seq(agent)
	s, err := read(ctx)
	if err != nil {
		return Snapshot{}, err
	}
	s.Agent, s.Seq = agent, seq
	return s, nil
}

// Seed sets an agent's state from the ACD, at startup or after a repair. It
// uses up one seq, so desks already watching the agent see a gap and take a
// new snapshot.
func (b *Board) Seed(s Snapshot) error {
	if !validToken(string(s.Agent)) {
		return fmt.Errorf("%w: seed: agent id %q", ErrInvalid, s.Agent)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.agent(s.Agent)
	seq := p.Seq + 1
	*p = s.clone()
	p.Seq, p.Queues = seq, nil
	return nil
}

// publish numbers and applies an event, then sends it. An agent event is
// sent under the lock, so the wire carries an agent's events in seq order.
// A seq is used up even when sending fails: desks see a gap and resync.
func (b *Board) publish(env *Envelope, ev Event, send func(*Envelope) error) error {
	ae, ok := ev.(AgentEvent)
	b.mu.Lock()
	if !ok {
		b.observe(ev)
		b.mu.Unlock()
		return send(env)
	}
	defer b.mu.Unlock()
	s := b.agent(ae.StreamAgent())
	env.Seq = s.Seq + 1
	s.apply(ev, env.Seq)
	return send(env)
}

// observe follows the events outside the agent streams that enrich the
// board: call details of an agent's call, and the waiting calls. Lock held.
func (b *Board) observe(ev Event) {
	switch e := deref(ev).(type) {
	case CallOffered:
		b.callDetails(AgentID(e.Agent), CallID(e.CallID), QueueID(e.Queue), e.Caller)
	case CallConnected:
		b.callDetails(AgentID(e.Agent), CallID(e.CallID), QueueID(e.Queue), "")
		b.leave(QueueID(e.Queue), CallID(e.CallID))
	case CallQueued:
		calls, ok := b.queues[QueueID(e.Queue)]
		if !ok {
			calls = make(map[CallID]struct{})
			b.queues[QueueID(e.Queue)] = calls
		}
		calls[CallID(e.CallID)] = struct{}{}
	case CallLeftQueue:
		b.leave(QueueID(e.Queue), CallID(e.CallID))
	}
}

func (b *Board) leave(q QueueID, call CallID) {
	if calls, ok := b.queues[q]; ok {
		delete(calls, call)
	}
}

func (b *Board) callDetails(agent AgentID, call CallID, q QueueID, caller string) {
	s, ok := b.agents[agent]
	if !ok || s.Call == nil || s.Call.ID != call {
		return
	}
	if q != "" {
		s.Call.Queue = q
	}
	if caller != "" {
		s.Call.Caller = caller
	}
}

// deref turns a pointer to an event into the event.
func deref(ev Event) Event {
	switch e := ev.(type) {
	case *AgentStateChanged:
		return *e
	case *CallOffered:
		return *e
	case *CallConnected:
		return *e
	case *CallQueued:
		return *e
	case *CallLeftQueue:
		return *e
	}
	return ev
}

// Agent states the board needs; their values are those of acd.State.
const (
	stateLoggedOut = "logged_out"
	stateReserved  = "reserved"
	stateOnCall    = "on_call"
	stateWrapUp    = "wrap_up"
	statePaused    = "paused"
)

// Apply folds an event of the agent's stream into the snapshot: what a desk
// does with each Update.Event. Seq becomes the event's; event types this
// version does not know only advance Seq.
func (s *Snapshot) Apply(env Envelope) error {
	switch {
	case env.Type == (AgentStateChanged{}).EventType() && env.Version == 1:
		var e AgentStateChanged
		if err := env.Decode(&e); err != nil {
			return fmt.Errorf("cti: apply %s: %w", env.Type, err)
		}
		s.apply(e, env.Seq)
	default:
		s.Seq = env.Seq
	}
	return nil
}

// apply folds a typed event into the snapshot.
func (s *Snapshot) apply(ev Event, seq uint64) {
	s.Seq = seq
	e, ok := deref(ev).(AgentStateChanged)
	if !ok {
		return
	}
	s.State = e.To
	s.Reason = ""
	if e.To == statePaused {
		s.Reason = e.Reason
	}
	at := e.At
	s.Since = &at
	switch e.To {
	case stateReserved, stateOnCall, stateWrapUp:
		if e.CallID != "" && (s.Call == nil || s.Call.ID != CallID(e.CallID)) {
			s.Call = &CallInfo{ID: CallID(e.CallID)}
		}
	default:
		s.Call = nil
	}
}

// clone copies a snapshot deeply.
func (s Snapshot) clone() Snapshot {
	if s.Since != nil {
		t := *s.Since
		s.Since = &t
	}
	if s.Call != nil {
		c := *s.Call
		s.Call = &c
	}
	s.Queues = append([]QueueStatus(nil), s.Queues...)
	return s
}
