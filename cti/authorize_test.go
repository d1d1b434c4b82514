package cti_test

import (
	"errors"
	"testing"

	"github.com/ccd-platform/ccd/cti"
)

func TestAuthorize(t *testing.T) {
	tests := []struct {
		name   string
		id     cti.Identity
		cmd    cti.Command
		target cti.AgentID
		owner  cti.AgentID
		want   error
	}{
		{"agent logs themselves in", agent1001, cti.CmdLogin, "1001", "", nil},
		{"agent pauses themselves", agent1001, cti.CmdPause, "1001", "", nil},
		{"agent reads their snapshot", agent1001, cti.CmdSnapshot, "1001", "", nil},
		{"agent answers their call", agent1001, cti.CmdAnswer, "1001", "1001", nil},
		{"agent wraps up their call", agent1001, cti.CmdWrapUpDone, "1001", "1001", nil},
		{"agent logs another agent in", agent1001, cti.CmdLogin, "1002", "", cti.ErrForbidden},
		{"agent reads another agent's snapshot", agent1001, cti.CmdSnapshot, "1002", "", cti.ErrForbidden},
		{"agent answers another agent's call", agent1001, cti.CmdAnswer, "1001", "1002", cti.ErrForbidden},
		{"agent answers a call nobody has", agent1001, cti.CmdAnswer, "1001", "", cti.ErrForbidden},
		{"agent hangs up for another agent", agent1001, cti.CmdHangup, "1002", "1002", cti.ErrForbidden},
		{"agent role without agent id", notAnAgent, cti.CmdReady, "1001", "", cti.ErrForbidden},
		{"team leader pauses an agent", leader, cti.CmdPause, "1001", "", nil},
		{"team leader acts on themselves", leader, cti.CmdReady, "2001", "", nil},
		{"team leader transfers an agent's call", leader, cti.CmdBlindTransfer, "1001", "1001", nil},
		{"team leader on a call of another agent", leader, cti.CmdHold, "1001", "1002", cti.ErrForbidden},
		{"duty manager logs an agent out", duty, cti.CmdLogout, "1002", "", nil},
		{"duty manager hangs up an agent's call", duty, cti.CmdHangup, "1002", "1002", nil},
		{"admin conferences an agent's call", admin, cti.CmdConference, "1001", "1001", nil},
		{"admin on a call nobody has", admin, cti.CmdAnswer, "1001", "", cti.ErrForbidden},
		{"no user", cti.Identity{Role: cti.RoleAdmin}, cti.CmdLogin, "1001", "", cti.ErrForbidden},
		{"unknown role", cti.Identity{User: "eve", Role: "root", Agent: "1001"}, cti.CmdLogin, "1001", "", cti.ErrForbidden},
		{"empty role", cti.Identity{User: "eve", Agent: "1001"}, cti.CmdLogin, "1001", "", cti.ErrForbidden},
		{"unknown command", admin, "dance", "1001", "", cti.ErrInvalid},
		{"no target", admin, cti.CmdLogin, "", "", cti.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := cti.Authorize(tt.id, tt.cmd, tt.target, tt.owner)
			switch {
			case tt.want == nil && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// TestAuthorizeEveryCommand: an agent may run every command on themselves
// (and their own call), and none on another agent.
func TestAuthorizeEveryCommand(t *testing.T) {
	for _, cmd := range cti.Commands {
		t.Run(string(cmd), func(t *testing.T) {
			if err := cti.Authorize(agent1001, cmd, "1001", "1001"); err != nil {
				t.Errorf("on themselves: %v", err)
			}
			if err := cti.Authorize(agent1001, cmd, "1002", "1002"); !errors.Is(err, cti.ErrForbidden) {
				t.Errorf("on another agent: %v, want forbidden", err)
			}
			if err := cti.Authorize(leader, cmd, "1002", "1002"); err != nil {
				t.Errorf("team leader on another agent: %v", err)
			}
		})
	}
}
