// Package acd holds the automatic call distribution domain: agents and their
// states, queues with routing strategies, waiting calls and the reservations
// that bind a call to an agent while it is offered. Live state is kept by a
// Store (acd/redisstore); this package holds the types, rules and the small
// interfaces the dispatcher consumes.
package acd

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Typed identifiers: swapped arguments fail to compile.
type (
	AgentID string
	QueueID string
	CallID  string
	Skill   string
)

// Skill levels range from MinLevel to MaxLevel.
const (
	MinLevel = 1
	MaxLevel = 5
)

// Priorities range from 0 (normal) to MaxPriority (most urgent).
const MaxPriority = 20

// State is an agent's routing state.
type State string

const (
	LoggedOut State = "logged_out"
	Available State = "available"
	Reserved  State = "reserved" // a call is being offered to the agent
	OnCall    State = "on_call"
	WrapUp    State = "wrap_up"
	Paused    State = "paused"
)

// States lists every state, in a stable order.
var States = []State{LoggedOut, Available, Reserved, OnCall, WrapUp, Paused}

// Valid reports whether s is a known state.
func (s State) Valid() bool {
	_, ok := transitions[s]
	return ok
}

// transitions is the one table of allowed agent state changes. The Redis
// store embeds it into its scripts, so Go and Lua can never disagree.
var transitions = map[State][]State{
	LoggedOut: {Available, Paused},
	Available: {Reserved, OnCall, Paused, LoggedOut},  // on_call: direct or outbound call
	Reserved:  {OnCall, Available, Paused, LoggedOut}, // answered, rejected, no answer, forced out
	OnCall:    {WrapUp, Available},
	WrapUp:    {Available, Paused, LoggedOut},
	Paused:    {Available, LoggedOut},
}

// CanTransition reports whether an agent may move from one state to another.
// Staying in the same state is not a transition.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Transitions returns the allowed target states of from.
func Transitions(from State) []State {
	return append([]State(nil), transitions[from]...)
}

// IllegalTransition returns ErrIllegalTransition wrapped with from → to.
func IllegalTransition(agent AgentID, from, to State) error {
	return fmt.Errorf("%w: agent %s: %s → %s", ErrIllegalTransition, agent, from, to)
}

// Strategy selects among the available agents that satisfy a call's skills.
type Strategy string

const (
	// LongestIdle picks the agent idle the longest (the default).
	LongestIdle Strategy = "longest_idle"
	// BestSkill picks the highest sum of levels in the required skills,
	// then the longest idle.
	BestSkill Strategy = "best_skill"
	// FewestAnswered picks the fewest calls answered today (UTC), then the
	// longest idle.
	FewestAnswered Strategy = "fewest_answered"
	// RoundRobin walks agents circularly in (rank, id) order, starting after
	// the agent picked last in this queue.
	RoundRobin Strategy = "round_robin"
	// Linear always picks the lowest (rank, id).
	Linear Strategy = "linear"
)

// Valid reports whether s is a known strategy.
func (s Strategy) Valid() bool {
	switch s {
	case LongestIdle, BestSkill, FewestAnswered, RoundRobin, Linear:
		return true
	}
	return false
}

// Queue is the part of a queue's configuration the live routing state needs.
type Queue struct {
	ID       QueueID
	Strategy Strategy // empty means LongestIdle
	// PriorityStep is the waiting time one priority level is worth (aging):
	// a call of priority p enqueued at t is ordered as if enqueued at
	// t - p*PriorityStep. Zero means strict priority, then arrival order.
	PriorityStep time.Duration
	// MaxMisses is how many offers in a row an agent may leave unanswered
	// before being paused with reason PauseMissedOffers. Zero: never paused.
	MaxMisses int
	// RetryDelay is how long an agent who missed or declined an offer is not
	// offered the same call again (default 10s when zero).
	RetryDelay time.Duration
	// WrapUp is the after-call time: when a call ends the agent stays in
	// wrap_up this long, then becomes available. Zero: available at once.
	WrapUp time.Duration
}

// PauseMissedOffers is the pause reason set when an agent misses MaxMisses
// offers in a row.
const PauseMissedOffers = "missed_offers"

// Requirement asks for a skill at a minimum level.
type Requirement struct {
	Skill    Skill `json:"skill" yaml:"skill"`
	MinLevel int   `json:"min_level" yaml:"min_level"`
}

