package sipagent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/diago/media"
	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/ccd-platform/ccd/internal/audio"
)

// byeTimeout bounds the wait for the 200 to the agent's BYE.
const byeTimeout = 5 * time.Second

// Final responses the phone sends when it does not answer.
const (
	statusDecline     = 603 // Call.Hangup while ringing
	statusUnavailable = sip.StatusTemporarilyUnavailable
)

var reasonPhrases = map[int]string{
	403: "Forbidden",
	404: "Not Found",
	480: "Temporarily Unavailable",
	486: "Busy Here",
	488: "Not Acceptable Here",
	500: "Server Internal Error",
	503: "Service Unavailable",
	600: "Busy Everywhere",
	603: "Decline",
}

func reasonPhrase(code int) string {
	if r, ok := reasonPhrases[code]; ok {
		return r
	}
	return "Rejected"
}

type requestKind int

const (
	reqAnswer requestKind = iota
	reqReject
	reqHangup
)

type request struct {
	kind requestKind
	code int
	why  string
}

// Call is one incoming call: ringing, then answered or not. Its methods are
// safe for concurrent use. What the agent hears is recorded from the answer
// on.
type Call struct {
	a         *Agent
	d         *diago.DialogServerSession
	behaviour Behaviour

	id, from, fromName, to string
	receivedAt             time.Time

	reqs     chan request
	answered chan struct{} // closed once answered
	done     chan struct{} // closed once over and released

	byeSeen   atomic.Bool
	byeReason atomic.Value // string

	mu         sync.Mutex
	answeredAt time.Time
	endedAt    time.Time
	codec      media.Codec
	outcome    Outcome
	status     int    // final response sent to the INVITE
	failure    string // why an OutcomeFailed call failed
	events     []Event

	heardMu sync.Mutex
	heard   []int16
	digits  []rune

	stopPlay chan struct{}
	media    sync.WaitGroup
}

func newCall(a *Agent, d *diago.DialogServerSession, b Behaviour) *Call {
	c := &Call{
		a:          a,
		d:          d,
		behaviour:  b,
		from:       d.FromUser(),
		to:         d.ToUser(),
		receivedAt: time.Now(),
		reqs:       make(chan request, 8),
		answered:   make(chan struct{}),
		done:       make(chan struct{}),
		stopPlay:   make(chan struct{}),
	}
	if h := d.InviteRequest.CallID(); h != nil {
		c.id = h.Value()
	}
	if f := d.InviteRequest.From(); f != nil {
		c.fromName = f.DisplayName
	}
	return c
}

// ID is the SIP Call-ID of the call.
func (c *Call) ID() string { return c.id }

// From is the caller's user part: the caller number Asterisk presents.
func (c *Call) From() string { return c.from }

// FromName is the caller's display name, if any.
func (c *Call) FromName() string { return c.fromName }

// To is the user part the INVITE was addressed to.
func (c *Call) To() string { return c.to }

// ReceivedAt is when the INVITE arrived.
func (c *Call) ReceivedAt() time.Time { return c.receivedAt }

// Behaviour is the behaviour the call was taken with.
func (c *Call) Behaviour() Behaviour { return c.behaviour }

// Answer makes a ringing phone answer now, whatever its behaviour; it
// returns at once (WaitAnswered tells when it is done). It does nothing once
// the call is answered or over.
func (c *Call) Answer() { c.request(request{kind: reqAnswer}) }

// Reject makes a ringing phone refuse the call with a final status (400 to
// 699) now. It does nothing once the call is answered or over.
func (c *Call) Reject(code int) error {
	if code < 400 || code > 699 {
		return fmt.Errorf("%w: reject status %d (want 400 to 699)", ErrInvalidOptions, code)
	}
	c.request(request{kind: reqReject, code: code})
	return nil
}

// Hangup ends the call from the agent's side and returns at once: BYE when
// answered, 603 Decline while ringing. Done tells when it is over.
func (c *Call) Hangup() { c.request(request{kind: reqHangup, why: "requested"}) }

func (c *Call) request(r request) {
	select {
	case c.reqs <- r:
	default: // enough requests pending; the call is ending anyway
	}
}

