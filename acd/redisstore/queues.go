package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/ccd-platform/ccd/acd"
)

// SetQueue stores a queue's routing configuration. The first queue with a
// strategy needing its own agent order (best_skill, fewest_answered, linear
// or round_robin) builds that index over the available agents; from then on
// every agent state change keeps it, so use the strategies you need.
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
	switch {
	case q.PriorityStep < 0:
		return fmt.Errorf("%w: priority step %v", acd.ErrInvalid, q.PriorityStep)
	case q.MaxMisses < 0:
		return fmt.Errorf("%w: max misses %d", acd.ErrInvalid, q.MaxMisses)
	case q.RetryDelay < 0:
		return fmt.Errorf("%w: retry delay %v", acd.ErrInvalid, q.RetryDelay)
	case q.WrapUp < 0:
		return fmt.Errorf("%w: wrap-up %v", acd.ErrInvalid, q.WrapUp)
	}
	if q.RetryDelay == 0 {
		q.RetryDelay = defaultRetry
	}
	err := s.run(ctx, setQueueScript, string(q.ID), string(q.Strategy), q.PriorityStep.Microseconds(),
		q.MaxMisses, q.RetryDelay.Microseconds(), q.WrapUp.Microseconds()).Err()
	if err != nil {
		return fmt.Errorf("acd: set queue %s: %w", q.ID, mapErr(err))
	}
	return nil
}

// SetQueueSkills tells the store which skills a queue's calls need, for
// Stats: Staffed and Available then count the agents meeting all of them
// (skill at the minimum level or above). Without them Stats counts every
// agent. It is not part of acd.Store: acd.Queue carries no skills.
func (s *Store) SetQueueSkills(ctx context.Context, queue acd.QueueID, skills []acd.Requirement) error {
	if queue == "" {
		return fmt.Errorf("%w: queue id is required", acd.ErrInvalid)
	}
	// The skills are checked as a call's would be (acd keeps the rules).
	if err := acd.ValidateCall(acd.Call{ID: "stats", Queue: queue, Skills: skills}); err != nil {
		return err
	}
	if err := s.rdb.HSet(ctx, s.prefix+"queue:"+string(queue), "skills", encodeReqs(skills)).Err(); err != nil {
		return fmt.Errorf("acd: set queue skills %s: %w", queue, err)
	}
	return nil
}

// Stats reads, in one script, the queue's waiting calls, the staffed and
// available agents having its skills (SetQueueSkills; every agent when none
// set) and the mean handle time of its last 50 calls.
func (s *Store) Stats(ctx context.Context, queue acd.QueueID) (acd.QueueStats, error) {
	v, err := s.run(ctx, statsScript, string(queue)).Int64Slice()
	if err != nil {
		return acd.QueueStats{}, mapErr(err)
	}
	if len(v) != 5 {
		return acd.QueueStats{}, fmt.Errorf("acd: stats %s: unexpected reply %v", queue, v)
	}
	st := acd.QueueStats{Waiting: int(v[0]), Staffed: int(v[1]), Available: int(v[2]), Handled: int(v[4])}
	if st.Handled > 0 {
		st.AvgHandle = time.Duration(v[3]/v[4]) * time.Microsecond
	}
	return st, nil
}
