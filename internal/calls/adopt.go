package calls

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/internal/cdr"
	"github.com/ccd-platform/ccd/ivr"
	"github.com/ccd-platform/ccd/ivr/arichan"
)

// RecordReader reads a call record back (records of calls taken over after
// a restart).
type RecordReader interface {
	Get(ctx context.Context, callID string) (cdr.Record, error)
}

// Tracking reports whether a channel belongs to a call this manager runs.
func (m *Manager) Tracking(channelID string) bool {
	return m.lookup(channelID) != nil
}

// Resume is what runs on a call taken over after a restart, in place of its flow.
type Resume func(ctx context.Context, ch *arichan.Channel) (ivr.Outcome, error)

// Adopt takes over a caller's channel still in the Stasis application after
// ccd restarted (a caller waiting in a queue, a conversation with an agent):
// the call gets its goroutine again, runs fn, and is recorded under its
// original call ID when it ends.
func (m *Manager) Adopt(chd ari.ChannelData, callID string, fn Resume) error {
	rr, ok := m.records.(RecordReader)
	if !ok {
		return errors.New("calls: records cannot be read back")
	}
	ctx0, cancel0 := context.WithTimeout(context.Background(), m.opts.CleanupTimeout)
	rec, err := rr.Get(ctx0, callID)
	cancel0()
	if err != nil {
		return fmt.Errorf("calls: adopt %s: %w", callID, err)
	}
	rec.ChannelID, rec.Instance, rec.Outcome, rec.EndedAt = chd.ID, m.opts.Instance, "in_progress", nil
	log := m.log.With(zap.String("call_id", callID), zap.String("channel_id", chd.ID))
	ctx, cancel := context.WithCancelCause(m.base)
	c := &call{
		id: callID,
		ch: arichan.New(m.ari, chd.ID, map[string]string{
			"call_id": callID, "caller": rec.CallerNumber, "caller_name": rec.CallerName, "did": rec.DID,
		}, log),
		ctx: ctx, cancel: cancel, log: log, destroyed: make(chan struct{}),
	}
	c.ch.SetLegs(m)
	m.mu.Lock()
	if _, dup := m.calls[chd.ID]; dup {
		m.mu.Unlock()
		cancel(nil)
		return fmt.Errorf("calls: channel %s is already handled", chd.ID)
	}
	m.calls[chd.ID] = c
	m.mu.Unlock()
	err = m.tracker.Go(func() {
		log.Info("call taken over after a restart", zap.String("caller", rec.CallerNumber), zap.String("did", rec.DID))
		if err := m.ari.SubscribeChannel(ctx, chd.ID); err != nil {
			log.Warn("subscribe to channel events", zap.Error(err))
		}
		if err := m.live.Begin(ctx, rec); err != nil {
			log.Warn("live state", zap.Error(err))
		}
		// The channel may have gone between the listing and now.
		if _, err := m.ari.Channel(ctx, chd.ID); err != nil {
			c.mu.Lock()
			c.callerHup = true
			c.mu.Unlock()
			c.cancel(ivr.ErrHangup)
		}
		outcome, err := fn(ctx, c.ch)
		if errors.Is(err, ivr.ErrHangup) {
			err = nil
		}
		res := ivr.Result{Answered: true, Digits: rec.Digits, Outcome: outcome}
		if res.Outcome == "" {
			res.Outcome = ivr.OutcomeAbandoned
		}
		m.cleanup(c, rec, res, err)
	})
	if err != nil {
		m.mu.Lock()
		delete(m.calls, chd.ID)
		m.mu.Unlock()
		cancel(err)
		return err
	}
	return nil
}

// CloseRecord ends the record of a call whose channel disappeared while ccd
// was down.
func (m *Manager) CloseRecord(ctx context.Context, callID, outcome string) error {
	rr, ok := m.records.(RecordReader)
	if !ok {
		return errors.New("calls: records cannot be read back")
	}
	rec, err := rr.Get(ctx, callID)
	if err != nil {
		return err
	}
	if rec.EndedAt != nil {
		return nil
	}
	now := time.Now().UTC()
	rec.EndedAt, rec.Outcome, rec.HangupBy = &now, outcome, "caller"
	rec.Error = "the call ended while ccd was down"
	return m.records.Finish(ctx, rec)
}
