package cti

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// reply is the body of every command reply: Data on success, Error else.
type reply struct {
	Data  json.RawMessage `json:"data,omitempty"`
	Error *Error          `json:"error,omitempty"`
}

// ServeOptions configure Serve.
type ServeOptions struct {
	// Queue is the NATS queue group: several ccd instances serving commands
	// share them, each command runs once. Default "ccd-cti".
	Queue string
	// Timeout bounds one command (default 10s).
	Timeout time.Duration
	// MaxInFlight bounds the commands running at once (default 256); more
	// wait in the subscription's buffer.
	MaxInFlight int
	// Classify maps the handler's domain errors (acd.ErrNotFound...) to
	// codes. Errors wrapping an *Error keep its code; unclassified errors
	// are internal.
	Classify func(error) Code
	Logger   *zap.Logger
}

// Server serves commands until Close.
type Server struct {
	h      CommandHandler
	o      ServeOptions
	log    *zap.Logger
	sub    *nats.Subscription
	ctx    context.Context
	cancel context.CancelCauseFunc
	sem    chan struct{}

	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// errShutdown is the cause given to running commands when Close forces them.
var errShutdown = Errorf(CodeUnavailable, "server shutting down")

// Serve subscribes to every v1 command and runs each on h. Each command runs
// on its own goroutine; a malformed one is answered with ErrInvalid, a
// handler that panics with ErrInternal.
func Serve(nc *nats.Conn, h CommandHandler, o ServeOptions) (*Server, error) {
	if nc == nil || h == nil {
		return nil, errors.New("cti: Serve needs a NATS connection and a handler")
	}
	if o.Queue == "" {
		o.Queue = "ccd-cti"
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 256
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	s := &Server{h: h, o: o, log: o.Logger, sem: make(chan struct{}, o.MaxInFlight)}
	s.ctx, s.cancel = context.WithCancelCause(context.Background())
	sub, err := nc.QueueSubscribe(AllCommands(), o.Queue, s.receive)
	if err != nil {
		s.cancel(err)
		return nil, fmt.Errorf("cti: subscribe %s: %w", AllCommands(), err)
	}
	s.sub = sub
	// Commands sent once Serve returned must reach this subscription. While
	// NATS is down, the subscription is registered on reconnect.
	if err := nc.FlushTimeout(5 * time.Second); err != nil {
		s.log.Warn("CTI commands: flush subscription", zap.Error(err))
	}
	return s, nil
}

// receive runs on the subscription's goroutine, in arrival order.
func (s *Server) receive(m *nats.Msg) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.respond(m, nil, errShutdown)
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	s.sem <- struct{}{}
	go func() {
		defer s.wg.Done()
		defer func() { <-s.sem }()
		s.handle(m)
	}()
}

func (s *Server) handle(m *nats.Msg) {
	ctx, cancel := context.WithTimeout(s.ctx, s.o.Timeout)
	defer cancel()
	start := time.Now()
	resp, err := s.run(ctx, m)
	if err != nil && ctx.Err() != nil {
		switch {
		case context.Cause(ctx) == errShutdown:
			err = errShutdown
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			err = fmt.Errorf("%w: timed out after %v (%v)", ErrUnavailable, s.o.Timeout, err)
		}
	}
	s.respond(m, resp, err)
	if err != nil {
		log := s.log.With(zap.String("subject", m.Subject), zap.String("user", m.Header.Get(HeaderUser)),
			zap.Duration("took", time.Since(start)), zap.Error(err))
		switch CodeOf(err) {
		case CodeInternal:
			log.Error("CTI command failed")
		default:
			log.Info("CTI command refused")
		}
	}
}

// run decodes, checks and runs one command. It never panics.
func (s *Server) run(ctx context.Context, m *nats.Msg) (resp any, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("CTI command panicked", zap.String("subject", m.Subject), zap.Any("panic", r),
				zap.ByteString("stack", debug.Stack()))
			resp, err = nil, fmt.Errorf("%w: panic: %v", ErrInternal, r)
		}
	}()
	cmd, agent, err := ParseCommandSubject(m.Subject)
	if err != nil {
		return nil, err
	}
	id, err := identityFrom(m.Header)
	if err != nil {
		return nil, err
	}
	return commandSpecs[cmd](ctx, s, id, cmd, agent, m.Data)
}

