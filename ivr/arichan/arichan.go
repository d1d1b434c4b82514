// Package arichan implements ivr.Channel on an Asterisk channel over ARI.
package arichan

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/CyCoreSystems/ari/v5"
	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/internal/ariconn"
	"github.com/ccd-platform/ccd/ivr"
)

var (
	_ ivr.Channel  = (*Channel)(nil)
	_ ivr.Recorder = (*Channel)(nil)
)

type recDone struct {
	duration time.Duration
	err      error
}

// Channel is one caller's channel in the Stasis application. Its owner feeds
// it the channel's ARI events through HandleEvent.
type Channel struct {
	ari  *ariconn.Client
	id   string
	vars map[string]string
	keys *ivr.Keys
	log  *zap.Logger

	mu        sync.Mutex
	playbacks map[string]chan struct{} // playback ID → closed when finished
	records   map[string]chan recDone  // recording name → its end
	hungUp    bool                     // we sent the hangup
	legs      Legs
	dialled   map[string]*Leg // leg channel ID → leg
	onKey     func(rune)
}

// New wraps channel id. vars are the call's variables (caller, did, call_id).
func New(c *ariconn.Client, id string, vars map[string]string, log *zap.Logger) *Channel {
	return &Channel{ari: c, id: id, vars: vars, keys: ivr.NewKeys(), log: log,
		playbacks: map[string]chan struct{}{}, records: map[string]chan recDone{}, dialled: map[string]*Leg{}}
}

// OnKey registers a function called for every key the caller presses.
func (c *Channel) OnKey(f func(rune)) {
	c.mu.Lock()
	c.onKey = f
	c.mu.Unlock()
}

// HandleEvent takes the channel's DTMF and playback events.
func (c *Channel) HandleEvent(ev ari.Event) {
	if c.handleLeg(ev) {
		return
	}
	switch e := ev.(type) {
	case *ari.ChannelDtmfReceived:
		r := []rune(e.Digit)
		if len(r) != 1 {
			return
		}
		c.keys.Push(r[0])
		c.mu.Lock()
		f := c.onKey
		c.mu.Unlock()
		if f != nil {
			f(r[0])
		}
	case *ari.PlaybackFinished:
		c.finishPlayback(e.Playback.ID)
	case *ari.RecordingFinished:
		c.finishRecording(e.Recording.Name, recDone{duration: time.Duration(e.Recording.Duration)})
	case *ari.RecordingFailed:
		c.finishRecording(e.Recording.Name, recDone{err: fmt.Errorf("recording %s failed: %s", e.Recording.Name, e.Recording.Cause)})
	}
}

func (c *Channel) finishPlayback(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if done, ok := c.playbacks[id]; ok {
		close(done)
		delete(c.playbacks, id)
	}
}

// Resync checks the playbacks we wait on after the event stream was down:
// one that Asterisk no longer knows has finished while we were not listening.
func (c *Channel) Resync(ctx context.Context) {
	c.mu.Lock()
	ids := make([]string, 0, len(c.playbacks))
	for id := range c.playbacks {
		ids = append(ids, id)
	}
	c.mu.Unlock()
	for _, id := range ids {
		if ok, err := c.ari.PlaybackExists(ctx, id); err == nil && !ok {
			c.finishPlayback(id)
		}
	}
}

// ID is the Asterisk channel ID.
func (c *Channel) ID() string { return c.id }

// HungUpByUs tells whether ccd sent the hangup.
func (c *Channel) HungUpByUs() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hungUp
}

// Answer answers the channel.
func (c *Channel) Answer(ctx context.Context) error {
	return c.ari.Answer(ctx, c.id)
}

