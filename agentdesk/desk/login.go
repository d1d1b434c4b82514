package desk

import (
	"errors"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ccd-platform/ccd/agentdesk"
	"github.com/ccd-platform/ccd/agentdesk/password"
)

// Audit actions of logins and logouts. Failed logins (ActionLogin with
// OutcomeFailed) are what throttling counts.
const (
	ActionLogin  = "auth.login"
	ActionLogout = "auth.logout"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// loginAnswer is what login and /me return.
type loginAnswer struct {
	User      User        `json:"user"`
	CSRFToken string      `json:"csrf_token"`
	ExpiresAt time.Time   `json:"expires_at"`
	IdleS     int         `json:"idle_timeout_s"`
	SIP       *SIPAccount `json:"sip,omitempty"`
}

// SIPAccount is what the browser softphone registers with: the agent's
// WebRTC seat on Asterisk's SIP WebSocket.
type SIPAccount struct {
	WSURL       string `json:"ws_url"`
	URI         string `json:"uri"`
	Password    string `json:"password"`
	DisplayName string `json:"display_name"`
}

const wrongLogin = "wrong username or password"

// login serves POST /api/v1/auth/login. It answers the same 401 for an
// unknown user, a wrong password and a disabled account, and spends the same
// hashing work on each; the audit log tells them apart. Too many recent
// failures for the username or the address give 429 with Retry-After.
func (d *Desk) login(w http.ResponseWriter, r *http.Request) {
	ip := d.o.ClientIP(r)
	if !sameOrigin(r) {
		d.audit(r, agentdesk.Principal{}, AuditEntry{Action: ActionLogin, Outcome: OutcomeDenied,
			Detail: detail(map[string]any{"reason": "cross-origin", "origin": clean(r.Header.Get("Origin"), 256)})})
		agentdesk.WriteError(w, http.StatusForbidden, "forbidden: cross-origin login")
		return
	}
	// A JSON body cannot come from a plain cross-site form.
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		agentdesk.WriteError(w, http.StatusUnsupportedMediaType, "send the credentials as application/json")
		return
	}
	var req loginRequest
	if err := decodeStrict(r, 8<<10, &req); err != nil {
		d.fail(w, r, err)
		return
	}
	name := strings.ToLower(strings.TrimSpace(req.Username))
	if name == "" || req.Password == "" {
		agentdesk.WriteError(w, http.StatusBadRequest, `"username" and "password" are required`)
		return
	}
	who := agentdesk.Principal{Username: clean(name, 64)}
	now := d.o.Now()
	retry, err := d.throttle(r, who.Username, ip, now)
	if err != nil {
		d.fail(w, r, err)
		return
	}
	if retry > 0 {
		secs := int(math.Ceil(retry.Seconds()))
		d.audit(r, who, AuditEntry{Action: ActionLogin, Outcome: OutcomeDenied,
			Detail: detail(map[string]any{"reason": "throttled", "retry_after_s": secs})})
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		agentdesk.WriteError(w, http.StatusTooManyRequests, "too many failed logins: try again in "+strconv.Itoa(secs)+"s")
		return
	}

	var u User
	var known bool
	if usernameRE.MatchString(name) { // anything else is nobody, but costs the same
		u, err = d.store.User(r.Context(), name)
		known = err == nil
		if err != nil && !errors.Is(err, ErrNotFound) {
			d.fail(w, r, err)
			return
		}
	}
	hash := d.dummy
	if known {
		hash = u.PasswordHash
		who.UserID = string(u.ID)
	}
	var ok, rehash bool
	var verr error
	if err := d.withHashing(r.Context(), func() { ok, rehash, verr = password.Verify(req.Password, hash, d.o.Password) }); err != nil {
		d.fail(w, r, err)
		return
	}
	if verr != nil {
		d.log.Error("stored password hash unreadable", zap.String("username", u.Username), zap.Error(verr))
	}
	switch {
	case !known || !ok:
		reason := "wrong password"
		if !known {
			reason = "unknown user"
		}
		d.audit(r, who, AuditEntry{Action: ActionLogin, Outcome: OutcomeFailed, Detail: detail(map[string]any{"reason": reason})})
		agentdesk.WriteError(w, http.StatusUnauthorized, wrongLogin)
		return
	case u.Disabled:
		d.audit(r, who, AuditEntry{Action: ActionLogin, Outcome: OutcomeDenied, Detail: detail(map[string]any{"reason": "disabled"})})
		agentdesk.WriteError(w, http.StatusUnauthorized, wrongLogin)
		return
	}

	if rehash {
		var h string
		var herr error
		if err := d.withHashing(r.Context(), func() { h, herr = password.Hash(req.Password, d.o.Password) }); err != nil {
			herr = err
		}
		if herr == nil {
			herr = d.store.SetPasswordHash(r.Context(), u.ID, h)
		}
		if herr != nil {
			d.log.Warn("password rehash", zap.String("username", u.Username), zap.Error(herr))
		}
	}
	// The session this browser had, if any, ends: a login never continues
	// a session someone may have planted or seen.
	if old := sessionToken(r); old != "" {
		if err := d.store.DeleteSession(r.Context(), tokenID(old)); err != nil {
			d.log.Warn("delete previous session", zap.Error(err))
		}
	}
	if _, err := d.store.PruneSessions(r.Context(), u.ID, now, d.o.IdleTimeout); err != nil {
		d.log.Warn("prune sessions", zap.Error(err))
	}
	token, err := newToken()
	if err != nil {
		d.fail(w, r, err)
		return
	}
	csrf, err := newToken()
	if err != nil {
		d.fail(w, r, err)
		return
	}
	s := Session{ID: tokenID(token), User: u.ID, CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(d.o.SessionLifetime),
		LastSeenAt: now, IP: ip, UserAgent: clean(r.UserAgent(), 256)}
	if err := d.store.CreateSession(r.Context(), s); err != nil {
		d.fail(w, r, err)
		return
	}
	d.setCookie(w, r, token)
	d.audit(r, principal(s, u), AuditEntry{Action: ActionLogin, Outcome: OutcomeOK, Detail: detail(map[string]any{"rehashed": rehash})})
	agentdesk.WriteJSON(w, http.StatusOK, d.answer(s, u))
}

