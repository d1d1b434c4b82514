// Package redisstore keeps the ACD's live routing state in Redis. Every
// change that must be atomic — above all picking an agent for a call and
// reserving both — is one Lua script, so several dispatchers can share one
// Redis without ever offering one agent two calls or one call to two agents.
package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccd-platform/ccd/acd"
)

var (
	_ acd.Store  = (*Store)(nil)
	_ acd.Agents = (*Store)(nil)
)

// Store is the Redis routing state.
type Store struct {
	rdb       redis.UniversalClient
	prefix    string
	ttl       time.Duration
	lookahead int
}

// Option configures a Store.
type Option func(*Store)

// WithPrefix sets the key prefix (default "{acd}:"). Keep a hash tag in it
// on Redis Cluster.
func WithPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// WithReservationTTL sets how long a reservation may last before Reap ends it
// (default 60s). It should exceed the longest offer (ring time).
func WithReservationTTL(d time.Duration) Option { return func(s *Store) { s.ttl = d } }

// WithLookahead sets how many waiting calls of a queue one pick examines
// (default 16), so a call needing a busy skill does not block the calls
// behind it.
func WithLookahead(n int) Option { return func(s *Store) { s.lookahead = n } }

// New returns a Store on a Redis client (a *redis.Client or cluster client).
func New(rdb redis.UniversalClient, opts ...Option) (*Store, error) {
	s := &Store{rdb: rdb, prefix: "{acd}:", ttl: 60 * time.Second, lookahead: 16}
	for _, o := range opts {
		o(s)
	}
	switch {
	case rdb == nil:
		return nil, fmt.Errorf("%w: nil redis client", acd.ErrInvalid)
	case s.prefix == "":
		return nil, fmt.Errorf("%w: empty key prefix", acd.ErrInvalid)
	case s.ttl < time.Millisecond:
		return nil, fmt.Errorf("%w: reservation ttl %v", acd.ErrInvalid, s.ttl)
	case s.lookahead < 1:
		return nil, fmt.Errorf("%w: lookahead %d", acd.ErrInvalid, s.lookahead)
	}
	return s, nil
}

// Load loads the scripts into Redis, so the first calls need no fallback.
func (s *Store) Load(ctx context.Context) error {
	for _, sc := range []*redis.Script{loginScript, setStateScript, enqueueScript, dequeueScript, releaseScript, reapScript, pickScript} {
		if err := sc.Load(ctx, s.rdb).Err(); err != nil {
			return fmt.Errorf("acd: load script: %w", err)
		}
	}
	return nil
}

func (s *Store) run(ctx context.Context, sc *redis.Script, args ...any) *redis.Cmd {
	return sc.Run(ctx, s.rdb, nil, append([]any{s.prefix}, args...)...)
}

// SetQueue stores a queue's routing configuration.
func (s *Store) SetQueue(ctx context.Context, q acd.Queue) error {
	if q.ID == "" {
		return fmt.Errorf("%w: queue id is required", acd.ErrInvalid)
	}
	if q.Strategy == "" {
		q.Strategy = acd.LongestIdle
	}
	if !q.Strategy.Valid() {
		return fmt.Errorf("%w: strategy %q", acd.ErrInvalid, q.Strategy)
	}
	if q.PriorityStep < 0 {
		return fmt.Errorf("%w: priority step %v", acd.ErrInvalid, q.PriorityStep)
	}
	err := s.rdb.HSet(ctx, s.prefix+"queue:"+string(q.ID),
		"strategy", string(q.Strategy), "step", q.PriorityStep.Microseconds()).Err()
	if err != nil {
		return fmt.Errorf("acd: set queue %s: %w", q.ID, err)
	}
	return nil
}

// Login brings an agent into routing (available, or paused) with its skills
// and rank. An agent not logged out is refused with ErrIllegalTransition.
func (s *Store) Login(ctx context.Context, l acd.Login) error {
	if err := acd.ValidateLogin(l); err != nil {
		return err
	}
	args := []any{string(l.Agent), l.Rank, boolArg(l.Paused)}
	for sk, lv := range l.Skills {
		args = append(args, string(sk), lv)
	}
	return mapErr(s.run(ctx, loginScript, args...).Err())
}

// SetState moves an agent to another state if the transition table allows
// it, timestamped with the Redis clock, and returns the previous state.
// Reservations begin only through Pick and end only through Release or
// Dequeue (ErrReserved otherwise).
func (s *Store) SetState(ctx context.Context, agent acd.AgentID, to acd.State) (acd.State, error) {
	if !to.Valid() {
		return "", fmt.Errorf("%w: state %q", acd.ErrInvalid, to)
	}
	from, err := s.run(ctx, setStateScript, string(agent), string(to)).Text()
	if err != nil {
		return "", mapErr(err)
	}
	return acd.State(from), nil
}

// Logout takes an agent out of routing.
func (s *Store) Logout(ctx context.Context, agent acd.AgentID) error {
	_, err := s.SetState(ctx, agent, acd.LoggedOut)
	return err
}

