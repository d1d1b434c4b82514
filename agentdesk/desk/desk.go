// Package desk is the server side of the browser agent desktop: people log in
// with a username and password (argon2id) and get a session cookie; every
// API request they make is checked against their role and, for agents,
// ownership (their own agent seat, their own calls); state-changing requests
// need the session's CSRF token; everything that changes something, and
// every refusal, lands in the audit log. It also keeps customer profiles,
// builds the screen pop, takes wrap-ups, and streams CTI events to browsers.
//
// The Desk is both the agentdesk.Gate (pass it as Options.Gate) and a set of
// routes (pass Routes() in Options.Extra). The bearer token keeps working
// for integrations and ccctl: it acts as admin, without CSRF, and is audited.
package desk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/acd"
	"github.com/ccd-platform/ccd/agentdesk"
	"github.com/ccd-platform/ccd/agentdesk/feed"
	"github.com/ccd-platform/ccd/agentdesk/password"
)

// Options tune the desk; zero values take the defaults.
type Options struct {
	Logger *zap.Logger
	Now    func() time.Time // the clock (time.Now); tests move it
	// NATS carries the CTI events streamed to browsers at GET
	// /api/v1/events; nil serves no stream.
	NATS *nats.Conn
	Feed feed.Options
	// Password is the argon2id cost (password.Default). Hashes made with
	// other parameters are replaced at the next login.
	Password password.Params
	// MaxHashing bounds concurrent password hashing, and so its memory (4).
	MaxHashing int
	// IdleTimeout ends a session not used for that long (8h);
	// SessionLifetime ends any session that long after login (24h).
	IdleTimeout     time.Duration
	SessionLifetime time.Duration
	// Login throttling: after UserFailures failed logins for one username
	// (5), or IPFailures from one address (20: a contact center's agents
	// often share one address), within FailureWindow (5m), logins are
	// refused with 429 until the oldest of them leaves the window.
	UserFailures  int
	IPFailures    int
	FailureWindow time.Duration
	// ClientIP is the caller's address for the audit log and throttling
	// (default: the connection's address; set it behind a trusted proxy).
	ClientIP func(*http.Request) string
	// SIPAccount gives an agent's browser softphone its WebRTC seat (sent
	// with the login and /me); nil or false: no softphone.
	SIPAccount func(agent acd.AgentID) (SIPAccount, bool)
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Password == (password.Params{}) {
		o.Password = password.Default
	}
	if o.MaxHashing <= 0 {
		o.MaxHashing = 4
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 8 * time.Hour
	}
	if o.SessionLifetime <= 0 {
		o.SessionLifetime = 24 * time.Hour
	}
	if o.UserFailures <= 0 {
		o.UserFailures = 5
	}
	if o.IPFailures <= 0 {
		o.IPFailures = 20
	}
	if o.FailureWindow <= 0 {
		o.FailureWindow = 5 * time.Minute
	}
	if o.ClientIP == nil {
		o.ClientIP = remoteIP
	}
	if o.Feed.Logger == nil {
		o.Feed.Logger = o.Logger
	}
}

// Desk serves the desktop.
type Desk struct {
	o       Options
	store   Store
	owners  CallOwnership
	log     *zap.Logger
	hub     *feed.Hub // nil without NATS
	hashing chan struct{}
	dummy   string // hash checked for unknown users, so they take as long

	mu     sync.RWMutex
	policy map[string]Rule
}

var _ agentdesk.Gate = (*Desk)(nil)

// New returns the desk on store. owners tells whether an agent handled a
// call (the lead's ACD, or deskpg.Store's agent state log).
func New(store Store, owners CallOwnership, o Options) (*Desk, error) {
	if store == nil || owners == nil {
		return nil, errors.New("desk: a store and a call ownership check are required")
	}
	o.defaults()
	d := &Desk{o: o, store: store, owners: owners, log: o.Logger, hashing: make(chan struct{}, o.MaxHashing),
		policy: maps.Clone(policy)}
	var err error
	if d.dummy, err = password.Hash("not a password of anyone", o.Password); err != nil {
		return nil, fmt.Errorf("desk: password parameters: %w", err)
	}
	if o.NATS != nil {
		if d.hub, err = feed.New(o.NATS, o.Feed); err != nil {
			return nil, fmt.Errorf("desk: event stream: %w", err)
		}
	}
	return d, nil
}

// Close ends the browsers' event streams.
func (d *Desk) Close() {
	if d.hub != nil {
		d.hub.Close()
	}
}

// Prune deletes ended sessions; run it now and then (logins prune the
// user's own).
func (d *Desk) Prune(ctx context.Context) (int64, error) {
	return d.store.PruneSessions(ctx, "", d.o.Now(), d.o.IdleTimeout)
}

