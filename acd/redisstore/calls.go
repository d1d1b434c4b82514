package redisstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/ccd-platform/ccd/acd"
)

// Enqueue puts a call into its queue's waiting set. A call with Since keeps
// its original waiting time: its place and EnqueuedAt come from Since.
func (s *Store) Enqueue(ctx context.Context, c acd.Call) error {
	if err := acd.ValidateCall(c); err != nil {
		return err
	}
	var since int64
	if !c.Since.IsZero() {
		since = c.Since.UnixMicro()
	}
	return mapErr(s.run(ctx, enqueueScript, string(c.Queue), string(c.ID), c.Priority,
		encodeReqs(c.Skills), encodeStages(c.Expansion), string(c.PreferAgent), c.PreferWait.Microseconds(),
		since, c.Owner, c.Channel).Err())
}

// Dequeue removes a call wherever it is and returns its agent, if any: a
// reserved agent becomes available again; a talking call ends as with
// Finish.
func (s *Store) Dequeue(ctx context.Context, call acd.CallID) (acd.AgentID, error) {
	return s.agentReply(ctx, dequeueScript, call)
}

// Pick reserves, in one script, the best available agent for the first
// serviceable waiting call of the queue.
func (s *Store) Pick(ctx context.Context, queue acd.QueueID) (acd.Assignment, error) {
	as, err := s.PickBatch(ctx, queue, 1)
	if err != nil {
		return acd.Assignment{}, err
	}
	return as[0], nil
}

// PickBatch makes up to max routing decisions for the queue in one script:
// exactly what as many successive Picks would decide with nothing else
// happening in between, for a fraction of the cost each when calls and
// agents are both waiting. It returns at least one assignment, or ErrNoCall
// or ErrNoAgent as Pick does.
func (s *Store) PickBatch(ctx context.Context, queue acd.QueueID, max int) ([]acd.Assignment, error) {
	if max < 1 {
		return nil, fmt.Errorf("%w: batch of %d", acd.ErrInvalid, max)
	}
	if s.mir == nil {
		return s.scriptPick(ctx, queue, max)
	}
	as, err, done, confirm := s.copyPick(ctx, queue, max)
	if done {
		return as, err
	}
	as, err = s.scriptPick(ctx, queue, max)
	if confirm && err == nil {
		s.distrust(ctx)
	}
	return as, err
}

// scriptPick makes the decisions inside Redis (pickScript).
func (s *Store) scriptPick(ctx context.Context, queue acd.QueueID, max int) ([]acd.Assignment, error) {
	s.scriptPicks.Add(1)
	res, err := s.run(ctx, pickScript, string(queue), s.lookahead, s.ttl.Microseconds(), max).StringSlice()
	if err != nil {
		return nil, mapErr(err)
	}
	switch {
	case len(res) == 1 && res[0] == "empty":
		return nil, fmt.Errorf("%w: queue %s", acd.ErrNoCall, queue)
	case len(res) == 1 && res[0] == "noagent":
		return nil, fmt.Errorf("%w: queue %s", acd.ErrNoAgent, queue)
	case len(res) == 0 || len(res)%2 != 0 || len(res) > 2*max:
		return nil, fmt.Errorf("acd: pick %s: unexpected reply %q", queue, res)
	}
	as := make([]acd.Assignment, len(res)/2)
	for i := range as {
		as[i] = acd.Assignment{Queue: queue, Call: acd.CallID(res[2*i]), Agent: acd.AgentID(res[2*i+1])}
	}
	return as, nil
}

// Release ends a call's reservation with the offer's outcome and returns the
// agent (see acd.Store). The preferred agent declining or missing the call
// also ends the call's preference for it.
func (s *Store) Release(ctx context.Context, call acd.CallID, o acd.Outcome) (acd.AgentID, error) {
	if !o.Valid() {
		return "", fmt.Errorf("%w: outcome %q", acd.ErrInvalid, o)
	}
	return s.agentReply(ctx, releaseScript, call, string(o))
}

// Finish ends a talking call and returns its agent, now in wrap-up for the
// queue's WrapUp (available when zero). The handle time, answer to now plus
// the wrap-up, joins the queue's last 50. A call not talking is refused with
// ErrNotReserved.
func (s *Store) Finish(ctx context.Context, call acd.CallID) (acd.AgentID, error) {
	return s.agentReply(ctx, finishScript, call)
}

// Requeue puts a talking callback back to waiting at its old place with one
// more attempt; the agent becomes available (no wrap-up). A call not talking
// is refused with ErrNotReserved, one that is no callback with ErrInvalid.
func (s *Store) Requeue(ctx context.Context, call acd.CallID) (acd.AgentID, error) {
	return s.agentReply(ctx, requeueScript, call)
}