// WaitAnswered waits until the call is answered. It returns ErrCallEnded
// if the call ends first (cancelled, rejected), or ctx's cause.
func (c *Call) WaitAnswered(ctx context.Context) error {
	select {
	case <-c.answered:
		return nil
	case <-c.done:
		select {
		case <-c.answered:
			return nil
		default:
		}
		return fmt.Errorf("%w: %s", ErrCallEnded, c.Outcome())
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// Done is closed once the call is over and its media released.
func (c *Call) Done() <-chan struct{} { return c.done }

// Wait waits until the call is over and returns how it ended, or ctx's
// cause.
func (c *Call) Wait(ctx context.Context) (Outcome, error) {
	select {
	case <-c.done:
		return c.Outcome(), nil
	case <-ctx.Done():
		return "", context.Cause(ctx)
	}
}

// Answered reports whether the call was answered.
func (c *Call) Answered() bool {
	select {
	case <-c.answered:
		return true
	default:
		return false
	}
}

// AnsweredAt is when the answer was acknowledged; Heard starts there. Zero
// when not answered.
func (c *Call) AnsweredAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.answeredAt
}

// EndedAt is when the call ended; zero while it is in progress.
func (c *Call) EndedAt() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endedAt
}

// Codec is the negotiated audio codec ("PCMU" or "PCMA") once answered.
func (c *Call) Codec() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.codec.Name
}

// Outcome is how the call ended; "" while it is in progress.
func (c *Call) Outcome() Outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.outcome
}

// StatusCode is the final response the phone sent to the INVITE: 200 when
// answered, the reject status, 487 when cancelled; 0 while ringing.
func (c *Call) StatusCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// HangupReason is the Reason header of the far end's BYE, if any.
func (c *Call) HangupReason() string {
	r, _ := c.byeReason.Load().(string)
	return r
}

// Events is a copy of the call's events so far.
func (c *Call) Events() []Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...)
}

func (c *Call) addEvent(e Event) {
	c.mu.Lock()
	c.events = append(c.events, e)
	c.mu.Unlock()
}

// Heard is a copy of what the agent has heard so far, decoded to 8 kHz PCM.
// Sample 0 is the answer. A stream's first packet is placed at its arrival
// time, each later packet by its RTP timestamp from there: jitter and
// bunched packets do not shift the audio, pauses in the far end's stream
// stay pauses, and offsets follow the wall clock.
func (c *Call) Heard() audio.PCM {
	c.heardMu.Lock()
	defer c.heardMu.Unlock()
	return audio.PCM{Rate: audio.Rate, Samples: append([]int16(nil), c.heard...)}
}

// Digits are the DTMF keys received so far, in order.
func (c *Call) Digits() string {
	c.heardMu.Lock()
	defer c.heardMu.Unlock()
	return string(c.digits)
}

func (c *Call) byeReceived(reason string) {
	c.byeReason.Store(reason)
	if c.byeSeen.CompareAndSwap(false, true) {
		c.a.emit(c, Event{Type: EventHangupReceived, Reason: reason})
	}
}

// run rings, then answers or not, and waits for the end of the call.
func (c *Call) run() {
	outcome := c.ring()
	if outcome == "" {
		outcome = c.talk()
	}
	c.mu.Lock()
	c.outcome = outcome
	c.endedAt = time.Now()
	detail := c.failure
	c.mu.Unlock()
	c.a.emit(c, Event{Type: EventEnded, Outcome: outcome, Detail: detail})
	close(c.done)
}

// ring sends 180 and waits for the moment to answer or reject, a request,
// a CANCEL or Close. It returns the outcome of a call that ends here, ""
// once answered.
func (c *Call) ring() Outcome {
	dctx := c.d.Context()
	_ = c.d.Ringing() // fails only if the caller cancelled already; seen below

	var respond <-chan time.Time
	if !c.behaviour.NoAnswer {
		t := time.NewTimer(c.behaviour.AnswerAfter)
		defer t.Stop()
		respond = t.C
	}
	for {
		select {
		case <-respond:
			if code := c.behaviour.Reject; code != 0 {
				return c.reject(code)
			}
			return c.answer()
		case r := <-c.reqs:
			switch r.kind {
			case reqAnswer:
				return c.answer()
			case reqReject:
				return c.reject(r.code)
			case reqHangup:
				return c.reject(statusDecline)
			}
		case <-c.a.closing:
			return c.reject(statusUnavailable)
		case <-dctx.Done():
			return c.endedRinging()
		}
	}
}