// Play plays the prompt's media in sequence and waits for the end. With
// barge-in a key stops it (and a key already typed ahead skips it); the key
// stays buffered for the next collection.
func (c *Channel) Play(ctx context.Context, p ivr.Prompt) (ivr.PlayResult, error) {
	if len(p.Media) == 0 {
		return ivr.PlayResult{}, nil
	}
	if p.BargeIn && c.keys.Len() > 0 {
		return ivr.PlayResult{Interrupted: true}, nil
	}
	id := "pb-" + uuid.NewString()
	done := make(chan struct{})
	c.mu.Lock()
	c.playbacks[id] = done
	c.mu.Unlock()
	if err := c.ari.Play(ctx, c.id, id, p.Media...); err != nil {
		c.finishPlayback(id)
		return ivr.PlayResult{}, fmt.Errorf("play %s: %w", strings.Join(p.Media, ","), err)
	}
	var keyCh <-chan struct{}
	if p.BargeIn {
		keyCh = c.keys.Arrived()
	}
	for {
		select {
		case <-done:
			return ivr.PlayResult{}, nil
		case <-ctx.Done():
			c.stop(id, done)
			return ivr.PlayResult{}, context.Cause(ctx)
		case <-keyCh:
			if c.keys.Len() == 0 {
				continue
			}
			c.stop(id, done)
			return ivr.PlayResult{Interrupted: true}, nil
		}
	}
}

// stop ends a playback and waits briefly for Asterisk to confirm, so the next
// prompt does not overlap it.
func (c *Channel) stop(id string, done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.ari.StopPlayback(ctx, id); err != nil && !errors.Is(err, ariconn.ErrNotFound) {
		c.log.Debug("stop playback", zap.String("playback_id", id), zap.Error(err))
	}
	select {
	case <-done:
	case <-ctx.Done():
		c.finishPlayback(id)
	}
}

// CollectDigits reads keys, starting with those typed during prompts.
func (c *Channel) CollectDigits(ctx context.Context, spec ivr.DigitSpec) (ivr.Digits, error) {
	return c.keys.Collect(ctx, spec)
}

// Hangup hangs the channel up; a channel already gone is fine. The request
// goes out even if ctx is already cancelled: the channel leaving Stasis
// cancels the call's context while the request is still in flight.
func (c *Channel) Hangup(ctx context.Context, reason string) error {
	c.mu.Lock()
	c.hungUp = true
	c.mu.Unlock()
	return c.ari.Hangup(context.WithoutCancel(ctx), c.id, reason)
}

// Var returns a call variable.
func (c *Channel) Var(name string) string { return c.vars[name] }

func (c *Channel) finishRecording(name string, d recDone) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.records[name]; ok {
		ch <- d
		delete(c.records, name)
	}
}

// Record records the caller (a message) until silence, the maximum length,
// the terminating key or hang-up. A caller who hangs up while speaking still
// leaves the recording: Asterisk finishes it and we wait for that.
func (c *Channel) Record(ctx context.Context, spec ivr.RecordSpec) (ivr.Recording, error) {
	name := "msg-" + uuid.NewString()
	done := make(chan recDone, 1)
	c.mu.Lock()
	c.records[name] = done
	c.mu.Unlock()
	term := "none"
	if spec.TerminateOn != 0 {
		term = string(spec.TerminateOn)
	}
	// The key that ends the message is not input for the flow.
	err := c.ari.Record(ctx, c.id, name, ariconn.RecordOptions{
		Format: "wav", MaxDuration: spec.MaxDuration, MaxSilence: spec.SilenceTimeout, Beep: spec.Beep, TerminateOn: term,
	})
	if err != nil {
		c.mu.Lock()
		delete(c.records, name)
		c.mu.Unlock()
		return ivr.Recording{}, fmt.Errorf("start recording: %w", err)
	}
	select {
	case d := <-done:
		c.drainTerminator(spec.TerminateOn)
		return ivr.Recording{Name: name, Duration: d.duration}, d.err
	case <-ctx.Done():
		wait := time.NewTimer(3 * time.Second)
		defer wait.Stop()
		select {
		case d := <-done:
			if d.err != nil {
				return ivr.Recording{}, d.err
			}
			return ivr.Recording{Name: name, Duration: d.duration}, context.Cause(ctx)
		case <-wait.C:
			return ivr.Recording{}, context.Cause(ctx)
		}
	}
}

// drainTerminator drops the key that ended a recording from the key buffer.
func (c *Channel) drainTerminator(term rune) {
	if term == 0 {
		return
	}
	c.keys.DropLast(term)
}
