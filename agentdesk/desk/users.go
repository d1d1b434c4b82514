package desk

import (
	"errors"
	"net/http"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/agentdesk"
	"github.com/ccd-platform/ccd/agentdesk/password"
)

var usernameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// MinPasswordLength is the fewest characters a new password may have.
const MinPasswordLength = 10

// userBody is the body of PUT /api/v1/users/{username}.
type userBody struct {
	Username    string         `json:"username"`
	DisplayName string         `json:"display_name"`
	Role        agentdesk.Role `json:"role"`
	Agent       acd.AgentID    `json:"agent_id"`
	Disabled    bool           `json:"disabled"`
	Password    string         `json:"password"` // "" keeps the current one
	// Read back from GET and ignored.
	ID        string `json:"id"`
	CreatedAt any    `json:"created_at"`
	UpdatedAt any    `json:"updated_at"`
}

func (b *userBody) validate(pathName string) error {
	switch {
	case !usernameRE.MatchString(pathName):
		return invalidf("username %q: lower-case letters, digits, . _ - (at most 64, starting with a letter or digit)", pathName)
	case b.Username != "" && b.Username != pathName:
		return invalidf("username %q in the body differs from %q in the path", b.Username, pathName)
	case !b.Role.Valid():
		return invalidf("role %q: one of agent, team_leader, duty_manager, admin", b.Role)
	case b.Role == agentdesk.RoleAgent && b.Agent == "":
		return invalidf("an agent needs agent_id, the ACD agent they take calls as")
	case utf8.RuneCountInString(b.DisplayName) > 200 || strings.ContainsRune(b.DisplayName, 0):
		return invalidf("display_name: at most 200 characters")
	case b.Password != "" && (utf8.RuneCountInString(b.Password) < MinPasswordLength || len(b.Password) > password.MaxLength):
		return invalidf("password: %d to %d characters", MinPasswordLength, password.MaxLength)
	}
	return nil
}

func (d *Desk) listUsers(w http.ResponseWriter, r *http.Request) {
	list, err := d.store.Users(r.Context())
	if err != nil {
		d.fail(w, r, err)
		return
	}
	if list == nil {
		list = []User{}
	}
	agentdesk.WriteJSON(w, http.StatusOK, map[string]any{"users": list})
}

func (d *Desk) getUser(w http.ResponseWriter, r *http.Request) {
	u, err := d.store.User(r.Context(), r.PathValue("username"))
	if err != nil {
		d.fail(w, r, err)
		return
	}
	agentdesk.WriteJSON(w, http.StatusOK, u)
}

// putUser creates or replaces a user; a password in the body is hashed
// here and never stored or logged in clear. A new password or disabling ends
// the user's sessions and event streams.
func (d *Desk) putUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	n := note(r)
	n.action, n.target = "user.put", name
	var b userBody
	err := decodeStrict(r, 16<<10, &b)
	if err == nil {
		err = b.validate(name)
	}
	if err != nil {
		d.fail(w, r, err)
		return
	}
	before, err := d.store.User(r.Context(), name)
	existed := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		d.fail(w, r, err)
		return
	}
	var hash string
	if b.Password != "" {
		var herr error
		if err := d.withHashing(r.Context(), func() { hash, herr = password.Hash(b.Password, d.o.Password) }); err != nil {
			d.fail(w, r, err)
			return
		}
		if herr != nil {
			d.fail(w, r, invalidf("password: %v", herr))
			return
		}
	}
	u := User{Username: name, DisplayName: strings.TrimSpace(b.DisplayName), Role: b.Role, Agent: b.Agent, Disabled: b.Disabled}
	stored, created, err := d.store.PutUser(r.Context(), u, hash)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	n.detail = map[string]any{"created": created, "role": stored.Role, "agent_id": stored.Agent,
		"disabled": stored.Disabled, "password_changed": hash != ""}
	if existed {
		var changed []string
		if before.Role != stored.Role {
			changed = append(changed, "role")
		}
		if before.Agent != stored.Agent {
			changed = append(changed, "agent_id")
		}
		if before.Disabled != stored.Disabled {
			changed = append(changed, "disabled")
		}
		if before.DisplayName != stored.DisplayName {
			changed = append(changed, "display_name")
		}
		if hash != "" {
			changed = append(changed, "password")
		}
		n.detail["changed"] = changed
	}
	if d.hub != nil && (hash != "" || stored.Disabled) {
		d.hub.Kick("user:" + string(stored.ID))
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	agentdesk.WriteJSON(w, status, stored)
}

func (d *Desk) deleteUser(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("username")
	n := note(r)
	n.action, n.target = "user.delete", name
	u, err := d.store.DeleteUser(r.Context(), name)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	n.detail = map[string]any{"role": u.Role, "agent_id": u.Agent}
	if d.hub != nil {
		d.hub.Kick("user:" + string(u.ID))
	}
	w.WriteHeader(http.StatusNoContent)
}
