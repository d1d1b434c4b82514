package cti_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/cti"
)

// natsServer is a real NATS server on a random loopback port that can be
// stopped and started again on the same port.
type natsServer struct {
	t    testing.TB
	port int
	srv  *server.Server
}

func startNATS(t testing.TB) *natsServer {
	t.Helper()
	s := &natsServer{t: t, port: server.RANDOM_PORT}
	s.start()
	s.port = s.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(s.stop)
	return s
}

func (s *natsServer) start() {
	s.t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: s.port, NoSigs: true, NoLog: true})
	if err != nil {
		s.t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		s.t.Fatalf("NATS server did not start on port %d", s.port)
	}
	s.srv = srv
}

func (s *natsServer) stop() {
	if s.srv != nil {
		s.srv.Shutdown()
		s.srv.WaitForShutdown()
		s.srv = nil
	}
}

// restart stops the server and starts a new one on the same port.
func (s *natsServer) restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

func (s *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(s.port) }

// connect opens a client connection that reconnects quickly and forever.
func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond),
		nats.ReconnectJitter(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func openBus(t testing.TB, url string) *cti.Bus {
	t.Helper()
	bus, err := cti.Open(cti.Options{URL: url, Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	return bus
}

func serve(t testing.TB, nc *nats.Conn, h cti.CommandHandler, o cti.ServeOptions) *cti.Server {
	t.Helper()
	s, err := cti.Serve(nc, h, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Close(ctx); err != nil {
			t.Errorf("close server: %v", err)
		}
	})
	return s
}

func newClient(t testing.TB, nc *nats.Conn, timeout time.Duration) *cti.Client {
	t.Helper()
	c, err := cti.NewClient(nc, cti.ClientOptions{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func deadline(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// Identities used across the tests.
var (
	agent1001  = cti.Identity{User: "alice", Role: cti.RoleAgent, Agent: "1001"}
	agent1002  = cti.Identity{User: "bob", Role: cti.RoleAgent, Agent: "1002"}
	leader     = cti.Identity{User: "lena", Role: cti.RoleTeamLeader, Agent: "2001"}
	duty       = cti.Identity{User: "dora", Role: cti.RoleDutyManager}
	admin      = cti.Identity{User: "root", Role: cti.RoleAdmin}
	notAnAgent = cti.Identity{User: "nick", Role: cti.RoleAgent}
)

// errPauseReason is a domain error the test desk's Classify maps to invalid.
var errPauseReason = fmt.Errorf("pause reason is not configured")

// desk is a CommandHandler over fixed data: calls c1 (agent 1001) and c2
// (agent 1002); agent "busy" cannot log out; pause reasons lunch and
// training; call "boom" panics on hold; call "slow" never resumes.
type desk struct {
	cti.NotImplemented // conference
	board              *cti.Board
	handled            atomic.Int64

	mu   sync.Mutex
	seen []cti.Identity
}

var owners = map[cti.CallID]cti.AgentID{"c1": "1001", "c2": "1002", "boom": "1001", "slow": "1001"}

func (d *desk) record(id cti.Identity) {
	d.handled.Add(1)
	d.mu.Lock()
	d.seen = append(d.seen, id)
	d.mu.Unlock()
}

func (d *desk) CallOwner(_ context.Context, call cti.CallID) (cti.AgentID, error) {
	if a, ok := owners[call]; ok {
		return a, nil
	}
	return "", fmt.Errorf("%w: call %s", cti.ErrNotFound, call)
}

func (d *desk) Login(_ context.Context, id cti.Identity, r cti.LoginRequest) (cti.AgentStatus, error) {
	d.record(id)
	return cti.AgentStatus{Agent: r.Agent, State: "available"}, nil
}

func (d *desk) Logout(_ context.Context, id cti.Identity, r cti.LogoutRequest) (cti.AgentStatus, error) {
	d.record(id)
	if r.Agent == "busy" {
		return cti.AgentStatus{}, fmt.Errorf("%w: agent %s is on a call", cti.ErrIllegalState, r.Agent)
	}
	return cti.AgentStatus{Agent: r.Agent, State: "logged_out"}, nil
}

func (d *desk) Ready(_ context.Context, id cti.Identity, r cti.ReadyRequest) (cti.AgentStatus, error) {
	d.record(id)
	return cti.AgentStatus{Agent: r.Agent, State: "available"}, nil
}

func (d *desk) Pause(_ context.Context, id cti.Identity, r cti.PauseRequest) (cti.AgentStatus, error) {
	d.record(id)
	if r.Reason != "lunch" && r.Reason != "training" {
		return cti.AgentStatus{}, fmt.Errorf("%w: %q", errPauseReason, r.Reason)
	}
	return cti.AgentStatus{Agent: r.Agent, State: "paused", Reason: r.Reason}, nil
}

func (d *desk) Answer(_ context.Context, id cti.Identity, r cti.AnswerRequest) (cti.CallStatus, error) {
	d.record(id)
	return cti.CallStatus{CallID: r.CallID, State: cti.CallStateTalking}, nil
}

func (d *desk) Hangup(_ context.Context, id cti.Identity, r cti.HangupRequest) (cti.CallStatus, error) {
	d.record(id)
	return cti.CallStatus{CallID: r.CallID, State: cti.CallStateEnded}, nil
}

func (d *desk) Hold(_ context.Context, id cti.Identity, r cti.HoldRequest) (cti.CallStatus, error) {
	d.record(id)
	if r.CallID == "boom" {
		panic("hold exploded")
	}
	return cti.CallStatus{CallID: r.CallID, State: cti.CallStateHeld}, nil
}

func (d *desk) Resume(ctx context.Context, id cti.Identity, r cti.ResumeRequest) (cti.CallStatus, error) {
	d.record(id)
	if r.CallID == "slow" {
		<-ctx.Done()
		return cti.CallStatus{}, ctx.Err()
	}
	return cti.CallStatus{CallID: r.CallID, State: cti.CallStateTalking}, nil
}

func (d *desk) BlindTransfer(_ context.Context, id cti.Identity, r cti.BlindTransferRequest) (cti.TransferStatus, error) {
	d.record(id)
	if r.To == cti.ToAgent("9999") {
		return cti.TransferStatus{}, fmt.Errorf("%w: agent 9999", cti.ErrNotFound)
	}
	return cti.TransferStatus{CallID: r.CallID, To: r.To, State: cti.CallStateEnded}, nil
}

func (d *desk) ConsultTransfer(_ context.Context, id cti.Identity, r cti.ConsultTransferRequest) (cti.TransferStatus, error) {
	d.record(id)
	return cti.TransferStatus{CallID: r.CallID, To: r.To, ConsultCallID: r.CallID + "-consult", State: cti.CallStateConsulting}, nil
}

func (d *desk) CompleteTransfer(_ context.Context, id cti.Identity, r cti.CompleteTransferRequest) (cti.TransferStatus, error) {
	d.record(id)
	return cti.TransferStatus{CallID: r.CallID, State: cti.CallStateEnded}, nil
}

func (d *desk) WrapUpDone(_ context.Context, id cti.Identity, r cti.WrapUpDoneRequest) (cti.AgentStatus, error) {
	d.record(id)
	return cti.AgentStatus{Agent: r.Agent, State: "available"}, nil
}

func (d *desk) Snapshot(ctx context.Context, id cti.Identity, r cti.SnapshotRequest) (cti.Snapshot, error) {
	d.record(id)
	return d.board.Snapshot(ctx, r.Agent)
}

func classify(err error) cti.Code {
	if errors.Is(err, errPauseReason) {
		return cti.CodeInvalid
	}
	return ""
}

// commandStack is a NATS server, a command server over desk and a client.
type commandStack struct {
	nats   *natsServer
	desk   *desk
	client *cti.Client
	conn   *nats.Conn // the client's connection
}

func newCommandStack(t *testing.T) *commandStack {
	t.Helper()
	return newCommandStackTimeout(t, 5*time.Second)
}

// newCommandStackTimeout gives each command serverTimeout on the server.
func newCommandStackTimeout(t *testing.T, serverTimeout time.Duration) *commandStack {
	t.Helper()
	ns := startNATS(t)
	d := &desk{board: cti.NewBoard()}
	serve(t, connect(t, ns.url()), d, cti.ServeOptions{Classify: classify, Timeout: serverTimeout, Logger: zap.NewNop()})
	nc := connect(t, ns.url())
	return &commandStack{nats: ns, desk: d, client: newClient(t, nc, 2*time.Second), conn: nc}
}