// Call is a call to be queued.
type Call struct {
	ID       CallID
	Queue    QueueID
	Priority int           // 0..MaxPriority, higher is served first
	Skills   []Requirement // all must be met; none means any agent
	// Expansion relaxes the requirements while the call waits: once the call
	// has waited Stage.After, Stage.Skills replace Skills (the latest stage
	// reached applies). Stages are ordered by After.
	Expansion []Stage
	// PreferAgent is offered the call first (last-agent memory): until
	// PreferWait has passed since the call was queued, only that agent may
	// take it; then the queue's strategy applies.
	PreferAgent AgentID
	PreferWait  time.Duration
	// Since is when the call first queued (zero: now). A call moved to
	// another queue (overflow) keeps its waiting time this way.
	Since time.Time
	// Owner is the ccd instance holding the caller's channel; Channel is the
	// caller's Asterisk channel. Both are empty for a callback.
	Owner   string
	Channel string
}

// Stage is one step of skill expansion.
type Stage struct {
	After  time.Duration
	Skills []Requirement
}

// CallState is where a queued call is.
type CallState string

const (
	CallWaiting  CallState = "waiting"
	CallReserved CallState = "reserved" // offered to Agent
	CallTalking  CallState = "talking"  // connected to Agent
)

// QueuedCall is a call's live routing state.
type QueuedCall struct {
	ID         CallID
	Queue      QueueID
	State      CallState
	Agent      AgentID // reserved or talking agent
	Priority   int
	EnqueuedAt time.Time // Since, or the time it was queued
	AnsweredAt time.Time // when talking began
	Owner      string
	Channel    string
	// Callback is the number to call back; set when the caller asked for a
	// callback and hung up, keeping their place.
	Callback string
	// Attempts counts callback dialling attempts.
	Attempts int
}

// QueueStats feeds the expected-wait estimate.
type QueueStats struct {
	Waiting int
	// Staffed counts logged-in agents (any state but logged_out) who have
	// the queue's skills (an upper bound when several skills are required).
	Staffed int
	// Available counts available agents who have the queue's skills.
	Available int
	// AvgHandle is the mean handle time (answer to wrap-up end) of the queue's
	// last 50 calls; zero when none.
	AvgHandle time.Duration
	Handled   int // calls in that mean
}

// Agent is an agent's live routing state.
type Agent struct {
	ID            AgentID
	State         State
	StateSince    time.Time
	IdleSince     time.Time
	AnsweredToday int
	Rank          int // order for linear and round robin; lower first
	Skills        map[Skill]int
	Call          CallID // the reserved or connected call, if any
	Reason        string // pause reason, when paused
	Misses        int    // offers missed in a row
	WrapUntil     time.Time
}

// Login brings an agent into routing with its skills.
type Login struct {
	Agent  AgentID
	Rank   int
	Skills map[Skill]int // levels MinLevel..MaxLevel
	Paused bool          // log in paused instead of available
}

// Assignment is the outcome of a pick: the call is reserved for the agent.
type Assignment struct {
	Queue QueueID
	Call  CallID
	Agent AgentID
}

// Outcome ends a reservation.
type Outcome string

const (
	// Answered: the agent took the call; the agent is on_call.
	Answered Outcome = "answered"
	// Rejected: the agent declined (busy, unreachable); the agent is
	// available again and the call waits again at its old place.
	Rejected Outcome = "rejected"
	// NoAnswer: the offer timed out; the miss is counted (see Store.Release)
	// and the call waits again at its old place.
	NoAnswer Outcome = "no_answer"
)

// Valid reports whether o is a known outcome.
func (o Outcome) Valid() bool { return o == Answered || o == Rejected || o == NoAnswer }

