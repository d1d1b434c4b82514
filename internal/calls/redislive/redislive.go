// Package redislive keeps the live view of calls in progress in Redis: one
// hash per call and a set of active call IDs per ccd instance, for the
// supervisors' wall and for reconciliation after a restart.
package redislive

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ccd-platform/ccd/internal/calls"
	"github.com/ccd-platform/ccd/internal/cdr"
)

var _ calls.Live = (*Store)(nil)

// Store is the Redis-backed live call view.
type Store struct {
	rdb      redis.UniversalClient
	instance string
	ttl      time.Duration
}

// New returns a store; ttl bounds how long a call's hash survives a crash.
func New(rdb redis.UniversalClient, instance string, ttl time.Duration) *Store {
	return &Store{rdb: rdb, instance: instance, ttl: ttl}
}

// CallKey is the hash of one call.
func CallKey(callID string) string { return "cc:call:" + callID }

// ActiveKey is the set of calls in progress on one instance.
func ActiveKey(instance string) string { return "cc:calls:active:" + instance }

// Begin records a new call.
func (s *Store) Begin(ctx context.Context, r cdr.Record) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, CallKey(r.CallID), map[string]any{
			"call_id": r.CallID, "channel_id": r.ChannelID, "instance": r.Instance,
			"caller": r.CallerNumber, "did": r.DID, "state": "arriving",
			"started_at": r.StartedAt.Format(time.RFC3339Nano),
		})
		p.Expire(ctx, CallKey(r.CallID), s.ttl)
		p.SAdd(ctx, ActiveKey(s.instance), r.CallID)
		return nil
	})
	return err
}

// Update sets fields of a call in progress.
func (s *Store) Update(ctx context.Context, callID string, fields map[string]any) error {
	return s.rdb.HSet(ctx, CallKey(callID), fields).Err()
}

// End removes a call that has ended.
func (s *Store) End(ctx context.Context, callID string) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, CallKey(callID))
		p.SRem(ctx, ActiveKey(s.instance), callID)
		return nil
	})
	return err
}

// Active lists the IDs of calls in progress on this instance.
func (s *Store) Active(ctx context.Context) ([]string, error) {
	return s.rdb.SMembers(ctx, ActiveKey(s.instance)).Result()
}
