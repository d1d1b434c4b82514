package sipcall

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
	"github.com/ccd-platform/ccd/internal/sipua"
)

// Who hung up, in Result.HungUpBy.
const (
	HungUpByCaller = "caller"
	HungUpByRemote = "remote"
)

// byeTimeout bounds the wait for the 200 to our BYE.
const byeTimeout = 5 * time.Second

// Session is an answered call under the control of its creator. Its methods
// are safe for concurrent use. The call ends when the far end hangs up,
// Hangup is called, Options.HangupAfter or MaxDuration passes, or the
// context given to Dial ends; everything it opened is then released and
// Wait returns.
type Session struct {
	cfg config
	ua  *sipgo.UserAgent
	dg  *diago.Diago
	d   *diago.DialogClientSession

	stopServe context.CancelFunc
	callCtx   context.Context
	cancel    context.CancelCauseFunc

	inviteSentAt time.Time
	answeredAt   time.Time
	codec        media.Codec

	evMu   sync.Mutex
	events []Event

	heardMu sync.Mutex
	heard   []int16

	// writeMu serializes RTP writes: audio (silence or speech) and DTMF
	// events share one SSRC, sequence and clock.
	writeMu  sync.Mutex
	sayMu    sync.Mutex
	speech   []*speech  // queued to be said, under sayMu
	digitsMu sync.Mutex // one SendDigits at a time
	sent     []rune     // keys sent, under evMu

	byeReceived atomic.Bool
	byeSent     atomic.Bool
	byeMu       sync.Mutex
	callID      string // of our INVITE, under byeMu
	byeReason   string

	provisional atomic.Bool
	finalCode   int
	finalReason string

	hangupReq chan string // cause of a requested hangup
	ending    chan struct{}
	stopTalk  chan struct{}
	talkDone  chan struct{} // closed when the caller stopped sending
	wg        sync.WaitGroup

	done   chan struct{}
	result *Result
	err    error
}

// Dial places a call and returns once it is answered. ctx bounds the whole
// call, not only the dialling: when it ends the caller cancels or hangs up.
// Options.Digits are then sent in the background.
//
// A final non-2xx response returns a *RejectedError (errors.Is ErrRejected)
// holding the status and a Result. No final response returns an error
// wrapping ErrNoAnswer. Every resource of a failed attempt is released before
// Dial returns.
func Dial(ctx context.Context, o Options) (*Session, error) {
	s, _, err := dial(ctx, o)
	return s, err
}

// dial is Dial, also returning the Result of a failed attempt once the INVITE
// was sent.
func dial(ctx context.Context, o Options) (*Session, *Result, error) {
	cfg, err := o.resolve()
	if err != nil {
		return nil, nil, err
	}
	s := &Session{
		cfg:       cfg,
		hangupReq: make(chan string, 1),
		ending:    make(chan struct{}),
		stopTalk:  make(chan struct{}),
		talkDone:  make(chan struct{}),
		done:      make(chan struct{}),
	}
	s.callCtx, s.cancel = context.WithCancelCause(ctx)
	maxTimer := time.AfterFunc(cfg.MaxDuration, func() { s.cancel(ErrMaxDuration) })

	fail := func(res *Result, err error) (*Session, *Result, error) {
		maxTimer.Stop()
		s.cancel(err)
		s.release()
		return nil, res, err
	}

	if err := s.start(); err != nil {
		return fail(nil, err)
	}
	if err := s.invite(); err != nil {
		res := s.buildResult(time.Now())
		var rej *RejectedError
		if errors.As(err, &rej) {
			rej.Result = res
		}
		return fail(res, err)
	}

	s.answered()
	go func() {
		s.run()
		maxTimer.Stop()
	}()
	return s, nil, nil
}

