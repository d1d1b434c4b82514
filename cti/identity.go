package cti

import (
	"fmt"

	"github.com/nats-io/nats.go"
)

// Headers that carry the acting user on every command. They are set by the
// trusted server side (agentdesk, ccctl) from its own session; browsers never
// talk to NATS. Whoever may publish on cc.cmd.> can claim any identity, so
// NATS permissions must keep untrusted connections away from it.
const (
	HeaderUser  = "Ccd-User"  // the user's login name
	HeaderRole  = "Ccd-Role"  // one of the Role values
	HeaderAgent = "Ccd-Agent" // the user's agent id; empty for users who are no agent
)

// Role is a user's seat level.
type Role string

const (
	RoleAgent       Role = "agent"        // takes calls; acts on themselves only
	RoleTeamLeader  Role = "team_leader"  // takes calls; acts on any agent
	RoleDutyManager Role = "duty_manager" // takes no calls; acts on any agent
	RoleAdmin       Role = "admin"        // acts on any agent
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleAgent, RoleTeamLeader, RoleDutyManager, RoleAdmin:
		return true
	}
	return false
}

// supervises reports whether r may act on any agent.
func (r Role) supervises() bool {
	return r == RoleTeamLeader || r == RoleDutyManager || r == RoleAdmin
}

// Identity is the user a command is run for.
type Identity struct {
	User  string
	Role  Role
	Agent AgentID // the user's own agent, if the user is one
}

// header writes the identity into a message's headers.
func (id Identity) header(h nats.Header) {
	h.Set(HeaderUser, id.User)
	h.Set(HeaderRole, string(id.Role))
	if id.Agent != "" {
		h.Set(HeaderAgent, string(id.Agent))
	}
}

// identityFrom reads the identity of a command. A command without a user
// or with an unknown role is refused (forbidden) before anything else.
func identityFrom(h nats.Header) (Identity, error) {
	id := Identity{User: h.Get(HeaderUser), Role: Role(h.Get(HeaderRole)), Agent: AgentID(h.Get(HeaderAgent))}
	if err := id.check(); err != nil {
		return Identity{}, err
	}
	return id, nil
}

func (id Identity) check() error {
	switch {
	case id.User == "":
		return fmt.Errorf("%w: no user (header %s)", ErrForbidden, HeaderUser)
	case !id.Role.Valid():
		return fmt.Errorf("%w: unknown role %q (header %s)", ErrForbidden, id.Role, HeaderRole)
	case id.Agent != "" && !validToken(string(id.Agent)):
		return fmt.Errorf("%w: bad agent id %q (header %s)", ErrForbidden, id.Agent, HeaderAgent)
	}
	return nil
}

// Authorize is the one access rule of the command API:
//   - an agent acts on themselves only (target is their own agent);
//   - a team leader, duty manager or admin acts on any agent;
//   - a command on a call needs the call to be assigned to the target agent
//     (owner is the agent the call is offered to, connected to or wrapped up
//     by; empty when none), whoever asks.
//
// It returns nil, or an error matching ErrForbidden (ErrInvalid for an
// unknown command or no target).
func Authorize(id Identity, cmd Command, target, owner AgentID) error {
	if !cmd.Valid() {
		return fmt.Errorf("%w: unknown command %q", ErrInvalid, cmd)
	}
	if target == "" {
		return fmt.Errorf("%w: %s names no agent", ErrInvalid, cmd)
	}
	if err := id.check(); err != nil {
		return err
	}
	switch {
	case id.Role.supervises():
	case id.Agent == "":
		return fmt.Errorf("%w: user %s is not an agent", ErrForbidden, id.User)
	case id.Agent != target:
		return fmt.Errorf("%w: agent %s may not %s for agent %s", ErrForbidden, id.Agent, cmd, target)
	}
	if cmd.OnCall() && owner != target {
		return fmt.Errorf("%w: %s: the call is not assigned to agent %s", ErrForbidden, cmd, target)
	}
	return nil
}