// Redirect hands a talking call to agent to (a blind transfer): the talking
// agent goes to wrap-up as after Finish, and to, which must be available, is
// reserved for the call. The call is then an offer like a picked one:
// Release ends it (answered: talking with to; otherwise the call waits again
// at its old place). Returns the agent the call had.
func (s *Store) Redirect(ctx context.Context, call acd.CallID, to acd.AgentID) (acd.AgentID, error) {
	if to == "" {
		return "", fmt.Errorf("%w: redirect to no agent", acd.ErrInvalid)
	}
	return s.agentReply(ctx, redirectScript, call, string(to), s.ttl.Microseconds())
}

// Party moves an agent brought into a talking call by its agent (consulted,
// or conferenced in); the call keeps its agent until PartyHandover. See
// acd.PartyOp. Returns the call's agent before the move.
func (s *Store) Party(ctx context.Context, call acd.CallID, agent acd.AgentID, op acd.PartyOp) (acd.AgentID, error) {
	switch op {
	case acd.PartyClaim, acd.PartyAnswer, acd.PartyEnd, acd.PartyHandover:
	default:
		return "", fmt.Errorf("%w: party op %q", acd.ErrInvalid, op)
	}
	return s.agentReply(ctx, partyScript, call, string(agent), string(op))
}

func (s *Store) agentReply(ctx context.Context, sc *redis.Script, call acd.CallID, args ...any) (acd.AgentID, error) {
	a, err := s.run(ctx, sc, append([]any{string(call)}, args...)...).Text()
	if err != nil {
		return "", mapErr(err)
	}
	return acd.AgentID(a), nil
}

// SetCallback turns a waiting call into a callback to number, keeping its
// place. A reserved or talking call is refused with ErrAlreadyReserved.
func (s *Store) SetCallback(ctx context.Context, call acd.CallID, number string) error {
	if number == "" {
		return fmt.Errorf("%w: empty callback number", acd.ErrInvalid)
	}
	return mapErr(s.run(ctx, setCallbackScript, string(call), number).Err())
}

// Position returns a waiting call's 1-based place in its queue, 0 when it is
// reserved or talking.
func (s *Store) Position(ctx context.Context, call acd.CallID) (int, error) {
	n, err := s.run(ctx, positionScript, string(call)).Int()
	return n, mapErr(err)
}

// Reap ends reservations past their deadline (the agent becomes available,
// the call waits again at its old place) and wrap-ups whose time is over
// (the agent becomes available, idle since the wrap-up's end), at most 1000
// of each per call, and returns how many it ended.
func (s *Store) Reap(ctx context.Context) (int, error) {
	n, err := s.run(ctx, reapScript, 1000).Int()
	return n, mapErr(err)
}

// Call reads a queued call.
func (s *Store) Call(ctx context.Context, call acd.CallID) (acd.QueuedCall, error) {
	m, err := s.rdb.HGetAll(ctx, s.prefix+"call:"+string(call)).Result()
	if err != nil {
		return acd.QueuedCall{}, fmt.Errorf("acd: call %s: %w", call, err)
	}
	if len(m) == 0 {
		return acd.QueuedCall{}, fmt.Errorf("%w: call %s", acd.ErrNotFound, call)
	}
	return queuedCall(call, m), nil
}

// Calls lists every queued call in any state, ordered by id. Each call is
// read atomically, the list as a whole is not: a call ending meanwhile is
// left out.
func (s *Store) Calls(ctx context.Context) ([]acd.QueuedCall, error) {
	ids, err := s.rdb.SMembers(ctx, s.prefix+"calls").Result()
	if err != nil {
		return nil, fmt.Errorf("acd: calls: %w", err)
	}
	slices.Sort(ids)
	out := make([]acd.QueuedCall, 0, len(ids))
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 500)]
		ids = ids[len(batch):]
		cmds := make([]*redis.MapStringStringCmd, len(batch))
		_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range batch {
				cmds[i] = p.HGetAll(ctx, s.prefix+"call:"+id)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("acd: calls: %w", err)
		}
		for i, c := range cmds {
			if m := c.Val(); len(m) > 0 {
				out = append(out, queuedCall(acd.CallID(batch[i]), m))
			}
		}
	}
	return out, nil
}

func queuedCall(id acd.CallID, m map[string]string) acd.QueuedCall {
	c := acd.QueuedCall{
		ID: id, Queue: acd.QueueID(m["queue"]), State: acd.CallState(m["state"]), Agent: acd.AgentID(m["agent"]),
		EnqueuedAt: usTime(m["enq"]), AnsweredAt: usTime(m["answered"]),
		Owner: m["owner"], Channel: m["channel"], Callback: m["callback"],
	}
	c.Priority, _ = strconv.Atoi(m["prio"])
	c.Attempts, _ = strconv.Atoi(m["attempts"])
	return c
}