func (d *Desk) answer(s Session, u User) loginAnswer {
	a := loginAnswer{User: u, CSRFToken: s.CSRF, ExpiresAt: s.ExpiresAt, IdleS: int(d.o.IdleTimeout / time.Second)}
	if d.o.SIPAccount != nil && u.Agent != "" {
		if acc, ok := d.o.SIPAccount(u.Agent); ok {
			if acc.DisplayName == "" {
				acc.DisplayName = u.DisplayName
			}
			a.SIP = &acc
		}
	}
	return a
}

// throttle returns how long logins for name or from ip must wait: zero
// unless the recent failures reached a limit.
func (d *Desk) throttle(r *http.Request, name, ip string, now time.Time) (time.Duration, error) {
	since := now.Add(-d.o.FailureWindow)
	var wait time.Duration
	for _, q := range []FailedLoginQuery{
		{Username: name, Since: since, Limit: d.o.UserFailures},
		{IP: ip, Since: since, Limit: d.o.IPFailures},
	} {
		if q.Username == "" && q.IP == "" {
			continue
		}
		times, err := d.store.FailedLogins(r.Context(), q)
		if err != nil {
			return 0, err
		}
		if len(times) >= q.Limit {
			// Free again when the oldest of the last Limit failures leaves the window.
			wait = max(wait, times[q.Limit-1].Add(d.o.FailureWindow).Sub(now))
		}
	}
	return wait, nil
}

// logout serves POST /api/v1/auth/logout: the session ends here and in
// every event stream it opened.
func (d *Desk) logout(w http.ResponseWriter, r *http.Request) {
	p, _ := agentdesk.PrincipalFrom(r.Context())
	n := note(r)
	n.action = ActionLogout
	if p.Session == "" {
		agentdesk.WriteError(w, http.StatusBadRequest, "the bearer token has no session to end")
		return
	}
	if err := d.store.DeleteSession(r.Context(), p.Session); err != nil {
		d.fail(w, r, err)
		return
	}
	if d.hub != nil {
		d.hub.Kick("session:" + p.Session)
	}
	d.clearCookie(w)
	w.WriteHeader(http.StatusNoContent)
}

// me serves GET /api/v1/me: who is logged in, and the CSRF token a reloaded
// page needs.
func (d *Desk) me(w http.ResponseWriter, r *http.Request) {
	p, _ := agentdesk.PrincipalFrom(r.Context())
	if p.Bearer {
		agentdesk.WriteJSON(w, http.StatusOK, map[string]any{"user": map[string]any{"username": p.Username, "role": p.Role}, "bearer": true})
		return
	}
	s, u, err := d.session(r.Context(), p.Session)
	if errors.Is(err, errSessionEnded) {
		agentdesk.WriteError(w, http.StatusUnauthorized, "session ended: log in again")
		return
	}
	if err != nil {
		d.fail(w, r, err)
		return
	}
	agentdesk.WriteJSON(w, http.StatusOK, d.answer(s, u))
}