// Agent reads an agent's state.
func (s *Store) Agent(ctx context.Context, agent acd.AgentID) (acd.Agent, error) {
	k := s.prefix + "agent:" + string(agent)
	var h *redis.MapStringStringCmd
	var sk *redis.MapStringStringCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		h = p.HGetAll(ctx, k)
		sk = p.HGetAll(ctx, k+":skills")
		return nil
	})
	if err != nil {
		return acd.Agent{}, fmt.Errorf("acd: agent %s: %w", agent, err)
	}
	m := h.Val()
	if len(m) == 0 {
		return acd.Agent{}, fmt.Errorf("%w: agent %s", acd.ErrNotFound, agent)
	}
	a := acd.Agent{
		ID: agent, State: acd.State(m["state"]), Call: acd.CallID(m["call"]),
		StateSince: usTime(m["state_since"]), IdleSince: usTime(m["idle_since"]),
		Skills: make(map[acd.Skill]int, len(sk.Val())),
	}
	a.Rank, _ = strconv.Atoi(m["rank"])
	if day, _ := strconv.ParseInt(m["answered_day"], 10, 64); day == time.Now().Unix()/86400 {
		a.AnsweredToday, _ = strconv.Atoi(m["answered_today"])
	}
	for name, lv := range sk.Val() {
		a.Skills[acd.Skill(name)], _ = strconv.Atoi(lv)
	}
	return a, nil
}

type requirement [2]any // skill, min level: a JSON pair for the scripts

// Enqueue puts a call into its queue's waiting set.
func (s *Store) Enqueue(ctx context.Context, c acd.Call) error {
	if err := acd.ValidateCall(c); err != nil {
		return err
	}
	req := make([]requirement, 0, len(c.Skills))
	for _, r := range c.Skills {
		req = append(req, requirement{string(r.Skill), r.MinLevel})
	}
	js, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("acd: encode skills: %w", err)
	}
	return mapErr(s.run(ctx, enqueueScript, string(c.Queue), string(c.ID), c.Priority, js).Err())
}

// Dequeue removes a call, waiting or reserved; a reserved agent becomes
// available again and is returned.
func (s *Store) Dequeue(ctx context.Context, call acd.CallID) (acd.AgentID, error) {
	a, err := s.run(ctx, dequeueScript, string(call)).Text()
	if err != nil {
		return "", mapErr(err)
	}
	return acd.AgentID(a), nil
}

// Pick reserves, in one script, the best available agent for the first
// serviceable waiting call of the queue.
func (s *Store) Pick(ctx context.Context, queue acd.QueueID) (acd.Assignment, error) {
	res, err := s.run(ctx, pickScript, string(queue), s.lookahead, s.ttl.Microseconds()).StringSlice()
	if err != nil {
		return acd.Assignment{}, mapErr(err)
	}
	switch {
	case len(res) == 2:
		return acd.Assignment{Queue: queue, Call: acd.CallID(res[0]), Agent: acd.AgentID(res[1])}, nil
	case len(res) == 1 && res[0] == "empty":
		return acd.Assignment{}, fmt.Errorf("%w: queue %s", acd.ErrNoCall, queue)
	case len(res) == 1 && res[0] == "noagent":
		return acd.Assignment{}, fmt.Errorf("%w: queue %s", acd.ErrNoAgent, queue)
	}
	return acd.Assignment{}, fmt.Errorf("acd: pick %s: unexpected reply %q", queue, res)
}

// Release ends a call's reservation with the offer's outcome and returns the
// agent.
func (s *Store) Release(ctx context.Context, call acd.CallID, o acd.Outcome) (acd.AgentID, error) {
	if !o.Valid() {
		return "", fmt.Errorf("%w: outcome %q", acd.ErrInvalid, o)
	}
	a, err := s.run(ctx, releaseScript, string(call), string(o)).Text()
	if err != nil {
		return "", mapErr(err)
	}
	return acd.AgentID(a), nil
}

// Reap ends reservations past their deadline (at most 1000 per call): the
// agent becomes available, the call waits again at its old place.
func (s *Store) Reap(ctx context.Context) (int, error) {
	n, err := s.run(ctx, reapScript, 1000).Int()
	return n, mapErr(err)
}

// mapErr turns script error codes into the package's sentinel errors.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var re redis.Error
	if !errors.As(err, &re) {
		return fmt.Errorf("acd: redis: %w", err)
	}
	msg, _, _ := strings.Cut(re.Error(), " script: ") // drop the script location
	f := strings.Fields(msg)
	if len(f) == 0 {
		return fmt.Errorf("acd: redis: %w", err)
	}
	rest := strings.Join(f[1:], " ")
	switch f[0] {
	case "ACDILLEGAL", "ACDRESERVED":
		base := acd.ErrIllegalTransition
		if f[0] == "ACDRESERVED" {
			base = acd.ErrReserved
		}
		if len(f) >= 4 {
			return fmt.Errorf("%w: agent %s: %s → %s", base, f[1], f[2], f[3])
		}
		return fmt.Errorf("%w: %s", base, rest)
	case "ACDNOTFOUND":
		return fmt.Errorf("%w: %s", acd.ErrNotFound, rest)
	case "ACDNOTRESERVED":
		return fmt.Errorf("%w: %s", acd.ErrNotReserved, rest)
	case "ACDQUEUED":
		return fmt.Errorf("%w: %s", acd.ErrAlreadyQueued, rest)
	case "ACDINVARIANT":
		return fmt.Errorf("%w: %s", acd.ErrInvariant, rest)
	}
	return fmt.Errorf("acd: redis: %w", err)
}

func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func usTime(v string) time.Time {
	us, err := strconv.ParseInt(v, 10, 64)
	if err != nil || us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us)
}
