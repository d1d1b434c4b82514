package agentdesk

import (
	"context"
	"net/http"

	"github.com/ccd-platform/ccd/acd"
)

// Role is what a person may do, from least to most: an agent takes calls, a
// team leader also supervises their group, a duty manager supervises
// everyone, an admin configures the platform.
type Role string

// Roles.
const (
	RoleAgent       Role = "agent"
	RoleTeamLeader  Role = "team_leader"
	RoleDutyManager Role = "duty_manager"
	RoleAdmin       Role = "admin"
)

// Rank orders roles: 1 for an agent up to 4 for an admin, 0 for an unknown role.
func (r Role) Rank() int {
	switch r {
	case RoleAgent:
		return 1
	case RoleTeamLeader:
		return 2
	case RoleDutyManager:
		return 3
	case RoleAdmin:
		return 4
	}
	return 0
}

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool { return r.Rank() > 0 }

// AtLeast reports whether r ranks at or above min.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.Rank() >= min.Rank() }

// Principal is who makes a request: a person logged in on the desktop, or an
// integration (ccctl, scripts) holding the bearer token, which acts as admin.
type Principal struct {
	UserID   string      // "" with the bearer token
	Username string      // the person; with the bearer token, X-Author or "admin"
	Role     Role        //
	Agent    acd.AgentID // the agent seat the person takes calls as, if any
	Session  string      // the session's id; "" with the bearer token
	Bearer   bool        // authenticated by the bearer token
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// PrincipalFrom returns the principal of a request's context.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Gate admits requests on behalf of the browser desktop. With a Gate set, a
// request without an Authorization header is handed to it (session cookie,
// CSRF token, role and ownership checks), and a request holding the bearer
// token reaches it too, with the token's Principal in its context, so that
// state-changing acts of both are audited. Serve runs h or answers w itself.
type Gate interface {
	Serve(w http.ResponseWriter, r *http.Request, h http.HandlerFunc)
}
