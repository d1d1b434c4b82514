package arichan

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/internal/ariconn"
	"github.com/ccd-platform/ccd/ivr"
)

var _ ivr.Transferer = (*Channel)(nil)

// ErrNoAnswer: the transfer target did not answer (busy, no answer, unreachable).
var ErrNoAnswer = errors.New("transfer target did not answer")

// Legs lets the owner of a channel route the events of a channel it dials
// (a transfer target) to it.
type Legs interface {
	AddLeg(legID string, owner *Channel)
	RemoveLeg(legID string)
}

type leg struct {
	id       string
	answered chan struct{}
	gone     chan string // hangup cause text
}

// SetLegs lets the channel dial others.
func (c *Channel) SetLegs(l Legs) {
	c.mu.Lock()
	c.legs = l
	c.mu.Unlock()
}

// handleLeg takes a dialled leg's events; it reports whether ev was one.
func (c *Channel) handleLeg(ev ari.Event) bool {
	c.mu.Lock()
	l := c.leg
	c.mu.Unlock()
	if l == nil {
		return false
	}
	switch e := ev.(type) {
	case *ari.StasisStart:
		if e.Channel.ID == l.id {
			select {
			case <-l.answered:
			default:
				close(l.answered)
			}
			return true
		}
	case *ari.ChannelDestroyed:
		if e.Channel.ID == l.id {
			select {
			case l.gone <- fmt.Sprintf("%d %s", e.Cause, e.CauseTxt):
			default:
			}
			return true
		}
	case *ari.ChannelDtmfReceived:
		// The agent's keys are not the caller's input.
		return e.Channel.ID == l.id
	case *ari.ChannelHangupRequest:
		return e.Channel.ID == l.id
	case *ari.StasisEnd:
		return e.Channel.ID == l.id
	case *ari.ChannelStateChange:
		return e.Channel.ID == l.id
	}
	return false
}

// Transfer dials to (an endpoint such as PJSIP/1001), lets the caller hear
// ringing, and on answer bridges the two; it returns when the conversation
// is over, or with ErrNoAnswer if the target does not answer in time.
func (c *Channel) Transfer(ctx context.Context, to string, timeout time.Duration) error {
	c.mu.Lock()
	legs := c.legs
	c.mu.Unlock()
	if legs == nil {
		return fmt.Errorf("transfer: %w", ivr.ErrUnsupported)
	}
	l := &leg{id: "leg-" + uuid.NewString(), answered: make(chan struct{}), gone: make(chan string, 1)}
	c.mu.Lock()
	c.leg = l
	c.mu.Unlock()
	legs.AddLeg(l.id, c)
	defer func() {
		legs.RemoveLeg(l.id)
		c.mu.Lock()
		c.leg = nil
		c.mu.Unlock()
	}()
	log := c.log.With(zap.String("leg_id", l.id), zap.String("to", to))

	// Ringing for the caller while the target rings.
	ring := "pb-ring-" + uuid.NewString()
	if err := c.ari.Play(ctx, c.id, ring, "tone:ring;tonezone=us"); err != nil {
		log.Debug("ringback", zap.Error(err))
	}
	stopRing := func() { _ = c.ari.StopPlayback(context.WithoutCancel(ctx), ring) }

	caller := c.vars["caller"]
	if _, err := c.ari.Originate(ctx, ariconn.OriginateOptions{
		Endpoint: to, AppArgs: "dialed," + c.vars["call_id"], CallerID: caller,
		Timeout: timeout, ChannelID: l.id,
	}); err != nil {
		stopRing()
		return fmt.Errorf("dial %s: %w", to, err)
	}
	hangLeg := func() {
		hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = c.ari.Hangup(hctx, l.id, "normal")
	}
	select {
	case <-l.answered:
	case cause := <-l.gone:
		stopRing()
		return fmt.Errorf("%w: %s (%s)", ErrNoAnswer, to, cause)
	case <-ctx.Done():
		stopRing()
		hangLeg()
		return context.Cause(ctx)
	}
	stopRing()
	bridge := "br-" + uuid.NewString()
	if err := c.ari.CreateBridge(ctx, bridge, "mixing"); err != nil {
		hangLeg()
		return fmt.Errorf("bridge: %w", err)
	}
	defer func() { _ = c.ari.DestroyBridge(context.WithoutCancel(ctx), bridge) }()
	if err := c.ari.AddToBridge(ctx, bridge, c.id, l.id); err != nil {
		hangLeg()
		return fmt.Errorf("bridge: %w", err)
	}
	log.Info("caller connected", zap.String("bridge_id", bridge))
	select {
	case cause := <-l.gone:
		log.Info("transfer target hung up", zap.String("cause", cause))
		return nil
	case <-ctx.Done():
		hangLeg()
		return context.Cause(ctx)
	}
}