// Store is what the dispatcher needs from the live routing state. Every
// method is atomic against other dispatchers sharing the same state.
type Store interface {
	SetQueue(ctx context.Context, q Queue) error
	Enqueue(ctx context.Context, c Call) error
	// Dequeue removes a call wherever it is (waiting, reserved or talking;
	// a reserved agent becomes available, a talking one goes to wrap-up)
	// and returns that agent, if any.
	Dequeue(ctx context.Context, call CallID) (AgentID, error)
	// Pick reserves the best available agent for the first waiting call of
	// the queue that can be served. ErrNoCall or ErrNoAgent otherwise.
	Pick(ctx context.Context, queue QueueID) (Assignment, error)
	// Release ends a reservation. Answered: the call is talking and the
	// agent on_call. Rejected: the agent is available again. NoAnswer: the
	// agent's miss count grows; at the queue's MaxMisses the agent is
	// paused (PauseMissedOffers), else available. Either way the call waits
	// again at its old place and is not offered to that agent for the
	// queue's RetryDelay.
	Release(ctx context.Context, call CallID, o Outcome) (AgentID, error)
	// Finish ends a talking call: the agent goes to wrap-up for the queue's
	// WrapUp (or available), and the handle time joins the queue's stats.
	Finish(ctx context.Context, call CallID) (AgentID, error)
	// Reap ends reservations whose deadline passed (a dispatcher died
	// mid-offer): the agent becomes available, the call waits again. It
	// also ends wrap-ups whose time is over.
	Reap(ctx context.Context) (int, error)
	// Call reads a queued call; Position is its 1-based place among the
	// waiting calls of its queue (0 when not waiting).
	Call(ctx context.Context, call CallID) (QueuedCall, error)
	Position(ctx context.Context, call CallID) (int, error)
	// SetCallback turns a waiting call into a callback to number: the caller
	// has hung up, the call keeps its place, Owner and Channel are cleared.
	SetCallback(ctx context.Context, call CallID, number string) error
	// Requeue puts a talking callback whose customer did not answer back to
	// waiting at its old place, counting the attempt; the agent becomes
	// available.
	Requeue(ctx context.Context, call CallID) (AgentID, error)
	// Redirect hands a talking call to another, available agent (a blind
	// transfer): the talking agent goes to wrap-up, the new one is reserved
	// and the call is offered to it; Release ends the offer as usual.
	Redirect(ctx context.Context, call CallID, to AgentID) (from AgentID, err error)
	// Party moves an agent its call's agent brings in (a consultation or a
	// conference); see PartyOp.
	Party(ctx context.Context, call CallID, agent AgentID, op PartyOp) (callAgent AgentID, err error)
	// Calls lists every queued call (any state), for recovery.
	Calls(ctx context.Context) ([]QueuedCall, error)
	Stats(ctx context.Context, queue QueueID) (QueueStats, error)
}

// PartyOp is a step of an agent brought into a talking call.
type PartyOp string

const (
	PartyClaim    PartyOp = "claim"    // available → reserved for the call (ringing)
	PartyAnswer   PartyOp = "answer"   // reserved → on_call
	PartyEnd      PartyOp = "end"      // leaves: wrap-up after talking, available after a ring
	PartyHandover PartyOp = "handover" // becomes the call's agent; the previous one goes to wrap-up
)

// Agents is what the agent desktop needs: login, logout and state changes.
type Agents interface {
	Login(ctx context.Context, l Login) error
	SetState(ctx context.Context, agent AgentID, to State) (from State, err error)
	// Pause pauses an agent with a reason code.
	Pause(ctx context.Context, agent AgentID, reason string) (from State, err error)
	Agent(ctx context.Context, agent AgentID) (Agent, error)
	// AgentIDs lists every agent known to the live state.
	AgentIDs(ctx context.Context) ([]AgentID, error)
}

// ValidateCall checks a call before it is queued.
func ValidateCall(c Call) error {
	if c.ID == "" || c.Queue == "" {
		return fmt.Errorf("%w: call and queue ids are required", ErrInvalid)
	}
	if c.Priority < 0 || c.Priority > MaxPriority {
		return fmt.Errorf("%w: priority %d out of 0..%d", ErrInvalid, c.Priority, MaxPriority)
	}
	for _, r := range c.Skills {
		if err := validSkill(r.Skill, r.MinLevel); err != nil {
			return err
		}
	}
	var last time.Duration
	for i, st := range c.Expansion {
		if st.After <= 0 || st.After < last {
			return fmt.Errorf("%w: expansion stage %d: after %v must be positive and not before the previous stage", ErrInvalid, i, st.After)
		}
		last = st.After
		for _, r := range st.Skills {
			if err := validSkill(r.Skill, r.MinLevel); err != nil {
				return fmt.Errorf("expansion stage %d: %w", i, err)
			}
		}
	}
	if c.PreferWait < 0 {
		return fmt.Errorf("%w: prefer wait %v", ErrInvalid, c.PreferWait)
	}
	return nil
}

// ValidateLogin checks a login.
func ValidateLogin(l Login) error {
	if l.Agent == "" {
		return fmt.Errorf("%w: agent id is required", ErrInvalid)
	}
	for s, lv := range l.Skills {
		if err := validSkill(s, lv); err != nil {
			return err
		}
	}
	return nil
}

func validSkill(s Skill, level int) error {
	if s == "" || strings.ContainsAny(string(s), " \t\r\n") {
		return fmt.Errorf("%w: skill name %q", ErrInvalid, s)
	}
	if level < MinLevel || level > MaxLevel {
		return fmt.Errorf("%w: skill %s level %d out of %d..%d", ErrInvalid, s, level, MinLevel, MaxLevel)
	}
	return nil
}
