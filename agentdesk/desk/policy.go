package desk

import (
	"fmt"
	"net/http"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/agentdesk"
)

// Owner is how a person below a route's role may still use it: on their own
// agent seat, or on a call they handled. Both read the path's {id}.
type Owner int

// Owners.
const (
	NoOwner  Owner = iota
	OwnAgent       // the path's {id} is the person's agent
	OwnCall        // the path's {id} is a call the person's agent handled
)

// Rule says who may use a route with a session: anyone of role Min or
// above, or the Own-er of its target. Min "" lets only owners in.
type Rule struct {
	Min agentdesk.Role
	Own Owner
}

var (
	anyRole    = Rule{Min: agentdesk.RoleAgent}
	supervisor = Rule{Min: agentdesk.RoleTeamLeader}
	manager    = Rule{Min: agentdesk.RoleDutyManager}
	adminOnly  = Rule{Min: agentdesk.RoleAdmin}
	agentOrSup = Rule{Min: agentdesk.RoleTeamLeader, Own: OwnAgent}
	callOrSup  = Rule{Min: agentdesk.RoleTeamLeader, Own: OwnCall}
	callOnly   = Rule{Own: OwnCall}
)

// Allow sets the rule of a route, by its pattern as registered (e.g.
// "POST /api/v1/calls/{id}/hold" with Rule{Min: agentdesk.RoleTeamLeader,
// Own: OwnCall}). Routes without a rule are for admins only.
func (d *Desk) Allow(pattern string, r Rule) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.policy[pattern] = r
}

// policy is the default rule set: who may use each route with a session,
// keyed by the route's pattern as registered. A route missing here is for
// admins only, so a new route is closed to agents until someone opens it
// (Desk.Allow). The bearer token is not subject to it.
var policy = map[string]Rule{
	// Configuration: flows, DID bindings, queues, agents, pause reasons.
	"GET /api/v1/flows":                                    adminOnly,
	"POST /api/v1/flows/validate":                          adminOnly,
	"GET /api/v1/flows/{name}":                             adminOnly,
	"POST /api/v1/flows/{name}/drafts":                     adminOnly,
	"GET /api/v1/flows/{name}/versions/{version}":          adminOnly,
	"POST /api/v1/flows/{name}/versions/{version}/publish": adminOnly,
	"POST /api/v1/flows/{name}/rollback":                   adminOnly,
	"POST /api/v1/flows/{name}/simulate":                   adminOnly,
	"GET /api/v1/bindings":                                 adminOnly,
	"PUT /api/v1/bindings/{did}":                           adminOnly,
	"DELETE /api/v1/bindings/{did}":                        adminOnly,
	"GET /api/v1/queues":                                   anyRole,
	"GET /api/v1/queues/{id}":                              anyRole,
	"PUT /api/v1/queues/{id}":                              adminOnly,
	"DELETE /api/v1/queues/{id}":                           adminOnly,
	"GET /api/v1/queues/{id}/stats":                        anyRole,
	"GET /api/v1/agents":                                   supervisor,
	"GET /api/v1/agents/{id}":                              agentOrSup,
	"PUT /api/v1/agents/{id}":                              adminOnly,
	"DELETE /api/v1/agents/{id}":                           adminOnly,
	"GET /api/v1/pause-reasons":                            anyRole,
	"GET /api/v1/pause-reasons/{code}":                     anyRole,
	"PUT /api/v1/pause-reasons/{code}":                     adminOnly,
	"DELETE /api/v1/pause-reasons/{code}":                  adminOnly,

	// Agent control: agents on their own seat, supervisors on anyone's.
	"POST /api/v1/agents/{id}/login":  agentOrSup,
	"POST /api/v1/agents/{id}/logout": agentOrSup,
	"POST /api/v1/agents/{id}/ready":  agentOrSup,
	"POST /api/v1/agents/{id}/pause":  agentOrSup,
	"GET /api/v1/agents/{id}/state":   agentOrSup,
	"GET /api/v1/agents/{id}/calls":   agentOrSup,

	// Records: the whole call log and left messages for supervisors; an
	// agent reads the calls they handled and wraps them up.
	"GET /api/v1/calls":               supervisor,
	"GET /api/v1/calls/{id}":          callOrSup,
	"POST /api/v1/calls/{id}/wrapup":  callOnly,
	"GET /api/v1/messages":            supervisor,
	"GET /api/v1/messages/{id}":       supervisor,
	"GET /api/v1/messages/{id}/audio": supervisor,
	"GET /api/v1/customers":           anyRole,
	"POST /api/v1/customers":          anyRole,
	"GET /api/v1/customers/{id}":      anyRole,
	"PUT /api/v1/customers/{id}":      anyRole,
	"GET /api/v1/events":              anyRole,
	"GET /api/v1/me":                  anyRole,
	"POST /api/v1/auth/logout":        anyRole,
	"GET /api/v1/audit":               manager,
	"GET /api/v1/users":               adminOnly,
	"GET /api/v1/users/{username}":    adminOnly,
	"PUT /api/v1/users/{username}":    adminOnly,
	"DELETE /api/v1/users/{username}": adminOnly,
}

// allowed returns why p may not use r's route, or "" when it may.
func (d *Desk) allowed(r *http.Request, p agentdesk.Principal) (string, error) {
	d.mu.RLock()
	ru, ok := d.policy[r.Pattern]
	d.mu.RUnlock()
	if !ok {
		ru = adminOnly
	}
	if ru.Min != "" && p.Role.AtLeast(ru.Min) {
		return "", nil
	}
	id := r.PathValue("id")
	switch ru.Own {
	case OwnAgent:
		if p.Agent != "" && id == string(p.Agent) {
			return "", nil
		}
		if p.Agent == "" {
			return fmt.Sprintf("%s needs role %s, or an agent seat of your own", r.Pattern, ru.Min), nil
		}
		return fmt.Sprintf("agent %s acts on their own seat only, not on %s", p.Agent, id), nil
	case OwnCall:
		if p.Agent != "" {
			mine, err := d.owners.HandledBy(r.Context(), acd.CallID(id), p.Agent)
			if err != nil {
				return "", err
			}
			if mine {
				return "", nil
			}
		}
		return fmt.Sprintf("call %s was not handled by you", id), nil
	}
	if ru.Min == "" {
		return r.Pattern + " is for the owner only", nil
	}
	return fmt.Sprintf("%s needs role %s", r.Pattern, ru.Min), nil
}