// endedRinging tells how an unanswered dialog ended: a CANCEL, or the
// transaction ending otherwise.
func (c *Call) endedRinging() Outcome {
	cause := context.Cause(c.d.Context())
	if errors.Is(cause, sip.ErrTransactionCanceled) {
		c.setStatus(sip.StatusRequestTerminated)
		c.a.emit(c, Event{Type: EventCancelled})
		return OutcomeCancelled
	}
	return c.fail("INVITE transaction ended: " + errText(cause))
}

// fail notes why the call failed, for EventEnded.
func (c *Call) fail(why string) Outcome {
	c.mu.Lock()
	c.failure = why
	c.mu.Unlock()
	return OutcomeFailed
}

func (c *Call) setStatus(code int) {
	c.mu.Lock()
	c.status = code
	c.mu.Unlock()
}

func (c *Call) reject(code int) Outcome {
	reason := reasonPhrase(code)
	// Respond waits for the ACK of the final response.
	if err := c.d.Respond(code, reason, nil); err != nil {
		if c.d.Context().Err() != nil {
			return c.endedRinging()
		}
		return c.fail(fmt.Sprintf("sending %d: %v", code, err))
	}
	c.setStatus(code)
	c.a.emit(c, Event{Type: EventRejected, StatusCode: code, Reason: reason})
	return OutcomeRejected
}

// answer sends the 200 with the SDP answer and waits for the ACK, then
// starts media.
func (c *Call) answer() Outcome {
	if err := c.d.Answer(); err != nil {
		if errors.Is(context.Cause(c.d.Context()), sip.ErrTransactionCanceled) {
			return c.endedRinging()
		}
		_ = c.d.DialogMedia.Close()
		return c.fail("answering: " + err.Error())
	}
	codec := media.CodecAudioFromSession(c.d.MediaSession())
	dtmf := media.CodecTelephoneEvent8000.PayloadType
	for _, k := range c.d.MediaSession().CommonCodecs() {
		if k.Name == media.CodecTelephoneEvent8000.Name {
			dtmf = k.PayloadType
		}
	}
	c.mu.Lock()
	c.answeredAt = time.Now()
	c.codec = codec
	c.status = sip.StatusOK
	c.mu.Unlock()
	close(c.answered)
	c.a.emit(c, Event{Type: EventAnswered, StatusCode: sip.StatusOK, Codec: codec.Name})

	c.media.Add(2)
	go func() { defer c.media.Done(); c.record(codec, dtmf) }()
	go func() { defer c.media.Done(); c.play(codec) }()
	return ""
}

// talk waits for the end of an answered call, hangs up when the agent ends
// it, and releases media.
func (c *Call) talk() Outcome {
	var after <-chan time.Time
	if c.behaviour.HangupAfter > 0 {
		t := time.NewTimer(c.behaviour.HangupAfter)
		defer t.Stop()
		after = t.C
	}
	why := ""
wait:
	for {
		select {
		case <-c.d.Context().Done():
			break wait
		case r := <-c.reqs:
			if r.kind == reqHangup {
				why = r.why
				break wait
			}
		case <-after:
			why = "hangup-after"
			break wait
		case <-c.a.closing:
			why = "agent closed"
			break wait
		}
	}
	outcome := OutcomeRemoteHangup
	if why != "" && !c.byeSeen.Load() {
		outcome = c.bye(why)
	}

	end := time.Now()
	close(c.stopPlay)
	_ = c.d.DialogMedia.Close()
	c.media.Wait()
	c.padHeard(end)
	return outcome
}

// bye sends BYE and waits for its response. A BYE crossing the far end's
// counts as the far end's.
func (c *Call) bye(why string) Outcome {
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	err := c.d.Hangup(ctx)
	if err != nil && c.byeSeen.Load() {
		return OutcomeRemoteHangup
	}
	code := 0
	if err == nil {
		code = sip.StatusOK
	} else if r, ok := finalResponse(err); ok {
		code = r
	}
	c.a.emit(c, Event{Type: EventHangupSent, Detail: why, StatusCode: code})
	return OutcomeAgentHangup
}

func finalResponse(err error) (int, bool) {
	var pe *sipgo.ErrDialogResponse
	if errors.As(err, &pe) && pe.Res != nil {
		return pe.Res.StatusCode, true
	}
	var ve sipgo.ErrDialogResponse
	if errors.As(err, &ve) && ve.Res != nil {
		return ve.Res.StatusCode, true
	}
	return 0, false
}
