package cti

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// ClientOptions configure a Client.
type ClientOptions struct {
	// Timeout bounds each command when ctx has no earlier deadline
	// (default 5s).
	Timeout time.Duration
}

// Client sends commands on behalf of users the caller has authenticated
// (agentdesk for its browser sessions, ccctl for an operator).
type Client struct {
	nc      *nats.Conn
	timeout time.Duration
}

// NewClient returns a client sending commands on nc.
func NewClient(nc *nats.Conn, o ClientOptions) (*Client, error) {
	if nc == nil {
		return nil, errors.New("cti: NewClient needs a NATS connection")
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	return &Client{nc: nc, timeout: o.Timeout}, nil
}

// Each method runs one command for id. The request's Agent defaults to
// id.Agent. Errors are *Error values: errors.Is(err, ErrForbidden) and so
// on; a timeout or a missing server is ErrUnavailable (wrapping the context
// or NATS error).

func (c *Client) Login(ctx context.Context, id Identity, r LoginRequest) (AgentStatus, error) {
	return call[AgentStatus](ctx, c, id, CmdLogin, &r)
}

func (c *Client) Logout(ctx context.Context, id Identity, r LogoutRequest) (AgentStatus, error) {
	return call[AgentStatus](ctx, c, id, CmdLogout, &r)
}

func (c *Client) Ready(ctx context.Context, id Identity, r ReadyRequest) (AgentStatus, error) {
	return call[AgentStatus](ctx, c, id, CmdReady, &r)
}

func (c *Client) Pause(ctx context.Context, id Identity, r PauseRequest) (AgentStatus, error) {
	return call[AgentStatus](ctx, c, id, CmdPause, &r)
}

func (c *Client) Answer(ctx context.Context, id Identity, r AnswerRequest) (CallStatus, error) {
	return call[CallStatus](ctx, c, id, CmdAnswer, &r)
}

func (c *Client) Hangup(ctx context.Context, id Identity, r HangupRequest) (CallStatus, error) {
	return call[CallStatus](ctx, c, id, CmdHangup, &r)
}

func (c *Client) Hold(ctx context.Context, id Identity, r HoldRequest) (CallStatus, error) {
	return call[CallStatus](ctx, c, id, CmdHold, &r)
}

func (c *Client) Resume(ctx context.Context, id Identity, r ResumeRequest) (CallStatus, error) {
	return call[CallStatus](ctx, c, id, CmdResume, &r)
}

func (c *Client) BlindTransfer(ctx context.Context, id Identity, r BlindTransferRequest) (TransferStatus, error) {
	return call[TransferStatus](ctx, c, id, CmdBlindTransfer, &r)
}

func (c *Client) ConsultTransfer(ctx context.Context, id Identity, r ConsultTransferRequest) (TransferStatus, error) {
	return call[TransferStatus](ctx, c, id, CmdConsultTransfer, &r)
}

func (c *Client) CompleteTransfer(ctx context.Context, id Identity, r CompleteTransferRequest) (TransferStatus, error) {
	return call[TransferStatus](ctx, c, id, CmdCompleteTransfer, &r)
}

func (c *Client) Conference(ctx context.Context, id Identity, r ConferenceRequest) (CallStatus, error) {
	return call[CallStatus](ctx, c, id, CmdConference, &r)
}

func (c *Client) WrapUpDone(ctx context.Context, id Identity, r WrapUpDoneRequest) (AgentStatus, error) {
	return call[AgentStatus](ctx, c, id, CmdWrapUpDone, &r)
}

func (c *Client) Snapshot(ctx context.Context, id Identity, r SnapshotRequest) (Snapshot, error) {
	return call[Snapshot](ctx, c, id, CmdSnapshot, &r)
}

// SnapshotFunc returns the snapshot source Watch needs: the snapshot command
// for agent, run as id.
func (c *Client) SnapshotFunc(id Identity, agent AgentID) SnapshotFunc {
	return func(ctx context.Context) (Snapshot, error) {
		return c.Snapshot(ctx, id, SnapshotRequest{Agent: agent})
	}
}

// call sends one command and decodes its reply.
func call[Resp any](ctx context.Context, c *Client, id Identity, cmd Command, r request) (Resp, error) {
	var zero Resp
	agent, _ := r.refs()
	if *agent == "" {
		*agent = id.Agent
	}
	if err := validate(r); err != nil {
		return zero, err
	}
	body, err := json.Marshal(r)
	if err != nil {
		return zero, fmt.Errorf("%w: encode %s: %v", ErrInvalid, cmd, err)
	}
	msg := nats.NewMsg(CommandSubject(cmd, *agent))
	msg.Data = body
	id.header(msg.Header)

	ctx, cancel := context.WithTimeout(ctx, c.timeout) // the earlier deadline wins
	defer cancel()
	resp, err := c.nc.RequestMsgWithContext(ctx, msg)
	if err != nil {
		return zero, &Error{Code: CodeUnavailable, Message: fmt.Sprintf("%s %s: %v", cmd, *agent, err), cause: err}
	}
	var rep reply
	if err := json.Unmarshal(resp.Data, &rep); err != nil {
		return zero, &Error{Code: CodeInternal, Message: fmt.Sprintf("%s: malformed reply: %v", cmd, err), cause: err}
	}
	if rep.Error != nil {
		if !rep.Error.Code.Valid() { // a newer server's code: keep the message, class it internal
			rep.Error = &Error{Code: CodeInternal, Message: rep.Error.Error()}
		}
		return zero, rep.Error
	}
	var out Resp
	if err := json.Unmarshal(rep.Data, &out); err != nil {
		return zero, &Error{Code: CodeInternal, Message: fmt.Sprintf("%s: malformed reply data: %v", cmd, err), cause: err}
	}
	return out, nil
}
