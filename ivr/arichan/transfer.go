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

// ErrLegBusy: the channel is already dialling or talking to another party.
var ErrLegBusy = errors.New("another party is already dialled")

// Legs lets the owner of a channel route the events of a channel it dials
// (a transfer target, an agent) to it.
type Legs interface {
	AddLeg(legID string, owner *Channel)
	RemoveLeg(legID string)
}

// Leg is a channel the caller's channel dialled.
type Leg struct {
	ID       string
	answered chan struct{}
	gone     chan string // hangup cause text
	owner    *Channel
}

// Answered is closed when the leg answers (enters Stasis).
func (l *Leg) Answered() <-chan struct{} { return l.answered }

// Gone delivers the hangup cause once the leg's channel is destroyed.
func (l *Leg) Gone() <-chan string { return l.gone }

// MarkGone reports the leg gone when its end was missed (it ended while
// ccd was not listening).
func (l *Leg) MarkGone(cause string) {
	select {
	case l.gone <- cause:
	default:
	}
}

// Hangup hangs the leg up; a leg already gone is fine.
func (l *Leg) Hangup(ctx context.Context) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = l.owner.ari.Hangup(hctx, l.ID, "normal")
}

// SetLegs lets the channel dial others.
func (c *Channel) SetLegs(l Legs) {
	c.mu.Lock()
	c.legs = l
	c.mu.Unlock()
}

// handleLeg takes a dialled leg's events; it reports whether ev was one.
func (c *Channel) handleLeg(ev ari.Event) bool {
	id := ""
	switch e := ev.(type) {
	case *ari.StasisStart:
		id = e.Channel.ID
	case *ari.ChannelDestroyed:
		id = e.Channel.ID
	case *ari.ChannelDtmfReceived:
		id = e.Channel.ID
	case *ari.ChannelHangupRequest:
		id = e.Channel.ID
	case *ari.StasisEnd:
		id = e.Channel.ID
	case *ari.ChannelStateChange:
		id = e.Channel.ID
	}
	c.mu.Lock()
	l := c.dialled[id]
	c.mu.Unlock()
	if l == nil {
		return false
	}
	switch e := ev.(type) {
	case *ari.StasisStart:
		if e.Channel.ID == l.ID {
			select {
			case <-l.answered:
			default:
				close(l.answered)
			}
			return true
		}
	case *ari.ChannelDestroyed:
		if e.Channel.ID == l.ID {
			select {
			case l.gone <- fmt.Sprintf("%d %s", e.Cause, e.CauseTxt):
			default:
			}
			return true
		}
	case *ari.ChannelDtmfReceived:
		// The agent's keys are not the caller's input.
		return e.Channel.ID == l.ID
	case *ari.ChannelHangupRequest:
		return e.Channel.ID == l.ID
	case *ari.StasisEnd:
		return e.Channel.ID == l.ID
	case *ari.ChannelStateChange:
		return e.Channel.ID == l.ID
	}
	return false
}

// DialOptions describe a leg to dial.
type DialOptions struct {
	To       string        // endpoint, e.g. PJSIP/1001
	Timeout  time.Duration // ring time
	LegID    string        // channel ID; generated when empty
	CallerID string        // shown on the device; the caller's number when empty
	// Variables are set on the new channel.
	Variables map[string]string
}

// Dial rings another party for this caller. Its events reach the returned
// leg until DropLeg. A caller can have several legs (an agent and the party
// the agent consults); each leg ID is used once.
func (c *Channel) Dial(ctx context.Context, o DialOptions) (*Leg, error) {
	l, err := c.attachLeg(o.LegID, false)
	if err != nil {
		return nil, err
	}
	if o.CallerID == "" {
		o.CallerID = c.vars["caller"]
	}
	if _, err := c.ari.Originate(ctx, ariconn.OriginateOptions{
		Endpoint: o.To, AppArgs: "dialed," + c.vars["call_id"], CallerID: o.CallerID,
		Timeout: o.Timeout, ChannelID: l.ID, Variables: o.Variables,
	}); err != nil {
		c.DropLeg(l)
		return nil, fmt.Errorf("dial %s: %w", o.To, err)
	}
	return l, nil
}

// AdoptLeg takes an existing, answered channel as this caller's leg (after a
// restart of ccd, for a conversation that went on meanwhile).
func (c *Channel) AdoptLeg(legID string) (*Leg, error) {
	return c.attachLeg(legID, true)
}

func (c *Channel) attachLeg(id string, answered bool) (*Leg, error) {
	if id == "" {
		id = "leg-" + uuid.NewString()
	}
	l := &Leg{ID: id, answered: make(chan struct{}), gone: make(chan string, 1), owner: c}
	if answered {
		close(l.answered)
	}
	c.mu.Lock()
	legs := c.legs
	_, busy := c.dialled[id]
	if legs != nil && !busy {
		c.dialled[id] = l
	}
	c.mu.Unlock()
	if legs == nil {
		return nil, fmt.Errorf("dial: %w", ivr.ErrUnsupported)
	}
	if busy {
		return nil, fmt.Errorf("%w: %s", ErrLegBusy, id)
	}
	legs.AddLeg(l.ID, c)
	return l, nil
}