// start creates this call's own user agent, bound to an ephemeral port on
// BindHost, listening so that the far end's BYE reaches it.
func (s *Session) start() error {
	cfg := s.cfg
	ua, err := sipgo.NewUA(
		sipgo.WithUserAgent("ccd-caller"),
		sipgo.WithUserAgentHostname(cfg.BindHost),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(cfg.Logger)),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(cfg.Logger)),
	)
	if err != nil {
		return fmt.Errorf("sipcall: user agent: %w", err)
	}
	s.ua = ua
	s.dg = diago.NewDiago(ua,
		diago.WithLogger(cfg.Logger),
		diago.WithTransport(diago.Transport{
			Transport: cfg.transport,
			BindHost:  cfg.BindHost,
			BindPort:  0,
		}),
		diago.WithMediaConfig(diago.MediaConfig{Codecs: cfg.codecs}),
		diago.WithServerRequestMiddleware(s.watchRequests),
	)
	serveCtx, stop := context.WithCancel(context.Background())
	s.stopServe = stop
	// A test caller takes no calls.
	err = s.dg.ServeBackground(serveCtx, func(d *diago.DialogServerSession) {
		_ = d.Respond(sip.StatusForbidden, "Forbidden", nil)
	})
	if err != nil {
		return fmt.Errorf("sipcall: listen on %s/%s: %w", cfg.BindHost, cfg.transport, err)
	}
	return s.awaitListener()
}

// awaitListener waits until requests can go out from the listening socket
// (see sipua.AwaitListener).
func (s *Session) awaitListener() error {
	if s.cfg.transport != "udp" {
		return nil // TCP requests leave from their own ephemeral socket
	}
	target := sip.Uri{Scheme: "sip", Host: s.cfg.host, Port: s.cfg.port}
	if _, err := sipua.AwaitListener(s.dg, s.ua, target, s.cfg.BindHost, s.cfg.transport); err != nil {
		return fmt.Errorf("sipcall: %w", err)
	}
	return nil
}

// watchRequests sees every request reaching this caller; it notes the far
// end's BYE and its Reason header before diago answers it.
func (s *Session) watchRequests(next sipgo.RequestHandler) sipgo.RequestHandler {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if req.Method == sip.BYE && s.isOurs(req) {
			reason := ""
			if h := req.GetHeader("Reason"); h != nil {
				reason = h.Value()
			}
			s.byeMu.Lock()
			s.byeReason = reason
			s.byeMu.Unlock()
			if s.byeReceived.CompareAndSwap(false, true) {
				s.emit(Event{Type: EventHangupReceived, Reason: reason})
			}
		}
		next(req, tx)
	}
}

func (s *Session) isOurs(req *sip.Request) bool {
	s.byeMu.Lock()
	defer s.byeMu.Unlock()
	return req.CallID() != nil && s.callID != "" && req.CallID().Value() == s.callID
}

// invite sends the INVITE and waits for the final response, then ACKs a 2xx.
func (s *Session) invite() error {
	cfg := s.cfg
	recipient := sip.Uri{Scheme: "sip", User: cfg.DID, Host: cfg.host, Port: cfg.port}
	d, err := s.dg.NewDialog(recipient, diago.NewDialogOptions{Transport: cfg.transport})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoAnswer, err)
	}
	s.d = d

	opts := diago.InviteClientOptions{
		Username:   cfg.AuthUser,
		Password:   cfg.AuthPassword,
		OnResponse: s.onResponse,
	}
	if cfg.AuthUser == "" {
		opts.Username = cfg.From
	}
	opts.WithCaller("", cfg.From, cfg.BindHost)

	// Cancelling the INVITE: after a provisional response sipgo sends
	// CANCEL and waits for the 487; before any response there is nobody to
	// cancel, so it is told to give up at once instead of waiting Timer B.
	inviteCtx, cancelInvite := context.WithCancelCause(context.Background())
	defer cancelInvite(nil)
	stop := context.AfterFunc(s.callCtx, func() {
		cause := context.Cause(s.callCtx)
		if s.provisional.Load() {
			s.emit(Event{Type: EventCancelSent, Detail: causeText(cause)})
			cancelInvite(cause)
			return
		}
		cancelInvite(sipgo.WaitAnswerForceCancelErr)
	})
	defer stop()

	s.evMu.Lock()
	s.inviteSentAt = time.Now()
	s.evMu.Unlock()
	s.emit(Event{Type: EventInviteSent, Detail: recipient.String()})
	err = d.Invite(inviteCtx, opts)
	if err == nil {
		err = d.Ack(inviteCtx)
		if err != nil {
			err = fmt.Errorf("sipcall: ACK: %w", err)
		}
	}
	if err == nil {
		return nil
	}

	if code, reason, ok := finalResponse(err); ok {
		s.finalCode, s.finalReason = code, reason
		s.emit(Event{Type: EventFailed, StatusCode: code, Reason: reason})
		return &RejectedError{StatusCode: code, Reason: reason}
	}
	if cause := context.Cause(s.callCtx); cause != nil {
		err = cause
	}
	s.emit(Event{Type: EventFailed, Detail: err.Error()})
	return fmt.Errorf("%w: %w", ErrNoAnswer, err)
}

