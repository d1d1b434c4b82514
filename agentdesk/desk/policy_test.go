package desk

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/ccd-platform/ccd/agentdesk"
	"github.com/ccd-platform/ccd/agentdesk/feed"
	"github.com/ccd-platform/ccd/internal/cdr"
	"github.com/ccd-platform/ccd/recording"
)

type stubFlows struct{ agentdesk.Flows }
type stubConfig struct{ agentdesk.ACDConfig }
type stubControl struct{ agentdesk.AgentControl }

// TestPolicyNamesRoutes: every pattern in the policy is a route the API
// really serves, so a typo cannot silently leave a route admin-only or open.
func TestPolicyNamesRoutes(t *testing.T) {
	mux := http.NewServeMux()
	d := &Desk{hub: &feed.Hub{}}
	agentdesk.New(agentdesk.Options{Token: "x", Flows: stubFlows{}, Gate: d,
		Extra: agentdesk.JoinRoutes(agentdesk.RecordRoutes(cdr.New(nil), &recording.Messages{}),
			agentdesk.ACDRoutes(stubConfig{}, stubControl{}, nil), d.Routes())}).Register(mux)
	wildcard := regexp.MustCompile(`\{[a-z_]+\}`)
	for pattern := range policy {
		method, path, _ := strings.Cut(pattern, " ")
		_, got := mux.Handler(httptest.NewRequest(method, wildcard.ReplaceAllString(path, "x"), nil))
		if got != pattern {
			t.Errorf("policy names %q, but that request is served by %q", pattern, got)
		}
	}
}

func TestRoleOrder(t *testing.T) {
	for _, tt := range []struct {
		role, min agentdesk.Role
		want      bool
	}{
		{agentdesk.RoleAgent, agentdesk.RoleAgent, true},
		{agentdesk.RoleAgent, agentdesk.RoleTeamLeader, false},
		{agentdesk.RoleTeamLeader, agentdesk.RoleAgent, true},
		{agentdesk.RoleDutyManager, agentdesk.RoleTeamLeader, true},
		{agentdesk.RoleDutyManager, agentdesk.RoleAdmin, false},
		{agentdesk.RoleAdmin, agentdesk.RoleDutyManager, true},
		{"", agentdesk.RoleAgent, false},
		{"boss", agentdesk.RoleAgent, false},
	} {
		if got := tt.role.AtLeast(tt.min); got != tt.want {
			t.Errorf("%q.AtLeast(%q) = %v, want %v", tt.role, tt.min, got, tt.want)
		}
	}
}

func TestNormalizePhone(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"13800000001", "13800000001"},
		{" +86 (10) 8888-6666 ", "+861088886666"},
		{"010.8888.6666", "01088886666"},
		{"12", ""},
		{"1+2345", ""},
		{"call me", ""},
		{"123456789012345678901", ""},
		{"", ""},
	} {
		got, err := NormalizePhone(tt.in)
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