// DropLeg stops routing a leg's events to this channel.
func (c *Channel) DropLeg(l *Leg) {
	c.mu.Lock()
	legs := c.legs
	if c.dialled[l.ID] == l {
		delete(c.dialled, l.ID)
	}
	c.mu.Unlock()
	if legs != nil {
		legs.RemoveLeg(l.ID)
	}
}

// Bridge connects the caller and the leg in a new mixing bridge.
func (c *Channel) Bridge(ctx context.Context, bridgeID string, l *Leg) error {
	if err := c.ari.CreateBridge(ctx, bridgeID, "mixing"); err != nil {
		return fmt.Errorf("bridge: %w", err)
	}
	if err := c.ari.AddToBridge(ctx, bridgeID, c.id, l.ID); err != nil {
		_ = c.ari.DestroyBridge(context.WithoutCancel(ctx), bridgeID)
		return fmt.Errorf("bridge: %w", err)
	}
	return nil
}

// JoinBridge puts the caller back into a bridge (after a hold).
func (c *Channel) JoinBridge(ctx context.Context, bridgeID string) error {
	return c.ari.AddToBridge(ctx, bridgeID, c.id)
}

// LeaveBridge takes the caller out of a bridge (a hold); the bridge and
// the other parties stay.
func (c *Channel) LeaveBridge(ctx context.Context, bridgeID string) error {
	return c.ari.RemoveFromBridge(ctx, bridgeID, c.id)
}

// AddLegToBridge puts an answered leg into a bridge.
func (c *Channel) AddLegToBridge(ctx context.Context, bridgeID string, l *Leg) error {
	return c.ari.AddToBridge(ctx, bridgeID, l.ID)
}

// RemoveLegFromBridge takes a leg out of a bridge.
func (c *Channel) RemoveLegFromBridge(ctx context.Context, bridgeID string, l *Leg) error {
	return c.ari.RemoveFromBridge(context.WithoutCancel(ctx), bridgeID, l.ID)
}

// StartMOH plays a music-on-hold class to the caller.
func (c *Channel) StartMOH(ctx context.Context, class string) error {
	return c.ari.StartMOH(ctx, c.id, class)
}

// StopMOH stops the music on hold.
func (c *Channel) StopMOH(ctx context.Context) error {
	return c.ari.StopMOH(context.WithoutCancel(ctx), c.id)
}

// Ring lets the caller hear ringing until the returned function is called.
func (c *Channel) Ring(ctx context.Context) (stop func()) {
	ring := "pb-ring-" + uuid.NewString()
	if err := c.ari.Play(ctx, c.id, ring, "tone:ring;tonezone=us"); err != nil {
		c.log.Debug("ringback", zap.Error(err))
	}
	return func() { _ = c.ari.StopPlayback(context.WithoutCancel(ctx), ring) }
}

// DestroyBridge removes a bridge; its channels stay up.
func (c *Channel) DestroyBridge(ctx context.Context, bridgeID string) {
	_ = c.ari.DestroyBridge(context.WithoutCancel(ctx), bridgeID)
}

// Transfer dials to (an endpoint such as PJSIP/1001), lets the caller hear
// ringing, and on answer bridges the two; it returns when the conversation
// is over, or with ErrNoAnswer if the target does not answer in time.
func (c *Channel) Transfer(ctx context.Context, to string, timeout time.Duration) error {
	_, err := c.Connect(ctx, DialOptions{To: to, Timeout: timeout}, "br-"+uuid.NewString())
	return err
}

// Connect dials o for the caller, who hears ringing meanwhile; on answer
// the two talk in bridge bridgeID until either hangs up. connected reports
// whether they were bridged: an error after that is the caller's hang-up
// (the context's cause), before it ErrNoAnswer, a dial or a bridge error,
// or the caller's hang-up while it rang.
func (c *Channel) Connect(ctx context.Context, o DialOptions, bridgeID string) (connected bool, err error) {
	stopRing := c.Ring(ctx)
	l, err := c.Dial(ctx, o)
	if err != nil {
		stopRing()
		return false, err
	}
	defer c.DropLeg(l)
	log := c.log.With(zap.String("leg_id", l.ID), zap.String("to", o.To))
	select {
	case <-l.answered:
	case cause := <-l.gone:
		stopRing()
		return false, fmt.Errorf("%w: %s (%s)", ErrNoAnswer, o.To, cause)
	case <-ctx.Done():
		stopRing()
		l.Hangup(ctx)
		return false, context.Cause(ctx)
	}
	stopRing()
	if err := c.Bridge(ctx, bridgeID, l); err != nil {
		l.Hangup(ctx)
		return false, err
	}
	defer c.DestroyBridge(ctx, bridgeID)
	log.Info("caller connected", zap.String("bridge_id", bridgeID))
	select {
	case cause := <-l.gone:
		log.Info("transfer target hung up", zap.String("cause", cause))
		return true, nil
	case <-ctx.Done():
		l.Hangup(ctx)
		return true, context.Cause(ctx)
	}
}
