package cti_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/ccd-platform/ccd/cti"
)

func TestCommandRoundTrip(t *testing.T) {
	st := newCommandStack(t)
	c := st.client
	tests := []struct {
		name    string
		run     func(ctx context.Context) (any, error)
		want    any
		wantErr error
		wantMsg string // the error's message, as sent by the server
	}{
		{
			name: "agent logs in",
			run:  func(ctx context.Context) (any, error) { return c.Login(ctx, agent1001, cti.LoginRequest{}) },
			want: cti.AgentStatus{Agent: "1001", State: "available"},
		},
		{
			name: "agent pauses with a reason",
			run: func(ctx context.Context) (any, error) {
				return c.Pause(ctx, agent1001, cti.PauseRequest{Reason: "lunch"})
			},
			want: cti.AgentStatus{Agent: "1001", State: "paused", Reason: "lunch"},
		},
		{
			name: "a domain error is classified",
			run: func(ctx context.Context) (any, error) {
				return c.Pause(ctx, agent1001, cti.PauseRequest{Reason: "nap"})
			},
			wantErr: cti.ErrInvalid,
			wantMsg: `pause reason is not configured: "nap"`,
		},
		{
			name: "agent becomes ready",
			run:  func(ctx context.Context) (any, error) { return c.Ready(ctx, agent1001, cti.ReadyRequest{}) },
			want: cti.AgentStatus{Agent: "1001", State: "available"},
		},
		{
			name: "team leader logs an agent out",
			run: func(ctx context.Context) (any, error) {
				return c.Logout(ctx, leader, cti.LogoutRequest{Agent: "1002"})
			},
			want: cti.AgentStatus{Agent: "1002", State: "logged_out"},
		},
		{
			name: "illegal state travels with its message",
			run: func(ctx context.Context) (any, error) {
				return c.Logout(ctx, duty, cti.LogoutRequest{Agent: "busy"})
			},
			wantErr: cti.ErrIllegalState,
			wantMsg: "agent busy is on a call",
		},
		{
			name: "agent answers their call",
			run: func(ctx context.Context) (any, error) {
				return c.Answer(ctx, agent1001, cti.AnswerRequest{CallID: "c1"})
			},
			want: cti.CallStatus{CallID: "c1", State: cti.CallStateTalking},
		},
		{
			name: "agent holds and resumes",
			run: func(ctx context.Context) (any, error) {
				if _, err := c.Hold(ctx, agent1001, cti.HoldRequest{CallID: "c1"}); err != nil {
					return nil, err
				}
				return c.Resume(ctx, agent1001, cti.ResumeRequest{CallID: "c1"})
			},
			want: cti.CallStatus{CallID: "c1", State: cti.CallStateTalking},
		},
		{
			name: "admin hangs up an agent's call",
			run: func(ctx context.Context) (any, error) {
				return c.Hangup(ctx, admin, cti.HangupRequest{Agent: "1002", CallID: "c2"})
			},
			want: cti.CallStatus{CallID: "c2", State: cti.CallStateEnded},
		},
		{
			name: "blind transfer to a number",
			run: func(ctx context.Context) (any, error) {
				return c.BlindTransfer(ctx, agent1001, cti.BlindTransferRequest{CallID: "c1", To: cti.ToNumber("+8613800000001")})
			},
			want: cti.TransferStatus{CallID: "c1", To: cti.ToNumber("+8613800000001"), State: cti.CallStateEnded},
		},
		{
			name: "blind transfer to an unknown agent",
			run: func(ctx context.Context) (any, error) {
				return c.BlindTransfer(ctx, agent1001, cti.BlindTransferRequest{CallID: "c1", To: cti.ToAgent("9999")})
			},
			wantErr: cti.ErrNotFound,
			wantMsg: "agent 9999",
		},
		{
			name: "consult transfer to a queue, then complete",
			run: func(ctx context.Context) (any, error) {
				ts, err := c.ConsultTransfer(ctx, agent1001, cti.ConsultTransferRequest{CallID: "c1", To: cti.ToQueue("complaints")})
				if err != nil || ts.ConsultCallID != "c1-consult" || ts.State != cti.CallStateConsulting {
					return ts, err
				}
				return c.CompleteTransfer(ctx, agent1001, cti.CompleteTransferRequest{CallID: "c1"})
			},
			want: cti.TransferStatus{CallID: "c1", State: cti.CallStateEnded},
		},
		{
			name: "a command the handler does not implement",
			run: func(ctx context.Context) (any, error) {
				return c.Conference(ctx, agent1001, cti.ConferenceRequest{CallID: "c1"})
			},
			wantErr: cti.ErrUnavailable,
			wantMsg: "conference is not implemented",
		},
		{
			name: "wrap-up done",
			run: func(ctx context.Context) (any, error) {
				return c.WrapUpDone(ctx, agent1001, cti.WrapUpDoneRequest{CallID: "c1", Disposition: "solved", Notes: "trace code read out"})
			},
			want: cti.AgentStatus{Agent: "1001", State: "available"},
		},
		{
			name: "a panicking handler is an internal error",
			run: func(ctx context.Context) (any, error) {
				return c.Hold(ctx, agent1001, cti.HoldRequest{CallID: "boom"})
			},
			wantErr: cti.ErrInternal,
			wantMsg: "internal error",
		},
		{
			name: "snapshot of an agent never seen",
			run: func(ctx context.Context) (any, error) {
				s, err := c.Snapshot(ctx, agent1001, cti.SnapshotRequest{})
				s.Seq = 0 // time based
				return s, err
			},
			want: cti.Snapshot{Agent: "1001", State: "logged_out"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.run(deadline(t, 5*time.Second))
			if tt.wantErr != nil {
				var ce *cti.Error
				if !errors.Is(err, tt.wantErr) || !errors.As(err, &ce) {
					t.Fatalf("error %v, want %v", err, tt.wantErr)
				}
				if ce.Message != tt.wantMsg {
					t.Errorf("message %q, want %q", ce.Message, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	// The handler saw the identity the client sent.
	st.desk.mu.Lock()
	defer st.desk.mu.Unlock()
	if len(st.desk.seen) == 0 || st.desk.seen[0] != agent1001 {
		t.Errorf("handler saw %+v first, want %+v", st.desk.seen, agent1001)
	}
}

func TestCommandForbidden(t *testing.T) {
	st := newCommandStack(t)
	c := st.client
	tests := []struct {
		name string
		run  func(ctx context.Context) error
	}{
		{"agent logs another agent in", func(ctx context.Context) error {
			_, err := c.Login(ctx, agent1001, cti.LoginRequest{Agent: "1002"})
			return err
		}},
		{"agent pauses another agent", func(ctx context.Context) error {
			_, err := c.Pause(ctx, agent1002, cti.PauseRequest{Agent: "1001", Reason: "lunch"})
			return err
		}},
		{"agent answers another agent's call for themselves", func(ctx context.Context) error {
			_, err := c.Answer(ctx, agent1001, cti.AnswerRequest{CallID: "c2"})
			return err
		}},
		{"agent hangs up another agent's call for them", func(ctx context.Context) error {
			_, err := c.Hangup(ctx, agent1001, cti.HangupRequest{Agent: "1002", CallID: "c2"})
			return err
		}},
		{"agent transfers a call nobody has", func(ctx context.Context) error {
			_, err := c.BlindTransfer(ctx, agent1001, cti.BlindTransferRequest{CallID: "nope", To: cti.ToQueue("q")})
			return err
		}},
		{"team leader acts on a call that is not the agent's", func(ctx context.Context) error {
			_, err := c.Hold(ctx, leader, cti.HoldRequest{Agent: "1001", CallID: "c2"})
			return err
		}},
		{"user with role agent but no agent", func(ctx context.Context) error {
			_, err := c.Ready(ctx, notAnAgent, cti.ReadyRequest{Agent: "1001"})
			return err
		}},
		{"unknown role", func(ctx context.Context) error {
			_, err := c.Snapshot(ctx, cti.Identity{User: "eve", Role: "root", Agent: "1001"}, cti.SnapshotRequest{})
			return err
		}},
		{"no user", func(ctx context.Context) error {
			_, err := c.Login(ctx, cti.Identity{Role: cti.RoleAdmin}, cti.LoginRequest{Agent: "1001"})
			return err
		}},
		{"agent reads another agent's snapshot", func(ctx context.Context) error {
			_, err := c.Snapshot(ctx, agent1002, cti.SnapshotRequest{Agent: "1001"})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := st.desk.handled.Load()
			err := tt.run(deadline(t, 5*time.Second))
			if !errors.Is(err, cti.ErrForbidden) {
				t.Fatalf("error %v, want forbidden", err)
			}
			if n := st.desk.handled.Load() - before; n != 0 {
				t.Errorf("handler ran %d times for a refused command", n)
			}
		})
	}
}

// TestMalformedCommands sends raw NATS requests, as a buggy or hostile
// client would.
func TestMalformedCommands(t *testing.T) {
	st := newCommandStack(t)
	alice := nats.Header{cti.HeaderUser: {"alice"}, cti.HeaderRole: {"agent"}, cti.HeaderAgent: {"1001"}}
	tests := []struct {
		name    string
		subject string
		header  nats.Header
		body    string
		want    cti.Code
	}{
		{"not JSON", "cc.cmd.v1.login.1001", alice, "{login", cti.CodeInvalid},
		{"JSON array", "cc.cmd.v1.login.1001", alice, "[]", cti.CodeInvalid},
		{"wrong field type", "cc.cmd.v1.answer.1001", alice, `{"call_id": 5}`, cti.CodeInvalid},
		{"missing call id", "cc.cmd.v1.answer.1001", alice, ``, cti.CodeInvalid},
		{"call id with a space", "cc.cmd.v1.hold.1001", alice, `{"call_id": "c 1"}`, cti.CodeInvalid},
		{"unknown command", "cc.cmd.v1.dance.1001", alice, `{}`, cti.CodeInvalid},
		{"no agent token", "cc.cmd.v1.login", alice, `{}`, cti.CodeInvalid},
		{"extra token", "cc.cmd.v1.login.1001.x", alice, `{}`, cti.CodeInvalid},
		{"body agent differs from subject", "cc.cmd.v1.login.1001", alice, `{"agent": "1002"}`, cti.CodeInvalid},
		{"pause without reason", "cc.cmd.v1.pause.1001", alice, `{}`, cti.CodeInvalid},
		{"pause reason too long", "cc.cmd.v1.pause.1001", alice, `{"reason": "` + strings.Repeat("x", 65) + `"}`, cti.CodeInvalid},
		{"transfer without target", "cc.cmd.v1.blind_transfer.1001", alice, `{"call_id": "c1"}`, cti.CodeInvalid},
		{"transfer to a planet", "cc.cmd.v1.blind_transfer.1001", alice, `{"call_id": "c1", "to": {"kind": "planet", "id": "mars"}}`, cti.CodeInvalid},
		{"transfer to a bad number", "cc.cmd.v1.consult_transfer.1001", alice, `{"call_id": "c1", "to": {"kind": "number", "id": "12ab"}}`, cti.CodeInvalid},
		{"wrap-up without disposition", "cc.cmd.v1.wrap_up_done.1001", alice, `{"call_id": "c1"}`, cti.CodeInvalid},
		{"notes too long", "cc.cmd.v1.wrap_up_done.1001", alice, `{"call_id": "c1", "disposition": "ok", "notes": "` + strings.Repeat("n", 4001) + `"}`, cti.CodeInvalid},
		{"invalid UTF-8", "cc.cmd.v1.pause.1001", alice, "{\"reason\": \"\xff\xfe\"}", cti.CodeInvalid},
		{"no headers", "cc.cmd.v1.login.1001", nil, `{}`, cti.CodeForbidden},
		{"null body is an empty request", "cc.cmd.v1.login.1001", alice, `null`, ""},
		{"unknown fields are ignored (additive changes stay v1)", "cc.cmd.v1.login.1001", alice, `{"device": "PJSIP/1001"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := nats.NewMsg(tt.subject)
			if tt.header != nil {
				m.Header = tt.header
			}
			m.Data = []byte(tt.body)
			resp, err := st.conn.RequestMsgWithContext(deadline(t, 5*time.Second), m)
			if err != nil {
				t.Fatal(err)
			}
			var rep struct {
				Data  json.RawMessage `json:"data"`
				Error *cti.Error      `json:"error"`
			}
			if err := json.Unmarshal(resp.Data, &rep); err != nil {
				t.Fatalf("reply %q: %v", resp.Data, err)
			}
			var got cti.Code
			if rep.Error != nil {
				got = rep.Error.Code
				if rep.Error.Message == "" {
					t.Errorf("error %s without message", got)
				}
			}
			if got != tt.want {
				t.Errorf("code %q (reply %s), want %q", got, resp.Data, tt.want)
			}
		})
	}

	// A command published without a reply subject is dropped, and the
	// server still answers afterwards.
	if err := st.conn.Publish("cc.cmd.v1.login.1001", []byte("{")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.client.Login(deadline(t, 5*time.Second), agent1001, cti.LoginRequest{}); err != nil {
		t.Fatalf("server dead after malformed commands: %v", err)
	}
}

// TestClientRefusesLocally: requests that cannot be valid never leave.
func TestClientRefusesLocally(t *testing.T) {
	ns := startNATS(t)
	c := newClient(t, connect(t, ns.url()), time.Second)
	ctx := deadline(t, 5*time.Second)
	if _, err := c.Login(ctx, admin, cti.LoginRequest{}); !errors.Is(err, cti.ErrInvalid) {
		t.Errorf("admin without agent: %v, want invalid", err)
	}
	if _, err := c.Ready(ctx, admin, cti.ReadyRequest{Agent: "a.b"}); !errors.Is(err, cti.ErrInvalid) {
		t.Errorf("agent id with a dot: %v, want invalid", err)
	}
}

func TestClientUnavailable(t *testing.T) {
	t.Run("no server", func(t *testing.T) {
		ns := startNATS(t)
		c := newClient(t, connect(t, ns.url()), time.Second)
		_, err := c.Login(deadline(t, 5*time.Second), agent1001, cti.LoginRequest{})
		if !errors.Is(err, cti.ErrUnavailable) || !errors.Is(err, nats.ErrNoResponders) {
			t.Fatalf("error %v, want unavailable wrapping no responders", err)
		}
	})
	t.Run("client timeout", func(t *testing.T) {
		st := newCommandStackTimeout(t, 300*time.Millisecond)
		c := newClient(t, st.conn, 100*time.Millisecond)
		_, err := c.Resume(deadline(t, 5*time.Second), agent1001, cti.ResumeRequest{CallID: "slow"})
		if !errors.Is(err, cti.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want unavailable wrapping the deadline", err)
		}
	})
	t.Run("server timeout", func(t *testing.T) {
		st := newCommandStackTimeout(t, 100*time.Millisecond)
		_, err := st.client.Resume(deadline(t, 5*time.Second), agent1001, cti.ResumeRequest{CallID: "slow"})
		var ce *cti.Error
		if !errors.As(err, &ce) || ce.Code != cti.CodeUnavailable || !strings.Contains(ce.Message, "timed out after 100ms") {
			t.Fatalf("error %v, want unavailable: timed out after 100ms", err)
		}
	})
}

// TestServerClose: a closing server finishes running commands and answers
// new ones unavailable; a forced close cancels what still runs.
func TestServerClose(t *testing.T) {
	ns := startNATS(t)
	d := &desk{board: cti.NewBoard()}
	s, err := cti.Serve(connect(t, ns.url()), d, cti.ServeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, connect(t, ns.url()), 5*time.Second)
	slow := make(chan error, 1)
	go func() {
		_, err := c.Resume(context.Background(), agent1001, cti.ResumeRequest{CallID: "slow"})
		slow <- err
	}()
	waitFor(t, "the slow command to run", func() bool { return d.handled.Load() == 1 })

	ctx, cancel := context.WithCancel(context.Background())
	cancel() // force at once
	if err := s.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("forced close: %v, want canceled", err)
	}
	select {
	case err := <-slow:
		if !errors.Is(err, cti.ErrUnavailable) || !strings.Contains(err.Error(), "shutting down") {
			t.Errorf("running command ended with %v, want unavailable: server shutting down", err)
		}
	case <-deadline(t, 5*time.Second).Done():
		t.Fatal("running command not answered after a forced close")
	}
	if _, err := c.Login(deadline(t, 5*time.Second), agent1001, cti.LoginRequest{}); !errors.Is(err, cti.ErrUnavailable) {
		t.Errorf("command after close: %v, want unavailable", err)
	}
}

// waitFor polls cond until it holds or 5 seconds pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	ctx := deadline(t, 5*time.Second)
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

func TestParseTarget(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want cti.Target
		err  bool
	}{
		{"agent:1002", cti.ToAgent("1002"), false},
		{"1002", cti.ToAgent("1002"), false},
		{"number:+8613900000000", cti.ToNumber("+8613900000000"), false},
		{"queue:trace", cti.ToQueue("trace"), false},
		{"number:139-0000", cti.Target{}, true},
		{"phone:1", cti.Target{}, true},
		{"agent:", cti.Target{}, true},
	} {
		got, err := cti.ParseTarget(tt.in)
		if (err != nil) != tt.err || (!tt.err && got != tt.want) {
			t.Errorf("cti.ParseTarget(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// FuzzParseTarget: a target read from any text either is refused or
// validates and reads back the same from its own String.
func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"agent:1002", "1002", "number:+8613900000000", "queue:trace", "phone:1", "", ":", "agent:a.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := cti.ParseTarget(s)
		if err != nil {
			return
		}
		if err := tg.Validate(); err != nil {
			t.Fatalf("ParseTarget(%q) = %v, which does not validate: %v", s, tg, err)
		}
		back, err := cti.ParseTarget(tg.String())
		if err != nil || back != tg {
			t.Fatalf("ParseTarget(%q) = %v; read back %v, %v", s, tg, back, err)
		}
	})
}