// Routes serves the desktop's API; auth must be the API's (with this Desk as
// its Gate):
//
//	POST   /api/v1/auth/login          {username, password} → cookie, {user, csrf_token, expires_at}
//	POST   /api/v1/auth/logout
//	GET    /api/v1/me                  {user, csrf_token, expires_at}
//	GET    /api/v1/users               admin
//	GET    /api/v1/users/{username}    admin
//	PUT    /api/v1/users/{username}    admin; {display_name, role, agent_id, disabled, password}
//	DELETE /api/v1/users/{username}    admin
//	GET    /api/v1/customers?phone=    any role
//	POST   /api/v1/customers           any role
//	GET    /api/v1/customers/{id}      any role
//	PUT    /api/v1/customers/{id}      any role
//	POST   /api/v1/calls/{id}/wrapup   the agent who handled the call; {disposition, notes}
//	GET    /api/v1/agents/{id}/calls   the agent, or a team leader and above; ?since=720h&limit=
//	GET    /api/v1/audit               duty manager, admin; ?user=&action=&target=&outcome=&since=&before_id=&limit=
//	GET    /api/v1/events              WebSocket of CTI events (when NATS is given)
func (d *Desk) Routes() agentdesk.RouteFunc {
	return func(mux *http.ServeMux, auth func(http.HandlerFunc) http.HandlerFunc) {
		mux.HandleFunc("POST /api/v1/auth/login", d.login)
		mux.HandleFunc("POST /api/v1/auth/logout", auth(d.logout))
		mux.HandleFunc("GET /api/v1/me", auth(d.me))
		mux.HandleFunc("GET /api/v1/users", auth(d.listUsers))
		mux.HandleFunc("GET /api/v1/users/{username}", auth(d.getUser))
		mux.HandleFunc("PUT /api/v1/users/{username}", auth(d.putUser))
		mux.HandleFunc("DELETE /api/v1/users/{username}", auth(d.deleteUser))
		mux.HandleFunc("GET /api/v1/customers", auth(d.findCustomers))
		mux.HandleFunc("POST /api/v1/customers", auth(d.createCustomer))
		mux.HandleFunc("GET /api/v1/customers/{id}", auth(d.getCustomer))
		mux.HandleFunc("PUT /api/v1/customers/{id}", auth(d.updateCustomer))
		mux.HandleFunc("POST /api/v1/calls/{id}/wrapup", auth(d.wrapup))
		mux.HandleFunc("GET /api/v1/agents/{id}/calls", auth(d.agentHistory))
		mux.HandleFunc("GET /api/v1/audit", auth(d.auditEntries))
		if d.hub != nil {
			mux.HandleFunc("GET /api/v1/events", auth(d.events))
		}
	}
}

// fail maps an error to its status.
func (d *Desk) fail(w http.ResponseWriter, r *http.Request, err error) {
	msg := func(sentinel error) string { return strings.Replace(err.Error(), sentinel.Error()+": ", "", 1) }
	switch {
	case errors.Is(err, errBadRequest):
		agentdesk.WriteError(w, http.StatusBadRequest, msg(errBadRequest))
	case errors.Is(err, ErrInvalid):
		agentdesk.WriteError(w, http.StatusUnprocessableEntity, msg(ErrInvalid))
	case errors.Is(err, ErrNotFound):
		agentdesk.WriteError(w, http.StatusNotFound, msg(ErrNotFound))
	case errors.Is(err, ErrConflict):
		agentdesk.WriteError(w, http.StatusConflict, msg(ErrConflict))
	case errors.Is(err, context.DeadlineExceeded):
		agentdesk.WriteError(w, http.StatusGatewayTimeout, "timed out")
	default:
		d.log.Error("desk request failed", zap.String("path", r.URL.Path), zap.Error(err))
		agentdesk.WriteError(w, http.StatusInternalServerError, "internal error")
	}
}

// decodeStrict reads a JSON object body into v, refusing unknown fields,
// trailing data, an empty body and one larger than max with errBadRequest.
func decodeStrict(r *http.Request, max int64, v any) error {
	data, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return fmt.Errorf("%w: body: %v", errBadRequest, err)
	}
	if int64(len(data)) > max {
		return fmt.Errorf("%w: body larger than %d bytes", errBadRequest, max)
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return fmt.Errorf("%w: the body must be a JSON object", errBadRequest)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: body: %s", errBadRequest, strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: body: data after the JSON object", errBadRequest)
	}
	return nil
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// sameOrigin reports whether a browser's Origin header, if any, names the
// host the request was sent to.
func sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	i := strings.Index(origin, "://")
	return i > 0 && strings.EqualFold(origin[i+3:], r.Host)
}

// withHashing runs fn holding one of the hashing slots.
func (d *Desk) withHashing(ctx context.Context, fn func()) error {
	select {
	case d.hashing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-d.hashing }()
	fn()
	return nil
}