func (s *Server) respond(m *nats.Msg, resp any, err error) {
	if m.Reply == "" {
		s.log.Info("CTI command without reply subject dropped", zap.String("subject", m.Subject))
		return
	}
	var r reply
	if err == nil {
		data, merr := json.Marshal(resp)
		if merr != nil {
			s.log.Error("CTI encode reply", zap.String("subject", m.Subject), zap.Error(merr))
			err = merr
		}
		r.Data = data
	}
	if err != nil {
		r = reply{Error: wireError(err, s.o.Classify)}
	}
	body, _ := json.Marshal(r) // a RawMessage from json.Marshal and strings: cannot fail
	if err := m.Respond(body); err != nil {
		s.log.Warn("CTI reply", zap.String("subject", m.Subject), zap.Error(err))
	}
}

// code is the code of a handler's error, with the classifier applied.
func (s *Server) code(err error) Code { return wireError(err, s.o.Classify).Code }

// Close stops taking commands (new ones are answered ErrUnavailable, so a
// desktop retries on another instance) and waits for the running ones. When
// ctx ends first, their contexts are cancelled and Close waits for them to
// return.
func (s *Server) Close(ctx context.Context) error {
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if !already {
		if err := s.sub.Drain(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			s.log.Warn("CTI commands: drain", zap.Error(err))
		}
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.cancel(errShutdown)
		return nil
	case <-ctx.Done():
		s.cancel(errShutdown)
		<-done
		return ctx.Err()
	}
}

// runFunc runs one command on the server.
type runFunc func(ctx context.Context, s *Server, id Identity, cmd Command, agent AgentID, body []byte) (any, error)

// commandSpecs binds each command to its request type and handler method.
var commandSpecs = map[Command]runFunc{
	CmdLogin:            op(CommandHandler.Login),
	CmdLogout:           op(CommandHandler.Logout),
	CmdReady:            op(CommandHandler.Ready),
	CmdPause:            op(CommandHandler.Pause),
	CmdAnswer:           op(CommandHandler.Answer),
	CmdHangup:           op(CommandHandler.Hangup),
	CmdHold:             op(CommandHandler.Hold),
	CmdResume:           op(CommandHandler.Resume),
	CmdBlindTransfer:    op(CommandHandler.BlindTransfer),
	CmdConsultTransfer:  op(CommandHandler.ConsultTransfer),
	CmdCompleteTransfer: op(CommandHandler.CompleteTransfer),
	CmdConference:       op(CommandHandler.Conference),
	CmdWrapUpDone:       op(CommandHandler.WrapUpDone),
	CmdSnapshot:         op(CommandHandler.Snapshot),
}

// op decodes a Req, checks it and the identity, and calls the method.
func op[Req any, PReq interface {
	*Req
	request
}, Resp any](method func(CommandHandler, context.Context, Identity, Req) (Resp, error)) runFunc {
	return func(ctx context.Context, s *Server, id Identity, cmd Command, agent AgentID, body []byte) (any, error) {
		var req Req
		if err := decodeRequest(body, PReq(&req), agent); err != nil {
			return nil, err
		}
		if err := s.authorize(ctx, id, cmd, PReq(&req)); err != nil {
			return nil, err
		}
		return method(s.h, ctx, id, req)
	}
}

// decodeRequest reads a request body (empty means {}) and settles its agent
// against the subject's.
func decodeRequest(body []byte, r request, subjectAgent AgentID) error {
	if len(body) > 0 {
		if err := json.Unmarshal(body, r); err != nil {
			return fmt.Errorf("%w: malformed request: %v", ErrInvalid, err)
		}
	}
	agent, _ := r.refs()
	switch {
	case *agent == "":
		*agent = subjectAgent
	case *agent != subjectAgent:
		return fmt.Errorf("%w: request agent %q differs from subject agent %q", ErrInvalid, *agent, subjectAgent)
	}
	return validate(r)
}

// authorize applies Authorize: identity and target first, then, for a
// command on a call, the call's owner.
func (s *Server) authorize(ctx context.Context, id Identity, cmd Command, r request) error {
	agent, call := r.refs()
	if err := Authorize(id, cmd, *agent, *agent); err != nil {
		return err
	}
	if call == nil {
		return nil
	}
	owner, err := s.h.CallOwner(ctx, *call)
	if err != nil {
		if s.code(err) != CodeNotFound {
			return fmt.Errorf("owner of call %s: %w", *call, err)
		}
		owner = "" // nobody's call: refused below, without telling whether it exists
	}
	return Authorize(id, cmd, *agent, owner)
}