func finalResponse(err error) (int, string, bool) {
	var pe *sipgo.ErrDialogResponse
	if errors.As(err, &pe) && pe.Res != nil {
		return pe.Res.StatusCode, pe.Res.Reason, true
	}
	var ve sipgo.ErrDialogResponse
	if errors.As(err, &ve) && ve.Res != nil {
		return ve.Res.StatusCode, ve.Res.Reason, true
	}
	return 0, "", false
}

func (s *Session) onResponse(res *sip.Response) error {
	if h := res.CallID(); h != nil {
		s.byeMu.Lock()
		s.callID = h.Value()
		s.byeMu.Unlock()
	}
	switch {
	case res.IsProvisional():
		// sipgo handles each response in its own goroutine, so a 100 can
		// come up after a 180; it says nothing new then.
		if s.provisional.Swap(true) && res.StatusCode == sip.StatusTrying {
			return nil
		}
		s.emit(Event{Type: EventProvisional, StatusCode: res.StatusCode, Reason: res.Reason})
	case (res.StatusCode == sip.StatusUnauthorized || res.StatusCode == sip.StatusProxyAuthRequired) && s.cfg.AuthPassword != "":
		// sipgo retries once with credentials; a second challenge ends
		// the call as rejected.
		if !s.challenged() {
			s.emit(Event{Type: EventAuthChallenge, StatusCode: res.StatusCode, Reason: res.Reason})
		}
	case res.IsSuccess():
		s.finalCode, s.finalReason = res.StatusCode, res.Reason
	}
	return nil
}

func (s *Session) challenged() bool {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	for _, e := range s.events {
		if e.Type == EventAuthChallenge {
			return true
		}
	}
	return false
}

// answered starts media: what is heard is recorded, silence (or what
// Options.Say gives) is sent so the far end sees a live stream, and
// Options.Digits go out.
func (s *Session) answered() {
	s.answeredAt = time.Now()
	s.codec = media.CodecAudioFromSession(s.d.MediaSession())
	s.emit(Event{Type: EventAnswered, StatusCode: s.finalCode, Reason: s.finalReason, Codec: s.codec.Name})

	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.record() }()
	go func() { defer s.wg.Done(); s.talk() }()
	if len(s.cfg.Digits) > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = s.SendDigits(s.callCtx, s.cfg.Digits)
		}()
	}
}

// run waits for the end of the call, hangs up if the caller ends it, and
// releases everything.
func (s *Session) run() {
	var after <-chan time.Time
	if s.cfg.HangupAfter > 0 {
		t := time.NewTimer(s.cfg.HangupAfter)
		defer t.Stop()
		after = t.C
	}

	cause := ""
	select {
	case <-s.d.Context().Done():
	case cause = <-s.hangupReq:
	case <-after:
		cause = "hangup-after"
	case <-s.callCtx.Done():
		cause = causeText(context.Cause(s.callCtx))
	}
	close(s.ending)

	var byeErr error
	if cause != "" && !s.byeReceived.Load() {
		byeErr = s.hangup(cause)
	}

	endedAt := time.Now()
	s.cancel(context.Canceled)
	s.release()
	s.padHeard(endedAt)

	res := s.buildResult(endedAt)
	recErr := s.writeRecording(res)
	s.result, s.err = res, errors.Join(byeErr, recErr)
	close(s.done)
}

// hangup sends BYE and waits for its response. A BYE that crosses the far
// end's is not an error; the call then counts as hung up by whoever's BYE
// got through first as far as this side can tell.
func (s *Session) hangup(cause string) error {
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	err := s.d.Hangup(ctx)
	if err != nil && s.byeReceived.Load() {
		return nil // the far end's BYE ended the dialog first
	}
	code := 0
	if err == nil {
		code = sip.StatusOK
	} else if c, _, ok := finalResponse(err); ok {
		code = c
	}
	s.byeSent.Store(true)
	s.emit(Event{Type: EventHangupSent, Detail: cause, StatusCode: code})
	if err != nil {
		return fmt.Errorf("sipcall: BYE: %w", err)
	}
	return nil
}

