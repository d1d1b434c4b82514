package cti

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

func TestCommandSubjects(t *testing.T) {
	for _, cmd := range Commands {
		subj := CommandSubject(cmd, "1001")
		if want := "cc.cmd.v1." + string(cmd) + ".1001"; subj != want {
			t.Errorf("subject %q, want %q", subj, want)
		}
		gotCmd, gotAgent, err := ParseCommandSubject(subj)
		if err != nil || gotCmd != cmd || gotAgent != "1001" {
			t.Errorf("parse %q: %q %q %v", subj, gotCmd, gotAgent, err)
		}
	}
	bad := []string{
		"", "cc.cmd.v1.", "cc.cmd.v1.login", "cc.cmd.v1.login.", "cc.cmd.v1.login.1001.x",
		"cc.cmd.v2.login.1001", "cc.agent.state.1001", "cc.cmd.v1.dance.1001", "cc.cmd.v1.login.*", "cc.cmd.v1.login.>",
	}
	for _, s := range bad {
		if _, _, err := ParseCommandSubject(s); !errors.Is(err, ErrInvalid) {
			t.Errorf("parse %q: %v, want invalid", s, err)
		}
	}
	if got := OneAgentEvents("1001"); got != "cc.agent.*.1001" {
		t.Errorf("OneAgentEvents %q", got)
	}
	if got := OneAgentCommands("1001"); got != "cc.cmd.v1.*.1001" {
		t.Errorf("OneAgentCommands %q", got)
	}
	if got := AllCommands(); got != "cc.cmd.v1.>" {
		t.Errorf("AllCommands %q", got)
	}
}

// TestEnvelopeSeqCompatible: seq is absent from events outside the agent
// streams, and envelopes written before seq existed still decode.
func TestEnvelopeSeqCompatible(t *testing.T) {
	env, err := Wrap("ccd1", CallKey{CallID: "c1", Key: "5"})
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), `"seq"`) {
		t.Errorf("call event carries seq: %s", data)
	}
	old := `{"id":"x","type":"agent.state","version":1,"time":"2025-01-01T00:00:00Z","source":"ccd1","data":{"agent":"1001","from":"logged_out","to":"available","at":"2025-01-01T00:00:00Z"}}`
	var back Envelope
	if err := json.Unmarshal([]byte(old), &back); err != nil || back.Seq != 0 || back.Type != "agent.state" {
		t.Fatalf("old envelope: %+v %v", back, err)
	}
	env.Seq = 42
	data, _ = json.Marshal(env)
	if err := json.Unmarshal(data, &back); err != nil || back.Seq != 42 {
		t.Fatalf("seq round trip: %+v %v", back, err)
	}
}

