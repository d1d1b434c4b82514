package desk

import (
	"context"
	"net/http"

	"github.com/ccd-platform/ccd/agentdesk"
	"github.com/ccd-platform/ccd/agentdesk/feed"
)

// events serves GET /api/v1/events: a WebSocket of CTI event envelopes. Team
// leaders and above (and the bearer token) receive everything; an agent their
// own agent events and the queue and call events of calls offered to them.
// The stream ends when the session does (logout, expiry, user disabled).
func (d *Desk) events(w http.ResponseWriter, r *http.Request) {
	p, _ := agentdesk.PrincipalFrom(r.Context())
	if !sameOrigin(r) { // a cross-site page must not ride on the cookie
		d.deny(w, r, p, "cross-origin WebSocket from "+clean(r.Header.Get("Origin"), 128))
		return
	}
	sub := feed.Subscriber{Filter: feed.Filter{All: p.Bearer || p.Role.AtLeast(agentdesk.RoleTeamLeader), Agent: string(p.Agent)}}
	if !p.Bearer {
		id := p.Session
		sub.Keys = []string{"session:" + id, "user:" + p.UserID}
		sub.Alive = func(ctx context.Context) error {
			_, _, err := d.session(ctx, id)
			return err
		}
	}
	d.hub.Serve(w, r, sub)
}

// Streams counts the browsers connected to the event stream.
func (d *Desk) Streams() int {
	if d.hub == nil {
		return 0
	}
	return d.hub.Clients()
}