// release stops media and the user agent and waits for this call's
// goroutines. Safe to call once, after the call has ended or failed.
func (s *Session) release() {
	select {
	case <-s.stopTalk:
	default:
		close(s.stopTalk)
	}
	if s.d != nil {
		_ = s.d.Close()
	}
	s.wg.Wait()
	if s.stopServe != nil {
		s.stopServe()
	}
	if s.ua != nil {
		_ = s.ua.Close()
	}
}

func causeText(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrMaxDuration):
		return "max-duration"
	case errors.Is(err, context.Canceled):
		return "context canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "context deadline"
	}
	return err.Error()
}

// Hangup asks for the call to end from the caller's side (BYE) and returns
// at once; Wait or Done tell when it is over. It is a no-op once the call is
// ending, so it may be called from OnEvent or more than once.
func (s *Session) Hangup() {
	select {
	case s.hangupReq <- "requested":
	default:
	}
}

// Done is closed when the call has ended and its resources are released.
func (s *Session) Done() <-chan struct{} { return s.done }

// Wait blocks until the call ends and returns its Result. The error reports
// a BYE that got no 200 or a recording that could not be written; the Result
// is complete either way.
func (s *Session) Wait() (*Result, error) {
	<-s.done
	return s.result, s.err
}

// Codec is the negotiated audio codec, "PCMU" or "PCMA".
func (s *Session) Codec() string { return s.codec.Name }

// AnsweredAt is when the 2xx arrived; Heard starts there.
func (s *Session) AnsweredAt() time.Time { return s.answeredAt }

// Events is a copy of the events so far.
func (s *Session) Events() []Event {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	return append([]Event(nil), s.events...)
}

// Heard is a copy of what the caller has heard so far, on the timeline of
// Result.Heard.
func (s *Session) Heard() audio.PCM {
	s.heardMu.Lock()
	defer s.heardMu.Unlock()
	return audio.PCM{Rate: audio.Rate, Samples: append([]int16(nil), s.heard...)}
}

// SendDigits sends digits in order as RFC 4733 telephone-events, waiting each
// Delay first, and returns once the last one is sent. It returns ctx's error
// or ErrCallEnded if the call ends first; digits already sent stay sent.
// Concurrent calls are serialized.
func (s *Session) SendDigits(ctx context.Context, digits []Digit) error {
	for i, d := range digits {
		if !validKey(d.Key) {
			return fmt.Errorf("%w: digit %d: key %q is not 0-9 * # A-D", ErrInvalidDigits, i+1, d.Key)
		}
	}
	s.digitsMu.Lock()
	defer s.digitsMu.Unlock()
	for _, d := range digits {
		if d.Delay > 0 {
			t := time.NewTimer(d.Delay)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-s.ending:
				t.Stop()
				return ErrCallEnded
			}
		}
		select {
		case <-s.ending:
			return ErrCallEnded
		default:
		}
		if _, err := s.writeDigit(d.Key); err != nil {
			return fmt.Errorf("%w: %w", ErrCallEnded, err)
		}
	}
	return nil
}

func (s *Session) emit(e Event) {
	s.evMu.Lock()
	defer s.evMu.Unlock()
	e.At = time.Now()
	if !s.inviteSentAt.IsZero() {
		e.Since = e.At.Sub(s.inviteSentAt)
	}
	if e.Type == EventDigitSent {
		s.sent = append(s.sent, e.Digit)
	}
	s.events = append(s.events, e)
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(e)
	}
}

func (s *Session) buildResult(endedAt time.Time) *Result {
	r := &Result{
		Answered:     !s.answeredAt.IsZero(),
		StatusCode:   s.finalCode,
		Reason:       s.finalReason,
		Codec:        s.codec.Name,
		InviteSentAt: s.inviteSentAt,
		AnsweredAt:   s.answeredAt,
		EndedAt:      endedAt,
		Events:       s.Events(),
		Heard:        s.Heard(),
	}
	s.evMu.Lock()
	r.DigitsSent = string(s.sent)
	s.evMu.Unlock()
	if r.Answered {
		r.HungUpBy = HungUpByRemote
		if s.byeSent.Load() {
			r.HungUpBy = HungUpByCaller
		}
		s.byeMu.Lock()
		r.RemoteReason = s.byeReason
		s.byeMu.Unlock()
	}
	if s.cfg.RecordPath != "" {
		r.RecordPath = s.cfg.RecordPath
	}
	return r
}