// TestBoard follows an agent through an offer, a call and a wrap-up, and a
// queue through joins and leaves.
func TestBoard(t *testing.T) {
	b := NewBoard()
	base := b.Seq("1001")
	at := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	var sent []Envelope
	pub := func(ev Event) {
		t.Helper()
		env, err := Wrap("test", ev)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.publish(&env, ev, func(e *Envelope) error { sent = append(sent, *e); return nil }); err != nil {
			t.Fatal(err)
		}
	}
	// A desk folding the same events must end where the board is.
	desk, _ := b.Snapshot(t.Context(), "1001")

	pub(CallQueued{CallID: "c1", Queue: "trace", At: at})
	pub(CallQueued{CallID: "c2", Queue: "trace", At: at})
	pub(AgentStateChanged{Agent: "1001", From: "logged_out", To: "available", At: at})
	pub(AgentStateChanged{Agent: "1001", From: "available", To: "reserved", CallID: "c1", At: at})
	pub(CallOffered{CallID: "c1", Queue: "trace", Agent: "1001", Caller: "13800000001", At: at})
	s, _ := b.Snapshot(t.Context(), "1001")
	if s.State != "reserved" || s.Call == nil || *s.Call != (CallInfo{ID: "c1", Queue: "trace", Caller: "13800000001"}) || s.Seq != base+2 {
		t.Fatalf("offered: %+v call %+v", s, s.Call)
	}
	pub(AgentStateChanged{Agent: "1001", From: "reserved", To: "on_call", CallID: "c1", At: at})
	pub(CallConnected{CallID: "c1", Queue: "trace", Agent: "1001", At: at})
	pub(CallLeftQueue{CallID: "c2", Queue: "trace", Reason: "abandoned", At: at})
	s, _ = b.Snapshot(t.Context(), "1001")
	if s.State != "on_call" || s.Call == nil || s.Call.Caller != "13800000001" || len(s.Queues) != 1 || s.Queues[0] != (QueueStatus{Queue: "trace", Waiting: 0}) {
		t.Fatalf("on call: %+v", s)
	}
	pub(AgentStateChanged{Agent: "1001", From: "on_call", To: "wrap_up", CallID: "c1", At: at})
	pub(AgentStateChanged{Agent: "1001", From: "wrap_up", To: "paused", Reason: "lunch", At: at})
	pub(AgentStateChanged{Agent: "1002", From: "logged_out", To: "available", At: at})
	s, _ = b.Snapshot(t.Context(), "1001")
	if s.State != "paused" || s.Reason != "lunch" || s.Call != nil || s.Seq != base+5 {
		t.Fatalf("paused: %+v", s)
	}
	if got := b.Seq("1002"); got != base+1 {
		t.Errorf("agent 1002 seq %d, want %d: streams are per agent", got, base+1)
	}
	for _, env := range sent {
		switch {
		case env.Type == "agent.state" && env.Seq == 0:
			t.Errorf("agent event without seq")
		case env.Type != "agent.state" && env.Seq != 0:
			t.Errorf("%s carries seq %d", env.Type, env.Seq)
		}
		if env.Type == "agent.state" && strings.Contains(string(env.Data), `"1001"`) {
			if err := desk.Apply(env); err != nil {
				t.Fatal(err)
			}
		}
	}
	s.Queues = nil
	desk.Queues = nil
	s.Since, desk.Since = nil, nil
	if got, _ := json.Marshal(desk); string(got) != mustJSON(t, s) {
		t.Errorf("desk folded to %s, board has %s", got, mustJSON(t, s))
	}

	// Seed uses up a seq, so watching desks resynchronise.
	if err := b.Seed(Snapshot{Agent: "1001", State: "available"}); err != nil {
		t.Fatal(err)
	}
	if s, _ := b.Snapshot(t.Context(), "1001"); s.State != "available" || s.Seq != base+6 {
		t.Errorf("seeded: %+v", s)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// FuzzCommand feeds arbitrary subjects, headers and bodies to the server's
// decoding, checks and dispatch: it answers or refuses, never panics, and
// a refusal is always a known code.
func FuzzCommand(f *testing.F) {
	f.Add("cc.cmd.v1.login.1001", "alice", "agent", "1001", `{}`)
	f.Add("cc.cmd.v1.answer.1001", "alice", "agent", "1001", `{"call_id":"c1"}`)
	f.Add("cc.cmd.v1.blind_transfer.1001", "lena", "team_leader", "", `{"call_id":"c1","to":{"kind":"number","id":"+86"}}`)
	f.Add("cc.cmd.v1.wrap_up_done.1001", "alice", "agent", "1001", `{"call_id":"c1","disposition":"ok","notes":"\u0000"}`)
	f.Add("cc.cmd.v1.pause.1001", "root", "admin", "", `{"reason":null}`)
	f.Add("cc.cmd.v1.snapshot.1001", "", "", "", `[`)
	s := &Server{h: NotImplemented{}, log: zap.NewNop()}
	f.Fuzz(func(t *testing.T, subject, user, role, agent, body string) {
		m := &nats.Msg{Subject: subject, Header: nats.Header{HeaderUser: {user}, HeaderRole: {role}, HeaderAgent: {agent}}, Data: []byte(body)}
		_, err := s.run(t.Context(), m)
		if err != nil && !CodeOf(err).Valid() {
			t.Fatalf("error %v has no valid code", err)
		}
		if w := wireError(err, nil); err != nil && !w.Code.Valid() {
			t.Fatalf("wire error %+v", w)
		}
	})
}
